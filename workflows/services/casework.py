"""What officers, the front door and managers do to a case, one service per action.

Each service runs in one transaction, locks the episode and checks the version the user saw
(``StaleVersion`` names who changed it and when), and ends by evaluating the escalation rules for
the case (``episode_rules_evaluate``: the periodic sweep restricted to it, which also recomputes the
case's clock), so what a rule decides is raised and resolved in one place. A service itself writes
only what is a decision or an event rather than a rule: the front door's and the consent
decisions, a concern raised. Views call these; these call the transitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ehe_register.models import (
    Address,
    AddressCheck,
    AddressKind,
    CheckMethod,
    CheckOutcome,
    School,
    User,
)
from ehe_register.roles import Role
from notifications.models import Channel
from notifications.services import message_enqueue
from workflows.actors import SYSTEM, actor_name, is_system
from workflows.models import (
    Activity,
    ActivityKind,
    ActivityOutcome,
    Concern,
    ConcernSource,
    Episode,
    Escalation,
    Review,
    ReviewOutcome,
)
from workflows.services.escalations import (
    escalation_events_write,
    escalation_raise,
    escalation_resolve,
    escalations_follow_assignment,
    escalations_tell,
    escalations_with_episode,
    front_door_decide,
)
from workflows.services.intake import episode_risk_check
from workflows.services.transitions import episode_lock, episode_touch, episode_transition
from workflows.services.verification import contacts_mark_stale, contacts_verification_refresh
from workflows.states import State
from workflows.sweeps import episode_rules_evaluate

CASEWORKERS = frozenset({Role.EHE_OFFICER, Role.EHE_MANAGER})


def _require(actor: User, episode: Episode, roles: frozenset[Role]) -> None:
    if actor.local_authority_id != episode.local_authority_id or not (actor.roles & roles):
        raise PermissionDenied("You cannot do that on this case")


def episode_assign(
    *, episode_id: int, officer: User | None, actor: User, expected_version: int | None, as_of: datetime | None = None
) -> Episode:
    """Assign a case to an EHE officer of its LA (or back to the team queue with ``officer=None``);
    escalations owned by "the assigned officer" follow the case to its new holder.

    Officers may take an unassigned case themselves; EHE managers assign anyone's."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        episode = episode_lock(episode_id, expected_version)
        is_manager = actor.has_role(Role.EHE_MANAGER) and actor.local_authority_id == episode.local_authority_id
        self_assign = officer == actor and episode.assigned_officer_id is None
        if not (is_manager or (self_assign and actor.has_role(Role.EHE_OFFICER))):
            raise PermissionDenied("Only an EHE manager can assign a case to someone else")
        if officer is not None and (
            officer.local_authority_id != episode.local_authority_id or not officer.has_role(Role.EHE_OFFICER)
        ):
            raise ValidationError("Choose an EHE officer of this local authority")
        Episode.objects.filter(pk=episode.pk).update(assigned_officer=officer)
        episode_touch(episode, actor, as_of)
        holder = officer.display_name if officer else "the team queue"
        escalations_follow_assignment([episode.pk], as_of, {episode.pk: f"Case assigned to {holder}"}, actor)
        episode_rules_evaluate(episode_id=episode.pk, as_of=as_of)
        return Episode.objects.get(pk=episode.pk)


