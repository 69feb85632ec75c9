"""Building valid notification inputs for service tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from ehe_register.models import LocalAuthority, School, User
from ehe_register.services.children import ParentDetails
from workflows.services.submission import NotificationInput


def notification_input(
    school: School, user: User, residence_la: LocalAuthority | None = None, **changes: Any
) -> NotificationInput:
    base = NotificationInput(
        school=school,
        submitted_by=user,
        snapshot={"legal_first_name": ["Maya"], "legal_last_name": ["Fletcher"]},
        residence_la=residence_la or school.local_authority,
        legal_first_name="Maya",
        legal_middle_names="",
        legal_last_name="Fletcher",
        preferred_first_name="",
        date_of_birth=date(2014, 5, 17),
        sex="F",
        upn="",
        year_group="Year 7",
        address_line_1="12 Meadow Lane",
        address_line_2="",
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
        notice_received_on=date(2026, 11, 20),
        removed_from_roll_on=date(2026, 11, 23),
        removal_status="removed",
        ground_confirmed=True,
        reason_code="philosophical",
        reason_detail="",
        sen_status="none",
        social_care_status="none",
        social_worker_email="",
        special_school_placed_by_la=False,
        attendance_order_in_force=False,
        safeguarding_concerns=False,
    )
    return replace(base, **changes)


def with_concern(data: NotificationInput) -> NotificationInput:
    return replace(
        data,
        safeguarding_concerns=True,
        concern_nature="Unexplained bruising noticed by the class teacher",
        concern_last_raised_on=date(2026, 11, 19),
        referred_to_front_door=True,
        referred_on=date(2026, 11, 19),
        referral_reference="CSPA-1234",
        dsl_name="Sam Patel",
        dsl_phone="01632960555",
    )
