"""The case page (DESIGN section 6): a summary of previous involvement at the top, the child, the
family and siblings, addresses with their check history and a verified / unverified / stale
badge, the timeline, field history for EHE managers and auditors, assignment, and the
transitions the user may make now, as buttons.

Every LA role of the case's LA may see it; another LA's user gets 404 (``episode_for``) and school
users 403 (the guard). Every view of the page writes an AccessLog row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, Q, prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pghistory.models import Events

from ehe_register.accounts.guards import role_required
from ehe_register.models import (
    AccessAction,
    Address,
    AddressCheck,
    AddressKind,
    Child,
    ChildMerge,
    ChildPerson,
    User,
)
from ehe_register.roles import LA_ROLES, Role
from ehe_register.selectors import children_for, notifications_for
from ehe_register.services.access import access_log_record
from ehe_register.validators import year_group, year_group_label
from notifications.delivery import message_subject
from notifications.models import Message
from workflows.escalation_rules import RULES
from workflows.forms import AssignForm, ChildContactDetailsForm, SelfAssignForm
from workflows.models import Activity, Concern, Episode, Escalation, EscalationEvent, TransitionLog
from workflows.selectors import episode_for, episodes_for, officers_of
from workflows.services.casework import episode_assign
from workflows.services.child_details import CONTACT_FIELDS, child_contact_details_update
from workflows.services.transitions import StaleVersion
from workflows.services.verification import contacts_status
from workflows.states import State
from workflows.views.escalations import escalation_panel

CASE_ROLES = tuple(sorted(LA_ROLES))
HISTORY_ROLES = frozenset({Role.EHE_MANAGER, Role.AUDITOR})
HISTORY_LIMIT = 100
CONCERN_RAISERS = frozenset(
    {Role.EHE_OFFICER, Role.EHE_MANAGER, Role.CSPA_DUTY_WORKER, Role.CSPA_MANAGER, Role.HEAD_OF_SERVICE}
)

# How each transition reads on its button. A transition missing here still gets a button.
TRANSITION_LABELS = {
    "cspa_decision": "Record the front door's decision",
    "consent_granted": "Grant consent",
    "consent_refused": "Refuse consent",
    "contacts_verified": "Move on to the education enquiry",
    "provision_suitable": "Record suitable education",
    "not_yet_shown": "Record education not yet shown",
    "cannot_locate": "Record that the child cannot be located",
    "located": "Record that the child has been located",
    "provision_unsuitable": "Serve a section 437 notice",
    "parent_satisfies": "Record that the parent satisfied the notice",
    "sao_served": "Serve a school attendance order",
    "order_complied": "Record that the order was complied with",
    "order_revoked": "Revoke the school attendance order",
    "concern_raised": "Raise a safeguarding concern",
    "close": "Close the case",
    "merge_close": "Merge with another record",
    "unmerge": "Undo the merge",
    "reopen": "Reopen the case",
}
ADDRESS_ORDER: dict[str, int] = {AddressKind.CURRENT: 0, AddressKind.ADDITIONAL: 1, AddressKind.PREVIOUS: 2}
ESCALATION_EVENT_TITLES = {
    "raised": "Escalation raised",
    "climbed": "Escalation moved up",
    "acknowledged": "Escalation acknowledged",
    "decided": "Escalation decided",
    "resolved": "Escalation resolved",
    "noted": "Concern recorded",
    "concern_added": "Further concern added",
    "reassigned": "Escalation reassigned",
}


def transition_label(name: str) -> str:
    return TRANSITION_LABELS.get(name, name.replace("_", " ").capitalize())


@dataclass
class TimelineItem:
    at: datetime
    title: str
    byline: str = ""
    description: str = ""
    details: list[str] = field(default_factory=list)
    tag: str = ""


def _timeline(episode: Episode, activities: list[Activity]) -> list[TimelineItem]:
    """Every transition, activity, escalation event and message of the case, newest first
    (``activities``: the case's own, loaded with the page's other activities)."""
    items: list[TimelineItem] = []
    states = dict(State.choices)
    for log in TransitionLog.objects.filter(episode=episode).order_by("at", "id"):
        title = (
            f"{states.get(log.from_state, log.from_state)} to {states.get(log.to_state, log.to_state)}"
            if log.from_state != log.to_state
            else states.get(log.to_state, log.to_state)
        )
        items.append(
            TimelineItem(
                at=log.at,
                title=f"{transition_label(log.transition)}: {title}",
                byline=log.actor_name,
                description=log.reason,
                tag=log.to_state,
            )
        )
    for activity in activities:
        details = []
        if activity.child_seen:
            details.append("Child seen alone" if activity.child_seen_alone else "Child seen")
        if activity.child_views:
            details.append(f"Child's views: {activity.child_views}")
        if activity.safeguarding_concern:
            details.append("Safeguarding concern recorded")
        items.append(
            TimelineItem(
                at=activity.occurred_at,
                title=f"{activity.get_kind_display()}: {activity.get_outcome_display()}",
                byline=activity.recorded_by.display_name,
                description=activity.summary,
                details=details,
            )
        )
    events = EscalationEvent.objects.filter(escalation__episode=episode).select_related("escalation")
    for event in events:
        rule = RULES.get(event.escalation.rule)
        summary = rule.summary if rule else event.escalation.rule
        items.append(
            TimelineItem(
                at=event.at,
                title=f"{ESCALATION_EVENT_TITLES.get(event.kind, event.kind.capitalize())}: {summary}",
                byline=f"{event.actor_name}, level {event.level}",
                description=event.note,
            )
        )
    items += _message_items(episode)
    items += _contact_detail_items(episode)
    return sorted(items, key=lambda item: item.at, reverse=True)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value) if value not in (None, "") else "Not given"


def _contact_detail_items(episode: Episode) -> list[TimelineItem]:
    """Changes to the child's confidential-address flag, interpreter, language and contact
    preferences (from the field history), with who made each and when."""
    events = [
        event
        for event in Events.objects.tracks(episode.child)
        .filter(pgh_label="update")
        .order_by("-pgh_created_at")[:HISTORY_LIMIT]
        if event.pgh_model.endswith("ChildEvent") and set(event.pgh_diff or {}) & set(CONTACT_FIELDS)
    ]
    user_ids = {e.pgh_context.get("user") for e in events if isinstance(e.pgh_context, dict)}
    names = {u.pk: u.display_name for u in User.objects.filter(pk__in=[i for i in user_ids if i])}
    verbose = {name: str(getattr(Child._meta.get_field(name), "verbose_name", name)) for name in CONTACT_FIELDS}
    items = []
    for event in events:
        context = event.pgh_context if isinstance(event.pgh_context, dict) else {}
        diff = event.pgh_diff or {}
        items.append(
            TimelineItem(
                at=event.pgh_created_at,
                title="Child's contact details changed",
                byline=names.get(context.get("user") or 0, "The service"),
                details=[
                    f"{verbose[name].capitalize()}: {_shown(diff[name][0])} to {_shown(diff[name][1])}"
                    for name in CONTACT_FIELDS
                    if name in diff
                ],
            )
        )
    return items


def _message_items(episode: Episode) -> list[TimelineItem]:
    """Outbound messages to or about the case, one item per message sent to several people."""
    found = (
        Message.objects.filter(Q(payload__episode_id=episode.pk) | Q(payload__case_reference=episode.reference))
        .select_related("recipient_user")
        .order_by("created_at", "id")
    )
    groups: dict[tuple[str, datetime], list[Message]] = defaultdict(list)
    for message in found:
        groups[(message.template, message.created_at)].append(message)
    items = []
    for (template, at), group in groups.items():
        try:
            subject = message_subject(group[0])
        except TemplateDoesNotExist:
            subject = template
        recipients = sorted({m.recipient_user.display_name if m.recipient_user else m.recipient_email for m in group})
        channels = sorted({m.get_channel_display().lower() for m in group})
        items.append(
            TimelineItem(
                at=at,
                title=f"Message sent: {subject}",
                byline=f"To {', '.join(recipients)} ({' and '.join(channels)})",
            )
        )
    return items


def _activities(episode: Episode) -> list[Activity]:
    """The case's own activities (its timeline) and the child's safeguarding concerns on any of
    their cases (previous involvement), newest first, in one query."""
    return list(
        Activity.objects.filter(episode__child_id=episode.child_id)
        .filter(Q(episode_id=episode.pk) | Q(safeguarding_concern=True))
        .select_related("recorded_by", "episode__local_authority")
        .order_by("-occurred_at", "-pk")
    )


def _previous_involvement(request: HttpRequest, episode: Episode, activities: list[Activity]) -> dict[str, Any]:
    """What the LA already knew: earlier cases and how they closed, concerns, schools, social care."""
    child = episode.child
    earlier = list(
        episodes_for(request.user)
        .filter(child=child)
        .exclude(pk=episode.pk)
        .select_related("opened_by_school")
        .order_by("-opened_at")
    )
    concern_activities = [activity for activity in activities if activity.safeguarding_concern]
    concern_escalations = list(
        Escalation.objects.filter(episode__child=child, rule="concern_ticked")
        .select_related("episode__local_authority")
        .order_by("-raised_at")
    )
    notified_by = list(
        notifications_for(request.user).filter(child=child).select_related("school").order_by("-submitted_at")
    )
    schools: dict[int, dict[str, Any]] = {}
    for notification in notified_by:
        schools.setdefault(
            notification.school_id, {"school": notification.school, "last_notified": notification.submitted_at}
        )
    return {
        "earlier_episodes": earlier,
        "closed_with_concerns": [e for e in earlier if e.closed_with_concerns],
        "concern_activities": concern_activities,
        "concern_escalations": concern_escalations,
        "previous_schools": list(schools.values()),
        "any": bool(earlier or concern_activities or concern_escalations or schools),
    }


def _siblings(request: HttpRequest, episode: Episode) -> list[Any]:
    """Children who share a parent or carer with this child, with their own cases."""
    people = ChildPerson.objects.filter(child=episode.child).values("person_id")
    return list(
        children_for(request.user)
        .filter(carer_links__person__in=people)
        .exclude(pk=episode.child_id)
        .distinct()
        .prefetch_related(Prefetch("episodes", queryset=episodes_for(request.user).order_by("-opened_at")))
        .order_by("date_of_birth", "pk")
    )


def _addresses(episode: Episode) -> list[Address]:
    checks = AddressCheck.objects.select_related("checked_by", "school", "episode__local_authority")
    addresses = list(Address.objects.filter(child=episode.child).prefetch_related(Prefetch("checks", queryset=checks)))
    return sorted(addresses, key=lambda a: (ADDRESS_ORDER.get(a.kind, 9), -(a.pk or 0)))


def _field_history(episode: Episode) -> list[dict[str, Any]]:
    """Field-by-field changes to the child's record and this case (django-pghistory events)."""
    events = sorted(
        [
            *Events.objects.tracks(episode.child).order_by("-pgh_created_at")[:HISTORY_LIMIT],
            *Events.objects.tracks(episode).order_by("-pgh_created_at")[:HISTORY_LIMIT],
        ],
        key=lambda event: event.pgh_created_at,
        reverse=True,
    )[:HISTORY_LIMIT]
    user_ids = {
        e.pgh_context.get("user") for e in events if isinstance(e.pgh_context, dict) and e.pgh_context.get("user")
    }
    names = {u.pk: u.display_name for u in User.objects.filter(pk__in=user_ids)}
    rows = []
    for event in events:
        context = event.pgh_context if isinstance(event.pgh_context, dict) else {}
        diff = event.pgh_diff or {}
        changes = [
            {"field": name.replace("_", " "), "before": values[0], "after": values[1]}
            for name, values in sorted(diff.items())
            if name not in ("updated_at", "version", "last_changed_at", "last_changed_by_id")
            and isinstance(values, list | tuple)
            and len(values) == 2
        ]
        if event.pgh_label == "update" and not changes:
            continue
        rows.append(
            {
                "at": event.pgh_created_at,
                "record": "Child" if event.pgh_model.endswith("ChildEvent") else "Case",
                "label": "Created" if event.pgh_label == "insert" else "Changed",
                "by": names.get(context.get("user") or 0, "The service"),
                "changes": changes,
            }
        )
    return rows


