"""Selectors never return another LA's or another school's children, episodes or notifications."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from ehe_register.models import Child, LocalAuthority, OffRollNotification, RemovalStatus, Routing, School, User
from ehe_register.roles import LA_ROLES, Role
from ehe_register.selectors import (
    child_for,
    children_for,
    notifications_for,
)
from tests.factories import SchoolFactory, UserFactory, make_user
from workflows.models import Episode
from workflows.selectors import episode_for, episodes_for
from workflows.services.intake import episode_open
from workflows.states import Source

pytestmark = pytest.mark.django_db

AS_OF = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Europe/London"))
_references = itertools.count(1)


@dataclass
class Case:
    child: Child
    episode: Episode
    notification: OffRollNotification


def _notification(*, school: School, child: Child, episode: Episode, submitted_by: User) -> OffRollNotification:
    return OffRollNotification.objects.create(
        reference=f"TEST-{next(_references):05d}",
        school=school,
        submitted_by=submitted_by,
        submitted_at=AS_OF,
        snapshot={"legal_first_name": child.legal_first_name},
        residence_la=child.local_authority,
        routing=Routing.THIS_DEPLOYMENT,
        child=child,
        episode=episode,
        legal_first_name=child.legal_first_name,
        legal_last_name=child.legal_last_name,
        date_of_birth=child.date_of_birth,
        notice_received_on=AS_OF.date(),
        removal_status=RemovalStatus.REMOVED,
        reason_code="philosophical",
        safeguarding_concerns=False,
    )


def _notified_case(*, school: School, lives_in: LocalAuthority, submitted_by: User, name: str) -> Case:
    """A child living in ``lives_in``, notified by ``school``, with the episode the notification opened."""
    child = Child.objects.create(
        local_authority=lives_in, legal_first_name=name, legal_last_name="Example", date_of_birth=date(2015, 3, 1)
    )
    episode = episode_open(
        child=child, source=Source.SCHOOL, received_on=AS_OF.date(), as_of=AS_OF, opened_by_school=school
    )
    notification = _notification(school=school, child=child, episode=episode, submitted_by=submitted_by)
    return Case(child=child, episode=episode, notification=notification)


@dataclass
class World:
    la: LocalAuthority
    other_la: LocalAuthority
    school_a: School  # in ``la``
    school_b: School  # in ``other_la``
    user_a: User  # school user of school A
    user_b: User  # school user of school B
    case_a: Case  # school A, child living in ``la``
    case_b: Case  # school B, child living in ``other_la``
    case_across: Case  # school A, child living in ``other_la``
    case_unnotified: Child  # a child of ``la`` no school notified


@pytest.fixture
def world(la: LocalAuthority, other_la: LocalAuthority) -> World:
    school_a = SchoolFactory(local_authority=la)
    school_b = SchoolFactory(local_authority=other_la)
    user_a = UserFactory(local_authority=None, roles=[Role.SCHOOL_USER], schools=[school_a])
    user_b = UserFactory(local_authority=None, roles=[Role.SCHOOL_USER], schools=[school_b])
    unnotified = Child.objects.create(
        local_authority=la, legal_first_name="Nora", legal_last_name="Example", date_of_birth=date(2014, 1, 1)
    )
    return World(
        la=la,
        other_la=other_la,
        school_a=school_a,
        school_b=school_b,
        user_a=user_a,
        user_b=user_b,
        case_a=_notified_case(school=school_a, lives_in=la, submitted_by=user_a, name="Ada"),
        case_b=_notified_case(school=school_b, lives_in=other_la, submitted_by=user_b, name="Ben"),
        case_across=_notified_case(school=school_a, lives_in=other_la, submitted_by=user_a, name="Cal"),
        case_unnotified=unnotified,
    )


def _ids(queryset: object) -> set[int]:
    return {row.pk for row in queryset}  # type: ignore[attr-defined]


@pytest.mark.parametrize("role", sorted(LA_ROLES))
def test_la_staff_see_their_own_las_rows_and_nothing_else(world: World, role: Role) -> None:
    staff_a = make_user(role, world.la)
    staff_b = make_user(role, world.other_la)

    assert _ids(children_for(staff_a)) == {world.case_a.child.pk, world.case_unnotified.pk}
    assert _ids(episodes_for(staff_a)) == {world.case_a.episode.pk}
    assert _ids(notifications_for(staff_a)) == {world.case_a.notification.pk}

    assert _ids(children_for(staff_b)) == {world.case_b.child.pk, world.case_across.child.pk}
    assert _ids(episodes_for(staff_b)) == {world.case_b.episode.pk, world.case_across.episode.pk}
    assert _ids(notifications_for(staff_b)) == {world.case_b.notification.pk, world.case_across.notification.pk}


@pytest.mark.parametrize("role", sorted(LA_ROLES))
def test_la_staff_get_a_404_for_another_las_child_or_episode(world: World, role: Role) -> None:
    staff_a = make_user(role, world.la)
    assert child_for(staff_a, world.case_a.child.pk) == world.case_a.child
    assert episode_for(staff_a, world.case_a.episode.pk) == world.case_a.episode
    with pytest.raises(Http404):
        child_for(staff_a, world.case_b.child.pk)
    with pytest.raises(Http404):
        episode_for(staff_a, world.case_b.episode.pk)


def test_a_school_user_sees_only_what_their_schools_notified(world: World) -> None:
    assert _ids(children_for(world.user_a)) == {world.case_a.child.pk, world.case_across.child.pk}
    assert _ids(episodes_for(world.user_a)) == {world.case_a.episode.pk, world.case_across.episode.pk}
    assert _ids(notifications_for(world.user_a)) == {world.case_a.notification.pk, world.case_across.notification.pk}

    assert _ids(children_for(world.user_b)) == {world.case_b.child.pk}
    assert _ids(episodes_for(world.user_b)) == {world.case_b.episode.pk}
    assert _ids(notifications_for(world.user_b)) == {world.case_b.notification.pk}


def test_a_school_user_gets_a_404_for_another_schools_episode_and_child(world: World) -> None:
    assert episode_for(world.user_a, world.case_a.episode.pk) == world.case_a.episode
    with pytest.raises(Http404):
        episode_for(world.user_a, world.case_b.episode.pk)
    with pytest.raises(Http404):
        child_for(world.user_a, world.case_b.child.pk)
    with pytest.raises(Http404):
        child_for(world.user_a, world.case_unnotified.pk)  # in the school's LA, but not the school's pupil


def test_a_notification_across_the_border_is_seen_by_the_residence_la_and_the_school_only(world: World) -> None:
    across = world.case_across  # school A is in LA A; the child lives in LA B
    staff_a = make_user(Role.EHE_OFFICER, world.la)
    staff_b = make_user(Role.EHE_OFFICER, world.other_la)

    assert across.notification.pk in _ids(notifications_for(staff_b))
    assert across.episode.pk in _ids(episodes_for(staff_b))
    assert across.child.pk in _ids(children_for(staff_b))

    assert across.notification.pk not in _ids(notifications_for(staff_a))
    assert across.episode.pk not in _ids(episodes_for(staff_a))
    assert across.child.pk not in _ids(children_for(staff_a))

    assert across.notification.pk in _ids(notifications_for(world.user_a))
    assert episode_for(world.user_a, across.episode.pk) == across.episode


def test_a_school_user_of_several_schools_sees_each_childs_rows_once(world: World) -> None:
    trust_user = UserFactory(local_authority=None, roles=[Role.SCHOOL_USER], schools=[world.school_a, world.school_b])
    # The same child notified by two of the trust's schools.
    second = _notified_case(school=world.school_b, lives_in=world.la, submitted_by=trust_user, name="Dee")
    _notification(school=world.school_a, child=second.child, episode=second.episode, submitted_by=trust_user)
    children = list(children_for(trust_user))
    assert len(children) == len(set(children)) == 4  # every notified child, once each
    assert len(list(episodes_for(trust_user))) == 4
    assert notifications_for(trust_user).count() == 5


@pytest.mark.parametrize("who", ["administrator", "inactive officer", "inactive school user", "anonymous", "no role"])
def test_everyone_else_sees_nothing(world: World, who: str) -> None:
    if who == "administrator":
        user: object = make_user(Role.ADMINISTRATOR)
    elif who == "inactive officer":
        user = make_user(Role.EHE_OFFICER, world.la, is_active=False)
    elif who == "inactive school user":
        user = UserFactory(local_authority=None, roles=[Role.SCHOOL_USER], schools=[world.school_a], is_active=False)
    elif who == "anonymous":
        user = AnonymousUser()
    else:
        user = UserFactory(local_authority=world.la, roles=[])
    assert not children_for(user).exists()
    assert not episodes_for(user).exists()
    assert not notifications_for(user).exists()
    with pytest.raises(Http404):
        child_for(user, world.case_a.child.pk)
    with pytest.raises(Http404):
        episode_for(user, world.case_a.episode.pk)
