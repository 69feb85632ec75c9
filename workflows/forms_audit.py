"""Forms of the quality audit: drawing a month's sample, auditing a case, recording an action."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.db.models import QuerySet

from ehe_register.forms.fields import LimitedCharField
from ehe_register.models import User
from workflows.forms import OfficerChoiceField, _DateField
from workflows.models import AuditItem, AuditResult
from workflows.services.audit import FindingInput


class SampleDrawForm(forms.Form):
    month = forms.ChoiceField(
        label="Which month do you want to sample?",
        error_messages={"required": "Select a month to sample", "invalid_choice": "Select a month to sample"},
    )

    def __init__(self, *args: Any, months: list[datetime.date], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["month"].choices = [("", "Choose a month")] + [  # type: ignore[attr-defined]
            (m.isoformat(), m.strftime("%B %Y")) for m in months
        ]

    def clean_month(self) -> datetime.date:
        return datetime.date.fromisoformat(self.cleaned_data["month"])


class AuditCaseForm(forms.Form):
    """One radio question and an optional note per checklist item, and a summary."""

    summary = LimitedCharField(
        label="Summary of the audit (optional)",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"max_length": "The summary must be 4000 characters or less"},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in AuditItem:
            self.fields[f"result_{item.value}"] = forms.ChoiceField(
                label=item.label,
                choices=AuditResult.choices,
                widget=forms.RadioSelect,
                error_messages={
                    "required": f"Select met, not met or not applicable for: {item.label.lower()}",
                    "invalid_choice": f"Select met, not met or not applicable for: {item.label.lower()}",
                },
            )
            self.fields[f"note_{item.value}"] = LimitedCharField(
                label=f"Note on {item.label[0].lower()}{item.label[1:]} (optional)",
                required=False,
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 2}),
                error_messages={"max_length": "The note must be 2000 characters or less"},
            )

    def item_fields(self) -> list[tuple[Any, Any]]:
        return [(self[f"result_{item.value}"], self[f"note_{item.value}"]) for item in AuditItem]

    def findings(self) -> dict[str, FindingInput]:
        data = self.cleaned_data
        return {
            item.value: FindingInput(result=data[f"result_{item.value}"], note=data.get(f"note_{item.value}") or "")
            for item in AuditItem
        }


class AuditActionForm(forms.Form):
    description = LimitedCharField(
        label="What needs to be done?",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "required": "Enter what needs to be done",
            "max_length": "The action must be 2000 characters or less",
        },
    )
    owner = OfficerChoiceField(
        label="Who owns the action?",
        queryset=User.objects.none(),
        empty_label="Choose a person",
        error_messages={"required": "Select who owns the action", "invalid_choice": "Select who owns the action"},
    )
    due_on = _DateField(label="When is it due?")

    def __init__(self, *args: Any, owners: QuerySet[User], today: datetime.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["owner"].queryset = owners  # type: ignore[attr-defined]

    def clean_due_on(self) -> datetime.date:
        due = self.cleaned_data["due_on"]
        if due < self.today:
            raise forms.ValidationError("The due date must be today or in the future")
        return due
