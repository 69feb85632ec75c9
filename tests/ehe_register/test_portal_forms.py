"""The school portal's notification form: each rule, with its message on the right field."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ehe_register.forms.portal import (
    CONSENT_MESSAGE,
    EMAIL_MESSAGE,
    REMOVED_BEFORE_NOTICE_MESSAGE,
    NotificationForm,
)
from ehe_register.models import LocalAuthority, RemovalStatus, School, SocialCareStatus
from ehe_register.validators import (
    PHONE_MESSAGE,
    POSTCODE_MESSAGE,
    UPN_CHECK_LETTER_MESSAGE,
    UPN_LA_CODE_MESSAGE,
    UPN_LENGTH_MESSAGE,
)
from tests.factories import SchoolFactory, UserFactory
from workflows.services.intake import IntakeRecord

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 3)
BLNS: list[str] = json.loads((Path(__file__).resolve().parents[1] / "data" / "blns.json").read_text())


def _date(name: str, day: int | str, month: int | str, year: int | str) -> dict[str, str]:
    return {f"{name}_day": str(day), f"{name}_month": str(month), f"{name}_year": str(year)}


def valid_data(la: LocalAuthority, **overrides: str) -> dict[str, str]:
    """A complete notification a school might send: no safeguarding concern, one parent."""
    data = {
        "legal_first_name": "Ada",
        "legal_middle_names": "Augusta",
        "legal_last_name": "Lovelace",
        "preferred_first_name": "",
        **_date("date_of_birth", 10, 12, 2014),
        "sex": "F",
        "upn": "",
        "year_group": "6",
        "address_line_1": "1 High Street",
        "address_line_2": "",
        "address_town": "Guildford",
        "postcode": "gu1 1aa",
        "residence_la": str(la.pk),
        "parent_1_first_name": "Anne",
        "parent_1_last_name": "Lovelace",
        "parent_1_relationship": "mother",
        "parent_1_parental_responsibility": "yes",
        "parent_1_lives_with_child": "yes",
        "parent_1_same_address": "yes",
        "parent_1_emergency_phone": "07700 900 982",
        "parent_1_email": "",
        **_date("notice_received_on", 2, 3, 2026),
        "removal_status": "removed",
        **_date("removed_from_roll_on", 3, 3, 2026),
        "ground_confirmed": "on",
        "reason_code": "philosophical",
        "reason_detail": "",
        "sen_status": "none",
        "social_care_status": "none",
        "social_worker_email": "",
        "special_school_placed_by_la": "no",
        "attendance_order_in_force": "no",
        "safeguarding_concerns": "no",
    }
    data.update(overrides)
    return data


SAFEGUARDING_YES = {
    "safeguarding_concerns": "yes",
    "concern_nature": "Bruising seen on the child's arm\nThe child said they were scared to go home",
    **_date("concern_last_raised_on", 1, 3, 2026),
    "referred_to_front_door": "yes",
    **_date("referred_on", 2, 3, 2026),
    "referral_reference": "CSPA-12345",
    "dsl_name": "Sam Jones",
    "dsl_phone": "01632 960 001",
}

PARENT_2 = {
    "parent_2_first_name": "Bill",
    "parent_2_last_name": "Lovelace",
    "parent_2_relationship": "father",
    "parent_2_parental_responsibility": "yes",
    "parent_2_lives_with_child": "no",
    "parent_2_same_address": "no",
    "parent_2_address_line_1": "Flat 2, Rose Court",
    "parent_2_address_line_2": "",
    "parent_2_address_town": "Woking",
    "parent_2_postcode": "gu21 4aa",
    "parent_2_emergency_phone": "+44 (0)7700 900983",
    "parent_2_email": "bill@example.com",
}


PARENT_1_ELSEWHERE = {
    "parent_1_same_address": "no",
    "parent_1_address_line_1": "3 Station Road",
    "parent_1_address_line_2": "",
    "parent_1_address_town": "Epsom",
    "parent_1_postcode": "KT17 1AA",
}


@pytest.fixture
def school(la: LocalAuthority) -> School:
    return SchoolFactory(local_authority=la)


def make_form(data: dict[str, str], school: School, **kwargs: Any) -> NotificationForm:
    return NotificationForm(data, schools=School.objects.filter(pk=school.pk), today=TODAY, **kwargs)


def errors_of(data: dict[str, str], school: School) -> dict[str, list[str]]:
    form = make_form(data, school)
    form.is_valid()
    return {name: list(messages) for name, messages in form.errors.items()}


# ----------------------------------------------------------------------------------------------
# A valid notification


def test_a_complete_notification_is_valid_and_normalised(la: LocalAuthority, school: School) -> None:
    form = make_form(valid_data(la, upn=" h801200001001 ", **PARENT_2), school)
    assert form.is_valid(), form.errors
    user = UserFactory(local_authority=None)
    data = form.to_input(submitted_by=user, snapshot={"legal_first_name": ["Ada"]})

    assert isinstance(data, IntakeRecord)
    assert data.child is not None
    assert data.notice is not None
    assert data.opened_by_school == school
    assert data.local_authority_id == la.pk
    assert data.child.upn == "H801200001001"
    assert data.child.postcode == "GU1 1AA"
    assert data.child.date_of_birth == date(2014, 12, 10)
    assert data.child.school_year_group == "6"
    assert data.notice.removal_status == RemovalStatus.REMOVED
    assert data.notice.removed_from_roll_on == date(2026, 3, 3)
    assert data.notice.ground_confirmed is True
    assert data.special_school_placed_by_la is False
    assert data.concern is None
    parents = data.child.parents
    assert [p.first_name for p in parents] == ["Anne", "Bill"]
    assert parents[0].emergency_phone == "07700900982"
    assert parents[1].emergency_phone == "07700900983"
    assert parents[1].lives_with_child is False
    assert parents[0].parental_responsibility is True
    assert (parents[0].address_line_1, parents[0].postcode) == ("", "")
    assert (parents[1].address_line_1, parents[1].address_town, parents[1].postcode) == (
        "Flat 2, Rose Court",
        "Woking",
        "GU21 4AA",
    )


def test_the_local_authority_defaults_to_the_schools(la: LocalAuthority, school: School) -> None:
    form = NotificationForm(schools=School.objects.filter(pk=school.pk))
    assert form["residence_la"].value() == la.pk
    assert "school" not in form.fields


def test_a_child_living_in_another_la_can_be_notified(
    la: LocalAuthority, other_la: LocalAuthority, school: School
) -> None:
    form = make_form(valid_data(la, residence_la=str(other_la.pk)), school)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["residence_la"] == other_la


@pytest.mark.parametrize("value", ["", "999999999999999999999999999", "1 OR 1=1", "-1", "\u0660"])
def test_an_la_that_is_not_in_the_list_is_refused_plainly(la: LocalAuthority, school: School, value: str) -> None:
    expected = ["Select the local authority the child lives in"]
    assert errors_of(valid_data(la, residence_la=value), school) == {"residence_la": expected}


# ----------------------------------------------------------------------------------------------
# Identifiers and contact details


@pytest.mark.parametrize(
    ("upn", "message"),
    [
        ("Z801200001001", UPN_CHECK_LETTER_MESSAGE),
        ("H80120000100", UPN_LENGTH_MESSAGE),
        ("H999200001001", UPN_LA_CODE_MESSAGE),
        ("H" * 60, UPN_LENGTH_MESSAGE),
    ],
)
def test_upn_is_checked(la: LocalAuthority, school: School, upn: str, message: str) -> None:
    assert errors_of(valid_data(la, upn=upn), school) == {"upn": [message]}


@pytest.mark.parametrize("postcode", ["", "GU1", "ZZ99 9ZZZ", "GU1 1AA junk", "x" * 30])
def test_postcode_is_checked(la: LocalAuthority, school: School, postcode: str) -> None:
    expected = "Enter postcode" if postcode == "" else POSTCODE_MESSAGE
    assert errors_of(valid_data(la, postcode=postcode), school) == {"postcode": [expected]}


def test_the_first_parent_needs_an_emergency_phone(la: LocalAuthority, school: School) -> None:
    assert errors_of(valid_data(la, parent_1_emergency_phone=""), school) == {
        "parent_1_emergency_phone": ["Enter an emergency phone number for parent or carer 1"]
    }


@pytest.mark.parametrize("phone", ["12345", "+33 1 23 45 67 89", "07700 9009", "phone me", "0" * 40])
def test_phones_are_checked(la: LocalAuthority, school: School, phone: str) -> None:
    assert errors_of(valid_data(la, parent_1_emergency_phone=phone), school) == {
        "parent_1_emergency_phone": [PHONE_MESSAGE]
    }
    assert errors_of(valid_data(la, **{**PARENT_2, "parent_2_emergency_phone": phone}), school) == {
        "parent_2_emergency_phone": [PHONE_MESSAGE]
    }
    assert errors_of(valid_data(la, **{**SAFEGUARDING_YES, "dsl_phone": phone}), school) == {
        "dsl_phone": [PHONE_MESSAGE]
    }


@pytest.mark.parametrize("name", ["parent_1_email", "social_worker_email"])
def test_emails_are_checked(la: LocalAuthority, school: School, name: str) -> None:
    assert errors_of(valid_data(la, **{name: "not an email"}), school) == {name: [EMAIL_MESSAGE]}


def test_the_first_parent_is_required(la: LocalAuthority, school: School) -> None:
    blank = {
        "parent_1_first_name": "",
        "parent_1_last_name": "",
        "parent_1_relationship": "",
        "parent_1_parental_responsibility": "",
        "parent_1_lives_with_child": "",
        "parent_1_emergency_phone": "",
    }
    assert errors_of(valid_data(la, **blank), school) == {
        "parent_1_first_name": ["Enter the first name of parent or carer 1"],
        "parent_1_last_name": ["Enter the last name of parent or carer 1"],
        "parent_1_relationship": ["Select the relationship of parent or carer 1 to the child"],
        "parent_1_parental_responsibility": ["Select yes if parent or carer 1 has parental responsibility"],
        "parent_1_lives_with_child": ["Select yes if the child normally lives with parent or carer 1"],
        "parent_1_emergency_phone": ["Enter an emergency phone number for parent or carer 1"],
    }


def test_a_second_parent_once_started_must_be_complete(la: LocalAuthority, school: School) -> None:
    assert errors_of(valid_data(la, parent_2_first_name="Bill"), school) == {
        "parent_2_last_name": ["Enter the last name of parent or carer 2"],
        "parent_2_relationship": ["Select the relationship of parent or carer 2 to the child"],
        "parent_2_parental_responsibility": ["Select yes if parent or carer 2 has parental responsibility"],
        "parent_2_lives_with_child": ["Select yes if the child normally lives with parent or carer 2"],
        "parent_2_same_address": ["Select yes if parent or carer 2 lives at the child's home address"],
        "parent_2_emergency_phone": ["Enter an emergency phone number for parent or carer 2"],
    }


def test_a_second_parent_left_blank_is_not_sent(la: LocalAuthority, school: School) -> None:
    # A radio chosen by mistake cannot be cleared, so it alone does not start the second parent.
    form = make_form(valid_data(la, parent_2_parental_responsibility="yes"), school)
    assert form.is_valid(), form.errors
    assert len(form.to_input(submitted_by=UserFactory(local_authority=None), snapshot={}).child.parents) == 1  # type: ignore[union-attr]


def test_a_parent_at_another_address_gives_it(la: LocalAuthority, school: School) -> None:
    form = make_form(valid_data(la, **PARENT_1_ELSEWHERE), school)
    assert form.is_valid(), form.errors
    child = form.to_input(submitted_by=UserFactory(local_authority=None), snapshot={}).child
    assert child is not None
    [parent] = child.parents
    assert (parent.address_line_1, parent.address_town, parent.postcode) == ("3 Station Road", "Epsom", "KT17 1AA")


def test_a_parent_at_another_address_must_say_where(la: LocalAuthority, school: School) -> None:
    blank = {**PARENT_1_ELSEWHERE, "parent_1_address_line_1": "", "parent_1_address_town": "", "parent_1_postcode": ""}
    assert errors_of(valid_data(la, **blank), school) == {
        "parent_1_address_line_1": ["Enter address line 1 for parent or carer 1, typically the building and street"],
        "parent_1_address_town": ["Enter town or city for parent or carer 1"],
        "parent_1_postcode": ["Enter postcode for parent or carer 1"],
    }


@pytest.mark.parametrize("postcode", ["not a postcode", "GU1", "1AA GU1", "Z" * 30])
def test_a_parents_postcode_is_checked(la: LocalAuthority, school: School, postcode: str) -> None:
    data = valid_data(la, **{**PARENT_1_ELSEWHERE, "parent_1_postcode": postcode})
    assert errors_of(data, school) == {"parent_1_postcode": [POSTCODE_MESSAGE]}


def test_a_parent_at_the_childs_address_gives_no_other(la: LocalAuthority, school: School) -> None:
    # Typed before choosing "yes": ignored, never refused.
    data = valid_data(la, **{**PARENT_1_ELSEWHERE, "parent_1_same_address": "yes", "parent_1_postcode": "nonsense"})
    form = make_form(data, school)
    assert form.is_valid(), form.errors
    child = form.to_input(submitted_by=UserFactory(local_authority=None), snapshot={}).child
    assert child is not None
    assert (child.parents[0].address_line_1, child.parents[0].postcode) == ("", "")


def test_whether_the_parent_lives_at_the_childs_address_must_be_answered(la: LocalAuthority, school: School) -> None:
    assert errors_of(valid_data(la, parent_1_same_address=""), school) == {
        "parent_1_same_address": ["Select yes if parent or carer 1 lives at the child's home address"]
    }


# ----------------------------------------------------------------------------------------------
# Dates


@pytest.mark.parametrize(
    ("name", "message", "extra"),
    [
        ("date_of_birth", "Date of birth must be today or in the past", {}),
        ("notice_received_on", "The date the notice was received must be today or in the past", {}),
        ("removed_from_roll_on", "The date removed from roll must be today or in the past", {}),
        (
            "concern_last_raised_on",
            "The date the concern was last raised must be today or in the past",
            SAFEGUARDING_YES,
        ),
        ("referred_on", "The date it was referred must be today or in the past", SAFEGUARDING_YES),
    ],
)
def test_dates_cannot_be_in_the_future(
    la: LocalAuthority, school: School, name: str, message: str, extra: dict[str, str]
) -> None:
    tomorrow = _date(name, 4, 3, 2026)
    errors = errors_of(valid_data(la, **{**extra, **tomorrow}), school)
    assert errors[name] == [message]
    today = _date(name, 3, 3, 2026)
    assert name not in errors_of(valid_data(la, **{**extra, **today}), school)


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (("", "", ""), "Enter the child's date of birth"),
        (("10", "", "2014"), "Date of birth must include a month"),
        (("31", "2", "2014"), "Date of birth must be a real date"),
        (("10", "12", "14"), "Year must include 4 numbers"),
        # Digits Python reads as digits but cannot turn into numbers, and a day too big for C.
        (("1", "\u00b2", "2014"), "Date of birth must be a real date"),
        (("99999999999999999999", "1", "2014"), "Date of birth must be a real date"),
        (("1", "1" * 5000, "2014"), "Date of birth must be a real date"),
    ],
)
def test_date_of_birth_messages(la: LocalAuthority, school: School, parts: tuple[str, str, str], message: str) -> None:
    assert errors_of(valid_data(la, **_date("date_of_birth", *parts)), school) == {"date_of_birth": [message]}


@pytest.mark.parametrize("dob", [date(2005, 1, 1), date(2023, 6, 1), date(1950, 5, 5)])
def test_a_child_outside_compulsory_school_age_is_accepted(la: LocalAuthority, school: School, dob: date) -> None:
    # The intake service flags it for the officer; the school is not stopped.
    assert errors_of(valid_data(la, **_date("date_of_birth", dob.day, dob.month, dob.year)), school) == {}


def test_removal_cannot_be_before_the_written_notice(la: LocalAuthority, school: School) -> None:
    data = valid_data(la, **_date("notice_received_on", 2, 3, 2026), **_date("removed_from_roll_on", 1, 3, 2026))
    assert errors_of(data, school) == {"removed_from_roll_on": [REMOVED_BEFORE_NOTICE_MESSAGE]}
    same_day = valid_data(la, **_date("notice_received_on", 2, 3, 2026), **_date("removed_from_roll_on", 2, 3, 2026))
    assert errors_of(same_day, school) == {}


def test_the_removal_date_is_required_only_when_already_removed(la: LocalAuthority, school: School) -> None:
    no_date = _date("removed_from_roll_on", "", "", "")
    assert errors_of(valid_data(la, **no_date), school) == {
        "removed_from_roll_on": ["Enter the date the pupil was removed from the admission register"]
    }
    # Waiting: a date typed before choosing "waiting" (even a wrong one) is ignored.
    form = make_form(valid_data(la, removal_status="waiting", **_date("removed_from_roll_on", 40, 2, 2026)), school)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["removed_from_roll_on"] is None


def test_removal_status_and_ground_are_required(la: LocalAuthority, school: School) -> None:
    data = valid_data(la, removal_status="")
    del data["ground_confirmed"]
    assert errors_of(data, school) == {
        "removal_status": ["Select whether the pupil has been removed from the admission register"],
        "ground_confirmed": ["Confirm the pupil was removed, or will be, on the ground in regulation 9(1)(f)"],
    }


# ----------------------------------------------------------------------------------------------
# Lengths


@pytest.mark.parametrize(
    ("name", "limit", "message", "extra"),
    [
        ("legal_first_name", 100, "Legal first name must be 100 characters or less", {}),
        ("legal_middle_names", 200, "Legal middle names must be 200 characters or less", {}),
        ("legal_last_name", 100, "Legal last name must be 100 characters or less", {}),
        ("preferred_first_name", 100, "Preferred first name must be 100 characters or less", {}),
        ("address_line_1", 200, "Address line 1 must be 200 characters or less", {}),
        ("address_line_2", 200, "Address line 2 must be 200 characters or less", {}),
        ("address_town", 100, "Town or city must be 100 characters or less", {}),
        ("parent_1_first_name", 100, "First name must be 100 characters or less", {}),
        ("parent_1_last_name", 100, "Last name must be 100 characters or less", {}),
        ("parent_2_first_name", 100, "First name of parent or carer 2 must be 100 characters or less", PARENT_2),
        ("parent_2_last_name", 100, "Last name of parent or carer 2 must be 100 characters or less", PARENT_2),
        ("reason_detail", 1000, "The detail about the reason must be 1000 characters or less", {}),
        ("concern_nature", 2000, "The nature of the concern must be 2000 characters or less", SAFEGUARDING_YES),
        ("referral_reference", 60, "Referral reference must be 60 characters or less", SAFEGUARDING_YES),
        ("dsl_name", 100, "Designated safeguarding lead's name must be 100 characters or less", SAFEGUARDING_YES),
    ],
)
def test_text_has_a_length_limit_with_a_plain_message(
    la: LocalAuthority, school: School, name: str, limit: int, message: str, extra: dict[str, str]
) -> None:
    assert errors_of(valid_data(la, **{**extra, name: "a" * limit}), school) == {}
    assert errors_of(valid_data(la, **{**extra, name: "a" * (limit + 1)}), school) == {name: [message]}


def test_no_text_box_cuts_off_what_is_typed(la: LocalAuthority, school: School) -> None:
    # GOV.UK: explain the limit instead of silently truncating with maxlength.
    assert "maxlength" not in str(make_form({}, school))


@pytest.mark.parametrize("name", ["parent_1_email", "social_worker_email"])
def test_an_email_address_has_a_length_limit(la: LocalAuthority, school: School, name: str) -> None:
    too_long = "a" * 250 + "@example.com"
    assert errors_of(valid_data(la, **{name: too_long}), school)[name] != []


# ----------------------------------------------------------------------------------------------
# Safeguarding


def test_safeguarding_concerns_must_be_answered(la: LocalAuthority, school: School) -> None:
    assert errors_of(valid_data(la, safeguarding_concerns=""), school) == {
        "safeguarding_concerns": ["Select yes if there are any safeguarding concerns"]
    }


def test_a_concern_needs_the_whole_safeguarding_section(la: LocalAuthority, school: School) -> None:
    assert errors_of(valid_data(la, safeguarding_concerns="yes"), school) == {
        "concern_nature": ["Describe the nature of the concern"],
        "concern_last_raised_on": ["Enter the date the concern was last raised"],
        "referred_to_front_door": ["Select yes if the concern has been referred"],
        "dsl_name": ["Enter the designated safeguarding lead's name"],
        "dsl_phone": ["Enter the designated safeguarding lead's direct phone number"],
    }


def test_a_referral_needs_its_date_and_reference(la: LocalAuthority, school: School) -> None:
    data = valid_data(la, **{**SAFEGUARDING_YES, **_date("referred_on", "", "", ""), "referral_reference": ""})
    assert errors_of(data, school) == {
        "referred_on": ["Enter the date the concern was referred"],
        "referral_reference": ["Enter the referral reference"],
    }


def test_a_concern_not_yet_referred_needs_no_referral_details(la: LocalAuthority, school: School) -> None:
    data = valid_data(
        la,
        **{
            **SAFEGUARDING_YES,
            "referred_to_front_door": "no",
            **_date("referred_on", "x", "", ""),
            "referral_reference": "",
        },
    )
    form = make_form(data, school)
    assert form.is_valid(), form.errors
    sent = form.to_input(submitted_by=UserFactory(local_authority=None), snapshot={}).concern
    assert sent is not None
    assert (sent.referred_to_front_door, sent.referred_on, sent.referral_reference) == (False, None, "")
    assert sent.dsl_phone == "01632960001"


def test_a_complete_concern_is_sent(la: LocalAuthority, school: School) -> None:
    form = make_form(valid_data(la, **SAFEGUARDING_YES), school)
    assert form.is_valid(), form.errors
    sent = form.to_input(submitted_by=UserFactory(local_authority=None), snapshot={}).concern
    assert sent is not None
    assert sent.nature.startswith("Bruising seen")
    assert sent.last_raised_on == date(2026, 3, 1)
    assert sent.referred_to_front_door is True
    assert (sent.referred_on, sent.referral_reference) == (date(2026, 3, 2), "CSPA-12345")
    assert (sent.dsl_name, sent.dsl_phone) == ("Sam Jones", "01632960001")


def test_no_concern_ignores_anything_typed_in_the_hidden_section(la: LocalAuthority, school: School) -> None:
    data = valid_data(la, **{**SAFEGUARDING_YES, "safeguarding_concerns": "no", "dsl_phone": "nonsense"})
    form = make_form(data, school)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["dsl_phone"] == ""
    assert form.to_input(submitted_by=UserFactory(local_authority=None), snapshot={}).concern is None


def test_the_front_door_question_names_the_schools_front_door(la: LocalAuthority, school: School) -> None:
    la.front_door_name = "Children's Single Point of Access (C-SPA)"
    la.save()
    form = make_form({}, school)
    assert form.fields["referred_to_front_door"].label == (
        "Has the concern been referred to Children's Single Point of Access (C-SPA) or children's social care?"
    )


# ----------------------------------------------------------------------------------------------
# Consent before removal


@pytest.mark.parametrize(
    ("answers", "duty"),
    [
        ({"special_school_placed_by_la": "yes"}, False),
        ({"attendance_order_in_force": "yes"}, False),
        ({"social_care_status": SocialCareStatus.S47_OPEN}, True),
        ({"social_care_status": SocialCareStatus.CHILD_PROTECTION_PLAN}, True),
    ],
)
def test_where_consent_applies_the_pupil_must_not_be_removed_yet(
    la: LocalAuthority, school: School, answers: dict[str, str], duty: bool
) -> None:
    la.consent_duty_commenced = duty
    la.save()
    assert errors_of(valid_data(la, **answers), school) == {"removal_status": [CONSENT_MESSAGE]}
    waiting = make_form(valid_data(la, removal_status="waiting", **answers), school)
    assert waiting.is_valid(), waiting.errors
    assert waiting.consent_applies()


@pytest.mark.parametrize(
    ("status", "duty"),
    [
        (SocialCareStatus.S47_OPEN, False),
        (SocialCareStatus.CHILD_PROTECTION_PLAN, False),
        (SocialCareStatus.CHILD_IN_NEED, True),
        (SocialCareStatus.LOOKED_AFTER, True),
    ],
)
def test_without_the_duty_or_the_status_the_pupil_may_be_removed(
    la: LocalAuthority, school: School, status: str, duty: bool
) -> None:
    la.consent_duty_commenced = duty
    la.save()
    form = make_form(valid_data(la, social_care_status=status), school)
    assert form.is_valid(), form.errors
    assert not form.consent_applies()


def test_the_consent_duty_is_the_residence_las(la: LocalAuthority, other_la: LocalAuthority, school: School) -> None:
    other_la.consent_duty_commenced = True
    other_la.save()
    s47 = {"social_care_status": SocialCareStatus.S47_OPEN}
    assert errors_of(valid_data(la, **s47), school) == {}
    assert errors_of(valid_data(la, residence_la=str(other_la.pk), **s47), school) == {
        "removal_status": [CONSENT_MESSAGE]
    }


# ----------------------------------------------------------------------------------------------
# Which school


def test_a_user_of_several_schools_says_which_and_only_theirs(la: LocalAuthority) -> None:
    mine, also_mine, not_mine = SchoolFactory.create_batch(3, local_authority=la)
    schools = School.objects.filter(pk__in=[mine.pk, also_mine.pk])
    form = NotificationForm(valid_data(la), schools=schools, today=TODAY)
    assert not form.is_valid()
    assert form.errors["school"] == ["Select the school this notification is from"]
    assert {choice for choice, _ in form.fields["school"].choices if choice} == {mine.pk, also_mine.pk}

    form = NotificationForm(valid_data(la, school=str(not_mine.pk)), schools=schools, today=TODAY)
    assert form.errors == {"school": ["Select the school this notification is from"]}

    form = NotificationForm(valid_data(la, school=str(also_mine.pk)), schools=schools, today=TODAY)
    assert form.is_valid(), form.errors
    assert form.to_input(submitted_by=UserFactory(local_authority=None), snapshot={}).opened_by_school == also_mine


# ----------------------------------------------------------------------------------------------
# Hostile input: never an exception, only a valid form or errors on the field concerned


TEXT_KEYS = [
    "legal_first_name",
    "legal_middle_names",
    "legal_last_name",
    "preferred_first_name",
    "date_of_birth_day",
    "date_of_birth_month",
    "date_of_birth_year",
    "upn",
    "address_line_1",
    "address_line_2",
    "address_town",
    "postcode",
    "parent_1_first_name",
    "parent_1_last_name",
    "parent_1_emergency_phone",
    "parent_1_email",
    "parent_1_address_line_1",
    "parent_1_address_line_2",
    "parent_1_address_town",
    "parent_1_postcode",
    "parent_2_first_name",
    "parent_2_last_name",
    "parent_2_emergency_phone",
    "parent_2_email",
    "parent_2_address_line_1",
    "parent_2_address_line_2",
    "parent_2_address_town",
    "parent_2_postcode",
    "notice_received_on_day",
    "notice_received_on_month",
    "notice_received_on_year",
    "removed_from_roll_on_day",
    "removed_from_roll_on_month",
    "removed_from_roll_on_year",
    "reason_detail",
    "social_worker_email",
    "concern_nature",
    "concern_last_raised_on_day",
    "concern_last_raised_on_month",
    "concern_last_raised_on_year",
    "referred_on_day",
    "referred_on_month",
    "referred_on_year",
    "referral_reference",
    "dsl_name",
    "dsl_phone",
]
CHOICE_KEYS = [
    "sex",
    "year_group",
    "residence_la",
    "parent_1_relationship",
    "parent_1_parental_responsibility",
    "parent_1_same_address",
    "removal_status",
    "ground_confirmed",
    "reason_code",
    "sen_status",
    "social_care_status",
    "special_school_placed_by_la",
    "safeguarding_concerns",
    "referred_to_front_door",
]
_DATE_FIELDS = ("date_of_birth", "notice_received_on", "removed_from_roll_on", "concern_last_raised_on", "referred_on")


def _field_of(key: str) -> str:
    for name in _DATE_FIELDS:
        if key.startswith(f"{name}_"):
            return name
    return key


def _errors_allowed_for(key: str) -> set[str]:
    field = _field_of(key)
    allowed = {field}
    if field.startswith("parent_2_"):
        allowed |= {name for name in NotificationForm.base_fields if name.startswith("parent_2_")}
    if field in ("notice_received_on", "removed_from_roll_on"):
        allowed |= {"removed_from_roll_on"}  # a strange but real date may fall before the other
    if field in ("social_care_status", "residence_la", "safeguarding_concerns"):
        allowed |= {"removal_status"} | set(NotificationForm.SAFEGUARDING_DETAILS)
    return allowed


def test_every_text_box_is_in_the_hostile_input_test() -> None:
    form = NotificationForm(schools=School.objects.none())
    assert set(TEXT_KEYS) | set(CHOICE_KEYS) <= form.data_keys()
    covered = {_field_of(key) for key in TEXT_KEYS}
    text_fields = {
        name for name, field in form.fields.items() if not hasattr(field, "choices") and name != "ground_confirmed"
    }
    assert text_fields <= covered


@pytest.mark.parametrize("key", TEXT_KEYS + CHOICE_KEYS)
def test_hostile_strings_in_every_field_give_a_valid_form_or_field_errors(
    la: LocalAuthority, school: School, key: str
) -> None:
    # The safeguarding section is answered "yes", and parent 1 lives elsewhere, so that those
    # boxes are checked, not ignored.
    base = valid_data(la, **SAFEGUARDING_YES, **PARENT_1_ELSEWHERE)
    allowed = _errors_allowed_for(key)
    for hostile in BLNS:
        form = make_form({**base, key: hostile}, school)
        form.is_valid()  # must not raise
        assert not form.non_field_errors(), (key, hostile)
        assert set(form.errors) <= allowed, (key, hostile, form.errors)
        form[_field_of(key)].as_field_group()  # and the question renders
