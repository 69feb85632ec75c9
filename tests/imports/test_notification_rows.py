"""One row of a bulk notifications file is checked exactly as the school's form checks the same
answers, and reusing values cleaned in earlier rows of the file changes nothing."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from ehe_register.forms.portal import NotificationForm
from ehe_register.models import LocalAuthority, School
from imports.formats.notifications import NotificationRowForm, _form_data
from tests.factories import SchoolFactory
from tests.imports.notification_files import row

TODAY = date(2026, 2, 2)


def _rows(urn: str) -> list[dict[str, str]]:
    """Valid rows and rows with every kind of mistake, each kind more than once (a value met
    before, with or without an error, is the case that reuse must get right)."""
    kinds = [
        {},
        {"sex": "Female"},
        {"sex": "x"},
        {"date_of_birth": "2030-01-01"},
        {"date_of_birth": "31/02/2014"},
        {"notice_received_on": ""},
        {"removal_status": "waiting", "removed_from_roll_on": ""},
        {"removal_status": "removed", "removed_from_roll_on": ""},
        {"removed_from_roll_on": "2026-01-01"},  # before the notice
        {"year_group": "13"},
        {"year_group": "Year 7"},
        {"reason_code": "not a reason"},
        {"parent_1_relationship": "Mother"},
        {"parent_1_relationship": "aunt"},
        {"parent_1_parental_responsibility": "maybe"},
        {"parent_1_same_address": "no"},
        {"parent_1_same_address": "no", "parent_1_address_line_1": "1 High Street", "parent_1_postcode": "GU1 1AA"},
        {"parent_2_first_name": "Sam"},
        {"parent_2_first_name": "Sam", "parent_2_last_name": "Lee", "parent_2_emergency_phone": "01632 960123"},
        {"parent_1_email": "not an email"},
        {"special_school_placed_by_la": "yes"},
        {"attendance_order_in_force": "yes", "removal_status": "removed"},
        {"safeguarding_concerns": "yes"},
        {"safeguarding_concerns": "yes", "concern_nature": "Neglect", "concern_last_raised_on": "2026-01-05"},
        {"safeguarding_concerns": "", "referred_to_front_door": "yes"},
        {"ground_confirmed": "no"},
        {"upn": "Z801200001001"},
        {"upn": "H801200001001"},
        {"postcode": "not a postcode"},
        {"legal_first_name": ""},
        {"legal_first_name": "x" * 101},
    ]
    return [row(urn, n, **changes) for n, changes in enumerate(kinds * 2)]


def _seen(form: Any) -> tuple[bool, Any, dict[str, Any]]:
    """What a check gives: valid or not, the errors as the page shows them, the cleaned answers."""
    valid = form.is_valid()
    cleaned = {k: v for k, v in form.cleaned_data.items() if k not in ("school", "residence_la")}
    return valid, json.loads(form.errors.as_json()), cleaned


@pytest.mark.django_db
def test_a_row_is_checked_as_the_schools_form_checks_it_and_reuse_changes_nothing(la: LocalAuthority) -> None:
    school: School = SchoolFactory(local_authority=la)
    fields = NotificationRowForm.fields_for(la)
    cleaned_before: dict[tuple[str, Any], Any] = {}
    for values in _rows(school.urn):
        data, date_errors = _form_data(values)
        assert not date_errors
        fresh = NotificationRowForm(data, school=school, fields=fields, today=TODAY)
        reusing = NotificationRowForm(data, school=school, fields=fields, today=TODAY, cleaned=cleaned_before)
        portal = NotificationForm(
            {**data, "residence_la": str(la.pk)}, schools=School.objects.filter(pk=school.pk), today=TODAY
        )

        assert _seen(reusing) == _seen(fresh) == _seen(portal), values
    assert cleaned_before  # values were reused
    # Only values of lists, yes/no questions and dates, and blank values, are kept for reuse.
    assert not any(name == "legal_first_name" and value for name, value in cleaned_before)
