"""The school notification service: routing, matching, the risk check and escalations on intake."""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from ehe_register.models import Child, LocalAuthority, OffRollNotification, PossibleMatch, Routing
from ehe_register.roles import Role
from notifications.models import Message
from tests.ehe_register.intake_data import notification_input, with_concern
from tests.factories import SchoolFactory, make_user
from workflows.models import Episode, Escalation, TransitionLog
from workflows.services import submission as intake
from workflows.services.submission import SubmissionRateLimited, notification_submit
from workflows.states import State

LONDON = ZoneInfo("Europe/London")
pytestmark = pytest.mark.django_db


@pytest.fixture
def school(la: LocalAuthority) -> Any:
    return SchoolFactory(local_authority=la)


@pytest.fixture
def school_user(la: LocalAuthority, school: Any) -> Any:
    user = make_user(Role.SCHOOL_USER, la)
    user.schools.set([school])
    return user


@pytest.fixture
def staff(la: LocalAuthority) -> dict[str, Any]:
    return {
        "cspa": make_user(Role.CSPA_DUTY_WORKER, la),
        "cspa2": make_user(Role.CSPA_DUTY_WORKER, la),
        "manager": make_user(Role.EHE_MANAGER, la),
    }


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def test_a_plain_notification_goes_to_address_verification(school: Any, school_user: Any) -> None:
    notification = notification_submit(data=notification_input(school, school_user), as_of=at(2026, 11, 24, 10))
    assert notification.reference == f"EHE-{school.local_authority.dfe_code}-000001"
    episode = Episode.objects.get(pk=notification.episode_id)
    assert episode.state == State.ADDRESS_VERIFICATION
    assert episode.opened_by_school == school
    assert not Escalation.objects.filter(episode=episode).exists()
    assert Message.objects.filter(template="emails/notification_receipt", recipient_user=school_user).count() == 2


def test_references_count_up_per_la(school: Any, school_user: Any) -> None:
    first = notification_submit(data=notification_input(school, school_user), as_of=at(2026, 11, 24, 10))
    second = notification_submit(
        data=notification_input(school, school_user, legal_first_name="Leo", date_of_birth=date(2013, 1, 2)),
        as_of=at(2026, 11, 24, 11),
    )
    assert (first.reference[-6:], second.reference[-6:]) == ("000001", "000002")


def test_a_ticked_concern_creates_everything_in_one_transaction(
    school: Any, school_user: Any, staff: dict[str, Any]
) -> None:
    notification = notification_submit(
        data=with_concern(notification_input(school, school_user)), as_of=at(2026, 11, 24, 10)
    )
    episode = Episode.objects.get(pk=notification.episode_id)
    assert episode.state == State.SAFEGUARDING_REVIEW
    assert episode.resume_state == State.ADDRESS_VERIFICATION
    escalation = Escalation.objects.get(episode=episode, resolved_at__isnull=True)
    assert (escalation.rule, escalation.level, escalation.owner_role) == ("concern_ticked", 1, "cspa_duty_worker")
    assert escalation.due_at == at(2026, 11, 24, 17)
    told = set(Message.objects.filter(payload__rule="concern_ticked").values_list("recipient_user", "recipient_email"))
    assert told == {(None, school.local_authority.front_door_email)}
    assert OffRollNotification.objects.get(pk=notification.pk).safeguarding_concerns


def test_a_failure_late_in_the_submission_leaves_nothing_behind(school: Any, school_user: Any, staff: Any) -> None:
    counts = [m.objects.count() for m in (OffRollNotification, Child, Episode, Escalation, Message, TransitionLog)]
    with (
        mock.patch.object(intake, "messages_enqueue_many", side_effect=RuntimeError("mail table on fire")),
        pytest.raises(RuntimeError),
    ):
        notification_submit(data=with_concern(notification_input(school, school_user)), as_of=at(2026, 11, 24, 10))
    assert [
        m.objects.count() for m in (OffRollNotification, Child, Episode, Escalation, Message, TransitionLog)
    ] == counts


@pytest.mark.parametrize(
    ("ticked_at", "due"),
    [
        (at(2026, 11, 27, 16, 55), at(2026, 11, 30, 10)),  # Friday after the cut-off: Monday 10:00
        (at(2026, 12, 24, 16, 55), at(2026, 12, 29, 10)),  # Christmas Eve: after two bank holidays
        (at(2026, 11, 27, 15, 59), at(2026, 11, 27, 17)),  # before the cut-off: end of the same day
        (at(2026, 12, 25, 9, 30), at(2026, 12, 29, 10)),  # on a bank holiday
    ],
)
def test_the_cut_off_rule(school: Any, school_user: Any, staff: Any, ticked_at: datetime, due: datetime) -> None:
    notification = notification_submit(data=with_concern(notification_input(school, school_user)), as_of=ticked_at)
    assert Escalation.objects.get(episode_id=notification.episode_id, rule="concern_ticked").due_at == due


