"""The Episode state machine and the records that hang off it.

Only the transition methods below change ``Episode.state``, and only the services in
``workflows.services`` call them: each call locks the row, checks the caller's version, runs the
transition, and writes a :class:`TransitionLog` row in the same database transaction.
"""

from __future__ import annotations

import operator
from datetime import timedelta
from functools import reduce
from typing import Any

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, transition

from ehe_register.models import SocialCareStatus
from ehe_register.roles import Role
from workflows.actors import is_system
from workflows.states import ACTIVE_STATES, STATE_DATE_RULES, ClosureReason, Priority, Source, State

SAFEGUARDING_RULES = ("concern_ticked", "social_care_known")
S437_NOTICE_DAYS = 15  # "not less than 15 days beginning with the day served"


# Permissions: callables (episode, actor) -> bool. Staff act only on their own LA's cases.
def _staff_of_la(episode: Episode, actor: Any, roles: set[Role]) -> bool:
    return not is_system(actor) and actor.local_authority_id == episode.local_authority_id and bool(actor.roles & roles)


def by_system(episode: Any, actor: Any) -> bool:
    return is_system(actor)


def by_caseworker(episode: Any, actor: Any) -> bool:
    return _staff_of_la(episode, actor, {Role.EHE_OFFICER, Role.EHE_MANAGER})


def by_manager(episode: Any, actor: Any) -> bool:
    return _staff_of_la(episode, actor, {Role.EHE_MANAGER})


def by_front_door(episode: Any, actor: Any) -> bool:
    return _staff_of_la(episode, actor, {Role.CSPA_DUTY_WORKER, Role.CSPA_MANAGER, Role.HEAD_OF_SERVICE})


def by_anyone_who_can_raise_a_concern(episode: Any, actor: Any) -> bool:
    return is_system(actor) or _staff_of_la(
        episode,
        actor,
        {Role.EHE_OFFICER, Role.EHE_MANAGER, Role.CSPA_DUTY_WORKER, Role.CSPA_MANAGER, Role.HEAD_OF_SERVICE},
    )


def by_system_or_caseworker(episode: Any, actor: Any) -> bool:
    return is_system(actor) or by_caseworker(episode, actor)


# Conditions: callables (episode) -> bool.
def no_open_safeguarding_escalation(episode: Any) -> bool:
    loaded = getattr(episode, "_prefetched_objects_cache", {}).get("escalations")
    if loaded is not None:  # a page that loaded the case's escalations already (the case page)
        return not any(e.rule in SAFEGUARDING_RULES and e.resolved_at is None for e in loaded)
    return not episode.escalations.filter(rule__in=SAFEGUARDING_RULES, resolved_at__isnull=True).exists()


def contacts_are_verified(episode: Any) -> bool:
    return episode.contacts_verified_at is not None and episode.contacts_stale_at is None


def notice_period_over(episode: Any) -> bool:
    served = episode.s437_served_on
    return served is not None and timezone.localdate() >= served + timedelta(days=S437_NOTICE_DAYS)


def closed_by_merge(episode: Any) -> bool:
    return episode.closure_reason == ClosureReason.DUPLICATE and bool(episode.state_before_merge)


def closed_other_than_by_merge(episode: Any) -> bool:
    return episode.closure_reason != ClosureReason.DUPLICATE


def case_reference(dfe_code: str, episode_id: int) -> str:
    """The case's reference, as staff and schools quote it: the LA's DfE code and the case number."""
    return f"EHE-{dfe_code}-C{episode_id:06d}"


