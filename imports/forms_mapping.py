"""The column-mapping step of an existing register's upload: which column feeds which field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django import forms

from ehe_register.forms_rendering import Select
from imports.formats.legacy import LEGACY_FIELDS, mapping_check

NOT_IN_FILE = ""


class ColumnMappingForm(forms.Form):
    """One question per field: "which column holds it?", answered from the file's own headings.

    Starts from ``initial`` (the LA's saved mapping, or ``mapping_suggest``'s guess); a required
    field must have a column, and no column may feed two fields (``mapping_check``).
    """

    def __init__(self, *args: Any, headings: Sequence[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.headings = [h for h in headings if h]
        choices = [(NOT_IN_FILE, "Not in this file"), *((h, h) for h in self.headings)]
        for key, spec in LEGACY_FIELDS.items():
            label = spec.label if spec.required else f"{spec.label} (optional)"
            self.fields[key] = forms.ChoiceField(
                label=label,
                choices=choices,
                required=False,
                widget=Select,
                error_messages={"invalid_choice": "Choose one of the file's columns"},
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for key, message in mapping_check(self.columns(data), self.headings).items():
            if key not in self.errors:
                self.add_error(key, message)
        return data

    def columns(self, data: Mapping[str, Any] | None = None) -> dict[str, str]:
        """The chosen column by field, leaving out fields not in the file."""
        data = self.cleaned_data if data is None else data
        return {key: str(data[key]) for key in LEGACY_FIELDS if data.get(key)}