@pytest.mark.parametrize(
    ("changes", "duty", "state"),
    [
        ({"special_school_placed_by_la": True, "removal_status": "waiting"}, False, State.AWAITING_CONSENT),
        ({"attendance_order_in_force": True, "removal_status": "waiting"}, False, State.AWAITING_CONSENT),
        ({"social_care_status": "s47_open", "removal_status": "waiting"}, True, State.SAFEGUARDING_REVIEW),
        ({"social_care_status": "child_in_need"}, False, State.SAFEGUARDING_REVIEW),
    ],
)
def test_the_consent_path(
    school: Any, school_user: Any, staff: Any, la: LocalAuthority, changes: dict[str, Any], duty: bool, state: str
) -> None:
    LocalAuthority.objects.filter(pk=la.pk).update(consent_duty_commenced=duty)
    school.local_authority.refresh_from_db()
    notification = notification_submit(
        data=notification_input(school, school_user, **changes), as_of=at(2026, 11, 24, 10)
    )
    episode = Episode.objects.get(pk=notification.episode_id)
    assert episode.state == state
    rules = set(Escalation.objects.filter(episode=episode).values_list("rule", flat=True))
    if state == State.AWAITING_CONSENT:
        assert rules == {"consent_required"}
    elif duty:
        assert episode.resume_state == State.AWAITING_CONSENT
        assert rules == {"social_care_known"}


def test_an_ehcp_tells_the_sen_team_once(school: Any, school_user: Any) -> None:
    notification = notification_submit(
        data=notification_input(school, school_user, sen_status="ehcp"), as_of=at(2026, 11, 24, 10)
    )
    sen = Message.objects.get(
        payload__case_reference__isnull=False, recipient_email=school.local_authority.sen_team_email
    )
    assert sen.payload == {
        "case_reference": Episode.objects.get(pk=notification.episode_id).reference,
        "summary": "The child has an EHCP",
    }


def test_routing_to_another_la_on_this_deployment(school: Any, school_user: Any, other_la: LocalAuthority) -> None:
    notification = notification_submit(
        data=notification_input(school, school_user, residence_la=other_la), as_of=at(2026, 11, 24, 10)
    )
    assert notification.routing == Routing.THIS_DEPLOYMENT
    assert notification.reference.startswith(f"EHE-{other_la.dfe_code}-")
    assert Child.objects.get(pk=notification.child_id).local_authority == other_la
    assert Episode.objects.get(pk=notification.episode_id).local_authority == other_la


def test_routing_to_an_la_that_does_not_use_the_service(school: Any, school_user: Any) -> None:
    elsewhere = LocalAuthority.objects.create(dfe_code="886", ons_code="E10000016", name="Kent", uses_service=False)
    notification = notification_submit(
        data=notification_input(school, school_user, residence_la=elsewhere), as_of=at(2026, 11, 24, 10)
    )
    assert notification.routing == Routing.FORWARDED
    assert notification.child_id is None
    assert notification.episode_id is None
    assert not Child.objects.exists()


def test_outside_school_age_is_accepted_and_flagged(school: Any, school_user: Any) -> None:
    notification = notification_submit(
        data=notification_input(school, school_user, date_of_birth=date(2009, 6, 1)), as_of=at(2026, 11, 24, 10)
    )
    assert notification.outside_school_age


def test_a_rate_limit_stops_a_flood(school: Any, school_user: Any, settings: Any) -> None:
    settings.EHE_NOTIFICATIONS_PER_HOUR = 2
    for n in range(2):
        notification_submit(
            data=notification_input(school, school_user, date_of_birth=date(2014, 1, n + 1)),
            as_of=at(2026, 11, 24, 10, n),
        )
    with pytest.raises(SubmissionRateLimited):
        notification_submit(
            data=notification_input(school, school_user, date_of_birth=date(2014, 2, 1)), as_of=at(2026, 11, 24, 10, 30)
        )


def test_a_rate_limit_of_zero_is_no_limit(school: Any, school_user: Any, settings: Any) -> None:
    settings.EHE_NOTIFICATIONS_PER_HOUR = 0
    for n in range(3):
        notification_submit(
            data=notification_input(school, school_user, date_of_birth=date(2014, 1, n + 1)),
            as_of=at(2026, 11, 24, 10, n),
        )
    assert OffRollNotification.objects.filter(submitted_by=school_user).count() == 3


