"""What "overdue" means, kind by kind, as conditions on episodes: declared once, read by the
"Overdue checks" queue, the manager's dashboard and the integrity check.

A figure on the dashboard and the queue it links to count the same cases because both filter
with :func:`overdue_condition`; the integrity check asks which of those cases no escalation covers.

The clocks are the escalation rules' own (DESIGN section 5, ``workflows.sweeps``), with the
thresholds worked out here once per LA on the working-day calendar from an ``as_of`` passed in
from Python (never the database's clock):

- ``verification``: contact details not verified N working days after the notification was
  received (the ``contacts_unverified`` rule);
- ``enquiry``: no first contact K calendar days after receipt (or, where the home-check duty is
  commenced, no home visit with the child seen), in the states where that clock runs (the
  ``enquiry_overdue`` rule); or an education enquiry whose next step date has passed;
- ``review``: a monitoring or review-due case whose review date has passed (from the first
  working day after it, as the ``review_overdue`` rule counts it);
- ``consent``: a case waiting for the consent decision longer than 5 working days since it last
  entered ``awaiting_consent`` (the ``consent_required`` rule's level-1 clock, from the transition log);
- ``escalation``: an open escalation not acknowledged by its due time;
- ``next_action``: any other case whose next action date has passed.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import reduce

from django.db.models import OuterRef, Q, QuerySet, Subquery

from ehe_register.models import LocalAuthority
from ehe_register.working_days import LONDON, add_working_days, at_local
from workflows.escalation_rules import RULES
from workflows.models import Episode, Escalation, TransitionLog
from workflows.states import ACTIVE_STATES, State

CONSENT_DECISION_WORKING_DAYS = 5  # the consent_required rule's level-1 due time

# The states in which the first-contact clock runs (as ``workflows.sweeps.ENQUIRY_STATES``; a test
# keeps the two in step).
ENQUIRY_STATES = (
    State.SAFEGUARDING_REVIEW,
    State.AWAITING_CONSENT,
    State.ADDRESS_VERIFICATION,
    State.EDUCATION_ENQUIRY,
    State.MISSING_EDUCATION,
)
REVIEW_STATES = (State.MONITORING, State.REVIEW_DUE)
# The risk check moves a notified case at once: no clock runs on it.
CLOCK_STATES = tuple(s for s in ACTIVE_STATES if s != State.NOTIFIED)

NOTIFY_ONLY_RULES = tuple(name for name, rule in RULES.items() if rule.notify_only)


class OverdueKind(StrEnum):
    VERIFICATION = "verification"
    ENQUIRY = "enquiry"
    REVIEW = "review"
    CONSENT = "consent"
    ESCALATION = "escalation"
    NEXT_ACTION = "next_action"

    @property
    def label(self) -> str:
        return OVERDUE_LABELS[self]


OVERDUE_LABELS: dict[OverdueKind, str] = {
    OverdueKind.VERIFICATION: "Contact details not verified in time",
    OverdueKind.ENQUIRY: "Enquiry overdue (first contact or next step)",
    OverdueKind.REVIEW: "Review date passed",
    OverdueKind.CONSENT: "Consent decision overdue",
    OverdueKind.ESCALATION: "Escalation not acknowledged by its due time",
    OverdueKind.NEXT_ACTION: "Next action date passed",
}

# The kinds that are clocks on the case itself (the escalation kind is a clock on an escalation).
CASE_CLOCKS = tuple(kind for kind in OverdueKind if kind != OverdueKind.ESCALATION)


def latest_start(today: date, n: int) -> date:
    """The latest day d with ``add_working_days(d, n) <= today``: a clock of n working days started
    on or before d has run out by ``today``."""
    day = today
    while add_working_days(day, n) > today:
        day -= timedelta(days=1)
    return day


@dataclass(frozen=True)
class OverdueClock:
    """One LA's overdue thresholds at one moment."""

    local_authority_id: int
    now: datetime
    today: date
    unverified_by: date  # received on or before: N working days have passed
    first_contact_by: date  # received on or before: K calendar days have passed
    home_check_duty: bool
    review_passed_by: date  # review dates on or before this have passed
    consent_entered_before: datetime  # entered awaiting_consent before this: the decision is overdue

    @classmethod
    def of(cls, la: LocalAuthority, as_of: datetime) -> OverdueClock:
        if as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware")
        today = as_of.astimezone(LONDON).date()
        # Day granularity: overdue once the fifth working day after entry has ended.
        consent_by = latest_start(today - timedelta(days=1), CONSENT_DECISION_WORKING_DAYS)
        return cls(
            local_authority_id=la.pk,
            now=as_of,
            today=today,
            unverified_by=latest_start(today, la.contacts_unverified_working_days),
            first_contact_by=today - timedelta(days=la.first_contact_days),
            home_check_duty=la.home_check_duty_commenced,
            review_passed_by=latest_start(today, 1),
            consent_entered_before=at_local(consent_by + timedelta(days=1), time(0)),
        )