@pghistory.track(append_only=True)
class Episode(models.Model):
    """One child's EHE case in one LA, from notification to closure.

    States, in plain English:

    - ``notified``: received; the risk check runs straight away (it is never left here).
    - ``safeguarding_review``: a concern was ticked, the child is known to social care, or an
      earlier case closed with concerns; the front door (C-SPA) decides before anything else.
      ``resume_state`` says where the case goes after that decision.
    - ``awaiting_consent``: the LA must consent before the child leaves school (special school
      placed by the LA, a school attendance order, or s47 / child protection plan where that duty
      is commenced).
    - ``address_verification``: confirming address and contact details with the family and one
      independent source.
    - ``education_enquiry``: finding out whether the education is suitable.
    - ``monitoring``: suitable education; reviewed at least yearly.
    - ``review_due``: the periodic review date is near or past.
    - ``missing_education``: the child cannot be located (children missing education).
    - ``s437_notice``: a s437(1) notice has been served on the parent.
    - ``attendance_order``: a school attendance order has been served.
    - ``closed``: the case is over (see ``closure_reason``).
    """

    # No index of their own on the LA or the state: the composite indexes below lead with them, and
    # every index is written on every change of a case (issue 12: a bulk import writes 20 a row).
    local_authority = models.ForeignKey(
        "ehe_register.LocalAuthority", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    child = models.ForeignKey("ehe_register.Child", on_delete=models.PROTECT, related_name="episodes")
    state = FSMField(default=State.NOTIFIED, choices=State.choices, protected=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    source_detail = models.CharField(max_length=200, blank=True)
    opened_by_school = models.ForeignKey(
        "ehe_register.School", on_delete=models.PROTECT, blank=True, null=True, related_name="+"
    )
    received_on = models.DateField(help_text="The day the LA received the notification.")
    opened_at = models.DateTimeField()
    assigned_officer = models.ForeignKey(  # indexed by (assigned_officer, next_action_due) below
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        blank=True,
        null=True,
        related_name="assigned_episodes",
        db_index=False,
    )
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    next_action_due = models.DateField(blank=True, null=True)
    review_due_on = models.DateField(blank=True, null=True)
    reason_code = models.CharField(max_length=30, blank=True)

    # Facts from intake that the risk check reads.
    concern_at_intake = models.BooleanField(default=False)
    special_school_placed_by_la = models.BooleanField(default=False)
    attendance_order_in_force = models.BooleanField(default=False)

    # Contact details (DESIGN section 3: verified / stale).
    contacts_verified_at = models.DateTimeField(blank=True, null=True)
    contacts_stale_at = models.DateTimeField(blank=True, null=True)
    first_contact_at = models.DateTimeField(blank=True, null=True)
    child_seen_at_home_at = models.DateTimeField(blank=True, null=True)

    resume_state = models.CharField(max_length=30, choices=State.choices, blank=True)
    s437_served_on = models.DateField(blank=True, null=True)
    s437_served_how = models.CharField(max_length=100, blank=True)
    attendance_order_served_on = models.DateField(blank=True, null=True)
    closure_reason = models.CharField(max_length=30, choices=ClosureReason.choices, blank=True)
    closure_text = models.CharField(max_length=500, blank=True)
    closed_with_concerns = models.BooleanField(default=False)
    closed_at = models.DateTimeField(blank=True, null=True)
    state_before_merge = models.CharField(max_length=30, choices=State.choices, blank=True)
    merged_into = models.ForeignKey("self", on_delete=models.PROTECT, blank=True, null=True, related_name="+")

    version = models.PositiveIntegerField(default=1)
    last_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, blank=True, null=True, related_name="+"
    )
    last_changed_at = models.DateTimeField(blank=True, null=True)

    class Meta:
        constraints = [
            # Never two open episodes for one child (a child row belongs to one LA).
            models.UniqueConstraint(
                fields=["child"], condition=~models.Q(state=State.CLOSED), name="one_open_episode_per_child"
            ),
        ]
        indexes = [
            models.Index(fields=["local_authority", "state"]),
            models.Index(fields=["assigned_officer", "next_action_due"]),
            models.Index(fields=["state", "review_due_on"]),
            # One partial index per queue (``workflows.selectors.queue_condition``), in the queue's
            # order, so that a page and a capped count read the queue's own rows, not the LA's.
            models.Index(
                fields=["local_authority", "received_on", "id"],
                condition=models.Q(state__in=ACTIVE_STATES, assigned_officer__isnull=True),
                name="episode_queue_unassigned",
            ),
            models.Index(
                fields=["local_authority", "received_on", "id"],
                condition=models.Q(state=State.AWAITING_CONSENT),
                name="episode_queue_consent",
            ),
            models.Index(
                fields=["local_authority", "received_on", "id"],
                condition=models.Q(state=State.ADDRESS_VERIFICATION),
                name="episode_queue_verification",
            ),
            models.Index(
                fields=["local_authority", "received_on", "id"],
                condition=models.Q(state=State.SAFEGUARDING_REVIEW),
                name="episode_queue_safeguarding",
            ),
            models.Index(
                fields=["local_authority", "review_due_on", "id"],
                condition=models.Q(state__in=[State.REVIEW_DUE, State.MONITORING]),
                name="episode_queue_reviews",
            ),
            models.Index(
                fields=["assigned_officer", "next_action_due", "received_on", "id"],
                condition=models.Q(state__in=ACTIVE_STATES),
                name="episode_queue_mine",
            ),
            # "Overdue first, then by next action": the team queue and the "Overdue checks" queue
            # read their cases in next-action order from these (``selectors.queue_keyset_page``).
            models.Index(
                fields=["local_authority", "next_action_due", "received_on", "id"],
                condition=models.Q(state__in=ACTIVE_STATES, assigned_officer__isnull=True),
                name="episode_queue_team",
            ),
            models.Index(
                fields=["local_authority", "next_action_due", "received_on", "id"],
                condition=models.Q(state__in=ACTIVE_STATES),
                name="episode_active_next_action",
            ),
            # The dashboard's service levels: an LA's cases received in a window of dates.
            models.Index(fields=["local_authority", "received_on"], name="episode_la_received"),
            # The queues' school filter: an LA's cases opened by the schools whose name or URN matched.
            models.Index(fields=["local_authority", "opened_by_school"], name="episode_la_school"),
            # The integrity check's cases with no next action and cases whose state and dates
            # disagree (``workflows.integrity``): both empty while all is well, so the dashboard
            # finds them in an empty index rather than among every case of the LA.
            models.Index(
                fields=["local_authority", "id"],
                condition=models.Q(state__in=ACTIVE_STATES, next_action_due__isnull=True),
                name="episode_no_next_action",
            ),
            models.Index(
                fields=["local_authority", "id"],
                condition=reduce(operator.or_, [condition for condition, _ in STATE_DATE_RULES.values()]),
                name="episode_state_dates_disagree",
            ),
            # The periodic sweep's "verified long enough ago to be stale now" (``workflows.sweeps``).
            models.Index(
                fields=["local_authority", "contacts_verified_at"],
                condition=models.Q(contacts_stale_at__isnull=True, contacts_verified_at__isnull=False),
                name="episode_la_verified",
            ),
        ]
        permissions = []

    def __str__(self) -> str:
        return f"{self.reference} ({self.get_state_display()})"

    @property
    def reference(self) -> str:
        return case_reference(self.local_authority.dfe_code, self.pk) if self.pk else "EHE-new"

    @property
    def is_active(self) -> bool:
        return self.state != State.CLOSED

    # The transitions. Bodies record what the transition means; the service does the rest.

    @transition(
        field=state,
        source=State.NOTIFIED,
        target=RETURN_VALUE(State.SAFEGUARDING_REVIEW, State.AWAITING_CONSENT, State.ADDRESS_VERIFICATION),
        permission=by_system,
    )
    def risk_check(self) -> str:
        """Safeguarding first, then consent, else straight to address verification."""
        consent = self.consent_applies()
        if self.safeguarding_triggers():
            self.resume_state = State.AWAITING_CONSENT if consent else State.ADDRESS_VERIFICATION
            return State.SAFEGUARDING_REVIEW
        return State.AWAITING_CONSENT if consent else State.ADDRESS_VERIFICATION

    @transition(
        field=state,
        source=State.SAFEGUARDING_REVIEW,
        target=RETURN_VALUE(*ACTIVE_STATES),
        permission=by_front_door,
    )
    def cspa_decision(self) -> str:
        target = self.resume_state or State.ADDRESS_VERIFICATION
        self.resume_state = ""
        return target

    @transition(field=state, source=State.AWAITING_CONSENT, target=State.ADDRESS_VERIFICATION, permission=by_manager)
    def consent_granted(self) -> None:
        pass

    @transition(
        field=state,
        source=State.AWAITING_CONSENT,
        target=State.CLOSED,
        conditions=[no_open_safeguarding_escalation],
        permission=by_manager,
    )
    def consent_refused(self) -> None:
        self._record_closure(ClosureReason.CONSENT_REFUSED, "")

    @transition(
        field=state,
        source=State.ADDRESS_VERIFICATION,
        target=State.EDUCATION_ENQUIRY,
        conditions=[contacts_are_verified],
        permission=by_system_or_caseworker,
    )
    def contacts_verified(self) -> None:
        pass

    @transition(
        field=state,
        source=[State.EDUCATION_ENQUIRY, State.REVIEW_DUE],
        target=State.MONITORING,
        permission=by_caseworker,
    )
    def provision_suitable(self, *, next_review_on: Any) -> None:
        self.review_due_on = next_review_on

    @transition(
        field=state,
        source=[State.EDUCATION_ENQUIRY, State.REVIEW_DUE],
        target=RETURN_VALUE(State.EDUCATION_ENQUIRY, State.REVIEW_DUE),
        permission=by_caseworker,
    )
    def not_yet_shown(self, *, next_action_due: Any) -> str:
        self.next_action_due = next_action_due
        return self.state

    @transition(
        field=state,
        source=[State.ADDRESS_VERIFICATION, State.EDUCATION_ENQUIRY],
        target=State.MISSING_EDUCATION,
        permission=by_caseworker,
    )
    def cannot_locate(self) -> None:
        pass

    @transition(
        field=state, source=State.MISSING_EDUCATION, target=State.ADDRESS_VERIFICATION, permission=by_caseworker
    )
    def located(self) -> None:
        self.contacts_verified_at = None

    @transition(
        field=state,
        source=[State.EDUCATION_ENQUIRY, State.REVIEW_DUE],
        target=State.S437_NOTICE,
        permission=by_caseworker,
    )
    def provision_unsuitable(self, *, served_on: Any, served_how: str) -> None:
        self.s437_served_on = served_on
        self.s437_served_how = served_how

    @transition(field=state, source=State.S437_NOTICE, target=State.MONITORING, permission=by_caseworker)
    def parent_satisfies(self, *, next_review_on: Any) -> None:
        self.review_due_on = next_review_on

    @transition(
        field=state,
        source=State.S437_NOTICE,
        target=State.ATTENDANCE_ORDER,
        conditions=[notice_period_over],
        permission=by_manager,
    )
    def sao_served(self, *, served_on: Any) -> None:
        self.attendance_order_served_on = served_on

    @transition(
        field=state,
        source=State.ATTENDANCE_ORDER,
        target=State.CLOSED,
        conditions=[no_open_safeguarding_escalation],
        permission=by_caseworker,
    )
    def order_complied(self) -> None:
        self._record_closure(ClosureReason.RETURNED_TO_SCHOOL, "School attendance order complied with")

    @transition(field=state, source=State.ATTENDANCE_ORDER, target=State.MONITORING, permission=by_manager)
    def order_revoked(self, *, next_review_on: Any) -> None:
        self.review_due_on = next_review_on

    @transition(field=state, source=State.MONITORING, target=State.REVIEW_DUE, permission=by_system)
    def review_falls_due(self) -> None:
        pass

    @transition(
        field=state,
        source=[State.MONITORING, State.REVIEW_DUE, State.EDUCATION_ENQUIRY],
        target=State.ADDRESS_VERIFICATION,
        permission=by_system,
    )
    def contacts_went_stale(self) -> None:
        pass

    @transition(
        field=state,
        source=[s for s in ACTIVE_STATES if s not in (State.NOTIFIED, State.SAFEGUARDING_REVIEW)],
        target=State.SAFEGUARDING_REVIEW,
        permission=by_anyone_who_can_raise_a_concern,
    )
    def concern_raised(self) -> None:
        self.resume_state = self.state

    @transition(
        field=state,
        source=ACTIVE_STATES,
        target=State.CLOSED,
        conditions=[no_open_safeguarding_escalation],
        permission=by_caseworker,
    )
    def close(self, *, closure_reason: str, closure_text: str = "") -> None:
        if closure_reason == ClosureReason.DUPLICATE:
            raise ValueError("Close a duplicate by merging it, so that the merge can be undone.")
        if closure_reason == ClosureReason.OTHER and not closure_text:
            raise ValueError("Say why the case is closing.")
        self._record_closure(closure_reason, closure_text)

    @transition(
        field=state,
        source=ACTIVE_STATES,
        target=State.CLOSED,
        conditions=[no_open_safeguarding_escalation],
        permission=by_manager,
    )
    def merge_close(self, *, into: Episode) -> None:
        self.state_before_merge = self.state
        self.merged_into = into
        self._record_closure(ClosureReason.DUPLICATE, f"Merged into {into.reference}")

    @transition(
        field=state,
        source=State.CLOSED,
        target=RETURN_VALUE(*ACTIVE_STATES),
        conditions=[closed_by_merge],
        permission=by_manager,
    )
    def unmerge(self) -> str:
        target = self.state_before_merge
        self.state_before_merge = ""
        self.merged_into = None
        self._clear_closure()
        return target

    @transition(
        field=state,
        source=State.CLOSED,
        target=State.NOTIFIED,
        conditions=[closed_other_than_by_merge],
        permission=by_manager,
    )
    def reopen(self) -> None:
        """Only for a closure made in error; the risk check runs again straight after."""
        self._clear_closure()

    @transition(field=state, source=State.NOTIFIED, target=RETURN_VALUE(*State.values), permission=by_system)
    def imported(self, *, state: str) -> str:
        return state

    # Rules the transitions read.

    def safeguarding_triggers(self) -> list[str]:
        """Why this case must go to the front door first (empty when it need not)."""
        reasons = []
        if self.concern_at_intake:
            reasons.append("concern_ticked")
        if self.child.social_care_status in SocialCareStatus.safeguarding_triggers():
            reasons.append("social_care_known")
        if self.child.episodes.filter(closed_with_concerns=True).exclude(pk=self.pk).exists():
            reasons.append("previous_episode_closed_with_concerns")
        return reasons

    def consent_applies(self) -> bool:
        duty = self.local_authority.consent_duty_commenced and self.child.social_care_status in (
            SocialCareStatus.S47_OPEN,
            SocialCareStatus.CHILD_PROTECTION_PLAN,
        )
        return self.special_school_placed_by_la or self.attendance_order_in_force or duty

    def _record_closure(self, reason: str, text: str) -> None:
        self.closure_reason = reason
        self.closure_text = text
        # The service stamps the change's time (its ``as_of``) before running the transition.
        self.closed_at = self.last_changed_at or timezone.now()
        self.closed_with_concerns = self.concern_at_intake or self.escalations.filter(rule="concern_ticked").exists()

    def _clear_closure(self) -> None:
        # A reopened case is open again: "closed with concerns" is decided afresh when it next closes.
        self.closed_with_concerns = False
        self.closure_reason = ""
        self.closure_text = ""
        self.closed_at = None


@pgtrigger.register(pgtrigger.Protect(name="transition_log_append_only", operation=pgtrigger.Update | pgtrigger.Delete))
class TransitionLog(models.Model):
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="transition_logs")
    from_state = models.CharField(max_length=30, choices=State.choices)
    to_state = models.CharField(max_length=30, choices=State.choices)
    transition = models.CharField(max_length=40)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, blank=True, null=True)
    actor_name = models.CharField(max_length=150)
    reason = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["episode", "at"])]

    def __str__(self) -> str:
        return f"{self.transition}: {self.from_state} -> {self.to_state}"


