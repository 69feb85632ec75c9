"""Forms for recording work and decisions on a case.

Every form carries the episode's version in a hidden field: the service refuses the action when
someone else changed the case after this user loaded the form (``StaleVersion``). Forms check
what a person typed; the services check what the case allows.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from dateutil.relativedelta import relativedelta
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format

from ehe_register.forms.fields import WholeNumberField, ascii_digits
from ehe_register.forms_rendering import GovukDateField
from ehe_register.models import CheckMethod, CheckOutcome, School
from ehe_register.validators import validate_postcode, validate_uk_phone
from workflows.models import S437_NOTICE_DAYS, ActivityKind, ActivityOutcome, Episode
from workflows.services.casework import ActivityInput, AddressInput
from workflows.services.escalations import FRONT_DOOR_DECISIONS, NEEDS_REFERENCE
from workflows.states import ClosureReason

_TIME = re.compile(r"(?P<hour>[01]?[0-9]|2[0-3])[:.](?P<minute>[0-5][0-9])")  # 0-9 only, not any script's digits
TIME_MESSAGE = "Enter a time in the 24-hour clock, like 09:30 or 14:30"


def _long(day: date) -> str:
    return date_format(day, "j F Y")


def moment(day: date, clock: time | None) -> datetime:
    """A date and an optional time as an aware local datetime. No time given: now, if the day is
    today, else midday (the time of day matters less than the day for an older contact)."""
    now = timezone.localtime()
    if clock is None:
        clock = now.time().replace(second=0, microsecond=0) if day == now.date() else time(12, 0)
    return timezone.make_aware(datetime.combine(day, clock))


class TimeOfDayField(forms.CharField):
    """A time typed as 14:30 (or 14.30), as GOV.UK asks for times: a plain text box."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 5)
        super().__init__(**kwargs)
        self.widget.attrs.update({"class": "govuk-input--width-5", "inputmode": "numeric"})

    def clean(self, value: Any) -> time | None:  # type: ignore[override]
        text = super().clean(value)
        if not text:
            return None
        match = _TIME.fullmatch(text.strip())
        if match is None:
            raise ValidationError(TIME_MESSAGE, code="time")
        return time(int(match["hour"]), int(match["minute"]))


def optional_review_date() -> GovukDateField:
    return GovukDateField(
        label="Next review date (optional)",
        required=False,
        error_messages={
            "incomplete": "Next review date must include {missing}",
            "invalid": "Next review date must be a real date",
        },
    )


def _textarea(rows: int = 4) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


class ActionForm(forms.Form):
    """The base of every action form: the hidden version of the case as the user saw it."""

    version = WholeNumberField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args: Any, episode: Episode, **kwargs: Any) -> None:
        self.episode = episode
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("version", episode.version)
        self.fields["version"].label = "Version of the case"
        for code in ("required", "invalid", "min_value"):
            self.fields["version"].error_messages[code] = "Reload the page and try again"

    @property
    def today(self) -> date:
        return timezone.localdate()

    def arguments(self) -> dict[str, Any]:
        """The transition's own arguments, from what was typed (none, for most)."""
        return {}

    def _not_in_future(self, name: str, message: str) -> None:
        day = self.cleaned_data.get(name)
        if day is not None and day > self.today:
            self.add_error(name, message)


# ----------------------------------------------------------------------------------------------
# Recording work