def open_escalations() -> QuerySet[Escalation]:
    """Open escalations that someone must act on (notify-only rules are resolved as they are raised)."""
    return Escalation.objects.filter(resolved_at__isnull=True).exclude(rule__in=NOTIFY_ONLY_RULES)


def _consent_overdue(clock: OverdueClock) -> Q:
    """In ``awaiting_consent`` since before the threshold: its latest entry into the state (the
    transition log) is older. A subquery over the LA's cases waiting for consent (a partial index,
    then one index probe of the log each), never a scan of every LA's log."""
    entered = (
        TransitionLog.objects.filter(episode=OuterRef("pk"), to_state=State.AWAITING_CONSENT)
        .order_by("-at")
        .values("at")[:1]
    )
    waiting = (
        Episode.objects.filter(local_authority_id=clock.local_authority_id, state=State.AWAITING_CONSENT)
        .annotate(entered_at=Subquery(entered))
        .filter(entered_at__lt=clock.consent_entered_before)
        .values("pk")
    )
    return Q(state=State.AWAITING_CONSENT, pk__in=waiting)


def overdue_condition(kind: OverdueKind | str, clock: OverdueClock) -> Q:
    """Episodes overdue by ``kind`` at the clock's moment (active cases only), of the clock's LA:
    the subqueries read that LA's escalations and log only."""
    kind = OverdueKind(kind)
    if kind == OverdueKind.VERIFICATION:
        condition = Q(
            state__in=CLOCK_STATES,
            contacts_verified_at__isnull=True,
            contacts_stale_at__isnull=True,
            received_on__lte=clock.unverified_by,
        )
    elif kind == OverdueKind.ENQUIRY:
        not_reached = Q(first_contact_at__isnull=True)
        if clock.home_check_duty:
            not_reached |= Q(child_seen_at_home_at__isnull=True)
        condition = Q(state__in=ENQUIRY_STATES, received_on__lte=clock.first_contact_by) & not_reached
        condition |= Q(state=State.EDUCATION_ENQUIRY, next_action_due__lt=clock.today)
    elif kind == OverdueKind.REVIEW:
        condition = Q(state__in=REVIEW_STATES, review_due_on__lte=clock.review_passed_by)
    elif kind == OverdueKind.CONSENT:
        condition = _consent_overdue(clock)
    elif kind == OverdueKind.ESCALATION:
        late = open_escalations().filter(
            local_authority_id=clock.local_authority_id, acknowledged_at__isnull=True, due_at__lt=clock.now
        )
        condition = Q(pk__in=late.values("episode_id"), state__in=ACTIVE_STATES)
    else:
        # Any *other* case: one counted by a more specific clock is counted there, not twice.
        specific = [overdue_condition(other, clock) for other in NEXT_ACTION_LEAVES_OUT]
        condition = next_action_passed(clock) & ~reduce(operator.or_, specific)
    return condition


# The kinds whose cases the "next action date passed" figure leaves out (counted there instead).
NEXT_ACTION_LEAVES_OUT = tuple(kind for kind in CASE_CLOCKS if kind != OverdueKind.NEXT_ACTION)


def next_action_passed(clock: OverdueClock) -> Q:
    """A case with a clock whose next action date has passed (whatever else it is late on)."""
    return Q(state__in=CLOCK_STATES, next_action_due__lt=clock.today)


def overdue_any_condition(clock: OverdueClock, kinds: tuple[OverdueKind, ...] = tuple(OverdueKind)) -> Q:
    """Episodes overdue by any of ``kinds`` (all of them by default)."""
    conditions = [overdue_condition(kind, clock) for kind in kinds]
    return reduce(operator.or_, conditions)