class Escalation(models.Model):
    """An escalation of one rule on one episode. At most one is open per (episode, rule): raising
    is idempotent, and climbing the ladder raises ``level`` on this same row."""

    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="escalations")
    local_authority = models.ForeignKey("ehe_register.LocalAuthority", on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(max_length=40)
    level = models.PositiveSmallIntegerField(default=1)
    owner_role = models.CharField(max_length=30, blank=True)
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, blank=True, null=True, related_name="owned_escalations"
    )
    recipients = models.JSONField(default=list, blank=True)
    raised_at = models.DateTimeField()
    due_at = models.DateTimeField(blank=True, null=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, blank=True, null=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(blank=True, null=True)
    decision = models.CharField(max_length=40, blank=True)
    decision_reference = models.CharField(max_length=60, blank=True)
    decision_note = models.TextField(blank=True)
    resolved_at = models.DateTimeField(blank=True, null=True)
    resolved_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["episode", "rule"], condition=models.Q(resolved_at__isnull=True), name="one_open_escalation"
            ),
        ]
        indexes = [
            models.Index(fields=["local_authority", "rule", "resolved_at"]),
            models.Index(fields=["due_at"], condition=models.Q(resolved_at__isnull=True), name="escalation_open_due"),
            # An LA's late escalations (the queues' "overdue"): an index range, not every LA's.
            models.Index(
                fields=["local_authority", "due_at"],
                condition=models.Q(resolved_at__isnull=True),
                name="escalation_open_la_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} (level {self.level}) on episode {self.episode_id}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


@pgtrigger.register(
    pgtrigger.Protect(name="escalation_event_append_only", operation=pgtrigger.Update | pgtrigger.Delete)
)
class EscalationEvent(models.Model):
    """The escalation's own log: raised, climbed, acknowledged, decided, resolved."""

    escalation = models.ForeignKey(Escalation, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20)
    level = models.PositiveSmallIntegerField()
    actor_name = models.CharField(max_length=150)
    note = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} at level {self.level}"


class SweepMark(models.Model):
    """How far the sweeps have checked an LA: every rule held true up to ``swept_to``, under the
    LA's settings as they were then (``settings``). The periodic sweep (``workflows.sweeps``,
    incremental) reads only what has come due since; an LA with no mark, a changed setting or a
    mark too old is swept in full. Written only by the sweep, at the end of a sweep that finished."""

    local_authority = models.OneToOneField(
        "ehe_register.LocalAuthority", on_delete=models.CASCADE, primary_key=True, related_name="sweep_mark"
    )
    swept_to = models.DateTimeField()
    settings = models.CharField(max_length=200)
    full_at = models.DateTimeField(help_text="The last full sweep of the LA.")

    def __str__(self) -> str:
        return f"Swept to {self.swept_to:%Y-%m-%d %H:%M}"


class ConcernSource(models.TextChoices):
    SCHOOL_NOTIFICATION = "school_notification", "School notification"
    ACTIVITY = "activity", "Contact or visit"
    CONCERN_PAGE = "concern_page", "Raised on the case"
    NEW_CASE = "new_case", "New case form"


@pgtrigger.register(pgtrigger.Protect(name="concern_append_only", operation=pgtrigger.Update | pgtrigger.Delete))
class Concern(models.Model):
    """One safeguarding concern, as it was told: every one is kept, even when the case is already
    with the front door (a second or third concern is appended to the open ``concern_ticked``
    escalation's history and sent to the front door again, never dropped)."""

    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="concerns")
    text = models.TextField()
    source = models.CharField(max_length=30, choices=ConcernSource.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, blank=True, null=True, related_name="+"
    )
    author_name = models.CharField(max_length=200)
    raised_at = models.DateTimeField()
    escalation = models.ForeignKey(Escalation, on_delete=models.PROTECT, blank=True, null=True, related_name="concerns")

    class Meta:
        ordering = ["raised_at", "id"]
        indexes = [models.Index(fields=["episode", "raised_at"])]

    def __str__(self) -> str:
        return f"Concern on episode {self.episode_id} at {self.raised_at:%d %B %Y %H:%M}"


