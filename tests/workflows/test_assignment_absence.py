"""Assignment (self-assign, manager assign and bulk assign, and the conflict path) and absences."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ehe_register.models import Absence, AbsenceKind, LocalAuthority, User
from ehe_register.roles import Role
from tests.clock import stay_on
from tests.factories import make_episode, make_user
from tests.other_digits import OTHER_DIGITS
from workflows.models import Episode
from workflows.states import State
from workflows.views.absences import absence_record

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
on_today = stay_on(TODAY)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assign_url(episode: Episode) -> str:
    return reverse("cases:assign", kwargs={"pk": episode.pk})


def assigned_to(episode: Episode) -> int | None:
    return Episode.objects.values_list("assigned_officer_id", flat=True).get(pk=episode.pk)


@pytest.fixture
def officer(la: LocalAuthority) -> User:
    return make_user(Role.EHE_OFFICER, la, first_name="Olive", last_name="Officer")


@pytest.fixture
def colleague(la: LocalAuthority) -> User:
    return make_user(Role.EHE_OFFICER, la, first_name="Colin", last_name="Colleague")


@pytest.fixture
def manager(la: LocalAuthority) -> User:
    return make_user(Role.EHE_MANAGER, la, first_name="Mina", last_name="Manager")


# --- Assignment --------------------------------------------------------------------------------


def test_an_officer_takes_an_unassigned_case(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la)

    response = client_for(officer).post(assign_url(episode), {"version": episode.version})

    assert response.status_code == 302
    assert assigned_to(episode) == officer.pk
    assert Episode.objects.get(pk=episode.pk).version == episode.version + 1


def test_an_officer_cannot_take_a_case_someone_holds(la: LocalAuthority, officer: User, colleague: User) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la, assigned_officer=colleague)

    response = client_for(officer).post(assign_url(episode), {"version": episode.version})

    assert response.status_code == 403
    assert "Only an EHE manager can reassign it" in response.content.decode()
    assert assigned_to(episode) == colleague.pk


def test_an_officer_can_only_assign_themselves(la: LocalAuthority, officer: User, colleague: User) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la)

    client_for(officer).post(assign_url(episode), {"version": episode.version, "officer": colleague.pk})

    assert assigned_to(episode) == officer.pk  # the officer field is not theirs to choose


def test_a_manager_assigns_reassigns_and_returns_to_the_team_queue(
    la: LocalAuthority, manager: User, officer: User, colleague: User
) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    client = client_for(manager)

    client.post(assign_url(episode), {"version": 2, "officer": officer.pk})
    assert assigned_to(episode) == officer.pk
    client.post(assign_url(episode), {"version": 3, "officer": colleague.pk})
    assert assigned_to(episode) == colleague.pk
    client.post(assign_url(episode), {"version": 4, "officer": ""})
    assert assigned_to(episode) is None


def test_a_manager_cannot_assign_to_someone_who_is_not_an_officer_here(
    la: LocalAuthority, other_la: LocalAuthority, manager: User
) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    for outsider in (make_user(Role.EHE_OFFICER, other_la), make_user(Role.AUDITOR, la)):
        response = client_for(manager).post(assign_url(episode), {"version": episode.version, "officer": outsider.pk})
        assert response.status_code == 400
        assert "Select a valid choice" in response.content.decode()
    assert assigned_to(episode) is None


def test_another_las_officer_is_refused(la: LocalAuthority, other_la: LocalAuthority) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la)
    stranger = make_user(Role.EHE_OFFICER, other_la)

    response = client_for(stranger).post(assign_url(episode), {"version": episode.version})

    assert response.status_code == 404
    assert assigned_to(episode) is None


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.CSPA_DUTY_WORKER, Role.HEAD_OF_SERVICE, Role.SCHOOL_USER])
def test_other_roles_cannot_assign(la: LocalAuthority, role: Role) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la)

    response = client_for(make_user(role, la)).post(assign_url(episode), {"version": episode.version})

    assert response.status_code == 403
    assert assigned_to(episode) is None


def test_the_conflict_path_names_who_changed_the_case_and_keeps_what_was_chosen(
    la: LocalAuthority, officer: User, colleague: User
) -> None:
    """Two managers in two sessions load the case; the first assigns it; the second, still holding
    the old version, is told who changed it and when, and their choice stays selected."""
    first = make_user(Role.EHE_MANAGER, la, first_name="Fiona", last_name="First")
    second = make_user(Role.EHE_MANAGER, la, first_name="Sam", last_name="Second")
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    url = reverse("cases:detail", kwargs={"pk": episode.pk})
    first_session, second_session = client_for(first), client_for(second)
    seen_version = re.search(r'name="version" value="(\d+)"', second_session.get(url).content.decode())
    assert seen_version is not None
    first_page = first_session.get(url).content.decode()
    first_version = re.search(r'name="version" value="(\d+)"', first_page)
    assert first_version is not None

    first_session.post(assign_url(episode), {"version": first_version.group(1), "officer": officer.pk})
    response = second_session.post(assign_url(episode), {"version": seen_version.group(1), "officer": colleague.pk})

    changed = Episode.objects.get(pk=episode.pk)
    at = timezone.localtime(changed.last_changed_at).strftime("%H:%M")
    html = response.content.decode()
    assert response.status_code == 409
    assert "There is a problem" in html
    assert f"This case was changed by Fiona First at {at}. Reload to see the change." in html
    assert re.search(rf'<option value="{colleague.pk}" selected>', html)
    assert changed.assigned_officer_id == officer.pk


def test_bulk_assign_from_a_queue(la: LocalAuthority, manager: User, officer: User) -> None:
    cases = [make_episode(State.ADDRESS_VERIFICATION, la=la) for _ in range(3)]
    untouched = make_episode(State.ADDRESS_VERIFICATION, la=la)
    data: dict[str, Any] = {"episodes": [e.pk for e in cases], "officer": officer.pk, "queue": "team"}
    data.update({f"version_{e.pk}": e.version for e in cases})

    response = client_for(manager).post(reverse("cases:bulk_assign"), data, follow=True)

    assert [assigned_to(e) for e in cases] == [officer.pk] * 3
    assert assigned_to(untouched) is None
    assert "3 cases assigned to Olive Officer" in response.content.decode()


def test_bulk_assign_is_all_or_nothing_when_a_case_changed(
    la: LocalAuthority, manager: User, officer: User, colleague: User
) -> None:
    cases = [make_episode(State.ADDRESS_VERIFICATION, la=la) for _ in range(3)]
    data: dict[str, Any] = {"episodes": [e.pk for e in cases], "officer": officer.pk, "queue": "team"}
    data.update({f"version_{e.pk}": e.version for e in cases})
    client_for(colleague).post(assign_url(cases[1]), {"version": cases[1].version})  # someone takes one first

    response = client_for(manager).post(reverse("cases:bulk_assign"), data, follow=True)

    assert [assigned_to(e) for e in cases] == [None, colleague.pk, None]
    assert "Nothing was assigned. This case was changed by Colin Colleague" in response.content.decode()


def test_bulk_assign_is_for_managers_and_their_own_las_cases(
    la: LocalAuthority, other_la: LocalAuthority, manager: User, officer: User
) -> None:
    theirs = make_episode(State.ADDRESS_VERIFICATION, la=other_la)
    data = {"episodes": [theirs.pk], f"version_{theirs.pk}": theirs.version, "officer": officer.pk}

    assert client_for(manager).post(reverse("cases:bulk_assign"), data).status_code == 404
    assert client_for(officer).post(reverse("cases:bulk_assign"), data).status_code == 403
    assert assigned_to(theirs) is None


@pytest.mark.parametrize(
    "versions",
    [
        {},  # no version fields at all
        {"first": ""},
        {"first": OTHER_DIGITS[0]},
        {"first": OTHER_DIGITS[3]},
        {"first": "one"},
    ],
    ids=["missing", "empty", "superscript", "full-width", "words"],
)
def test_bulk_assign_refuses_cases_without_the_version_seen(
    la: LocalAuthority, manager: User, officer: User, versions: dict[str, str]
) -> None:
    cases = [make_episode(State.ADDRESS_VERIFICATION, la=la) for _ in range(2)]
    data: dict[str, Any] = {"episodes": [e.pk for e in cases], "officer": officer.pk, "queue": "team"}
    data[f"version_{cases[1].pk}"] = cases[1].version
    if "first" in versions:
        data[f"version_{cases[0].pk}"] = versions["first"]

    response = client_for(manager).post(reverse("cases:bulk_assign"), data, follow=True)

    assert response.status_code == 200
    assert "This page is out of date. Reload it" in response.content.decode()
    assert [assigned_to(e) for e in cases] == [None, None]


@pytest.mark.parametrize("bad_id", OTHER_DIGITS)
def test_bulk_assign_refuses_a_case_id_in_other_digits(
    la: LocalAuthority, manager: User, officer: User, bad_id: str
) -> None:
    case = make_episode(State.ADDRESS_VERIFICATION, la=la)
    data = {"episodes": [bad_id], f"version_{bad_id}": "1", "officer": officer.pk, "queue": "team"}
    response = client_for(manager).post(reverse("cases:bulk_assign"), data, follow=True)
    assert response.status_code == 200
    assert "This page is out of date. Reload it" in response.content.decode()
    assert assigned_to(case) is None


def test_bulk_assign_refuses_a_stale_version(la: LocalAuthority, manager: User, officer: User) -> None:
    case = make_episode(State.ADDRESS_VERIFICATION, la=la)
    data = {"episodes": [case.pk], f"version_{case.pk}": case.version + 1, "officer": officer.pk, "queue": "team"}
    response = client_for(manager).post(reverse("cases:bulk_assign"), data, follow=True)
    assert "Nothing was assigned. This case was changed by" in response.content.decode()
    assert assigned_to(case) is None


# --- Absences ----------------------------------------------------------------------------------


def absence_form(start: Any, end: Any = None, kind: str = AbsenceKind.PLANNED, **extra: Any) -> dict[str, Any]:
    data = {"kind": kind, "starts_on_day": start.day, "starts_on_month": start.month, "starts_on_year": start.year}
    if end is not None:
        data.update({"ends_on_day": end.day, "ends_on_month": end.month, "ends_on_year": end.year})
    return {**data, **extra}


def test_an_officer_records_their_own_absence(officer: User) -> None:
    start = TODAY + timedelta(days=7)

    response = client_for(officer).post(reverse("cases:absence_new"), absence_form(start, start + timedelta(days=4)))

    assert response.status_code == 302
    absence = Absence.objects.get()
    assert (absence.officer, absence.recorded_by, absence.starts_on, absence.kind) == (
        officer,
        officer,
        start,
        AbsenceKind.PLANNED,
    )


def test_an_officer_cannot_record_someone_elses_absence(officer: User, colleague: User) -> None:
    form_page = client_for(officer).get(reverse("cases:absence_new")).content.decode()
    assert "Which officer is absent?" not in form_page

    # An officer field sent anyway is ignored: the absence is the officer's own.
    client_for(officer).post(reverse("cases:absence_new"), absence_form(TODAY, officer=colleague.pk))
    assert Absence.objects.get().officer == officer

    with pytest.raises(PermissionDenied):
        absence_record(
            officer=colleague,
            kind=AbsenceKind.PLANNED,
            starts_on=TODAY,
            ends_on=None,
            actor=officer,
            as_of=timezone.now(),
        )


def test_a_manager_records_any_officers_absence(manager: User, colleague: User) -> None:
    response = client_for(manager).post(
        reverse("cases:absence_new"), absence_form(TODAY + timedelta(days=1), officer=colleague.pk)
    )

    assert response.status_code == 302
    absence = Absence.objects.get()
    assert (absence.officer, absence.recorded_by, absence.ends_on) == (colleague, manager, None)


def test_a_manager_cannot_record_another_las_officer(manager: User, other_la: LocalAuthority) -> None:
    stranger = make_user(Role.EHE_OFFICER, other_la)
    response = client_for(manager).post(reverse("cases:absence_new"), absence_form(TODAY, officer=stranger.pk))
    assert response.status_code == 200
    assert "Select an officer" in response.content.decode()
    with pytest.raises(ValidationError):
        absence_record(
            officer=stranger,
            kind=AbsenceKind.PLANNED,
            starts_on=TODAY,
            ends_on=None,
            actor=manager,
            as_of=timezone.now(),
        )
    assert not Absence.objects.exists()


@pytest.mark.parametrize(
    ("start", "end", "kind", "message"),
    [
        (TODAY - timedelta(days=1), None, AbsenceKind.PLANNED, "First day of absence must be today or in the future"),
        (TODAY + timedelta(days=2), None, AbsenceKind.UNEXPECTED, "An unexpected absence starts today"),
        (
            TODAY + timedelta(days=5),
            TODAY + timedelta(days=4),
            AbsenceKind.PLANNED,
            "Last day of absence must be the same as or after the first day",
        ),
    ],
)
def test_absence_dates_are_checked(officer: User, start: Any, end: Any, kind: str, message: str) -> None:
    response = client_for(officer).post(reverse("cases:absence_new"), absence_form(start, end, kind))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Absence.objects.exists()


def test_overlapping_absences_are_refused(officer: User) -> None:
    client = client_for(officer)
    client.post(reverse("cases:absence_new"), absence_form(TODAY + timedelta(days=3), TODAY + timedelta(days=6)))

    response = client.post(reverse("cases:absence_new"), absence_form(TODAY + timedelta(days=5)))

    assert "already recorded as absent" in response.content.decode()
    assert Absence.objects.count() == 1


def test_an_unexpected_absence_today_moves_cases_with_work_due_to_cover(
    la: LocalAuthority, manager: User, officer: User
) -> None:
    due = make_episode(State.EDUCATION_ENQUIRY, la=la, assigned_officer=officer, next_action_due=TODAY)
    quiet = make_episode(State.MONITORING, la=la, assigned_officer=officer, next_action_due=TODAY + timedelta(days=90))

    response = client_for(manager).post(
        reverse("cases:absence_new"), absence_form(TODAY, kind=AbsenceKind.UNEXPECTED, officer=officer.pk), follow=True
    )

    assert "1 case with work due soon moved to cover" in response.content.decode()
    assert assigned_to(due) is None  # the LA's cover rule: the team queue
    assert assigned_to(quiet) == officer.pk


def test_the_absences_page_lists_current_and_future_absences(
    la: LocalAuthority, other_la: LocalAuthority, manager: User, officer: User, colleague: User
) -> None:
    now = timezone.now()

    def absent(who: User, start: Any, end: Any = None) -> None:
        Absence.objects.create(
            officer=who, starts_on=start, ends_on=end, kind=AbsenceKind.PLANNED, recorded_by=manager, recorded_at=now
        )

    absent(officer, TODAY - timedelta(days=2), TODAY + timedelta(days=2))
    absent(colleague, TODAY + timedelta(days=10))
    absent(colleague, TODAY - timedelta(days=30), TODAY - timedelta(days=20))  # over
    stranger = make_user(Role.EHE_OFFICER, other_la, first_name="Stan", last_name="Stranger")
    Absence.objects.create(
        officer=stranger, starts_on=TODAY, kind=AbsenceKind.PLANNED, recorded_by=stranger, recorded_at=now
    )

    manager_page = client_for(manager).get(reverse("cases:absences")).content.decode()
    officer_page = client_for(colleague).get(reverse("cases:absences")).content.decode()

    def rows(html: str) -> list[str]:
        return re.findall(r'<th scope="row" class="govuk-table__header">([^<]+?)\s*(?:<|$)', html)

    assert rows(manager_page) == ["Olive Officer", "Colin Colleague"]
    assert "Absent now" in manager_page
    assert rows(officer_page) == ["Colin Colleague"]
