"""``notifications_record_many`` (a file's notifications, set-wise where no judgement is needed)
gives exactly what ``notification_record`` (the form's path) gives one record at a time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pghistory
import pytest
import time_machine
from django.db import transaction
from django.db.models import Model
from pghistory.models import Context

from ehe_register.models import (
    Address,
    Child,
    LocalAuthority,
    OffRollNotification,
    Person,
    PossibleMatch,
    SocialCareStatus,
)
from ehe_register.roles import Role
from ehe_register.services.children import ParentDetails
from ehe_register.working_days import LONDON
from notifications.models import Message
from tests.ehe_register.intake_data import notification_input, with_concern
from tests.factories import ChildFactory, SchoolFactory, make_user
from workflows.models import Episode, EpisodeEvent, Escalation, TransitionLog
from workflows.services import bulk_notifications
from workflows.services.bulk_notifications import notifications_record_many
from workflows.services.intake import IntakeRecord
from workflows.services.submission import notification_record

AS_OF = datetime(2026, 2, 2, 10, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(AS_OF, tick=False):
        yield


def _records(la: LocalAuthority) -> list[IntakeRecord]:
    """Records of every kind: plain new children, consent cases, a concern, social care, a child
    already on the register, a likely match, two siblings sharing a parent, a late notice."""
    school = SchoolFactory(local_authority=la)
    officer = make_user(Role.EHE_OFFICER, la)
    ChildFactory(local_authority=la, legal_first_name="Known", legal_last_name="Child", date_of_birth=date(2013, 3, 3))
    ChildFactory(local_authority=la, legal_first_name="Jones", legal_last_name="Ava", date_of_birth=date(2013, 4, 4))

    def parent(first: str, last: str, phone: str) -> tuple[ParentDetails, ...]:
        return (ParentDetails(first_name=first, last_name=last, relationship="mother", emergency_phone=phone),)

    def child(n: int, first: str, last: str, born: date, **changes: Any) -> IntakeRecord:
        return notification_input(
            school,
            officer,
            legal_first_name=first,
            legal_last_name=last,
            date_of_birth=born,
            address_line_1=f"{n} Meadow Lane",
            parents=changes.pop("parents", parent("Jo", f"Parent{chr(97 + n)}", f"0770090{n:04d}")),
            school_year_group="7",
            **changes,
        )

    return [
        child(1, "Maya", "Fletcher", date(2014, 5, 17)),
        child(2, "Oliver", "Okafor", date(2012, 10, 1), special_school_placed_by_la=True),
        child(3, "Zoë", "Nowak", date(2015, 1, 9), attendance_order_in_force=True, upn="H801200001001"),
        with_concern(child(4, "Kwame", "Mensah", date(2013, 6, 6))),
        child(5, "Aisha", "Patel", date(2016, 2, 2), social_care_status=SocialCareStatus.CHILD_IN_NEED),
        child(6, "Known", "Child", date(2013, 3, 3)),
        child(7, "Ava", "Jones", date(2013, 4, 4)),  # the names swapped: a likely match
        child(8, "Sam", "Rivers", date(2014, 8, 8), parents=parent("Lee", "Rivers", "07700900888")),
        child(9, "Kit", "Rivers", date(2016, 9, 9), parents=parent("Lee", "Rivers", "07700900888")),
        child(10, "Łukasz", "Wiśniewski", date(2012, 12, 12), notice_received_on=date(2025, 11, 3)),
        child(11, "Chen", "Wu", date(2014, 5, 17)),  # the first child's date of birth, unrelated names
        replace(child(12, "Ravi", "Shah", date(2015, 7, 7)), reason_code="mental_health"),
        child(13, "Maya", "Fletcher-Hale", date(2014, 5, 17)),  # a likely match of the first, in the file
        child(14, "Wu", "Chen", date(2014, 5, 17)),  # Chen Wu's names swapped, in the file
    ]


def _snapshot() -> dict[str, Any]:
    """The register as a reader sees it, without ids, references or row order."""

    def who(child_id: int | None) -> str:
        c = Child.objects.get(pk=child_id)
        return f"{c.legal_first_name} {c.legal_last_name} {c.date_of_birth}"

    children = sorted(
        (
            who(c.pk),
            c.upn,
            c.sex,
            c.school_year_group,
            c.derived_year_group,
            c.social_care_status,
            tuple(sorted((a.kind, a.line_1, a.postcode) for a in c.addresses.all())),
            tuple(
                sorted(
                    (link.person.first_name, link.person.last_name, link.person.emergency_phone, link.relationship)
                    for link in c.carer_links.select_related("person")
                )
            ),
        )
        for c in Child.objects.all()
    )
    people = sorted((p.first_name, p.last_name, p.emergency_phone, p.child_links.count()) for p in Person.objects.all())
    episodes = sorted(
        (
            who(e.child_id),
            e.state,
            e.resume_state,
            e.version,
            e.source,
            e.source_detail,
            e.received_on,
            e.next_action_due,
            e.review_due_on,
            e.concern_at_intake,
            e.reason_code,
            e.last_changed_at,
            tuple(
                (t.from_state, t.to_state, t.transition, t.actor_name, str(t.payload), t.at)
                for t in TransitionLog.objects.filter(episode=e).order_by("at", "pk")
            ),
            tuple(
                sorted(
                    (x.rule, x.level, x.owner_role, x.due_at, x.resolved_at is None, str(x.recipients))
                    for x in Escalation.objects.filter(episode=e)
                )
            ),
        )
        for e in Episode.objects.all()
    )
    notifications = sorted(
        (
            who(n.child_id),
            n.school_id,
            n.routing,
            n.episode.state if n.episode else "",
            n.notice_received_on,
            n.safeguarding_concerns,
            n.outside_school_age,
            str(n.snapshot),
        )
        for n in OffRollNotification.objects.select_related("episode")
    )
    matches = sorted((who(m.child_id), who(m.candidate_id), tuple(m.reasons)) for m in PossibleMatch.objects.all())
    messages = sorted((m.template, m.channel, m.recipient_user_id or 0) for m in Message.objects.all())
    return {
        "children": children,
        "people": people,
        "episodes": episodes,
        "notifications": notifications,
        "matches": matches,
        "messages": messages,
    }


@pytest.mark.django_db
def test_the_set_wise_path_gives_exactly_what_the_form_path_gives(la: LocalAuthority) -> None:
    records = _records(la)

    with transaction.atomic():
        results = notifications_record_many(records=records, as_of=AS_OF)
        set_wise = _snapshot()
        written_set_wise = [r.set_wise for r in results]
        transaction.set_rollback(True)
    with transaction.atomic():
        for record in records:
            notification_record(data=record, as_of=AS_OF)
        one_at_a_time = _snapshot()
        transaction.set_rollback(True)

    # Both paths were taken: plain new children set-wise, the rest one at a time.
    assert written_set_wise == [
        *(True, True, True, False, False, False, False, True, False, True, True, True),
        *(False, False),  # each a likely match of an earlier row of the file
    ]
    for part in one_at_a_time:
        assert set_wise[part] == one_at_a_time[part], part
    assert len(one_at_a_time["episodes"]) == 14
    assert {e[1] for e in one_at_a_time["episodes"]} == {
        "address_verification",
        "awaiting_consent",
        "safeguarding_review",
    }
    assert len(one_at_a_time["matches"]) == 3


def _history() -> dict[str, list[tuple[tuple[str, str], ...]]]:
    """Every tracked model's history (pghistory's event rows): each row's label and its values as
    recorded, ids left out and a child named rather than numbered, in a stable order."""

    def who(child_id: int | None) -> str:
        c = Child.objects.get(pk=child_id)
        return f"{c.legal_first_name} {c.legal_last_name} {c.date_of_birth}"

    def shown(column: str, value: object) -> str:
        if column == "child_id":
            return who(value)  # type: ignore[arg-type]
        if column == "pgh_context_id":  # a context's id is new each time: what it says
            return str(Context.objects.get(pk=value).metadata) if value else ""
        return str(value)

    history = {}
    for model in (Child, Person, Address, Episode):
        event = model.pgh_event_model  # type: ignore[attr-defined]
        columns = [f.column for f in event._meta.concrete_fields if f.column not in {"pgh_id", "pgh_obj_id", "id"}]
        history[model.__name__] = sorted(
            tuple((column, shown(column, value)) for column, value in sorted(row.items()))
            for row in event.objects.values(*columns)
        )
    return history


@pytest.mark.django_db
@pytest.mark.parametrize("with_context", [False, True], ids=["no context", "a request's context"])
def test_the_history_written_set_wise_is_what_the_history_triggers_write(
    la: LocalAuthority, monkeypatch: pytest.MonkeyPatch, with_context: bool
) -> None:
    """The set-wise path skips pghistory's row triggers and writes the same event rows itself."""
    records = _records(la)

    def run() -> dict[str, list[tuple[tuple[str, str], ...]]]:
        with transaction.atomic():
            with pghistory.context(user=7, url="/imports/") if with_context else nullcontext():
                notifications_record_many(records=records, as_of=AS_OF)
            history = _history()
            if with_context:
                assert not EpisodeEvent.objects.filter(pgh_context__isnull=True).exists()
            transaction.set_rollback(True)
        return history

    set_wise = run()

    @contextmanager
    def triggers_fire(model: type[Model], operation: str) -> Iterator[list[int]]:
        yield []

    monkeypatch.setattr(bulk_notifications, "_history_set_wise", triggers_fire)
    by_triggers = run()

    assert set_wise == by_triggers
    assert len(set_wise["Episode"]) >= 28  # each case's insert and its risk check
    assert sum(("pgh_label", "insert") in row for row in set_wise["Child"]) >= 14
