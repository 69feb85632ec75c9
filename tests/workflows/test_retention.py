"""Retention: a closed child's records are anonymised everywhere once the child passes the LA's
retention birthday, a legal hold keeps them, the DfE return for a past census date gives the same
figures afterwards, and append-only rows change only under retention."""

from __future__ import annotations

import importlib
from datetime import date
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import ProgrammingError, transaction
from django_celery_beat.models import PeriodicTask

from ehe_register.models import (
    AccessLog,
    Anonymisation,
    Child,
    LegalHold,
    LocalAuthority,
    OffRollNotification,
    Person,
    RetentionRun,
    Sex,
)
from ehe_register.roles import Role
from imports.returns import census_counts, census_rows, collection_rows, period_counts
from tests.factories import ChildFactory, PersonFactory, make_episode, make_user
from tests.workflows.family_records import at, column_count, family_records, tables_holding
from workflows.models import Episode, TransitionLog
from workflows.personal_data import payload_scrubbed
from workflows.services.retention import (
    born_on_or_before,
    children_due,
    retention_apply,
    retention_birthday,
    retention_coming,
)
from workflows.services.transitions import episode_transition
from workflows.states import ClosureReason, State

pytestmark = pytest.mark.django_db
RUN_DAY = date(2026, 3, 2)  # after the 25th birthday of a child born on 17 May 2000
CENSUS = date(2014, 10, 2)


def _run(**kwargs: Any) -> Any:
    return retention_apply(as_of=at(RUN_DAY, 2), **kwargs)


def test_retention_birthday_and_the_29th_of_february() -> None:
    assert retention_birthday(date(2000, 5, 17), 25) == date(2025, 5, 17)
    assert retention_birthday(date(2004, 2, 29), 25) == date(2029, 3, 1)
    assert born_on_or_before(date(2029, 2, 28), 25) == date(2004, 2, 28)  # not yet the 29 February child
    assert born_on_or_before(date(2028, 2, 29), 25) == date(2003, 2, 28)


def test_a_dry_run_counts_and_changes_nothing(la: LocalAuthority, time_machine: Any) -> None:
    time_machine.move_to(at(date(2014, 9, 10)))
    family = family_records(la)
    time_machine.move_to(at(RUN_DAY, 2))
    before = tables_holding(family.secrets)

    result = _run(dry_run=True)

    assert result.due["936"] == 1
    assert result.anonymised["936"] == 1
    assert result.people["936"] == 1
    assert result.rows["child"] == 1
    assert result.rows["case_decisions"] >= 3
    assert result.rows["child_history"] >= 2
    assert tables_holding(family.secrets) == before
    assert not RetentionRun.objects.exists()
    assert Child.objects.get(pk=family.child.pk).anonymised_at is None


def test_apply_leaves_nothing_identifying_in_any_table(la: LocalAuthority, time_machine: Any) -> None:
    """Every text, character, JSON and date column of every table, history and logs included."""
    time_machine.move_to(at(date(2014, 9, 10)))
    family = family_records(la)
    time_machine.move_to(at(RUN_DAY, 2))
    found = tables_holding(family.secrets, dates=[family.date_of_birth])
    # The scan sees the child everywhere before the run (proof that it can fail).
    for place in (
        "ehe_register_child.legal_first_name",
        "ehe_register_childevent.legal_last_name",
        "ehe_register_offrollnotification.snapshot",
        "workflows_transitionlog.payload",
        "workflows_concern.text",
        "notifications_message.recipient_email",
        "ehe_register_accesslog.path",
    ):
        assert any(place in where for where in found.values()), place
    assert column_count() > 300

    result = _run()

    assert result.anonymised["936"] == 1
    assert result.people["936"] == 1
    assert tables_holding(family.secrets, dates=[family.date_of_birth]) == {}
    child = Child.objects.get(pk=family.child.pk)
    assert child.anonymised_at is not None
    assert (child.legal_first_name, child.legal_last_name, child.date_of_birth) == (
        "Anonymised",
        "record",
        date(2000, 4, 1),
    )
    assert child.sex == Sex.FEMALE
    # Rows are kept (counts stay true); only what identifies is gone.
    assert TransitionLog.objects.filter(episode__child=child).count() == 3
    served = TransitionLog.objects.get(episode__child=child, transition="provision_unsuitable")
    assert served.payload == {"served_on": "2014-11-03", "served_how": ""}
    assert AccessLog.objects.get(child=child).path == "/cases/"
    run = RetentionRun.objects.get()
    assert (run.children_anonymised, run.people_anonymised, run.finished_at is not None) == (1, 1, True)
    assert run.rows["child"] == 1
    assert Anonymisation.objects.get().child_id == child.pk


