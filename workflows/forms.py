"""Forms for the queues, the case page, absences, new cases and merges.

Forms check and normalise what people type; they decide nothing about a case. Views hand the
cleaned values to the services in ``workflows.services``.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.db.models import QuerySet

from ehe_register.forms.fields import YES, YES_NO, LimitedCharField, WholeNumberField, ascii_int
from ehe_register.forms_rendering import GovukDateField, GovukDateWidget, Select
from ehe_register.models import (
    AbsenceKind,
    Relationship,
    SenStatus,
    Sex,
    SocialCareStatus,
    User,
)
from ehe_register.models.reference import reason_code_choices
from ehe_register.services.children import ChildDetails, ParentDetails
from ehe_register.validators import validate_nhs_number, validate_postcode, validate_uk_phone, validate_upn
from workflows.overdue import OverdueKind
from workflows.selectors import QueueFilters
from workflows.services.child_details import ChildContactDetails
from workflows.services.intake import Concern, IntakeRecord
from workflows.services.new_case import OFFICER_SOURCES
from workflows.states import Priority, Source, State

EMAIL_MESSAGE = "Enter an email address in the correct format, like name@example.com"


class OfficerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class _DateField(GovukDateField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "For example, 27 3 2026")
        super().__init__(widget=GovukDateWidget(), **kwargs)


def _text(label: str, max_length: int, *, required: bool = True, required_message: str = "", **kwargs: Any) -> Any:
    messages = {"max_length": f"{label.removesuffix(' (optional)')} must be {max_length} characters or less"}
    if required_message:
        messages["required"] = required_message
    attrs = kwargs.pop("attrs", {"autocomplete": "off"})
    return LimitedCharField(
        label=label,
        max_length=max_length,
        required=required,
        error_messages=messages,
        widget=forms.TextInput(attrs=attrs),
        **kwargs,
    )


# A form posted without the versions of the cases the page showed (an old or tampered page).
STALE_PAGE = "This page is out of date. Reload it, check the cases again, and then try again"
RELOAD_MESSAGES = {"required": STALE_PAGE, "invalid": STALE_PAGE}


def _yes_no(label: str, required_message: str, *, help_text: str = "") -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        help_text=help_text,
        choices=YES_NO,
        coerce=lambda value: value == YES,
        empty_value=None,
        widget=forms.RadioSelect,
        error_messages={"required": required_message, "invalid_choice": required_message},
    )


# ----------------------------------------------------------------------------------------------
# Queues


class QueueFilterForm(forms.Form):
    """Search and filters on a queue (a GET form: every field is optional)."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        help_text="A name, UPN, postcode, or case or notification reference",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "type": "search"}),
    )
    state = forms.ChoiceField(label="State", required=False, widget=Select)
    school = forms.CharField(
        label="School that notified",
        required=False,
        max_length=100,
        help_text="Its name or part of it, or its URN",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    officer = forms.ChoiceField(label="Officer", required=False, widget=Select)
    priority = forms.TypedChoiceField(
        label="Priority",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Any priority"), *Priority.choices],
    )
    overdue = forms.BooleanField(label="Only overdue cases", required=False)
    check = forms.ChoiceField(
        label="Overdue check",
        required=False,
        choices=[("", "Any check"), *[(kind.value, kind.label) for kind in OverdueKind]],
    )

    def __init__(self, *args: Any, officers: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", "Any state"), *State.choices]  # type: ignore[attr-defined]
        self.fields["officer"].choices = [  # type: ignore[attr-defined]
            ("", "Any officer"),
            ("none", "Unassigned"),
            *[(str(o.pk), o.display_name) for o in officers],
        ]

    def filters(self) -> QueueFilters:
        if not self.is_valid():
            return QueueFilters()
        data = self.cleaned_data
        return QueueFilters(
            state=data.get("state") or "",
            school=" ".join((data.get("school") or "").split()),
            officer=data.get("officer") or "",
            overdue=bool(data.get("overdue")),
            priority=data.get("priority"),
            search=data.get("q") or "",
            overdue_check=data.get("check") or "",
        )


class BulkAssignForm(forms.Form):
    """Assign the ticked cases of a queue to one officer (EHE managers)."""

    episodes = forms.MultipleChoiceField(
        label="Cases", error_messages={"required": "Select at least one case to assign"}
    )
    officer = OfficerChoiceField(
        label="Assign the selected cases to",
        queryset=User.objects.none(),
        required=False,
        empty_label="Nobody: the team queue",
        widget=Select,
    )
    queue = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, officers: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["officer"].queryset = officers  # type: ignore[attr-defined]
        # The ids are checked against the user's own cases by the view, through the selectors.
        self.fields["episodes"].choices = [(v, v) for v in self.data.getlist("episodes")] if self.is_bound else []  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        """Each ticked case must come with the version the page showed (``version_<id>``): without
        it the assignment could overwrite a change the manager never saw."""
        cleaned = super().clean() or {}
        versions: dict[int, int] = {}
        for value in cleaned.get("episodes") or []:
            episode_id = ascii_int(value)
            version = ascii_int(self.data.get(f"version_{value}", ""))
            if episode_id is None or version is None:
                raise forms.ValidationError(STALE_PAGE, code="versions")
            versions[episode_id] = version
        cleaned["versions"] = versions
        return cleaned

    def versions(self) -> dict[int, int]:
        """The version of each ticked case as the page showed it."""
        return dict(self.cleaned_data["versions"])


class MatchResolveForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("same", "The same child"), ("different", "A different child")],
        error_messages={"required": "Say whether these records are the same child"},
    )