class ActivityKind(models.TextChoices):
    PHONE_CALL = "phone_call", "Phone call"
    EMAIL = "email", "Email"
    LETTER = "letter", "Letter"
    HOME_VISIT = "home_visit", "Home visit"
    SCHOOL_LIAISON = "school_liaison", "School liaison"
    MEETING = "meeting", "Meeting"


class ActivityOutcome(models.TextChoices):
    PARENT_REACHED = "parent_reached", "Spoke with a parent or carer"
    NO_ANSWER = "no_answer", "No answer"
    MESSAGE_LEFT = "message_left", "Message left"
    LETTER_RETURNED = "letter_returned", "Letter returned undelivered"
    NO_ONE_AT_ADDRESS = "no_one_at_address", "No one at the address"
    NUMBER_UNOBTAINABLE = "number_unobtainable", "Number unobtainable"
    OTHER = "other", "Other"

    @classmethod
    def failed_contact(cls) -> frozenset[str]:
        """Outcomes that make contact details stale at once (DESIGN section 3)."""
        return frozenset({cls.LETTER_RETURNED, cls.NO_ONE_AT_ADDRESS, cls.NUMBER_UNOBTAINABLE})


class Activity(models.Model):
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="activities")
    kind = models.CharField(max_length=20, choices=ActivityKind.choices)
    occurred_at = models.DateTimeField()
    summary = models.TextField()
    outcome = models.CharField(max_length=30, choices=ActivityOutcome.choices)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    child_seen = models.BooleanField(default=False)
    child_seen_alone = models.BooleanField(default=False)
    child_views = models.TextField(blank=True)
    safeguarding_concern = models.BooleanField(default=False)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name_plural = "activities"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(child_seen_alone=False) | models.Q(child_seen=True),
                name="seen_alone_means_seen",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.occurred_at:%d %B %Y}"