def test_the_dfe_return_for_a_past_census_date_is_unchanged(la: LocalAuthority, time_machine: Any) -> None:
    time_machine.move_to(at(date(2014, 9, 10)))
    officer = make_user(Role.EHE_OFFICER, la)
    # Dates of birth at the edges of each part of the year, of year groups, and of school age.
    births = [
        date(2000, 5, 17),
        date(2000, 9, 15),
        date(2000, 12, 31),
        date(2001, 1, 1),
        date(2001, 2, 10),
        date(2000, 2, 29),
        date(2000, 8, 31),
        date(1999, 9, 1),
        date(1998, 9, 1),
        date(1998, 8, 31),  # 16 before the census: not counted, before or after
        date(2000, 3, 31),
        date(2000, 4, 1),
    ]
    for n, dob in enumerate(births):
        child = ChildFactory(local_authority=la, date_of_birth=dob, sex=Sex.MALE if n % 2 else Sex.FEMALE)
        episode = make_episode(
            State.MISSING_EDUCATION if n == 3 else State.MONITORING,
            child=child,
            opened_at=at(date(2014, 9, 10)),
            received_on=date(2014, 9, 10),
            reason_code=["mental_health", "lifestyle", "other"][n % 3],
        )
        time_machine.move_to(at(date(2015, 7, 1)))
        episode_transition(
            episode_id=episode.pk,
            transition="close",
            actor=officer,
            expected_version=None,
            closure_reason=ClosureReason.RETURNED_TO_SCHOOL,
        )
        time_machine.move_to(at(date(2014, 9, 10)))
    family_records(la, first="Ysolde", last="Farthingale", upn="H801200002002", street="3 Rook Lane")
    time_machine.move_to(at(RUN_DAY, 2))

    def figures() -> Any:
        census = census_counts(la, CENSUS)
        period = period_counts(la, date(2014, 9, 1), date(2015, 8, 31))
        return census.total, census_rows(la, census), collection_rows(census, period)

    before = figures()
    assert before[0] == 11
    assert ["Section 437(1) notices served", "Total", 1] in before[2]

    result = _run()

    assert result.anonymised["936"] == len(births) + 1
    assert not Child.objects.filter(anonymised_at__isnull=True).exists()
    assert figures() == before


def test_a_legal_hold_in_force_keeps_the_records(la: LocalAuthority, time_machine: Any) -> None:
    time_machine.move_to(at(date(2014, 9, 10)))
    family = family_records(la)
    manager = make_user(Role.EHE_MANAGER, la)
    hold = LegalHold.objects.create(
        local_authority=la, child=family.child, reason="Litigation", placed_by=manager, placed_at=at(date(2025, 1, 6))
    )
    time_machine.move_to(at(RUN_DAY, 2))

    result = _run()

    assert (result.due["936"], result.held["936"], result.anonymised["936"]) == (1, 1, 0)
    assert Child.objects.get(pk=family.child.pk).legal_last_name == "Quillfeather"
    assert "Quillfeather" in tables_holding(["Quillfeather"])
    assert RetentionRun.objects.get().children_held == 1

    # A hold whose end day has passed no longer keeps anything.
    LegalHold.objects.filter(pk=hold.pk).update(until=date(2026, 3, 1))
    assert _run().anonymised["936"] == 1
    assert tables_holding(family.secrets) == {}