# ----------------------------------------------------------------------------------------------
# The case page


class AssignForm(forms.Form):
    """Who the case is assigned to. Carries the version of the case the user saw."""

    officer = OfficerChoiceField(
        label="Assign this case to",
        queryset=User.objects.none(),
        required=False,
        empty_label="Nobody: the team queue",
        widget=Select,
    )
    version = WholeNumberField(widget=forms.HiddenInput, error_messages=RELOAD_MESSAGES)

    def __init__(self, *args: Any, officers: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["officer"].queryset = officers  # type: ignore[attr-defined]


class SelfAssignForm(forms.Form):
    version = WholeNumberField(widget=forms.HiddenInput, error_messages=RELOAD_MESSAGES)


# ----------------------------------------------------------------------------------------------
# Absences


class AbsenceForm(forms.Form):
    """An officer's absence, from today on. Officers record their own; EHE managers anyone's."""

    officer = OfficerChoiceField(
        label="Which officer is absent?",
        queryset=User.objects.none(),
        empty_label="Choose an officer",
        error_messages={"required": "Select the officer who is absent", "invalid_choice": "Select an officer"},
    )
    kind = forms.ChoiceField(
        label="Is the absence planned or unexpected?",
        choices=AbsenceKind.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select whether the absence is planned or unexpected"},
    )
    starts_on = _DateField(label="First day of absence")
    ends_on = _DateField(
        label="Last day of absence (optional)",
        required=False,
        help_text="Leave this blank if the return date is not known. For example, 27 3 2026",
    )

    def __init__(self, *args: Any, officers: QuerySet[User] | None, today: datetime.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        if officers is None:
            del self.fields["officer"]  # an officer records their own absence
        else:
            self.fields["officer"].queryset = officers  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, ends, kind = data.get("starts_on"), data.get("ends_on"), data.get("kind")
        if starts is not None and starts < self.today:
            self.add_error("starts_on", "First day of absence must be today or in the future")
        elif starts is not None and kind == AbsenceKind.UNEXPECTED and starts != self.today:
            self.add_error("starts_on", "An unexpected absence starts today. Record a later one as planned")
        if starts is not None and ends is not None and ends < starts:
            self.add_error("ends_on", "Last day of absence must be the same as or after the first day")
        return data


# ----------------------------------------------------------------------------------------------
# New case


def _reason_choices() -> list[tuple[str, str]]:
    # Read when the form is built: an administrator may add the DfE's new reasons at any time.
    return [("", "Not known yet"), *reason_code_choices()]


class NewCaseForm(forms.Form):
    """A case opened from a parent's own notice, another agency, or the officer's knowledge."""

    source = forms.ChoiceField(
        label="Where did this information come from?",
        choices=[(value, label) for value, label in Source.choices if value in OFFICER_SOURCES],
        widget=forms.RadioSelect,
        error_messages={"required": "Select where the information came from"},
    )
    source_detail = _text(
        "Who told you, or how you found out (optional)",
        200,
        required=False,
        help_text="For example, the agency and the name of the person, or the date of the parent's letter",
    )
    received_on = _DateField(label="Date the local authority was told")

    legal_first_name = _text("Legal first name", 100, required_message="Enter the child's legal first name")
    legal_middle_names = _text("Legal middle names (optional)", 200, required=False)
    legal_last_name = _text("Legal last name", 100, required_message="Enter the child's legal last name")
    preferred_first_name = _text("Preferred first name (optional)", 100, required=False)
    date_of_birth = _DateField(label="Date of birth", help_text="For example, 27 3 2014")
    sex = forms.ChoiceField(
        label="Sex",
        choices=Sex.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select the child's sex"},
    )
    upn = _text(
        "Unique pupil number (UPN) (optional)",
        50,
        required=False,
        help_text="13 characters, for example H801200001001",
        attrs={"autocomplete": "off", "spellcheck": "false", "class": "govuk-input--width-20"},
    )
    nhs_number = _text(
        "NHS number (optional)",
        20,
        required=False,
        help_text="10 digits, for example 943 476 5919",
        attrs={"autocomplete": "off", "inputmode": "numeric", "class": "govuk-input--width-10"},
    )

    address_line_1 = _text(
        "Address line 1", 200, required_message="Enter address line 1, typically the building and street"
    )
    address_line_2 = _text("Address line 2 (optional)", 200, required=False)
    address_town = _text("Town or city", 100, required_message="Enter town or city")
    postcode = _text(
        "Postcode",
        20,
        required_message="Enter postcode",
        attrs={"autocomplete": "off", "spellcheck": "false", "class": "govuk-input--width-10"},
    )

    parent_first_name = _text("First name", 100, required_message="Enter the parent or carer's first name")
    parent_last_name = _text("Last name", 100, required_message="Enter the parent or carer's last name")
    parent_relationship = forms.ChoiceField(
        label="Relationship to the child",
        choices=[("", "Choose a relationship"), *Relationship.choices],
        error_messages={"required": "Select the parent or carer's relationship to the child"},
    )
    parent_emergency_phone = _text(
        "Emergency phone number",
        30,
        required_message="Enter an emergency phone number for the parent or carer",
        attrs={"type": "tel", "autocomplete": "off", "class": "govuk-input--width-20"},
    )
    parent_email = forms.EmailField(
        label="Email address (optional)",
        required=False,
        error_messages={"invalid": EMAIL_MESSAGE},
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )

    sen_status = forms.ChoiceField(
        label="Special educational needs",
        choices=SenStatus.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select the child's special educational needs"},
    )
    social_care_status = forms.ChoiceField(
        label="Is the child known to children's social care?",
        choices=SocialCareStatus.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select whether the child is known to children's social care"},
    )
    special_school_placed_by_la = _yes_no(
        "Did the local authority arrange a place for the child at a special school?",
        "Select yes if the local authority arranged a special school place",
    )
    attendance_order_in_force = _yes_no(
        "Is a school attendance order in force?", "Select yes if a school attendance order is in force"
    )
    concern = _yes_no(
        "Are there any safeguarding concerns?",
        "Select yes if there are any safeguarding concerns",
        help_text="If a child is at immediate risk, call 999. Yes sends the case to the front door at once.",
    )
    concern_detail = forms.CharField(
        label="Describe the concern",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"max_length": "The description must be 2000 characters or less"},
    )
    reason_code = forms.ChoiceField(
        label="Reason the parent gave for home education (optional)",
        required=False,
        choices=_reason_choices,
    )
    assign_to_me = forms.BooleanField(label="Assign this case to me", required=False)

    def __init__(self, *args: Any, today: datetime.date, officer: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        if not officer:
            del self.fields["assign_to_me"]

    def clean_upn(self) -> str:
        value = self.cleaned_data.get("upn", "").strip()
        return validate_upn(value) if value else ""

    def clean_nhs_number(self) -> str:
        value = "".join(self.cleaned_data.get("nhs_number", "").split())
        return validate_nhs_number(value) if value else ""

    def clean_postcode(self) -> str:
        return validate_postcode(self.cleaned_data.get("postcode", ""))

    def clean_parent_emergency_phone(self) -> str:
        return validate_uk_phone(self.cleaned_data.get("parent_emergency_phone", ""))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        dob = data.get("date_of_birth")
        if dob is not None and dob > self.today:
            self.add_error("date_of_birth", "Date of birth must be in the past")
        received = data.get("received_on")
        if received is not None and received > self.today:
            self.add_error("received_on", "Date the local authority was told must be today or in the past")
        if data.get("concern") and not (data.get("concern_detail") or "").strip():
            self.add_error("concern_detail", "Describe the safeguarding concern")
        return data

    def to_input(self, *, local_authority_id: int) -> IntakeRecord:
        """The cleaned answers as the one intake record type (``workflows.services.intake``)."""
        data = self.cleaned_data
        concern = (data.get("concern_detail") or "").strip() if data["concern"] else None
        return IntakeRecord(
            local_authority_id=local_authority_id,
            child=ChildDetails(
                legal_first_name=data["legal_first_name"],
                legal_middle_names=data["legal_middle_names"],
                legal_last_name=data["legal_last_name"],
                preferred_first_name=data["preferred_first_name"],
                date_of_birth=data["date_of_birth"],
                sex=data["sex"],
                upn=data["upn"],
                nhs_number=data["nhs_number"],
                address_line_1=data["address_line_1"],
                address_line_2=data["address_line_2"],
                address_town=data["address_town"],
                postcode=data["postcode"],
                parents=(
                    ParentDetails(
                        first_name=data["parent_first_name"],
                        last_name=data["parent_last_name"],
                        relationship=data["parent_relationship"],
                        emergency_phone=data["parent_emergency_phone"],
                        email=data["parent_email"],
                    ),
                ),
                sen_status=data["sen_status"],
                social_care_status=data["social_care_status"],
            ),
            source=data["source"],
            source_detail=data["source_detail"],
            received_on=data["received_on"],
            concern=Concern(nature=concern) if concern is not None else None,
            special_school_placed_by_la=bool(data["special_school_placed_by_la"]),
            attendance_order_in_force=bool(data["attendance_order_in_force"]),
            reason_code=data.get("reason_code") or "",
            assign_to_me=bool(data.get("assign_to_me")),
        )


# ----------------------------------------------------------------------------------------------
# Merge


class MergeFindForm(forms.Form):
    """The two records to merge, by case or notification reference."""

    first = _text(
        "First case reference",
        30,
        required_message="Enter the first case reference",
        help_text="For example, EHE-936-C000123, or a school notification's reference",
        attrs={"autocomplete": "off", "spellcheck": "false", "class": "govuk-input--width-20"},
    )
    second = _text(
        "Second case reference",
        30,
        required_message="Enter the second case reference",
        attrs={"autocomplete": "off", "spellcheck": "false", "class": "govuk-input--width-20"},
    )


class MergeConfirmForm(forms.Form):
    """The confirm page's POST: the versions of the cases the manager saw (``id:version,...``).

    The field must be there (empty only when neither record has a case); a case missing from it,
    or changed since, is refused by ``children_merge``.
    """

    versions = forms.CharField(widget=forms.HiddenInput, required=False, strip=True)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "versions" not in self.data:
            raise forms.ValidationError(STALE_PAGE, code="versions")
        versions: dict[int, int] = {}
        for pair in filter(None, cleaned.get("versions", "").split(",")):
            episode_id, _, version = pair.partition(":")
            parsed_id, parsed_version = ascii_int(episode_id), ascii_int(version)
            if parsed_id is None or parsed_version is None:
                raise forms.ValidationError(STALE_PAGE, code="versions")
            versions[parsed_id] = parsed_version
        cleaned["expected_versions"] = versions
        return cleaned

    def expected_versions(self) -> dict[int, int]:
        return dict(self.cleaned_data["expected_versions"])


# ----------------------------------------------------------------------------------------------
# The child's contact flags


class ChildContactDetailsForm(forms.Form):
    """The confidential-address flag, interpreter and language, and contact preferences.

    Carries the version of the case the officer saw; the service refuses a stale one.
    """

    confidential_address = _yes_no(
        "Is the child's address confidential?",
        "Select yes if the child's address is confidential",
        help_text=(
            "For example, the family is in a refuge or fleeing domestic abuse. A confidential address is never "
            "shown to schools and is hidden in lists and exports."
        ),
    )
    interpreter_needed = _yes_no(
        "Does the family need an interpreter?", "Select yes if the family needs an interpreter"
    )
    language = LimitedCharField(
        label="Language (optional if no interpreter is needed)",
        max_length=60,
        required=False,
        error_messages={"max_length": "Language must be 60 characters or less"},
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "govuk-!-width-one-half"}),
    )
    contact_preferences = LimitedCharField(
        label="Contact preferences (optional)",
        help_text="For example, email only, or do not phone before 10am",
        max_length=200,
        required=False,
        error_messages={"max_length": "Contact preferences must be 200 characters or less"},
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    version = WholeNumberField(widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("interpreter_needed") and not (data.get("language") or "").strip():
            self.add_error("language", "Enter the language the family needs an interpreter for")
        return data

    def to_details(self) -> ChildContactDetails:
        data = self.cleaned_data
        return ChildContactDetails(
            confidential_address=bool(data["confidential_address"]),
            interpreter_needed=bool(data["interpreter_needed"]),
            language=(data["language"] or "").strip(),
            contact_preferences=(data["contact_preferences"] or "").strip(),
        )
