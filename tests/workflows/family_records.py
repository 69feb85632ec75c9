"""A child with a record in every place personal data lives, for the retention and subject access
tests, and a scan of every table of the database for strings that must not be there.

The child's names, numbers and addresses are unusual words, so that finding one anywhere is
finding this child, not a coincidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from ehe_register.models import (
    AccessAction,
    Address,
    AddressCheck,
    AddressKind,
    CheckMethod,
    CheckOutcome,
    Child,
    ChildPerson,
    LegalHold,
    LocalAuthority,
    OffRollNotification,
    Person,
    ReasonCode,
    Relationship,
    RemovalStatus,
    Routing,
    SchoolContactRequest,
    Sex,
)
from ehe_register.roles import Role
from ehe_register.services.access import access_log_record
from notifications.models import Channel
from notifications.services import message_enqueue
from tests.factories import SchoolFactory, make_episode, make_user
from workflows.models import (
    Activity,
    ActivityKind,
    ActivityOutcome,
    AuditCase,
    AuditSample,
    Concern,
    ConcernSource,
    Episode,
    Escalation,
    EscalationEvent,
    Review,
)
from workflows.services.transitions import episode_transition
from workflows.states import ClosureReason, State

LONDON = timezone.get_current_timezone()


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=LONDON)


@dataclass
class Family:
    """One child's records everywhere, and the strings that identify the child and the parent."""

    child: Child
    parent: Person
    episodes: list[Episode]
    secrets: list[str] = field(default_factory=list)
    date_of_birth: date = date(2000, 5, 17)