def test_open_cases_and_younger_children_are_not_due(la: LocalAuthority, time_machine: Any) -> None:
    time_machine.move_to(at(date(2014, 9, 10)))
    open_case = make_episode(State.MONITORING, child=ChildFactory(local_authority=la, date_of_birth=date(2000, 1, 5)))
    young = make_episode(State.CLOSED, child=ChildFactory(local_authority=la, date_of_birth=date(2001, 3, 3)))
    other_la_age = make_episode(
        State.CLOSED,
        child=ChildFactory(local_authority=la, date_of_birth=date(2001, 3, 2)),  # 25 on the run day itself
    )
    time_machine.move_to(at(RUN_DAY, 2))
    assert list(children_due(la, RUN_DAY).values_list("pk", flat=True)) == [other_la_age.child_id]
    # A longer retention period in the LA's settings keeps them all.
    LocalAuthority.objects.filter(pk=la.pk).update(retention_until_birthday=30)
    la.refresh_from_db()
    assert not children_due(la, RUN_DAY).exists()
    assert open_case.child_id
    assert young.child_id


def test_a_parent_shared_with_a_kept_sibling_is_kept(la: LocalAuthority, time_machine: Any) -> None:
    time_machine.move_to(at(date(2014, 9, 10)))
    family = family_records(la)
    sibling = ChildFactory(local_authority=la, date_of_birth=date(2008, 6, 1))
    make_episode(State.CLOSED, child=sibling)
    family.parent.child_links.create(child=sibling, relationship="mother")
    time_machine.move_to(at(RUN_DAY, 2))

    result = _run()

    assert result.anonymised["936"] == 1
    assert result.people["936"] == 0
    assert Person.objects.get(pk=family.parent.pk).first_name == "Oberon"
    assert "Quillfeather" not in tables_holding(["Zephyrine"])


def test_work_goes_in_chunks_each_its_own_transaction(la: LocalAuthority, time_machine: Any) -> None:
    time_machine.move_to(at(date(2014, 9, 10)))
    for dob in (date(1999, 1, 1), date(1999, 2, 1), date(1999, 3, 1)):
        make_episode(State.CLOSED, child=ChildFactory(local_authority=la, date_of_birth=dob))
    time_machine.move_to(at(RUN_DAY, 2))

    result = _run(chunk_size=2)

    assert (result.chunks, result.anonymised["936"]) == (2, 3)
    assert RetentionRun.objects.get().children_anonymised == 3
    assert Anonymisation.objects.count() == 3
    # A second run finds nothing: an anonymised child is never due again.
    assert _run().anonymised["936"] == 0