def _transition_buttons(request: HttpRequest, episode: Episode) -> list[dict[str, str]]:
    """The transitions the user may make now, straight from the machine (django-fsm)."""
    available = episode.get_available_user_state_transitions(request.user)  # type: ignore[attr-defined]
    names = sorted(
        {t.name for t in available}, key=lambda n: list(TRANSITION_LABELS).index(n) if n in TRANSITION_LABELS else 99
    )
    return [
        {
            "name": name,
            "label": transition_label(name),
            "url": reverse("cases:transition", kwargs={"pk": episode.pk, "name": name}),
        }
        for name in names
    ]


def _merges(episode: Episode) -> list[ChildMerge]:
    return list(
        ChildMerge.objects.filter(
            Q(kept_child=episode.child_id)
            | Q(moved__merge_closed_episode=episode.pk)
            | Q(moved__moved_open_episode=episode.pk)
        )
        .filter(undone_at__isnull=True)
        .select_related("kept_child", "duplicate_child", "merged_by")
    )


def _case_context(
    request: HttpRequest,
    episode: Episode,
    *,
    assign_form: AssignForm | None = None,
    self_assign_form: SelfAssignForm | None = None,
) -> dict[str, Any]:
    user: Any = request.user
    child = episode.child
    today = timezone.localdate()
    is_manager = user.has_role(Role.EHE_MANAGER)
    may_self_assign = user.has_role(Role.EHE_OFFICER) and episode.assigned_officer_id is None and episode.is_active
    if is_manager and assign_form is None:
        assign_form = AssignForm(
            officers=officers_of(user),
            initial={"officer": episode.assigned_officer_id, "version": episode.version},
        )
    if may_self_assign and self_assign_form is None:
        self_assign_form = SelfAssignForm(initial={"version": episode.version})
    status = contacts_status(episode)
    activities = _activities(episode)
    # The case's escalations, once: the panels below and the machine's conditions (which transitions
    # the user may make now: ``no_open_safeguarding_escalation``) read them.
    prefetch_related_objects(
        [episode],
        Prefetch(
            "escalations",
            queryset=Escalation.objects.select_related("acknowledged_by", "owner_user").order_by("raised_at", "pk"),
        ),
    )
    notify_only = {name for name, rule in RULES.items() if rule.notify_only}
    now = timezone.now()
    return {
        "episode": episode,
        "child": child,
        "year_group": year_group_label(year_group(child.date_of_birth, today)),
        "derived_year_group": (
            year_group_label(child.derived_year_group) if child.derived_year_group is not None else ""
        ),
        "may_change_contact_details": bool(user.roles & {Role.EHE_OFFICER, Role.EHE_MANAGER}),
        "involvement": _previous_involvement(request, episode, activities),
        "carers": list(child.carer_links.select_related("person").order_by("pk")),
        "siblings": _siblings(request, episode),
        "addresses": _addresses(episode),
        "contacts_status": status,
        "timeline": _timeline(episode, [a for a in activities if a.episode_id == episode.pk]),
        "history": _field_history(episode) if user.roles & HISTORY_ROLES else None,
        "transitions": _transition_buttons(request, episode),
        "may_record": episode.is_active and bool(user.roles & {Role.EHE_OFFICER, Role.EHE_MANAGER}),
        "may_record_activity": episode.is_active
        and bool(user.roles & {Role.EHE_OFFICER, Role.EHE_MANAGER, Role.CSPA_DUTY_WORKER, Role.CSPA_MANAGER}),
        "assign_form": assign_form if is_manager else None,
        "self_assign_form": self_assign_form if may_self_assign or self_assign_form is not None else None,
        "may_self_assign": may_self_assign,
        "merges": _merges(episode),
        "may_merge": is_manager,
        # Legal holds and subject access exports: EHE managers.
        "holds_in_force": (sum(1 for hold in child.legal_holds.all() if hold.in_force_on(today)) if is_manager else 0),
        "open_escalations": [
            escalation_panel(user, e, now)
            for e in episode.escalations.all()
            if e.resolved_at is None and e.rule not in notify_only
        ],
        "concerns": list(Concern.objects.filter(episode=episode).select_related("author").order_by("-raised_at")),
        # In safeguarding review the machine offers no concern_raised button: a further concern
        # still has its page (it is kept and sent to the front door again).
        "may_raise_concern": episode.state == State.SAFEGUARDING_REVIEW and bool(user.roles & CONCERN_RAISERS),
    }


