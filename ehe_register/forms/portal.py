"""The school portal's EHE (off-roll) notification form: one page in clearly grouped sections.

The form checks and normalises what a school user types; it decides nothing about the case.
``NotificationForm.to_input`` hands the cleaned answers to
``workflows.services.submission.notification_submit``, which routes, matches and opens the case.

Questions that only apply after another answer (the date removed from roll, the safeguarding
details, the referral date and reference, the second parent) are shown with GOV.UK's conditional
reveal, which leaves them all on the page when JavaScript does not run. An answer to a question
that does not apply is ignored, never refused: someone who typed a date and then chose "waiting"
must not be stopped by a box they can no longer see.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from ehe_register.forms.fields import YES, YES_NO, LimitedCharField, LimitedEmailField
from ehe_register.forms_rendering import GovukDateField, GovukDateWidget, Select
from ehe_register.models import (
    SCHOOL_YEAR_GROUPS,
    LocalAuthority,
    Relationship,
    RemovalStatus,
    School,
    SenStatus,
    Sex,
    SocialCareStatus,
    User,
)
from ehe_register.models.reference import reason_code_choices
from ehe_register.services.children import ChildDetails, ParentDetails
from ehe_register.validators import (
    PHONE_MESSAGE,
    POSTCODE_MESSAGE,
    UPN_LENGTH_MESSAGE,
    validate_postcode,
    validate_uk_phone,
    validate_upn,
)
from workflows.services.intake import Concern, IntakeRecord, SchoolNotice
from workflows.states import Source

YEAR_GROUPS = [("", "Not known"), *SCHOOL_YEAR_GROUPS]

#: Social care statuses for which the consent duty (where commenced) applies: s434A EA 1996.
CONSENT_DUTY_STATUSES = frozenset({SocialCareStatus.S47_OPEN, SocialCareStatus.CHILD_PROTECTION_PLAN})

CONSENT_MESSAGE = (
    "You must not remove this pupil until the local authority decides. "
    "Choose 'The school is waiting for the local authority's decision'"
)
REMOVED_BEFORE_NOTICE_MESSAGE = (
    "The date removed from roll must be the same as or after the date the notice was received"
)
EMAIL_MESSAGE = "Enter an email address in the correct format, like name@example.com"
PARENTS = (1, 2)


def _is_yes(value: str) -> bool:
    return value == YES


class _Text(LimitedCharField):
    """A text answer with a plain message when it is too long."""

    def __init__(
        self,
        *,
        label: str,
        max_length: int,
        subject: str | None = None,
        required_message: str = "",
        too_long_message: str = "",
        **kwargs: Any,
    ) -> None:
        messages = {"max_length": too_long_message or f"{subject or label} must be {max_length} characters or less"}
        if required_message:
            messages["required"] = required_message
        super().__init__(label=label, max_length=max_length, error_messages=messages, **kwargs)


class _Date(GovukDateField):
    def __init__(self, **kwargs: Any) -> None:
        # Not date_of_birth=True: the date is the child's, so the browser must not offer the user's own.
        super().__init__(widget=GovukDateWidget(), **kwargs)


def _name(label: str, *, subject: str | None = None, required_message: str = "", required: bool = True) -> _Text:
    return _Text(
        label=label,
        max_length=100,
        subject=subject,
        required=required,
        required_message=required_message,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


def _phone(label: str, *, required_message: str = "", required: bool = True, help_text: str = "") -> _Text:
    return _Text(
        label=label,
        max_length=30,
        required=required,
        required_message=required_message,
        too_long_message=PHONE_MESSAGE,
        help_text=help_text or "A UK number, like 01632 960 001 or 07700 900 982",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "class": "govuk-input--width-20"}),
    )


def _email(label: str) -> forms.EmailField:
    return LimitedEmailField(
        label=label,
        required=False,
        max_length=254,
        error_messages={"invalid": EMAIL_MESSAGE, "max_length": "Email address must be 254 characters or less"},
        # Someone else's address: the browser must not offer the user's own.
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )


def _yes_no(label: str, required_message: str, *, required: bool = True, help_text: str = "") -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        help_text=help_text,
        choices=YES_NO,
        coerce=_is_yes,
        empty_value=None,
        required=required,
        widget=forms.RadioSelect,
        error_messages={"required": required_message, "invalid_choice": required_message},
    )


def _reason_choices() -> list[tuple[str, str]]:
    # Read when the form is built: an administrator may add the DfE's new reasons at any time.
    return [("", "Choose a reason"), *reason_code_choices()]


def _choice(
    label: str, choices: Any, required_message: str, *, widget: type[forms.Widget], required: bool = True
) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label,
        choices=choices,
        required=required,
        widget=widget,
        error_messages={"required": required_message, "invalid_choice": required_message},
    )


def _relationship(number: int, *, required: bool) -> forms.ChoiceField:
    return _choice(
        "Relationship to the child",
        [("", "Choose a relationship"), *Relationship.choices],
        f"Select the relationship of parent or carer {number} to the child",
        widget=Select,
        required=required,
    )


def _same_address(number: int, *, required: bool) -> forms.TypedChoiceField:
    return _yes_no(
        "Does this person live at the child's home address?",
        f"Select yes if parent or carer {number} lives at the child's home address",
        required=required,
    )


def _parent_address_line_1(number: int) -> _Text:
    return _Text(
        label="Address line 1",
        subject=f"Address line 1 of parent or carer {number}",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


def _parent_address_line_2(number: int) -> _Text:
    return _Text(
        label="Address line 2 (optional)",
        subject=f"Address line 2 of parent or carer {number}",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


def _parent_town(number: int) -> _Text:
    return _Text(
        label="Town or city",
        subject=f"Town or city of parent or carer {number}",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "govuk-!-width-two-thirds"}),
    )


def _parent_postcode() -> _Text:
    return _Text(
        label="Postcode",
        max_length=20,
        required=False,
        too_long_message=POSTCODE_MESSAGE,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "govuk-input--width-10"}),
    )


class _SchoolChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} (URN {obj.urn})"


class _LocalAuthorityChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class NotificationForm(forms.Form):
    """A school's notification that a parent is withdrawing a child to educate them at home.

    Pass the user's schools (``schools``): with one school the question "Which school?" is not
    asked. ``today`` is the day dates are checked against (the local date by default).
    Fields are declared in page order, so the error summary lists problems in that order.
    """

    school = _SchoolChoiceField(
        label="Which school is this notification from?",
        queryset=School.objects.none(),
        empty_label="Choose a school",
        widget=Select,
        error_messages={
            "required": "Select the school this notification is from",
            "invalid_choice": "Select the school this notification is from",
        },
    )

    # About the child
    legal_first_name = _name("Legal first name", required_message="Enter the child's legal first name")
    legal_middle_names = _Text(
        label="Legal middle names (optional)",
        subject="Legal middle names",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    legal_last_name = _name("Legal last name", required_message="Enter the child's legal last name")
    preferred_first_name = _name(
        "Preferred first name (optional)",
        subject="Preferred first name",
        required=False,
    )
    date_of_birth = _Date(label="Date of birth", error_messages={"required": "Enter the child's date of birth"})
    sex = _choice("Sex", Sex.choices, "Select the child's sex", widget=forms.RadioSelect)
    upn = _Text(
        label="Unique pupil number (UPN) (optional)",
        max_length=50,
        too_long_message=UPN_LENGTH_MESSAGE,
        required=False,
        help_text="13 characters, for example H801200001001",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "govuk-input--width-20"}),
    )
    year_group = _choice(
        "Year group (optional)", YEAR_GROUPS, "Select the child's year group", widget=Select, required=False
    )

    # Home address and local authority
    address_line_1 = _Text(
        label="Address line 1",
        max_length=200,
        required_message="Enter address line 1, typically the building and street",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    address_line_2 = _Text(
        label="Address line 2 (optional)",
        subject="Address line 2",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    address_town = _Text(
        label="Town or city",
        max_length=100,
        required_message="Enter town or city",
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "govuk-!-width-two-thirds"}),
    )
    postcode = _Text(
        label="Postcode",
        max_length=20,
        required_message="Enter postcode",
        too_long_message=POSTCODE_MESSAGE,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "govuk-input--width-10"}),
    )
    residence_la = _LocalAuthorityChoiceField(
        label="Which local authority does the child live in?",
        help_text="The council for the child's home address. This is not always the school's council.",
        queryset=LocalAuthority.objects.order_by("name"),
        empty_label="Choose a local authority",
        widget=Select,
        error_messages={
            "required": "Select the local authority the child lives in",
            "invalid_choice": "Select the local authority the child lives in",
        },
    )

    # Parents and carers: the first is required, the second optional.
    parent_1_first_name = _name("First name", required_message="Enter the first name of parent or carer 1")
    parent_1_last_name = _name("Last name", required_message="Enter the last name of parent or carer 1")
    parent_1_relationship = _relationship(1, required=True)
    parent_1_parental_responsibility = _yes_no(
        "Does this person have parental responsibility?",
        "Select yes if parent or carer 1 has parental responsibility",
    )
    parent_1_lives_with_child = _yes_no(
        "Does the child normally live with this person?",
        "Select yes if the child normally lives with parent or carer 1",
    )
    parent_1_same_address = _same_address(1, required=True)
    parent_1_address_line_1 = _parent_address_line_1(1)
    parent_1_address_line_2 = _parent_address_line_2(1)
    parent_1_address_town = _parent_town(1)
    parent_1_postcode = _parent_postcode()
    parent_1_emergency_phone = _phone(
        "Emergency phone number", required_message="Enter an emergency phone number for parent or carer 1"
    )
    parent_1_email = _email("Email address (optional)")

    parent_2_first_name = _name("First name", subject="First name of parent or carer 2", required=False)
    parent_2_last_name = _name("Last name", subject="Last name of parent or carer 2", required=False)
    parent_2_relationship = _relationship(2, required=False)
    parent_2_parental_responsibility = _yes_no(
        "Does this person have parental responsibility?",
        "Select yes if parent or carer 2 has parental responsibility",
        required=False,
    )
    parent_2_lives_with_child = _yes_no(
        "Does the child normally live with this person?",
        "Select yes if the child normally lives with parent or carer 2",
        required=False,
    )
    parent_2_same_address = _same_address(2, required=False)
    parent_2_address_line_1 = _parent_address_line_1(2)
    parent_2_address_line_2 = _parent_address_line_2(2)
    parent_2_address_town = _parent_town(2)
    parent_2_postcode = _parent_postcode()
    parent_2_emergency_phone = _phone("Emergency phone number", required=False)
    parent_2_email = _email("Email address (optional)")

    # Leaving school
    notice_received_on = _Date(
        label="Date the parent's written notice was received",
        error_messages={"required": "Enter the date the parent's written notice was received"},
    )
    removal_status = _choice(
        "Has the pupil already been removed from the admission register?",
        RemovalStatus.choices,
        "Select whether the pupil has been removed from the admission register",
        widget=forms.RadioSelect,
    )
    removed_from_roll_on = _Date(label="Date removed from roll", required=False)
    ground_confirmed = forms.BooleanField(
        label="Yes, I confirm",
        error_messages={"required": "Confirm the pupil was removed, or will be, on the ground in regulation 9(1)(f)"},
    )
    reason_code = _choice(
        "What reason did the parent give?",
        _reason_choices,
        "Select the reason the parent gave",
        widget=Select,
    )
    reason_detail = _Text(
        label="Anything else about the reason (optional)",
        subject="The detail about the reason",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    # Needs and social care
    sen_status = _choice(
        "Does the child have special educational needs?",
        SenStatus.choices,
        "Select the child's special educational needs status",
        widget=forms.RadioSelect,
    )
    social_care_status = _choice(
        "Is the child known to children's social care?",
        SocialCareStatus.choices,
        "Select whether the child is known to children's social care",
        widget=forms.RadioSelect,
    )
    social_worker_email = _email("Allocated social worker's email address (optional)")
    special_school_placed_by_la = _yes_no(
        "Is this a special school place arranged by the local authority?",
        "Select yes if this is a special school place arranged by the local authority",
    )
    attendance_order_in_force = _yes_no(
        "Is a school attendance order in force?",
        "Select yes if a school attendance order is in force",
    )

    # Safeguarding
    safeguarding_concerns = _yes_no(
        "Are there any safeguarding concerns?", "Select yes if there are any safeguarding concerns"
    )
    concern_nature = _Text(
        label="What is the nature of the concern?",
        subject="The nature of the concern",
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    concern_last_raised_on = _Date(label="When was the concern last raised?", required=False)
    referred_to_front_door = _yes_no(
        "Has the concern been referred to the front door or children's social care?",
        "Select yes if the concern has been referred",
        required=False,
    )
    referred_on = _Date(
        label="Date it was referred",
        required=False,
    )
    referral_reference = _Text(
        label="Referral reference",
        max_length=60,
        required=False,
        help_text="Leave blank if it has not been referred",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "govuk-input--width-20"}),
    )
    dsl_name = _Text(
        label="Designated safeguarding lead's name",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    dsl_phone = _phone(
        "Designated safeguarding lead's direct phone number",
        required=False,
    )

    # Dates that cannot be in the future, and how their message names them.
    PAST_DATES: dict[str, str] = {
        "date_of_birth": "Date of birth",
        "notice_received_on": "The date the notice was received",
        "removed_from_roll_on": "The date removed from roll",
        "concern_last_raised_on": "The date the concern was last raised",
        "referred_on": "The date it was referred",
    }
    SAFEGUARDING_DETAILS: dict[str, str] = {
        "concern_nature": "Describe the nature of the concern",
        "concern_last_raised_on": "Enter the date the concern was last raised",
        "referred_to_front_door": "Select yes if the concern has been referred",
        "dsl_name": "Enter the designated safeguarding lead's name",
        "dsl_phone": "Enter the designated safeguarding lead's direct phone number",
    }
    #: A parent's own address (asked when they do not live at the child's): field suffix and the
    #: message when it is missing ("" for optional).
    PARENT_ADDRESS: dict[str, str] = {
        "address_line_1": "Enter address line 1 for parent or carer {n}, typically the building and street",
        "address_line_2": "",
        "address_town": "Enter town or city for parent or carer {n}",
        "postcode": "Enter postcode for parent or carer {n}",
    }
    REFERRAL_DETAILS: dict[str, str] = {
        "referred_on": "Enter the date the concern was referred",
        "referral_reference": "Enter the referral reference",
    }

    def __init__(
        self,
        data: Any = None,
        *,
        schools: QuerySet[School],
        today: datetime.date | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, **kwargs)
        self.today = today or timezone.localdate()
        self._schools = list(schools.select_related("local_authority"))
        if len(self._schools) == 1:
            del self.fields["school"]
        else:
            self.fields["school"].queryset = schools  # type: ignore[attr-defined]
        self._set_date_hints()
        default_la = self._schools[0].local_authority if self._schools else None
        if default_la is not None:
            self.fields["residence_la"].initial = default_la.pk
            self.fields[
                "referred_to_front_door"
            ].label = f"Has the concern been referred to {default_la.front_door_name} or children's social care?"

    def _set_date_hints(self) -> None:
        """GOV.UK's "For example" hints, with a plausible date for each question."""

        def example(day: datetime.date) -> str:
            return f"For example, {day.day} {day.month} {day.year}"

        recent = self.today - datetime.timedelta(days=40)
        self.fields["date_of_birth"].help_text = example(recent.replace(year=recent.year - 11, day=min(recent.day, 28)))
        for name in ("notice_received_on", "removed_from_roll_on", "concern_last_raised_on"):
            self.fields[name].help_text = example(recent)
        self.fields["referred_on"].help_text = f"Leave blank if it has not been referred. {example(recent)}"

    # ------------------------------------------------------------------------------------------
    # Facts the templates and the view need

    @property
    def asks_for_school(self) -> bool:
        return "school" in self.fields

    @property
    def chosen_school(self) -> School | None:
        """The school the notification is from: the only one, or the one chosen (when valid)."""
        if not self.asks_for_school:
            return self._schools[0] if self._schools else None
        if self.is_bound and hasattr(self, "cleaned_data"):
            return self.cleaned_data.get("school")
        return None

    @property
    def school_la(self) -> LocalAuthority | None:
        """The LA whose front door the school refers to: the chosen school's, else the first's."""
        school = self.chosen_school or (self._schools[0] if self._schools else None)
        return school.local_authority if school else None

    @property
    def parent_2_entered(self) -> bool:
        """Whether the second parent block has been started (a radio alone does not count:
        a radio once chosen cannot be cleared)."""
        names = (
            "first_name",
            "last_name",
            "relationship",
            "emergency_phone",
            "email",
            *(name for name in self.PARENT_ADDRESS),
        )
        return any(str(self._submitted(f"parent_2_{name}") or "").strip() for name in names)

    def _submitted(self, name: str) -> Any:
        """What was submitted for the field ``name``, as its widget reads it."""
        return self[name].data

    def consent_applies(self, data: dict[str, Any] | None = None) -> bool:
        """Whether the LA must consent before the pupil is removed (DESIGN section 4)."""
        data = self.cleaned_data if data is None else data
        la = data.get("residence_la")
        duty = bool(la and la.consent_duty_commenced) and data.get("social_care_status") in CONSENT_DUTY_STATUSES
        return bool(data.get("special_school_placed_by_la") or data.get("attendance_order_in_force") or duty)

    # ------------------------------------------------------------------------------------------
    # One field at a time

    def clean_upn(self) -> str:
        value = self.cleaned_data["upn"]
        return validate_upn(value) if value else ""

    def clean_postcode(self) -> str:
        return validate_postcode(self.cleaned_data["postcode"])

    def clean_parent_1_emergency_phone(self) -> str:
        return validate_uk_phone(self.cleaned_data["parent_1_emergency_phone"])

    def clean_parent_2_emergency_phone(self) -> str:
        value = self.cleaned_data["parent_2_emergency_phone"]
        return validate_uk_phone(value) if value else ""

    def _parent_postcode(self, number: int) -> str:
        value = self.cleaned_data[f"parent_{number}_postcode"]
        return validate_postcode(value) if value else ""

    def clean_parent_1_postcode(self) -> str:
        return self._parent_postcode(1)

    def clean_parent_2_postcode(self) -> str:
        return self._parent_postcode(2)

    def clean_dsl_phone(self) -> str:
        value = self.cleaned_data["dsl_phone"]
        return validate_uk_phone(value) if value else ""

    def _past_date(self, name: str) -> datetime.date | None:
        value: datetime.date | None = self.cleaned_data.get(name)
        if value is not None and value > self.today:
            raise forms.ValidationError(f"{self.PAST_DATES[name]} must be today or in the past", code="future")
        return value

    def clean_date_of_birth(self) -> datetime.date | None:
        return self._past_date("date_of_birth")

    def clean_notice_received_on(self) -> datetime.date | None:
        return self._past_date("notice_received_on")

    def clean_removed_from_roll_on(self) -> datetime.date | None:
        return self._past_date("removed_from_roll_on")

    def clean_concern_last_raised_on(self) -> datetime.date | None:
        return self._past_date("concern_last_raised_on")

    def clean_referred_on(self) -> datetime.date | None:
        return self._past_date("referred_on")

    # ------------------------------------------------------------------------------------------
    # Rules across fields

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        self._clean_parent_2()
        for number in PARENTS:
            if number == 1 or self.parent_2_entered:
                self._clean_parent_address(number)
        self._clean_leaving_school(data)
        self._clean_safeguarding(data)
        if self.consent_applies(data) and data.get("removal_status") == RemovalStatus.REMOVED:
            self.add_error("removal_status", CONSENT_MESSAGE)
        return data

    def _ignore(self, *names: str) -> None:
        """Drop the answers (and their errors) to questions that do not apply."""
        for name in names:
            self.errors.pop(name, None)
            field = self.fields[name]
            self.cleaned_data[name] = None if isinstance(field, GovukDateField | forms.TypedChoiceField) else ""

    def _require(self, required: dict[str, str]) -> None:
        for name, message in required.items():
            if name not in self.errors and self.cleaned_data.get(name) in (None, ""):
                self.add_error(name, message)

    def _clean_parent_2(self) -> None:
        names = [name for name in self.fields if name.startswith("parent_2_")]
        if not self.parent_2_entered:
            self._ignore(*names)
            return
        self._require(
            {
                "parent_2_first_name": "Enter the first name of parent or carer 2",
                "parent_2_last_name": "Enter the last name of parent or carer 2",
                "parent_2_relationship": "Select the relationship of parent or carer 2 to the child",
                "parent_2_parental_responsibility": "Select yes if parent or carer 2 has parental responsibility",
                "parent_2_lives_with_child": "Select yes if the child normally lives with parent or carer 2",
                "parent_2_same_address": "Select yes if parent or carer 2 lives at the child's home address",
                "parent_2_emergency_phone": "Enter an emergency phone number for parent or carer 2",
            }
        )

    def _clean_parent_address(self, number: int) -> None:
        """A parent who lives at the child's address gives no other; one who does not, gives theirs."""
        prefix = f"parent_{number}_"
        same = self.cleaned_data.get(f"{prefix}same_address")
        if same is True:
            self._ignore(*(f"{prefix}{name}" for name in self.PARENT_ADDRESS))
        elif same is False:
            self._require(
                {
                    f"{prefix}{name}": message.format(n=number)
                    for name, message in self.PARENT_ADDRESS.items()
                    if message
                }
            )

    def _clean_leaving_school(self, data: dict[str, Any]) -> None:
        status = data.get("removal_status")
        if status == RemovalStatus.WAITING:
            self._ignore("removed_from_roll_on")
            return
        if status == RemovalStatus.REMOVED:
            self._require({"removed_from_roll_on": "Enter the date the pupil was removed from the admission register"})
        removed_on, notice_on = data.get("removed_from_roll_on"), data.get("notice_received_on")
        if removed_on and notice_on and removed_on < notice_on:
            self.add_error("removed_from_roll_on", REMOVED_BEFORE_NOTICE_MESSAGE)

    def _clean_safeguarding(self, data: dict[str, Any]) -> None:
        concerns = data.get("safeguarding_concerns")
        if concerns is False:
            self._ignore(*self.SAFEGUARDING_DETAILS, *self.REFERRAL_DETAILS)
            return
        if concerns is not True:
            return
        self._require(self.SAFEGUARDING_DETAILS)
        referred = data.get("referred_to_front_door")
        if referred is True:
            self._require(self.REFERRAL_DETAILS)
        elif referred is False:
            self._ignore(*self.REFERRAL_DETAILS)

    # ------------------------------------------------------------------------------------------
    # To the service

    def _parent(self, number: int) -> ParentDetails:
        data = self.cleaned_data
        prefix = f"parent_{number}_"
        return ParentDetails(
            first_name=data[f"{prefix}first_name"],
            last_name=data[f"{prefix}last_name"],
            relationship=data[f"{prefix}relationship"],
            parental_responsibility=data[f"{prefix}parental_responsibility"],
            lives_with_child=data[f"{prefix}lives_with_child"],
            emergency_phone=data[f"{prefix}emergency_phone"],
            email=data[f"{prefix}email"],
            **{name: data[f"{prefix}{name}"] or "" for name in self.PARENT_ADDRESS},
        )

    def to_input(self, *, submitted_by: User, snapshot: dict[str, list[str]]) -> IntakeRecord:
        """The cleaned answers as the intake service takes them. Only for a valid form."""
        if not self.is_valid():
            raise ValueError("Only a valid notification form can be submitted")
        data = self.cleaned_data
        school = self.chosen_school
        assert school is not None  # a valid form always has one
        parents = tuple(self._parent(number) for number in PARENTS if number == 1 or self.parent_2_entered)
        concern = None
        if data["safeguarding_concerns"]:
            concern = Concern(
                nature=data["concern_nature"] or "",
                last_raised_on=data["concern_last_raised_on"],
                referred_to_front_door=bool(data["referred_to_front_door"]),
                referred_on=data["referred_on"],
                referral_reference=data["referral_reference"] or "",
                dsl_name=data["dsl_name"] or "",
                dsl_phone=data["dsl_phone"] or "",
            )
        return IntakeRecord(
            local_authority_id=data["residence_la"].pk,
            source=Source.SCHOOL,
            opened_by_school=school,
            child=ChildDetails(
                legal_first_name=data["legal_first_name"],
                legal_middle_names=data["legal_middle_names"],
                legal_last_name=data["legal_last_name"],
                preferred_first_name=data["preferred_first_name"],
                date_of_birth=data["date_of_birth"],
                sex=data["sex"],
                upn=data["upn"],
                school_year_group=data["year_group"],
                address_line_1=data["address_line_1"],
                address_line_2=data["address_line_2"],
                address_town=data["address_town"],
                postcode=data["postcode"],
                parents=parents,
                sen_status=data["sen_status"],
                social_care_status=data["social_care_status"],
                social_worker_email=data["social_worker_email"],
            ),
            notice=SchoolNotice(
                submitted_by=submitted_by,
                snapshot=snapshot,
                notice_received_on=data["notice_received_on"],
                removed_from_roll_on=data["removed_from_roll_on"],
                removal_status=data["removal_status"],
                ground_confirmed=data["ground_confirmed"],
                reason_detail=data["reason_detail"],
            ),
            reason_code=data["reason_code"],
            special_school_placed_by_la=data["special_school_placed_by_la"],
            attendance_order_in_force=data["attendance_order_in_force"],
            concern=concern,
        )

    def data_keys(self) -> set[str]:
        """Every key this form reads from POSTed data (date parts included)."""
        keys: set[str] = set()
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(widget, forms.MultiWidget):
                keys.update(f"{name}{suffix}" for suffix in widget.widgets_names)  # type: ignore[attr-defined]
            else:
                keys.add(name)
        return keys