def test_a_chunk_that_fails_leaves_its_children_as_they_were(
    la: LocalAuthority, time_machine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    time_machine.move_to(at(date(2014, 9, 10)))
    family = family_records(la)
    time_machine.move_to(at(RUN_DAY, 2))
    from workflows.personal_data import ACCESS_LOG

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(type(ACCESS_LOG), "anonymise", broken)
    with pytest.raises(RuntimeError):
        _run()
    child = Child.objects.get(pk=family.child.pk)
    assert (child.anonymised_at, child.legal_first_name) == (None, "Zephyrine")
    assert not Anonymisation.objects.exists()


def test_append_only_rows_refuse_changes_outside_retention(la: LocalAuthority) -> None:
    child = ChildFactory(local_authority=la, legal_first_name="Ada")
    episode = make_episode(State.MONITORING, child=child)
    for rows in (
        Child.pgh_event_model.objects.filter(pgh_obj_id=child.pk),
        Episode.pgh_event_model.objects.filter(pgh_obj_id=episode.pk),
        TransitionLog.objects.filter(episode=episode),
    ):
        assert rows.exists()
        with pytest.raises(ProgrammingError, match="Cannot update or delete"), transaction.atomic():
            rows.update(pgh_label="x") if hasattr(rows.model, "pgh_label") else rows.update(reason="x")
        with pytest.raises(ProgrammingError, match="Cannot update or delete"), transaction.atomic():
            rows.delete()
    assert OffRollNotification._meta.label  # protected by its own trigger (test_append_only)


def test_payload_scrub_keeps_codes_ids_and_dates() -> None:
    assert payload_scrubbed(
        {"served_on": "2014-11-03", "served_how": "Handed to Ann", "episode_id": 4, "reference": "CSPA-1", "x": [1]}
    ) == {"served_on": "2014-11-03", "served_how": "", "episode_id": 4, "reference": "", "x": []}
    assert payload_scrubbed("not a dict") == {}


def test_the_manager_sees_what_the_next_runs_will_anonymise(la: LocalAuthority, time_machine: Any) -> None:
    time_machine.move_to(at(date(2014, 9, 10)))
    march = make_episode(State.CLOSED, child=ChildFactory(local_authority=la, date_of_birth=date(2001, 3, 20)))
    april = make_episode(State.CLOSED, child=ChildFactory(local_authority=la, date_of_birth=date(2001, 4, 1)))
    may = make_episode(State.CLOSED, child=ChildFactory(local_authority=la, date_of_birth=date(2001, 4, 2)))
    make_episode(State.CLOSED, child=ChildFactory(local_authority=la, date_of_birth=date(2001, 5, 2)))
    held = make_episode(State.CLOSED, child=ChildFactory(local_authority=la, date_of_birth=date(2001, 3, 1)))
    LegalHold.objects.create(
        local_authority=la,
        child=held.child,
        reason="Inquiry",
        placed_by=make_user(Role.EHE_MANAGER, la),
        placed_at=at(RUN_DAY),
    )
    time_machine.move_to(at(date(2026, 3, 10)))
    next_run, run_after, records = retention_coming(la, date(2026, 3, 10))
    assert (next_run, run_after) == (date(2026, 4, 1), date(2026, 5, 1))
    assert [(r.child.pk, r.run_on, r.held) for r in records] == [
        (held.child_id, date(2026, 4, 1), True),
        (march.child_id, date(2026, 4, 1), False),
        (april.child_id, date(2026, 4, 1), False),
        (may.child_id, date(2026, 5, 1), False),
    ]


def test_the_command_dry_run_and_apply(la: LocalAuthority, time_machine: Any) -> None:
    time_machine.move_to(at(date(2014, 9, 10)))
    family_records(la)
    time_machine.move_to(at(RUN_DAY, 2))
    out = StringIO()
    call_command("apply_retention", "--dry-run", "--la", "936", stdout=out)
    assert "LA 936: 1 due, 0 kept by a legal hold, would anonymise 1 child and 1 parent or carer" in out.getvalue()
    assert "Would anonymise 1 child\n" in out.getvalue()
    assert not RetentionRun.objects.exists()
    out = StringIO()
    call_command("apply_retention", stdout=out)
    assert "Anonymised 1 child\n" in out.getvalue()
    assert RetentionRun.objects.get().trigger == "command"


def test_the_beat_runs_retention_monthly() -> None:
    importlib.import_module("workflows.migrations.0008_retention_schedule").schedule(apps, None)
    task = PeriodicTask.objects.get(name="EHE retention")
    assert task.task == "workflows.retention_apply"
    assert task.enabled
    crontab = task.crontab
    assert (crontab.day_of_month, crontab.hour, crontab.minute, str(crontab.timezone)) == (
        "1",
        "2",
        "0",
        "Europe/London",
    )


def test_the_task_runs_the_service(la: LocalAuthority, time_machine: Any) -> None:
    from workflows.tasks import retention_apply as task

    time_machine.move_to(at(date(2014, 9, 10)))
    family_records(la)
    assert task(as_of=at(RUN_DAY, 2).isoformat()) == 1
    assert RetentionRun.objects.get().trigger == "beat"
    assert task(as_of=at(RUN_DAY, 2).isoformat()) == 0


def test_people_are_anonymised_only_with_their_last_child(la: LocalAuthority, time_machine: Any) -> None:
    time_machine.move_to(at(date(2014, 9, 10)))
    parent = PersonFactory(local_authority=la, first_name="Hespera")
    older = make_episode(State.CLOSED, child=ChildFactory(local_authority=la, date_of_birth=date(1999, 5, 1)))
    younger = make_episode(State.CLOSED, child=ChildFactory(local_authority=la, date_of_birth=date(2001, 2, 1)))
    for episode in (older, younger):
        parent.child_links.create(child=episode.child, relationship="father")
    time_machine.move_to(at(date(2025, 6, 1)))
    assert retention_apply(as_of=at(date(2025, 6, 1))).people["936"] == 0
    assert Person.objects.get(pk=parent.pk).first_name == "Hespera"
    assert retention_apply(as_of=at(RUN_DAY)).people["936"] == 1
    assert Person.objects.get(pk=parent.pk).first_name == "Anonymised"
    assert Episode.objects.filter(child__anonymised_at__isnull=False).count() == 2
