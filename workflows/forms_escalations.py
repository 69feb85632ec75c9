"""Forms for working an escalation: acknowledging it with a note, and the decision its rule asks
for (the front door's, or the consent decision). Each form is prefixed with the escalation's id,
so that the case page can hold the forms of several escalations with unique field ids."""

from __future__ import annotations

from typing import Any

from django import forms

from workflows.models import Escalation
from workflows.services.escalations import CONSENT_DECISIONS, FRONT_DOOR_DECISIONS, NEEDS_REFERENCE


def escalation_prefix(escalation: Escalation) -> str:
    return f"escalation-{escalation.pk}"


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label="Note",
        help_text="What you are doing about it. It stays at this level while you deal with it",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=10000,
    )

    def __init__(self, *args: Any, escalation: Escalation, **kwargs: Any) -> None:
        kwargs["prefix"] = escalation_prefix(escalation)
        super().__init__(*args, **kwargs)
        self.escalation = escalation
        self.fields["note"].error_messages["required"] = "Say what you are doing about it"


class _DecisionForm(forms.Form):
    """What the page showed when it was loaded: the case's version and whether the escalation was
    acknowledged (a decision on a page someone else has since acted on is refused)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    seen_acknowledged = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, escalation: Escalation, **kwargs: Any) -> None:
        kwargs["prefix"] = escalation_prefix(escalation)
        super().__init__(*args, **kwargs)
        self.escalation = escalation
        if not self.is_bound:
            self.initial.setdefault("version", escalation.episode.version)
            self.initial.setdefault("seen_acknowledged", "yes" if escalation.acknowledged_at else "no")
        self.fields["version"].label = "Version of the case"
        self.fields["version"].error_messages["required"] = "Reload the page and try again"
        self.fields["decision"].error_messages["required"] = "Select the decision"

    def seen_acknowledged_value(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.cleaned_data.get("seen_acknowledged", ""))


class FrontDoorDecisionForm(_DecisionForm):
    decision = forms.ChoiceField(label="Decision", choices=list(FRONT_DOOR_DECISIONS.items()), widget=forms.RadioSelect)
    reference = forms.CharField(
        label="Social care reference",
        required=False,
        max_length=60,
        help_text="Needed unless the decision is no further action",
    )
    note = forms.CharField(
        label="Reasons (optional)", required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=10000
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("decision") in NEEDS_REFERENCE and not cleaned.get("reference", "").strip():
            self.add_error("reference", "Enter the social care reference")
        return cleaned


class ConsentDecisionForm(_DecisionForm):
    decision = forms.ChoiceField(label="Decision", choices=list(CONSENT_DECISIONS.items()), widget=forms.RadioSelect)
    note = forms.CharField(label="Reasons for the decision", widget=forms.Textarea(attrs={"rows": 4}), max_length=10000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["note"].error_messages["required"] = "Give the reasons for the decision"