class ActivityForm(ActionForm):
    kind = forms.ChoiceField(
        label="What kind of contact was it?", choices=ActivityKind.choices, widget=forms.RadioSelect
    )
    occurred_on = GovukDateField(
        label="Date of the contact",
        help_text="For example, 27 3 2026",
        error_messages={"required": "Enter the date of the contact"},
    )
    occurred_time = TimeOfDayField(label="Time (optional)", help_text="For example, 14:30")
    outcome = forms.ChoiceField(label="Outcome", choices=ActivityOutcome.choices, widget=forms.RadioSelect)
    summary = forms.CharField(label="Summary", widget=_textarea(6), max_length=10000)
    child_seen = forms.BooleanField(
        label="The child was seen", required=False, help_text="Home visits and meetings only"
    )
    child_seen_alone = forms.BooleanField(label="The child was seen alone", required=False)
    child_views = forms.CharField(
        label="The child's views (optional)", required=False, widget=_textarea(), max_length=10000
    )
    safeguarding_concern = forms.BooleanField(
        label="There is a safeguarding concern",
        required=False,
        help_text="The case goes to the front door for a decision straight away",
    )

    SEEING_KINDS = frozenset({ActivityKind.HOME_VISIT, ActivityKind.MEETING})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].error_messages["required"] = "Select what kind of contact it was"
        self.fields["outcome"].error_messages["required"] = "Select the outcome"
        self.fields["summary"].error_messages["required"] = "Enter a summary of the contact"
        if not self.is_bound:
            self.initial.setdefault("occurred_on", self.today)
        front_door = self.episode.local_authority.front_door_name
        if front_door:
            self.fields[
                "safeguarding_concern"
            ].help_text = f"The case goes to {front_door} for a decision straight away"

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        day = cleaned.get("occurred_on")
        if day is not None and "occurred_time" in cleaned:
            occurred_at = moment(day, cleaned["occurred_time"])
            if occurred_at > timezone.now() + relativedelta(minutes=1):
                self.add_error("occurred_on", "The date and time of the contact must be in the past")
            cleaned["occurred_at"] = occurred_at
        kind = cleaned.get("kind")
        if kind and kind not in self.SEEING_KINDS and cleaned.get("child_seen"):
            self.add_error("child_seen", "Only a home visit or a meeting can record that the child was seen")
        if cleaned.get("child_seen_alone") and not cleaned.get("child_seen"):
            self.add_error("child_seen_alone", "A child seen alone must also be recorded as seen")
        return cleaned

    def to_input(self) -> ActivityInput:
        data = self.cleaned_data
        return ActivityInput(
            kind=data["kind"],
            occurred_at=data["occurred_at"],
            summary=data["summary"],
            outcome=data["outcome"],
            child_seen=data["child_seen"],
            child_seen_alone=data["child_seen_alone"],
            child_views=data["child_views"],
            safeguarding_concern=data["safeguarding_concern"],
        )