def episode_user_transition(
    *,
    episode_id: int,
    transition: str,
    actor: User,
    expected_version: int | None,
    reason: str = "",
    as_of: datetime | None = None,
    **arguments: Any,
) -> Episode:
    """A user's transition that has no service of its own (cannot locate, located, an order served
    or revoked, a closure...): the transition, then the rules for the case, in one transaction."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        episode = episode_transition(
            episode_id=episode_id,
            transition=transition,
            actor=actor,
            expected_version=expected_version,
            reason=reason,
            as_of=as_of,
            **arguments,
        )
        episode_rules_evaluate(episode_id=episode.pk, as_of=as_of)
        return Episode.objects.get(pk=episode.pk)


@dataclass(frozen=True)
class ActivityInput:
    kind: str
    occurred_at: datetime
    summary: str
    outcome: str
    child_seen: bool = False
    child_seen_alone: bool = False
    child_views: str = ""
    safeguarding_concern: bool = False


def activity_record(
    *, episode_id: int, actor: User, expected_version: int | None, data: ActivityInput, as_of: datetime | None = None
) -> Activity:
    """Record a call, email, letter, visit, liaison or meeting, and what it means for the case:
    a parent reached is the first contact; a visit seeing the child at home is the home check; a
    failed contact makes the details stale; a safeguarding concern goes to the front door at once."""
    as_of = as_of or timezone.now()
    if data.child_seen_alone and not data.child_seen:
        raise ValidationError("A child seen alone must also be recorded as seen")
    with transaction.atomic():
        episode = episode_lock(episode_id, expected_version)
        _require(actor, episode, CASEWORKERS | {Role.CSPA_DUTY_WORKER, Role.CSPA_MANAGER})
        if not episode.is_active:
            raise ValidationError("This case is closed. Reopen it before recording work on it")
        activity = Activity.objects.create(
            episode=episode,
            kind=data.kind,
            occurred_at=data.occurred_at,
            summary=data.summary,
            outcome=data.outcome,
            recorded_by=actor,
            recorded_at=as_of,
            child_seen=data.child_seen,
            child_seen_alone=data.child_seen_alone,
            child_views=data.child_views,
            safeguarding_concern=data.safeguarding_concern,
        )
        updates: dict[str, Any] = {}
        if data.outcome == ActivityOutcome.PARENT_REACHED and episode.first_contact_at is None:
            updates["first_contact_at"] = data.occurred_at
        if data.kind == ActivityKind.HOME_VISIT and data.child_seen and episode.child_seen_at_home_at is None:
            updates["child_seen_at_home_at"] = data.occurred_at
        if updates:
            Episode.objects.filter(pk=episode.pk).update(**updates)
        episode_touch(episode, actor, as_of)
        if data.outcome in ActivityOutcome.failed_contact():
            contacts_mark_stale(episode_id=episode.pk, as_of=as_of, reason=activity.get_outcome_display())
        if data.safeguarding_concern:
            episode_concern_raised(
                episode_id=episode.pk,
                as_of=as_of,
                actor=actor,
                note=data.summary.strip() or f"Concern recorded on {activity}",
                source=ConcernSource.ACTIVITY,
                author=actor,
            )
        episode_rules_evaluate(episode_id=episode.pk, as_of=as_of)  # first contact: enquiry_overdue, the clock
        return activity


@dataclass(frozen=True)
class AddressInput:
    line_1: str
    line_2: str
    town: str
    postcode: str


def address_check_record(
    *,
    episode_id: int,
    actor: User,
    expected_version: int | None,
    method: str,
    outcome: str,
    checked_at: datetime,
    notes: str = "",
    school: School | None = None,
    new_address: AddressInput | None = None,
    as_of: datetime | None = None,
) -> AddressCheck:
    """Record who confirmed the child's address and contacts, how, and the outcome. A changed
    address becomes the current one (the old one is kept as previous). Then re-work verification."""
    as_of = as_of or timezone.now()
    if outcome == CheckOutcome.CHANGED and new_address is None:
        raise ValidationError("Enter the new address")
    if method == CheckMethod.SCHOOL and school is None:
        raise ValidationError("Say which school confirmed the details")
    with transaction.atomic():
        episode = episode_lock(episode_id, expected_version)
        _require(actor, episode, CASEWORKERS)
        current = episode.child.addresses.filter(kind=AddressKind.CURRENT).first()
        if outcome == CheckOutcome.CHANGED and new_address is not None:
            if current is not None:
                Address.objects.filter(pk=current.pk).update(kind=AddressKind.PREVIOUS, valid_to=as_of.date())
            current = Address.objects.create(
                local_authority_id=episode.local_authority_id,
                child=episode.child,
                kind=AddressKind.CURRENT,
                line_1=new_address.line_1,
                line_2=new_address.line_2,
                town=new_address.town,
                postcode=new_address.postcode,
                valid_from=as_of.date(),
            )
        if current is None:
            raise ValidationError("Add the child's address before recording a check")
        check = AddressCheck.objects.create(
            address=current,
            episode=episode,
            method=method,
            outcome=outcome,
            school=school,
            checked_at=checked_at,
            checked_by=actor,
            notes=notes,
        )
        episode_touch(episode, actor, as_of)
        contacts_verification_refresh(episode_id=episode.pk, as_of=as_of, actor=actor)
        episode_rules_evaluate(episode_id=episode.pk, as_of=as_of)
        return check


def cspa_decide(
    *,
    episode_id: int,
    actor: User,
    expected_version: int | None,
    decision: str,
    reference: str = "",
    note: str = "",
    as_of: datetime | None = None,
) -> Episode:
    """The front door's decision recorded from the case page: the one implementation,
    ``front_door_decide``, resolves every open safeguarding escalation on the case and returns a
    case in safeguarding review to the state it was in (for a new case, the consent decision or
    address verification), in one transaction."""
    return front_door_decide(
        episode_id=episode_id,
        actor=actor,
        decision=decision,
        as_of=as_of,
        reference=reference,
        note=note,
        expected_version=expected_version,
    )


def consent_decide(
    *,
    episode_id: int,
    actor: User,
    expected_version: int | None,
    granted: bool,
    reasons: str,
    as_of: datetime | None = None,
) -> Episode:
    """The EHE manager's consent decision; resolves ``consent_required`` and tells the school."""
    as_of = as_of or timezone.now()
    if not reasons.strip():
        raise ValidationError("Give the reasons for the decision")
    with transaction.atomic():
        episode = episode_transition(
            episode_id=episode_id,
            transition="consent_granted" if granted else "consent_refused",
            actor=actor,
            expected_version=expected_version,
            reason=reasons,
            as_of=as_of,
        )
        escalation_resolve(
            episode=episode,
            rule_name="consent_required",
            as_of=as_of,
            actor=actor,
            decision="granted" if granted else "refused",
            note=reasons,
        )
        if episode.opened_by_school_id:
            for school_user in User.objects.filter(schools=episode.opened_by_school_id, is_active=True):
                for channel in (Channel.IN_APP, Channel.EMAIL):
                    message_enqueue(
                        template="emails/consent_decision",
                        idempotency_key=f"consent:{episode.pk}:{episode.version}:{school_user.pk}:{channel}",
                        channel=channel,
                        recipient_user=school_user,
                        local_authority=episode.local_authority,
                        payload={
                            "case_reference": episode.reference,
                            "granted": granted,
                            "path": reverse("schools:notification_list"),
                        },
                        as_of=as_of,
                    )
        episode_rules_evaluate(episode_id=episode.pk, as_of=as_of)
        return episode


