"""Form fields every screen shares."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

YES, NO = "yes", "no"
YES_NO = [(YES, "Yes"), (NO, "No")]


# Only 0-9. Python's own checks let other digits through: str.isdigit() is True for "²", which
# int() then refuses with an exception, and int() itself reads "٣", full-width "12" and "߅" as numbers.
_ASCII_WHOLE_NUMBER = re.compile(r"[0-9]+")


def ascii_int(value: object) -> int | None:
    """The whole number ``value`` spells in the digits 0 to 9 (surrounding spaces allowed), else None.

    Every number read from a form or a query string goes through here (form fields, dates, page
    numbers, versions, ids), so no other digit can reach ``int()`` and raise a server error.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    return int(text) if _ASCII_WHOLE_NUMBER.fullmatch(text) else None


def ascii_digits(text: str) -> bool:
    """True when ``text`` is one or more of the digits 0 to 9 and nothing else."""
    return _ASCII_WHOLE_NUMBER.fullmatch(text) is not None


class WholeNumberField(forms.IntegerField):
    """A whole number of 0 or more, typed with the digits 0 to 9 only."""

    default_error_messages = {"invalid": "Enter a whole number using the digits 0 to 9"}

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        number = ascii_int(value)
        if number is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return number


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
