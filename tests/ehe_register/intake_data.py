"""Building valid notification inputs for service tests.

``notification_input`` takes the flat names of the school's form (``legal_first_name``,
``removal_status``, ``residence_la``, ...) and places each in its part of the one intake record
(``workflows.services.intake.IntakeRecord``), so tests read like the form.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import date
from typing import Any

from ehe_register.models import LocalAuthority, School, User
from ehe_register.services.children import ChildDetails, ParentDetails
from workflows.services.intake import Concern, IntakeRecord, SchoolNotice
from workflows.states import Source

CHILD_FIELDS = {f.name for f in fields(ChildDetails)}
NOTICE_FIELDS = {f.name for f in fields(SchoolNotice)}
RECORD_FIELDS = {f.name for f in fields(IntakeRecord)} - CHILD_FIELDS - NOTICE_FIELDS


def notification_input(
    school: School, user: User, residence_la: LocalAuthority | None = None, **changes: Any
) -> IntakeRecord:
    child = ChildDetails(
        legal_first_name="Maya",
        legal_last_name="Fletcher",
        date_of_birth=date(2014, 5, 17),
        sex="F",
        school_year_group="7",
        address_line_1="12 Meadow Lane",
        address_town="Guildford",
        postcode="GU1 4AA",
        parents=(
            ParentDetails(
                first_name="Joanne",
                last_name="Fletcher",
                relationship="mother",
                parental_responsibility=True,
                lives_with_child=True,
                emergency_phone="07700900123",
            ),
        ),
    )
    notice = SchoolNotice(
        submitted_by=user,
        snapshot={"legal_first_name": ["Maya"], "legal_last_name": ["Fletcher"]},
        notice_received_on=date(2026, 11, 20),
        removed_from_roll_on=date(2026, 11, 23),
        removal_status="removed",
        ground_confirmed=True,
    )
    unknown = set(changes) - CHILD_FIELDS - NOTICE_FIELDS - RECORD_FIELDS
    if unknown:
        raise TypeError(f"Not a notification field: {sorted(unknown)}")
    return IntakeRecord(
        local_authority_id=(residence_la or school.local_authority).pk,
        source=Source.SCHOOL,
        opened_by_school=school,
        child=replace(child, **{k: v for k, v in changes.items() if k in CHILD_FIELDS}),
        notice=replace(notice, **{k: v for k, v in changes.items() if k in NOTICE_FIELDS}),
        **{"reason_code": "philosophical", **{k: v for k, v in changes.items() if k in RECORD_FIELDS}},
    )


def with_concern(data: IntakeRecord) -> IntakeRecord:
    return replace(
        data,
        concern=Concern(
            nature="Unexplained bruising noticed by the class teacher",
            last_raised_on=date(2026, 11, 19),
            referred_to_front_door=True,
            referred_on=date(2026, 11, 19),
            referral_reference="CSPA-1234",
            dsl_name="Sam Patel",
            dsl_phone="01632960555",
        ),
    )
