"""Verified / unverified / stale, exactly as DESIGN section 3 says."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ehe_register.models import AddressCheck, CheckMethod, CheckOutcome, LocalAuthority
from ehe_register.roles import Role
from tests.factories import AddressFactory, ChildFactory, SchoolFactory, make_user
from workflows.models import Episode, Escalation
from workflows.services.intake import episode_open
from workflows.services.transitions import episode_transition
from workflows.services.verification import (
    ContactsStatus,
    contacts_mark_stale,
    contacts_status,
    contacts_verification_refresh,
)
from workflows.states import Source, State

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 2, 10, tzinfo=LONDON)


@pytest.fixture
def school(la: LocalAuthority) -> Any:
    return SchoolFactory(local_authority=la)


@pytest.fixture
def case(la: LocalAuthority, school: Any) -> Episode:
    child = ChildFactory(local_authority=la)
    AddressFactory(child=child, local_authority=la)
    return episode_open(child=child, source=Source.SCHOOL, received_on=T0.date(), as_of=T0, opened_by_school=school)


def check(
    episode: Episode, method: str, at: datetime, school: Any = None, outcome: str = CheckOutcome.CONFIRMED
) -> None:
    AddressCheck.objects.create(
        address=episode.child.addresses.get(),
        episode=episode,
        method=method,
        outcome=outcome,
        school=school,
        checked_at=at,
    )


def refreshed(episode: Episode, at: datetime) -> Episode:
    contacts_verification_refresh(episode_id=episode.pk, as_of=at)
    return Episode.objects.get(pk=episode.pk)


def test_family_alone_leaves_contacts_unverified(case: Episode) -> None:
    check(case, CheckMethod.FAMILY, T0 + timedelta(days=1))
    episode = refreshed(case, T0 + timedelta(days=1))
    assert contacts_status(episode) == ContactsStatus.UNVERIFIED
    assert episode.state == State.ADDRESS_VERIFICATION


def test_family_and_the_notifying_school_verify_a_new_case(case: Episode, school: Any) -> None:
    check(case, CheckMethod.FAMILY, T0 + timedelta(days=1))
    check(case, CheckMethod.SCHOOL, T0 + timedelta(days=2), school=school)
    episode = refreshed(case, T0 + timedelta(days=2))
    assert contacts_status(episode) == ContactsStatus.VERIFIED
    assert episode.contacts_verified_at == T0 + timedelta(days=2)
    assert episode.state == State.EDUCATION_ENQUIRY


def test_another_school_is_not_independent_confirmation(case: Episode, la: LocalAuthority) -> None:
    check(case, CheckMethod.FAMILY, T0 + timedelta(days=1))
    check(case, CheckMethod.SCHOOL, T0 + timedelta(days=2), school=SchoolFactory(local_authority=la))
    assert contacts_status(refreshed(case, T0 + timedelta(days=2))) == ContactsStatus.UNVERIFIED


def test_family_and_school_at_a_yearly_recheck_stay_unverified(case: Episode, school: Any) -> None:
    check(case, CheckMethod.FAMILY, T0 + timedelta(days=1))
    check(case, CheckMethod.HOME_VISIT, T0 + timedelta(days=2))
    refreshed(case, T0 + timedelta(days=2))
    year_later = T0 + timedelta(days=380)
    contacts_mark_stale(episode_id=case.pk, as_of=year_later, reason="Verification over 12 months old")
    check(case, CheckMethod.FAMILY, year_later + timedelta(days=1))
    check(case, CheckMethod.SCHOOL, year_later + timedelta(days=1), school=school)
    episode = refreshed(case, year_later + timedelta(days=1))
    assert contacts_status(episode) == ContactsStatus.STALE
    check(case, CheckMethod.HOME_VISIT, year_later + timedelta(days=3))
    assert contacts_status(refreshed(case, year_later + timedelta(days=3))) == ContactsStatus.VERIFIED


def test_checks_from_before_the_details_went_stale_do_not_count(case: Episode) -> None:
    check(case, CheckMethod.FAMILY, T0 + timedelta(days=1))
    contacts_mark_stale(episode_id=case.pk, as_of=T0 + timedelta(days=2), reason="Letter returned")
    check(case, CheckMethod.HOME_VISIT, T0 + timedelta(days=3))
    assert contacts_status(refreshed(case, T0 + timedelta(days=3))) == ContactsStatus.STALE


def test_could_not_confirm_is_not_a_confirmation(case: Episode) -> None:
    check(case, CheckMethod.FAMILY, T0 + timedelta(days=1))
    check(case, CheckMethod.HOME_VISIT, T0 + timedelta(days=2), outcome=CheckOutcome.COULD_NOT_CONFIRM)
    assert contacts_status(refreshed(case, T0 + timedelta(days=2))) == ContactsStatus.UNVERIFIED


def test_a_failed_contact_makes_details_stale_and_moves_a_monitored_case(case: Episode) -> None:
    check(case, CheckMethod.FAMILY, T0 + timedelta(days=1))
    check(case, CheckMethod.HOME_VISIT, T0 + timedelta(days=2))
    refreshed(case, T0 + timedelta(days=2))
    Episode.objects.filter(pk=case.pk).update(review_due_on=(T0 + timedelta(days=300)).date())

    officer = make_user(Role.EHE_OFFICER, case.local_authority)
    episode_transition(
        episode_id=case.pk,
        transition="provision_suitable",
        actor=officer,
        expected_version=None,
        next_review_on=(T0 + timedelta(days=300)).date(),
    )
    episode = contacts_mark_stale(episode_id=case.pk, as_of=T0 + timedelta(days=40), reason="Letter returned")
    assert episode.state == State.ADDRESS_VERIFICATION
    assert contacts_status(episode) == ContactsStatus.STALE
    assert Escalation.objects.filter(episode=case, rule="contacts_stale", resolved_at__isnull=True).count() == 1


def test_stale_contacts_do_not_move_a_case_waiting_on_a_decision(la: LocalAuthority, school: Any) -> None:
    child = ChildFactory(local_authority=la)
    AddressFactory(child=child, local_authority=la)
    episode = episode_open(
        child=child, source=Source.SCHOOL, received_on=T0.date(), as_of=T0, attendance_order_in_force=True
    )
    assert episode.state == State.AWAITING_CONSENT
    episode = contacts_mark_stale(episode_id=episode.pk, as_of=T0 + timedelta(days=1), reason="Number unobtainable")
    assert episode.state == State.AWAITING_CONSENT
    assert Escalation.objects.filter(episode=episode, rule="contacts_stale").exists()


def test_verifying_resolves_the_contact_escalations(case: Episode) -> None:
    contacts_mark_stale(episode_id=case.pk, as_of=T0 + timedelta(hours=1), reason="Letter returned")
    check(case, CheckMethod.FAMILY, T0 + timedelta(days=1))
    check(case, CheckMethod.OTHER_AGENCY, T0 + timedelta(days=1, hours=1))
    refreshed(case, T0 + timedelta(days=1, hours=1))
    assert not Escalation.objects.filter(episode=case, rule="contacts_stale", resolved_at__isnull=True).exists()
