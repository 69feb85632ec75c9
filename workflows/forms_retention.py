"""Forms of retention: placing and lifting a legal hold on a child's records."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms

from ehe_register.forms.fields import LimitedCharField
from workflows.forms import _DateField


class LegalHoldForm(forms.Form):
    reason = LimitedCharField(
        label="Why must the records be kept?",
        help_text="For example, the claim, inquiry or complaint, and its reference",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={
            "required": "Enter why the records must be kept",
            "max_length": "The reason must be 2000 characters or less",
        },
    )
    until = _DateField(
        label="Keep the records until (optional)",
        required=False,
        help_text="Leave this blank to keep them until someone lifts the hold. For example, 27 3 2027",
    )

    def __init__(self, *args: Any, today: datetime.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean_until(self) -> datetime.date | None:
        until = self.cleaned_data.get("until")
        if until is not None and until < self.today:
            raise forms.ValidationError("The day to keep the records until must be today or in the future")
        return until


class LiftHoldForm(forms.Form):
    reason = LimitedCharField(
        label="Why can the hold be lifted?",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "required": "Enter why the hold can be lifted",
            "max_length": "The reason must be 2000 characters or less",
        },
    )
