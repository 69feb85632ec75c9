"""Forms of the auditor's views, the exports and the DfE return."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.db.models import QuerySet

from ehe_register.forms_rendering import GovukDateField, GovukDateWidget
from ehe_register.models import User

FORMAT_CHOICES = [("csv", "CSV (comma-separated values)"), ("xlsx", "Excel workbook (XLSX)")]


class _Date(GovukDateField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "For example, 27 3 2026")
        super().__init__(widget=GovukDateWidget(), **kwargs)


class _Person(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class AccessLogFilterForm(forms.Form):
    person = _Person(
        label="Who",
        queryset=User.objects.none(),
        required=False,
        empty_label="Anyone",
        error_messages={"invalid_choice": "Select a person from the list"},
    )
    child = forms.IntegerField(
        label="Child record number (optional)",
        required=False,
        min_value=1,
        help_text="The number shown in the Child record column and on a child's history page.",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "class": "govuk-input--width-10"}),
        error_messages={
            "invalid": "Child record number must be a whole number, like 1234",
            "min_value": "Child record number must be a whole number, like 1234",
        },
    )
    date_from = _Date(label="From (optional)", required=False)
    date_to = _Date(label="To (optional)", required=False)

    def __init__(self, *args: Any, people: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = people  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, ends = data.get("date_from"), data.get("date_to")
        if starts and ends and ends < starts:
            self.add_error("date_to", "The 'to' date must be the same as or after the 'from' date")
        return data


class RegisterExportForm(forms.Form):
    file_format = forms.ChoiceField(
        label="File format",
        choices=FORMAT_CHOICES,
        initial="csv",
        widget=forms.RadioSelect,
        error_messages={"required": "Select a file format", "invalid_choice": "Select a file format"},
    )
    include_confidential = forms.BooleanField(
        label="Include confidential addresses",
        required=False,
        help_text="Addresses of children in a refuge or at risk of domestic abuse are masked unless you tick this. "
        "Ticking it is recorded in the access log against every child in the file.",
    )

    def __init__(self, *args: Any, may_unmask: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not may_unmask:
            del self.fields["include_confidential"]


class TransitionLogExportForm(forms.Form):
    file_format = forms.ChoiceField(
        label="File format",
        choices=FORMAT_CHOICES,
        initial="csv",
        widget=forms.RadioSelect,
        error_messages={"required": "Select a file format", "invalid_choice": "Select a file format"},
    )
    date_from = _Date(label="From (optional)", required=False)
    date_to = _Date(label="To (optional)", required=False)


class ReturnForm(forms.Form):
    census_date = _Date(label="Census date", error_messages={"required": "Enter the census date"})
    period_from = _Date(label="Period from", error_messages={"required": "Enter the first day of the period"})
    period_to = _Date(label="Period to", error_messages={"required": "Enter the last day of the period"})

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, ends = data.get("period_from"), data.get("period_to")
        if starts and ends and ends < starts:
            self.add_error("period_to", "The last day of the period must be the same as or after the first day")
        return data


def default_return_dates(today: datetime.date) -> dict[str, datetime.date]:
    """The latest DfE census day on or before today (first Thursday of October, third Thursday of
    January, third Thursday of May) and the term before it, as the form's starting values."""
    candidates = []
    for year in (today.year - 1, today.year):
        candidates += [_nth_thursday(year, 10, 1), _nth_thursday(year, 1, 3), _nth_thursday(year, 5, 3)]
    census = max(d for d in candidates if d <= today)
    earlier = [d for d in candidates if d < census]
    previous = max(earlier) if earlier else census - datetime.timedelta(days=120)
    return {"census_date": census, "period_from": previous + datetime.timedelta(days=1), "period_to": census}


def _nth_thursday(year: int, month: int, n: int) -> datetime.date:
    first = datetime.date(year, month, 1)
    offset = (3 - first.weekday()) % 7
    return first + datetime.timedelta(days=offset + 7 * (n - 1))


class ImportUploadForm(forms.Form):
    """The file to check (the kind is chosen by the page: one kind per form)."""

    file = forms.FileField(
        label="Upload a file",
        error_messages={"required": "Select a CSV or XLSX file", "empty": "The selected file is empty"},
        widget=forms.FileInput(attrs={"accept": ".csv,.xlsx"}),
    )