# The matching table: (existing child, notification) -> same child, a likely match, or a new child.
EXISTING = {"legal_first_name": "Maya", "legal_last_name": "Fletcher", "date_of_birth": date(2014, 5, 17)}
MATCH_CASES = [
    ("exact names and date of birth", {}, {}, "same"),
    ("twins: same birthday and address, different names", {}, {"legal_first_name": "Oscar"}, "new"),
    (
        "accents and case",
        {"legal_first_name": "Zoë", "legal_last_name": "O'Brien"},
        {"legal_first_name": "zoe", "legal_last_name": "OBrien"},
        "same",
    ),
    ("apostrophe and spacing", {"legal_last_name": "D'Souza"}, {"legal_last_name": "D Souza"}, "same"),
    ("hyphenated surname", {}, {"legal_last_name": "Fletcher-Hale"}, "likely"),
    ("swapped names", {}, {"legal_first_name": "Fletcher", "legal_last_name": "Maya"}, "likely"),
    ("preferred first name", {"preferred_first_name": "Mimi"}, {"legal_first_name": "Mimi"}, "likely"),
    ("similar spelling", {"legal_first_name": "Katherine"}, {"legal_first_name": "Catherine"}, "new"),
    ("similar spelling, same initial", {"legal_first_name": "Jon"}, {"legal_first_name": "John"}, "likely"),
    (
        "same UPN, different name",
        {"upn": "H801200001001"},
        {"legal_first_name": "Tom", "upn": "H801200001001"},
        "likely",
    ),
    ("different permanent UPNs", {"upn": "H801200001001"}, {"upn": "A801200001002"}, "likely"),
    ("different date of birth", {}, {"date_of_birth": date(2014, 5, 18)}, "new"),
]


@pytest.mark.parametrize(("case", "existing", "incoming", "outcome"), MATCH_CASES, ids=[c[0] for c in MATCH_CASES])
def test_matching(
    school: Any, school_user: Any, case: str, existing: dict[str, Any], incoming: dict[str, Any], outcome: str
) -> None:
    known = Child.objects.create(local_authority=school.local_authority, **{**EXISTING, **existing})
    notification = notification_submit(
        data=notification_input(school, school_user, **incoming), as_of=at(2026, 11, 24, 10)
    )
    if outcome == "same":
        assert notification.child_id == known.pk
        assert not PossibleMatch.objects.exists()
    else:
        assert notification.child_id != known.pk
        likely = PossibleMatch.objects.filter(child_id=notification.child_id, candidate=known)
        assert likely.exists() == (outcome == "likely")
        if outcome == "likely":
            assert "same date of birth" in likely.get().reasons


def test_a_temporary_upn_is_replaced_by_the_permanent_one(school: Any, school_user: Any) -> None:
    known = Child.objects.create(local_authority=school.local_authority, upn="A80120000100A", **EXISTING)
    notification = notification_submit(
        data=notification_input(school, school_user, upn="H801200001001"), as_of=at(2026, 11, 24, 10)
    )
    child = Child.objects.get(pk=known.pk)
    assert notification.child_id == known.pk
    assert (child.upn, child.former_upns) == ("H801200001001", ["A80120000100A"])
    # and the old temporary UPN still finds the child, without becoming its UPN again
    again = notification_submit(
        data=notification_input(school, school_user, upn="A80120000100A"), as_of=at(2026, 11, 24, 11)
    )
    assert again.child_id == known.pk
    assert Child.objects.get(pk=known.pk).upn == "H801200001001"
    # but not with other names: that is for an officer to resolve
    other = notification_submit(
        data=notification_input(school, school_user, legal_first_name="Different", upn="A80120000100A"),
        as_of=at(2026, 11, 24, 12),
    )
    assert other.child_id != known.pk
    assert PossibleMatch.objects.filter(child_id=other.child_id, candidate=known).exists()


def test_a_second_notification_for_an_open_case_joins_it(school: Any, school_user: Any, staff: Any) -> None:
    first = notification_submit(data=notification_input(school, school_user), as_of=at(2026, 11, 24, 10))
    second = notification_submit(data=with_concern(notification_input(school, school_user)), as_of=at(2026, 11, 25, 10))
    assert second.episode_id == first.episode_id
    episode = Episode.objects.get(pk=first.episode_id)
    assert episode.state == State.SAFEGUARDING_REVIEW
    assert episode.resume_state == State.ADDRESS_VERIFICATION
    assert Escalation.objects.filter(episode=episode, rule="concern_ticked", resolved_at__isnull=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_submissions_give_one_child_and_one_open_episode(la: LocalAuthority) -> None:
    schools = [SchoolFactory(local_authority=la), SchoolFactory(local_authority=la)]
    users = []
    for s in schools:
        user = make_user(Role.SCHOOL_USER, la)
        user.schools.set([s])
        users.append(user)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def submit(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            notification_submit(data=notification_input(schools[index], users[index]), as_of=at(2026, 11, 24, 10))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert Child.objects.count() == 1
    assert OffRollNotification.objects.count() == 2
    assert Episode.objects.exclude(state=State.CLOSED).count() == 1
    assert len(set(OffRollNotification.objects.values_list("episode_id", flat=True))) == 1