def family_records(
    la: LocalAuthority,
    *,
    first: str = "Zephyrine",
    last: str = "Quillfeather",
    upn: str = "H801200001001",
    dob: date = date(2000, 5, 17),
    parent_first: str = "Oberon",
    street: str = "14 Lavender Row",
    postcode: str = "KT22 7QW",
    phone: str = "07700 900456",
    nhs_number: str = "9434765919",
    language: str = "Cornish",
    old_postcode: str = "KT22 1ZZ",
    parent_postcode: str = "KT23 4PX",
    opened: date = date(2014, 9, 10),
    closed: date = date(2015, 7, 1),
) -> Family:
    """A child (closed case) with a record in every place, written at the dates given (move the
    clock there first: ``time_machine.move_to(at(opened))``)."""
    officer = make_user(Role.EHE_OFFICER, la)
    manager = make_user(Role.EHE_MANAGER, la)
    school = SchoolFactory(local_authority=la, type_name="Academy converter")
    social_worker = f"{first.lower()}.worker@socialcare.example"
    child = Child.objects.create(
        local_authority=la,
        legal_first_name=first,
        legal_middle_names=f"{first}ina",
        legal_last_name=f"Old{last}",
        preferred_first_name=f"{first[:5]}ie",
        date_of_birth=dob,
        sex=Sex.FEMALE,
        upn=upn,
        nhs_number=nhs_number,
        social_worker_email=social_worker,
        language=language,
        contact_preferences=f"Ask for {parent_first} before noon",
    )
    # A change of name, so that the history holds the old one too.
    Child.objects.filter(pk=child.pk).update(
        legal_last_name=last, former_names=[f"{first} Old{last}"], former_upns=[f"{upn[:-3]}AAA"]
    )
    child.refresh_from_db()
    address = Address.objects.create(
        local_authority=la, child=child, kind=AddressKind.CURRENT, line_1=f"2 {last} Mill Yard", postcode=old_postcode
    )
    Address.objects.filter(pk=address.pk).update(line_1=street, town=f"{last}bury", postcode=postcode, uprn="100062")
    parent = Person.objects.create(
        local_authority=la,
        first_name=parent_first,
        last_name=last,
        emergency_phone=phone,
        email=f"{parent_first.lower()}.{last.lower()}@example.com",
        address_line_1=f"9 {parent_first} Close",
        postcode=parent_postcode,
    )
    ChildPerson.objects.create(child=child, person=parent, relationship=Relationship.MOTHER)

    episode = make_episode(
        State.EDUCATION_ENQUIRY,
        child=child,
        opened_at=at(opened),
        received_on=opened,
        opened_by_school=school,
        reason_code=ReasonCode.MENTAL_HEALTH,
    )
    Episode.objects.filter(pk=episode.pk).update(source_detail=f"Call from {parent_first} {last}")
    notification = OffRollNotification.objects.create(
        reference=f"EHE-{la.dfe_code}-{child.pk:06d}",
        school=school,
        submitted_by=make_user(Role.SCHOOL_USER, la),
        submitted_at=at(opened),
        snapshot={
            "legal_first_name": [first],
            "legal_last_name": [last],
            "date_of_birth": [dob.isoformat()],
            "parent_1_first_name": [parent_first],
            "parent_1_phone": [phone],
            "address_line_1": [street],
        },
        residence_la=la,
        routing=Routing.THIS_DEPLOYMENT,
        child=child,
        episode=episode,
        legal_first_name=first,
        legal_last_name=last,
        date_of_birth=dob,
        upn=upn,
        postcode=postcode,
        notice_received_on=opened,
        removal_status=RemovalStatus.REMOVED,
        reason_code=ReasonCode.MENTAL_HEALTH,
        safeguarding_concerns=True,
    )
    now = at(opened, 11)
    Activity.objects.create(
        episode=episode,
        kind=ActivityKind.HOME_VISIT,
        occurred_at=now,
        summary=f"Met {parent_first} and {first} at {street}",
        outcome=ActivityOutcome.PARENT_REACHED,
        recorded_by=officer,
        recorded_at=now,
        child_seen=True,
        child_views=f"{first} enjoys learning at home",
    )
    AddressCheck.objects.create(
        address=address,
        episode=episode,
        method=CheckMethod.HOME_VISIT,
        outcome=CheckOutcome.CONFIRMED,
        checked_at=now,
        checked_by=officer,
        notes=f"Seen at {street}",
    )
    SchoolContactRequest.objects.create(
        episode=episode,
        school=school,
        requested_by=officer,
        requested_at=now,
        answered_at=now,
        answered_line_1=street,
        answered_postcode=postcode,
        answered_phone=phone,
        outcome=CheckOutcome.CONFIRMED,
    )
    Review.objects.create(episode=episode, due_on=opened, held_on=opened, notes=f"{first} reads widely")
    escalation = Escalation.objects.create(
        episode=episode,
        local_authority=la,
        rule="concern_ticked",
        raised_at=now,
        decision="no_further_action",
        decision_reference=f"CSPA-{upn[-5:]}",
        decision_note=f"{parent_first} {last} spoken to",
        resolved_at=now,
        resolved_by_name="Front door",
    )
    EscalationEvent.objects.create(
        escalation=escalation,
        kind="raised",
        level=1,
        actor_name="The service",
        note=f"School worried about {first}",
        at=now,
    )
    Concern.objects.create(
        episode=episode,
        text=f"{first} said she was hungry",
        source=ConcernSource.SCHOOL_NOTIFICATION,
        author_name="Test School",
        raised_at=now,
        escalation=escalation,
    )
    with transaction.atomic():
        message_enqueue(
            template="emails/escalation_external",
            idempotency_key=f"test:{child.pk}:external",
            recipient_email=social_worker,
            local_authority=la,
            payload={"case_reference": episode.reference, "summary": "Concern ticked", "detail": f"{first} {last}"},
            as_of=now,
        )
        message_enqueue(
            template="emails/notification_receipt",
            idempotency_key=f"test:{child.pk}:receipt",
            channel=Channel.IN_APP,
            recipient_user=notification.submitted_by,
            payload={"reference": notification.reference, "la_name": la.name},
            as_of=now,
        )
    sample, _ = AuditSample.objects.get_or_create(
        local_authority=la,
        month=opened.replace(day=1),
        defaults={"seed": 1, "size_per_officer": 1, "drawn_by": manager, "drawn_at": now},
    )
    AuditCase.objects.create(sample=sample, episode=episode, officer=officer, summary=f"Good work with {first}")
    access_log_record(user=officer, children=[child], action=AccessAction.VIEW, path=f"/cases/?q={last}", as_of=now)
    LegalHold.objects.create(
        local_authority=la,
        child=child,
        reason=f"Complaint by {parent_first} {last}",
        placed_by=manager,
        placed_at=now,
        lifted_by=manager,
        lifted_at=at(closed),
        lift_reason=f"{parent_first}'s complaint closed",
    )

    # A section 437 notice served (the DfE return counts it from the payload), then the case closes.
    episode = episode_transition(
        episode_id=episode.pk,
        transition="provision_unsuitable",
        actor=officer,
        expected_version=None,
        as_of=at(date(opened.year, 11, 3)),
        served_on=date(opened.year, 11, 3),
        served_how=f"Handed to {parent_first} {last}",
    )
    episode = episode_transition(
        episode_id=episode.pk,
        transition="close",
        actor=officer,
        expected_version=None,
        as_of=at(closed),
        reason=f"{first} back at school",
        closure_reason=ClosureReason.RETURNED_TO_SCHOOL,
    )
    secrets = [
        first,
        last,
        f"{first}ina",
        f"Old{last}",
        f"{first[:5]}ie",
        upn,
        f"{upn[:-3]}AAA",
        nhs_number,
        social_worker,
        language,
        street,
        f"{last} Mill Yard",
        f"{last}bury",
        postcode,
        old_postcode,
        parent_first,
        phone,
        parent.email,
        f"{parent_first} Close",
        parent_postcode,
        f"CSPA-{upn[-5:]}",
        dob.isoformat(),
    ]
    return Family(child=child, parent=parent, episodes=[episode], secrets=secrets, date_of_birth=dob)


def tables_holding(needles: list[str], *, dates: list[date] = ()) -> dict[str, list[str]]:  # type: ignore[assignment]
    """Every needle found in any text, character or JSON column of any table of the database (and
    every date found in any date column), as {needle: ["table.column", ...]}. Case is ignored."""
    found: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.table_name, c.column_name, c.data_type
            FROM information_schema.columns c
            JOIN information_schema.tables t ON t.table_name = c.table_name AND t.table_schema = c.table_schema
            WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
              AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', 'date')
            ORDER BY c.table_name, c.column_name
            """
        )
        columns = cursor.fetchall()
        for table, column, data_type in columns:
            if data_type == "date":
                for day in dates:
                    cursor.execute(f'SELECT 1 FROM "{table}" WHERE "{column}" = %s LIMIT 1', [day])
                    if cursor.fetchone():
                        found.setdefault(day.isoformat(), []).append(f"{table}.{column}")
                continue
            for needle in needles:
                cursor.execute(
                    f'SELECT 1 FROM "{table}" WHERE "{column}"::text ILIKE %s LIMIT 1',
                    [f"%{needle}%"],
                )
                if cursor.fetchone():
                    found.setdefault(needle, []).append(f"{table}.{column}")
    return found


def column_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM information_schema.columns c
            JOIN information_schema.tables t ON t.table_name = c.table_name AND t.table_schema = c.table_schema
            WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
            """
        )
        row: Any = cursor.fetchone()
        return int(row[0])