def _render_case(request: HttpRequest, episode: Episode, status: int = 200, **forms: Any) -> HttpResponse:
    access_log_record(
        user=request.user,  # type: ignore[arg-type]
        children=[episode.child],
        action=AccessAction.VIEW,
        path=request.path,
    )
    return render(request, "officers/case.html", _case_context(request, episode, **forms), status=status)


@role_required(*CASE_ROLES)
@require_GET
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    episode = episode_for(request.user, pk)
    return _render_case(request, episode)


@role_required(Role.EHE_OFFICER, Role.EHE_MANAGER)
@require_POST
def case_assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Assign the case: an officer takes an unassigned case; an EHE manager picks the officer.

    A version that is no longer the case's own means someone changed the case since the page was
    loaded: the page comes back with who changed it and when, and with what the user chose.
    """
    user: Any = request.user
    episode = episode_for(user, pk)
    is_manager = user.has_role(Role.EHE_MANAGER)
    form: AssignForm | SelfAssignForm = (
        AssignForm(request.POST, officers=officers_of(user)) if is_manager else SelfAssignForm(request.POST)
    )
    forms_key = "assign_form" if is_manager else "self_assign_form"
    if not form.is_valid():
        return _render_case(request, episode, status=400, **{forms_key: form})
    officer = form.cleaned_data["officer"] if is_manager else user
    try:
        episode_assign(
            episode_id=episode.pk, officer=officer, actor=user, expected_version=form.cleaned_data["version"]
        )
    except StaleVersion as stale:
        form.add_error(None, str(stale))
        return _render_case(request, episode_for(user, pk), status=409, **{forms_key: form})
    except PermissionDenied as denied:
        if not is_manager:
            form.add_error(None, "Someone else has taken this case. Only an EHE manager can reassign it")
            return _render_case(request, episode_for(user, pk), status=403, **{forms_key: form})
        raise denied
    except ValidationError as invalid:
        for message in invalid.messages:
            form.add_error(None, message)
        return _render_case(request, episode_for(user, pk), status=400, **{forms_key: form})
    to = "you" if officer == user else (officer.display_name if officer else "the team queue")
    messages.success(request, f"Case {episode.reference} assigned to {to}")
    return redirect("cases:detail", pk=episode.pk)


@role_required(Role.EHE_OFFICER, Role.EHE_MANAGER)
@require_http_methods(["GET", "POST"])
def child_contact_details_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change the child's confidential-address flag, interpreter and language, and contact
    preferences. Every change is logged with who made it (the case timeline shows it); a form
    loaded before someone else changed the case is refused with who changed it and when."""
    user: Any = request.user
    episode = episode_for(user, pk)
    child = episode.child
    if request.method == "POST":
        form = ChildContactDetailsForm(request.POST)
        if form.is_valid():
            try:
                changed = child_contact_details_update(
                    episode_id=episode.pk,
                    details=form.to_details(),
                    actor=user,
                    expected_version=form.cleaned_data["version"],
                )
            except StaleVersion as stale:
                form.add_error(None, str(stale))
            else:
                messages.success(request, "Child's contact details saved" if changed else "Nothing was changed")
                return redirect("cases:detail", pk=episode.pk)
        status = 409 if form.errors.get("__all__") else 400
    else:
        form = ChildContactDetailsForm(
            initial={
                "confidential_address": "yes" if child.confidential_address else "no",
                "interpreter_needed": "yes" if child.interpreter_needed else "no",
                "language": child.language,
                "contact_preferences": child.contact_preferences,
                "version": episode.version,
            }
        )
        status = 200
    access_log_record(user=user, children=[child], action=AccessAction.VIEW, path=request.path)
    context = {"episode": episode, "child": child, "form": form, "case_url": reverse("cases:detail", args=[episode.pk])}
    return render(request, "officers/child_contact_details.html", context, status=status)