def review_record(
    *,
    episode_id: int,
    actor: User,
    expected_version: int | None,
    outcome: str,
    held_on: date,
    notes: str = "",
    next_review_on: date | None = None,
    next_action_due: date | None = None,
    s437_served_on: date | None = None,
    s437_served_how: str = "",
    as_of: datetime | None = None,
) -> Episode:
    """An enquiry or review outcome: suitable (monitor, next review by default in the LA's interval),
    not yet shown (keep going, with a new due date), or unsuitable (a s437 notice served)."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        episode = episode_lock(episode_id, expected_version)
        due = episode.review_due_on or held_on
        if outcome == ReviewOutcome.SUITABLE:
            interval = relativedelta(months=episode.local_authority.review_interval_months)
            next_review_on = next_review_on or held_on + interval
            arguments: dict[str, Any] = {"next_review_on": next_review_on}
            transition = "provision_suitable"
        elif outcome == ReviewOutcome.NOT_YET_SHOWN:
            if next_action_due is None:
                raise ValidationError("Enter when the next step is due")
            arguments, transition = {"next_action_due": next_action_due}, "not_yet_shown"
        else:
            if s437_served_on is None or not s437_served_how:
                raise ValidationError("Enter when and how the section 437 notice was served")
            arguments = {"served_on": s437_served_on, "served_how": s437_served_how}
            transition = "provision_unsuitable"
        episode = episode_transition(
            episode_id=episode.pk,
            transition=transition,
            actor=actor,
            expected_version=None,
            reason=notes,
            as_of=as_of,
            **arguments,
        )
        Review.objects.create(
            episode=episode,
            due_on=due,
            held_on=held_on,
            outcome=outcome,
            next_review_on=next_review_on,
            notes=notes,
            recorded_by=actor,
        )
        episode_rules_evaluate(episode_id=episode.pk, as_of=as_of)  # review_overdue resolves once held
        return episode


def episode_reopen(
    *, episode_id: int, actor: User, expected_version: int | None, reason: str, as_of: datetime | None = None
) -> Episode:
    """Reopen a case closed in error; the risk check runs again straight away."""
    as_of = as_of or timezone.now()
    if not reason.strip():
        raise ValidationError("Say why the closure was made in error")
    with transaction.atomic():
        episode_transition(
            episode_id=episode_id,
            transition="reopen",
            actor=actor,
            expected_version=expected_version,
            reason=reason,
            as_of=as_of,
        )
        return episode_risk_check(episode_id=episode_id, as_of=as_of)


def episode_concern_raised(
    *,
    episode_id: int,
    as_of: datetime,
    actor: Any = SYSTEM,
    expected_version: int | None = None,
    note: str = "",
    source: str = "",
    author: User | None = None,
    author_name: str = "",
) -> Episode:
    """A safeguarding concern on an open case: to the front door at once, and never lost.

    The episode moves to safeguarding review (remembering where it was) unless it is already
    there, and ``concern_ticked`` is raised (or stays open). With a ``source`` the concern itself
    is kept as a :class:`Concern` row (its text, author and time). A further concern on a case
    whose ``concern_ticked`` is already open is appended to that escalation's history
    ("concern_added") and re-tells the front door's inbox, so the second and third concerns are
    stored, shown and sent like the first. All in one transaction; a stale ``expected_version``
    (someone changed the case since the user's page loaded) is refused with ``StaleVersion``.
    """
    with transaction.atomic():
        episode = episode_lock(episode_id, expected_version)
        if not episode.is_active:
            raise ValidationError("This case is closed. Reopen it before raising a concern on it")
        if episode.state not in (State.SAFEGUARDING_REVIEW, State.NOTIFIED):
            episode = episode_transition(
                episode_id=episode_id,
                transition="concern_raised",
                actor=actor,
                expected_version=None,
                reason=note,
                as_of=as_of,
            )
        else:
            episode_touch(episode, actor, as_of)
        escalation, created = escalation_raise(
            episode=episode, rule_name="concern_ticked", as_of=as_of, actor=actor, note=note
        )
        if source:
            text = note.strip() or "A safeguarding concern was recorded"
            who = author_name or (author.display_name if author is not None else actor_name(actor))
            concern = Concern.objects.create(
                episode=episode,
                text=text,
                source=source,
                author=author if author is not None else (None if is_system(actor) else actor),
                author_name=who,
                raised_at=as_of,
                escalation=escalation,
            )
            if not created:
                escalation_events_write(
                    [(escalation.pk, escalation.level, f"{concern.get_source_display()}, {who}: {text}")],
                    "concern_added",
                    as_of,
                    actor,
                )
                escalations_tell(
                    escalations_with_episode([escalation.pk]), lambda _: (), as_of, f"concern:{concern.pk}"
                )
        episode_rules_evaluate(episode_id=episode_id, as_of=as_of)
        return episode


def concern_kept_at_intake(
    *, episode: Episode, text: str, source: str, as_of: datetime, author: User | None = None, author_name: str = ""
) -> Concern:
    """Keep the concern that opened a case (the intake's risk check raised ``concern_ticked`` and
    told the front door already): its text, author and time, beside the escalation."""
    escalation = Escalation.objects.filter(episode=episode, rule="concern_ticked", resolved_at__isnull=True).first()
    return Concern.objects.create(
        episode=episode,
        text=text.strip() or "A safeguarding concern was recorded",
        source=source,
        author=author,
        author_name=author_name or (author.display_name if author is not None else SYSTEM.display_name),
        raised_at=as_of,
        escalation=escalation,
    )