class ReviewOutcome(models.TextChoices):
    SUITABLE = "suitable", "Suitable"
    NOT_YET_SHOWN = "not_yet_shown", "Not yet shown"
    UNSUITABLE = "unsuitable", "Unsuitable"


class Review(models.Model):
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="reviews")
    due_on = models.DateField()
    held_on = models.DateField(blank=True, null=True)
    outcome = models.CharField(max_length=20, choices=ReviewOutcome.choices, blank=True)
    next_review_on = models.DateField(blank=True, null=True)
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, blank=True, null=True)

    class Meta:
        ordering = ["-due_on"]

    def __str__(self) -> str:
        return f"Review due {self.due_on}"


# The quality audit's models live in their own module; importing them here registers them with
# the workflows app (and keeps their migrations in workflows/migrations).
from workflows.models_audit import (  # noqa: E402
    AuditAction,
    AuditCase,
    AuditFinding,
    AuditItem,
    AuditResult,
    AuditSample,
)

__all__ = [
    "Activity",
    "ActivityKind",
    "ActivityOutcome",
    "AuditAction",
    "AuditCase",
    "AuditFinding",
    "AuditItem",
    "AuditResult",
    "AuditSample",
    "Episode",
    "Escalation",
    "EscalationEvent",
    "Review",
    "ReviewOutcome",
    "SweepMark",
    "TransitionLog",
]