class AddressCheckForm(ActionForm):
    """A check with the family, by a home visit, or from another agency's record. (A school's
    check comes from its answer to a request: see :class:`SchoolRequestForm`.)"""

    METHODS = [(m.value, m.label) for m in (CheckMethod.FAMILY, CheckMethod.HOME_VISIT, CheckMethod.OTHER_AGENCY)]

    method = forms.ChoiceField(label="How were the details checked?", choices=METHODS, widget=forms.RadioSelect)
    outcome = forms.ChoiceField(label="Outcome", choices=CheckOutcome.choices, widget=forms.RadioSelect)
    checked_on = GovukDateField(
        label="Date of the check",
        help_text="For example, 27 3 2026",
        error_messages={"required": "Enter the date of the check"},
    )
    checked_time = TimeOfDayField(label="Time (optional)", help_text="For example, 14:30")
    line_1 = forms.CharField(label="New address line 1", required=False, max_length=200)
    line_2 = forms.CharField(label="New address line 2 (optional)", required=False, max_length=200)
    town = forms.CharField(label="Town or city", required=False, max_length=100)
    postcode = forms.CharField(label="Postcode", required=False, max_length=10)
    notes = forms.CharField(
        label="Notes",
        required=False,
        widget=_textarea(),
        max_length=10000,
        help_text="For another agency's record, say which agency and which record",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["method"].error_messages["required"] = "Select how the details were checked"
        self.fields["outcome"].error_messages["required"] = "Select the outcome of the check"
        self.fields["postcode"].widget.attrs.update({"class": "govuk-input--width-10", "autocomplete": "off"})
        if not self.is_bound:
            self.initial.setdefault("checked_on", self.today)

    def clean_postcode(self) -> str:
        postcode = self.cleaned_data["postcode"]
        return validate_postcode(postcode) if postcode.strip() else ""

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        day = cleaned.get("checked_on")
        if day is not None and "checked_time" in cleaned:
            checked_at = moment(day, cleaned["checked_time"])
            if checked_at > timezone.now() + relativedelta(minutes=1):
                self.add_error("checked_on", "The date and time of the check must be in the past")
            cleaned["checked_at"] = checked_at
        if cleaned.get("outcome") == CheckOutcome.CHANGED:
            if not cleaned.get("line_1", "").strip():
                self.add_error("line_1", "Enter the first line of the new address")
            if not cleaned.get("postcode") and "postcode" not in self.errors:
                self.add_error("postcode", "Enter the new address's postcode")
        if cleaned.get("method") == CheckMethod.OTHER_AGENCY and not cleaned.get("notes", "").strip():
            self.add_error("notes", "Say which agency's record you checked")
        return cleaned

    def new_address(self) -> AddressInput | None:
        data = self.cleaned_data
        if data["outcome"] != CheckOutcome.CHANGED:
            return None
        return AddressInput(line_1=data["line_1"], line_2=data["line_2"], town=data["town"], postcode=data["postcode"])


OTHER_SCHOOL = "other"


class SchoolRequestForm(ActionForm):
    """Which school to ask: one the case already knows (the notifying school first), or another by URN."""

    school = forms.ChoiceField(label="Which school do you want to ask?", widget=forms.RadioSelect)
    other_urn = forms.CharField(
        label="The school's URN", required=False, max_length=6, help_text="The 6-digit unique reference number"
    )

    def __init__(self, *args: Any, schools: list[School], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.known_schools = {str(s.pk): s for s in schools}
        field = self.fields["school"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            *((pk, f"{s.name} (URN {s.urn})") for pk, s in self.known_schools.items()),
            (OTHER_SCHOOL, "Another school"),
        ]
        self.fields["school"].error_messages["required"] = "Select the school to ask"
        self.fields["other_urn"].widget.attrs.update({"class": "govuk-input--width-10", "inputmode": "numeric"})
        if not self.is_bound and schools:
            self.initial.setdefault("school", str(schools[0].pk))

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        choice = cleaned.get("school")
        if choice == OTHER_SCHOOL:
            urn = cleaned.get("other_urn", "").strip()
            if not urn:
                self.add_error("other_urn", "Enter the school's URN")
            elif not (ascii_digits(urn) and len(urn) == 6):
                self.add_error("other_urn", "A URN is 6 digits, like 125432")
            else:
                found = School.objects.filter(urn=urn).first()
                if found is None:
                    self.add_error("other_urn", "There is no school with that URN")
                cleaned["school_obj"] = found
        elif choice:
            cleaned["school_obj"] = self.known_schools[choice]
        return cleaned


# ----------------------------------------------------------------------------------------------
# Decisions (one form per transition page)


class ReasonForm(ActionForm):
    """A transition that needs only the reason for it. Pages set the label and the message."""

    reason = forms.CharField(label="Reason", widget=_textarea(), max_length=10000)

    reason_label = "Reason"
    reason_required = "Give the reason"
    reason_hint = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = self.reason_label
        self.fields["reason"].help_text = self.reason_hint
        self.fields["reason"].error_messages["required"] = self.reason_required


class CspaDecisionForm(ActionForm):
    DECISIONS = list(FRONT_DOOR_DECISIONS.items())
    NEEDS_REFERENCE = NEEDS_REFERENCE

    decision = forms.ChoiceField(label="Decision", choices=DECISIONS, widget=forms.RadioSelect)
    reference = forms.CharField(
        label="Social care reference",
        required=False,
        max_length=60,
        help_text="Needed unless the decision is no further action",
    )
    note = forms.CharField(label="Reasons (optional)", required=False, widget=_textarea(), max_length=10000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["decision"].error_messages["required"] = "Select the decision"

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("decision") in self.NEEDS_REFERENCE and not cleaned.get("reference", "").strip():
            self.add_error("reference", "Enter the social care reference")
        return cleaned


class ConsentForm(ActionForm):
    reasons = forms.CharField(label="Reasons for the decision", widget=_textarea(6), max_length=10000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reasons"].error_messages["required"] = "Give the reasons for the decision"


class ContactsVerifiedForm(ActionForm):
    """Moving a case on once its checks verify the details: nothing to type."""


class _HeldForm(ActionForm):
    held_on = GovukDateField(
        label="Date of the enquiry or review",
        help_text="For example, 27 3 2026",
        error_messages={"required": "Enter the date of the enquiry or review"},
    )
    notes = forms.CharField(label="Notes (optional)", required=False, widget=_textarea(), max_length=10000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("held_on", self.today)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        self._not_in_future("held_on", "The date of the enquiry or review must be today or in the past")
        return cleaned


class ProvisionSuitableForm(_HeldForm):
    next_review_on = optional_review_date()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        months = self.episode.local_authority.review_interval_months
        self.fields["next_review_on"].help_text = f"Leave blank for {months} months after the date above"

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        held, after = cleaned.get("held_on"), cleaned.get("next_review_on")
        if held and after and after <= held:
            self.add_error("next_review_on", "The next review date must be after the date of the review")
        return cleaned


class NotYetShownForm(_HeldForm):
    next_action_due = GovukDateField(
        label="When is the next step due?",
        help_text="For example, 27 3 2026",
        error_messages={"required": "Enter when the next step is due"},
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        due = cleaned.get("next_action_due")
        if due is not None and due <= self.today:
            self.add_error("next_action_due", "The date the next step is due must be in the future")
        return cleaned


class ProvisionUnsuitableForm(_HeldForm):
    SERVED_HOW = [
        ("By hand", "By hand"),
        ("First class post", "First class post"),
        ("Recorded or special delivery", "Recorded or special delivery"),
        ("Email, with the parent's agreement", "Email, with the parent's agreement"),
    ]

    s437_served_on = GovukDateField(
        label="Date the section 437 notice was served",
        help_text="For example, 27 3 2026",
        error_messages={"required": "Enter the date the section 437 notice was served"},
    )
    s437_served_how = forms.ChoiceField(
        label="How was the notice served?", choices=SERVED_HOW, widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["s437_served_how"].error_messages["required"] = "Select how the notice was served"
        if not self.is_bound:
            self.initial.setdefault("s437_served_on", self.today)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        self._not_in_future("s437_served_on", "The date the notice was served must be today or in the past")
        return cleaned


class ParentSatisfiesForm(ReasonForm):
    reason_label = "What did the parent show?"
    reason_required = "Say what the parent showed"

    next_review_on = optional_review_date()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        months = self.episode.local_authority.review_interval_months
        self.fields["next_review_on"].help_text = f"Leave blank for {months} months from today"

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        after = cleaned.get("next_review_on")
        if after is not None and after <= self.today:
            self.add_error("next_review_on", "The next review date must be in the future")
        return cleaned

    def arguments(self) -> dict[str, Any]:
        months = self.episode.local_authority.review_interval_months
        return {"next_review_on": self.cleaned_data["next_review_on"] or self.today + relativedelta(months=months)}


class OrderRevokedForm(ParentSatisfiesForm):
    reason_label = "Why was the order revoked?"
    reason_required = "Say why the order was revoked"


def sao_earliest(episode: Episode) -> date | None:
    """The first day a school attendance order may be served: the s437 notice period is "not less
    than 15 days beginning with the day served", so day D + 15."""
    served = episode.s437_served_on
    return served + relativedelta(days=S437_NOTICE_DAYS) if served else None


class SaoServedForm(ActionForm):
    served_on = GovukDateField(
        label="Date the school attendance order was served",
        help_text="For example, 27 3 2026",
        error_messages={"required": "Enter the date the school attendance order was served"},
    )
    notes = forms.CharField(label="Notes (optional)", required=False, widget=_textarea(), max_length=10000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("served_on", self.today)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        served = cleaned.get("served_on")
        earliest = sao_earliest(self.episode)
        self._not_in_future("served_on", "The date the order was served must be today or in the past")
        if served is not None and earliest is not None and served < earliest:
            self.add_error("served_on", f"A school attendance order cannot be served before {_long(earliest)}")
        return cleaned

    def arguments(self) -> dict[str, Any]:
        return {"served_on": self.cleaned_data["served_on"]}


class CloseForm(ActionForm):
    REASONS = [(r.value, r.label) for r in ClosureReason if r != ClosureReason.DUPLICATE]

    closure_reason = forms.ChoiceField(label="Why is the case closing?", choices=REASONS, widget=forms.RadioSelect)
    closure_text = forms.CharField(
        label="More about the reason",
        required=False,
        widget=_textarea(),
        max_length=500,
        help_text="Needed when the reason is Other",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["closure_reason"].error_messages["required"] = "Select why the case is closing"

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("closure_reason") == ClosureReason.OTHER and not cleaned.get("closure_text", "").strip():
            self.add_error("closure_text", "Say why the case is closing")
        return cleaned

    def arguments(self) -> dict[str, Any]:
        return {
            "closure_reason": self.cleaned_data["closure_reason"],
            "closure_text": self.cleaned_data["closure_text"].strip(),
        }


# ----------------------------------------------------------------------------------------------
# The school's answer (school portal)


class SchoolAnswerForm(forms.Form):
    """What address and contacts the school holds for the pupil. It is not shown the LA's."""

    line_1 = forms.CharField(label="Address line 1", max_length=200)
    line_2 = forms.CharField(label="Address line 2 (optional)", required=False, max_length=200)
    town = forms.CharField(label="Town or city (optional)", required=False, max_length=100)
    postcode = forms.CharField(label="Postcode", max_length=10)
    phone = forms.CharField(
        label="A parent's phone number (optional)",
        required=False,
        max_length=30,
        help_text="The number the school would call in an emergency",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["line_1"].error_messages["required"] = "Enter the first line of the address the school holds"
        self.fields["postcode"].error_messages["required"] = "Enter the postcode the school holds"
        self.fields["postcode"].widget.attrs.update({"class": "govuk-input--width-10", "autocomplete": "off"})
        self.fields["phone"].widget.attrs.update({"class": "govuk-input--width-20", "autocomplete": "off"})

    def clean_postcode(self) -> str:
        return validate_postcode(self.cleaned_data["postcode"])

    def clean_phone(self) -> str:
        phone = self.cleaned_data["phone"]
        return validate_uk_phone(phone) if phone.strip() else ""


class CannotLocateForm(ReasonForm):
    reason_label = "What has been done to find the child?"
    reason_required = "Say what has been done to find the child"
    reason_hint = "The case becomes a child missing education enquiry"


class LocatedForm(ReasonForm):
    reason_label = "How was the child found?"
    reason_required = "Say how the child was found"
    reason_hint = "Then check the address and contacts with the family and one independent source"


class OrderCompliedForm(ReasonForm):
    reason_label = "Which school is the child attending, and since when?"
    reason_required = "Say which school the child is attending"
    reason_hint = "The case closes: the child is back at school"


class ConcernForm(ReasonForm):
    reason_label = "What is the concern?"
    reason_required = "Describe the concern"
    reason_hint = "The case goes to the front door for a decision straight away. A child at immediate risk: call 999"


class ReopenForm(ReasonForm):
    reason_label = "Why was the closure made in error?"
    reason_required = "Say why the closure was made in error"
    reason_hint = "The risk check runs again straight away"
