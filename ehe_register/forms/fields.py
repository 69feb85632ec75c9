"""Form fields every screen shares."""

from __future__ import annotations

from typing import Any

from django import forms

YES, NO = "yes", "no"
YES_NO = [(YES, "Yes"), (NO, "No")]


class _LimitExplained:
    """No ``maxlength`` attribute on the control: GOV.UK asks services not to cut off what people
    type without telling them, so the field checks the limit and its message explains it."""

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)  # type: ignore[misc]
        attrs.pop("maxlength", None)
        return attrs


class LimitedCharField(_LimitExplained, forms.CharField):
    pass


class LimitedEmailField(_LimitExplained, forms.EmailField):
    pass
