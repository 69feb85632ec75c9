"""Recording work and decisions on a case: one page per action, each calling one service.

Every page finds the case through ``episode_for`` (another LA's case is a 404), refuses a user
whose role cannot take the action (403), and carries the case's version in its form. What a
service refuses (someone changed the case meanwhile, the case is not ready, the user may not)
comes back as a GOV.UK error summary on the same page, with what the user typed kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ehe_register.accounts.guards import role_required
from ehe_register.models import AddressKind, CheckOutcome, School, SchoolContactRequest, User
from ehe_register.roles import LA_ROLES, Role
from ehe_register.selectors import notifications_for
from workflows import forms_actions as f
from workflows.models import (
    ActivityOutcome,
    ConcernSource,
    Episode,
    ReviewOutcome,
    by_system,
    contacts_are_verified,
    no_open_safeguarding_escalation,
    notice_period_over,
)
from workflows.selectors import episode_for
from workflows.services.casework import (
    activity_record,
    address_check_record,
    consent_decide,
    cspa_decide,
    episode_concern_raised,
    episode_reopen,
    episode_user_transition,
    review_record,
)
from workflows.services.school_requests import school_contact_request_send
from workflows.services.transitions import StaleVersion, TransitionRefused
from workflows.services.verification import ContactsStatus, contacts_status
from workflows.states import State

CASEWORK = (Role.EHE_OFFICER, Role.EHE_MANAGER)
FRONT_DOOR = (Role.CSPA_DUTY_WORKER, Role.CSPA_MANAGER)

CLOSE_BLOCKED = "You cannot close this case while a safeguarding escalation is open. The front door must decide first."
# Transitions into ``closed`` that the machine refuses while a safeguarding escalation is open.
CLOSING = frozenset({"close", "consent_refused", "order_complied"})
# Transitions whose page is somebody else's (the merge page does them, with its own checks).
MERGE_TRANSITIONS = frozenset({"merge_close", "unmerge"})


def case_url(pk: int) -> str:
    """The case page."""
    return reverse("cases:detail", kwargs={"pk": pk})


def _back_to_case(request: HttpRequest, episode: Episode, text: str, *, success: bool = True) -> HttpResponseRedirect:
    (messages.success if success else messages.warning)(request, text)
    return redirect(case_url(episode.pk))


def _fresh(request: HttpRequest, pk: int) -> Episode:
    """The case as committed now (a service that refused rolled back whatever it had done)."""
    return episode_for(request.user, pk)


def _attempt(form: f.ActionForm, action: Callable[[], Any], refusal: Callable[[], str] | None = None) -> Any:
    """Run ``action``; on a refusal put the service's reason on ``form`` and return None."""
    try:
        return action()
    except StaleVersion as stale:
        form.add_error(None, str(stale))
    except TransitionRefused as refused:
        form.add_error(None, refusal() if refusal else str(refused))
    except PermissionDenied as denied:
        form.add_error(None, str(denied) or "You cannot do that on this case")
    except ValidationError as invalid:
        for message in invalid.messages:
            form.add_error(None, message)
    return None


def _context(episode: Episode, form: f.ActionForm, **extra: Any) -> dict[str, Any]:
    return {"episode": episode, "child": episode.child, "form": form, "case_url": case_url(episode.pk), **extra}


# ----------------------------------------------------------------------------------------------
# Recording work


@role_required(*CASEWORK, *FRONT_DOOR)
@require_http_methods(["GET", "POST"])
def activity_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a call, email, letter, home visit, school liaison or meeting, and its outcome."""
    episode = episode_for(request.user, pk)
    if not episode.is_active:
        return _back_to_case(
            request, episode, "This case is closed. Reopen it before recording work on it", success=False
        )
    form = f.ActivityForm(request.POST or None, episode=episode)
    if request.method == "POST" and form.is_valid():
        data = form.to_input()
        activity = _attempt(
            form,
            lambda: activity_record(
                episode_id=episode.pk,
                actor=request.user,  # type: ignore[arg-type]
                expected_version=form.cleaned_data["version"],
                data=data,
            ),
        )
        if activity is not None:
            text = f"{activity.get_kind_display()} recorded."
            if data.safeguarding_concern:
                text += " The case has gone to the front door for a decision."
            elif data.outcome in ActivityOutcome.failed_contact():
                text += " The contact details are now marked as stale."
            return _back_to_case(request, episode, text)
    return render(request, "officers/actions/activity.html", _context(episode, form))


@role_required(*CASEWORK)
@require_http_methods(["GET", "POST"])
def address_check_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a check of the address and contacts with the family, by a home visit, or from
    another agency's record. Verification follows automatically when the checks allow it."""
    episode = episode_for(request.user, pk)
    if not episode.is_active:
        return _back_to_case(
            request, episode, "This case is closed. Reopen it before recording work on it", success=False
        )
    form = f.AddressCheckForm(request.POST or None, episode=episode)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        check = _attempt(
            form,
            lambda: address_check_record(
                episode_id=episode.pk,
                actor=request.user,  # type: ignore[arg-type]
                expected_version=data["version"],
                method=data["method"],
                outcome=data["outcome"],
                checked_at=data["checked_at"],
                notes=data["notes"].strip(),
                new_address=form.new_address(),
            ),
        )
        if check is not None:
            after = _fresh(request, pk)
            text = "Address check recorded."
            if data["outcome"] == CheckOutcome.CHANGED:
                text += " The new address is now the current one."
            if (
                contacts_status(after) == ContactsStatus.VERIFIED
                and contacts_status(episode) != ContactsStatus.VERIFIED
            ):
                text += " The contact details are verified"
                if episode.state == State.ADDRESS_VERIFICATION and after.state == State.EDUCATION_ENQUIRY:
                    text += " and the case has moved on to the education enquiry"
                text += "."
            return _back_to_case(request, episode, text)
    current = episode.child.addresses.filter(kind=AddressKind.CURRENT).first()
    return render(request, "officers/actions/address_check.html", _context(episode, form, current_address=current))


def schools_known_for(user: Any, episode: Episode) -> list[School]:
    """Schools the case knows, the one to ask by default first: the school whose notification
    opened the case, else the school of the latest notification about the child."""
    schools: list[School] = []
    if episode.opened_by_school is not None:
        schools.append(episode.opened_by_school)
    for notification in notifications_for(user).filter(child_id=episode.child_id).order_by("-submitted_at"):
        if notification.school not in schools:
            schools.append(notification.school)
    return schools


@role_required(*CASEWORK)
@require_http_methods(["GET", "POST"])
def school_request_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask the child's last school what address and contacts it holds."""
    episode = episode_for(request.user, pk)
    if not episode.is_active:
        return _back_to_case(request, episode, "This case is closed. Reopen it before asking a school", success=False)
    form = f.SchoolRequestForm(request.POST or None, episode=episode, schools=schools_known_for(request.user, episode))
    if request.method == "POST" and form.is_valid():
        school = form.cleaned_data["school_obj"]
        sent = _attempt(
            form,
            lambda: school_contact_request_send(
                episode_id=episode.pk,
                school=school,
                actor=request.user,  # type: ignore[arg-type]
                expected_version=form.cleaned_data["version"],
            ),
        )
        if sent is not None:
            return _back_to_case(
                request, episode, f"Request sent to {school.name}. Its answer will be checked against our address."
            )
    earlier = SchoolContactRequest.objects.filter(episode=episode).select_related("school", "requested_by")
    return render(request, "officers/actions/school_request.html", _context(episode, form, earlier=earlier))


# ----------------------------------------------------------------------------------------------
# Decisions: one page per transition a user can make


Runner = Callable[[Episode, User, Any], Episode]


@dataclass(frozen=True)
class TransitionPage:
    title: str
    button: str
    form: type[f.ActionForm]
    run: Runner
    done: str
    intro: str = ""
    warning: bool = False  # a red button: the case closes
    tell_state: bool = False  # where the case goes depends on the case: say where it went


def _by_transition(name: str) -> Runner:
    """A transition with no service of its own: ``episode_user_transition`` with the form's arguments."""

    def run(episode: Episode, user: User, form: Any) -> Episode:
        return episode_user_transition(
            episode_id=episode.pk,
            transition=name,
            actor=user,
            expected_version=form.cleaned_data["version"],
            reason=form.cleaned_data.get("reason", "").strip(),
            **form.arguments(),
        )

    return run


def _review(outcome: str) -> Runner:
    def run(episode: Episode, user: User, form: Any) -> Episode:
        data = form.cleaned_data
        return review_record(
            episode_id=episode.pk,
            actor=user,
            expected_version=data["version"],
            outcome=outcome,
            held_on=data["held_on"],
            notes=data["notes"].strip(),
            next_review_on=data.get("next_review_on"),
            next_action_due=data.get("next_action_due"),
            s437_served_on=data.get("s437_served_on"),
            s437_served_how=data.get("s437_served_how", ""),
        )

    return run


def _consent(granted: bool) -> Runner:
    def run(episode: Episode, user: User, form: Any) -> Episode:
        return consent_decide(
            episode_id=episode.pk,
            actor=user,
            expected_version=form.cleaned_data["version"],
            granted=granted,
            reasons=form.cleaned_data["reasons"].strip(),
        )

    return run


def _cspa(episode: Episode, user: User, form: Any) -> Episode:
    data = form.cleaned_data
    return cspa_decide(
        episode_id=episode.pk,
        actor=user,
        expected_version=data["version"],
        decision=data["decision"],
        reference=data["reference"].strip(),
        note=data["note"].strip(),
    )


def _concern(episode: Episode, user: User, form: Any) -> Episode:
    return episode_concern_raised(
        episode_id=episode.pk,
        as_of=timezone.now(),
        actor=user,
        expected_version=form.cleaned_data["version"],
        note=form.cleaned_data["reason"].strip(),
        source=ConcernSource.CONCERN_PAGE,
        author=user,
    )


CONCERN_ROLES = (*CASEWORK, *FRONT_DOOR, Role.HEAD_OF_SERVICE)
CONCERN_DONE = "Concern raised. The case has gone to the front door for a decision."
CONCERN_ADDED = "Concern recorded and added to the front door's open escalation. The front door has been told again."


@role_required(*CONCERN_ROLES)
@require_http_methods(["GET", "POST"])
def concern_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Raise a safeguarding concern on an active case, in any state: a case already in
    safeguarding review keeps it too (appended to the front door's open escalation). The form
    carries the case's version: a page loaded before someone else changed the case is refused."""
    episode = episode_for(request.user, pk)
    if not episode.is_active:
        return _back_to_case(request, episode, "This case is closed. Reopen it before raising a concern", success=False)
    form = f.ConcernForm(request.POST or None, episode=episode)
    if request.method == "POST" and form.is_valid():
        already_with_front_door = episode.state == State.SAFEGUARDING_REVIEW
        done = _attempt(form, lambda: _concern(episode, request.user, form))  # type: ignore[arg-type]
        if done is not None:
            return _back_to_case(request, episode, CONCERN_ADDED if already_with_front_door else CONCERN_DONE)
    page = PAGES["concern_raised"]
    return render(
        request,
        "officers/actions/transition.html",
        _context(episode, form, page=page, name="concern_raised", blocked="", contacts=None),
    )


def _reopen(episode: Episode, user: User, form: Any) -> Episode:
    try:
        return episode_reopen(
            episode_id=episode.pk,
            actor=user,
            expected_version=form.cleaned_data["version"],
            reason=form.cleaned_data["reason"].strip(),
        )
    except IntegrityError:  # the database allows one open case per child
        raise ValidationError(
            "This child already has an open case. Record the work on that case instead of reopening this one"
        ) from None


PAGES: dict[str, TransitionPage] = {
    "cspa_decision": TransitionPage(
        "Record the front door's decision",
        "Record the decision",
        f.CspaDecisionForm,
        _cspa,
        "Decision recorded. The safeguarding escalations on this case are resolved.",
        "The case goes back to where it was before the safeguarding review.",
        tell_state=True,
    ),
    "consent_granted": TransitionPage(
        "Grant consent",
        "Grant consent",
        f.ConsentForm,
        _consent(True),
        "Consent granted. The school has been told.",
        "The child may leave school to be educated at home. The school is told.",
    ),
    "consent_refused": TransitionPage(
        "Refuse consent",
        "Refuse consent",
        f.ConsentForm,
        _consent(False),
        "Consent refused and the case is closed. The school has been told.",
        "The child stays at school and this case closes. The school is told.",
        warning=True,
    ),
    "contacts_verified": TransitionPage(
        "Contact details verified",
        "Move on to the education enquiry",
        f.ContactsVerifiedForm,
        _by_transition("contacts_verified"),
        "The case has moved on to the education enquiry.",
    ),
    "provision_suitable": TransitionPage(
        "Education is suitable",
        "Record the outcome",
        f.ProvisionSuitableForm,
        _review(ReviewOutcome.SUITABLE),
        "Outcome recorded: the education is suitable. The case is now being monitored.",
    ),
    "not_yet_shown": TransitionPage(
        "Suitable education not yet shown",
        "Record the outcome",
        f.NotYetShownForm,
        _review(ReviewOutcome.NOT_YET_SHOWN),
        "Outcome recorded: suitable education not yet shown. The next step's due date is set.",
    ),
    "provision_unsuitable": TransitionPage(
        "Education is not suitable: section 437 notice",
        "Record the notice",
        f.ProvisionUnsuitableForm,
        _review(ReviewOutcome.UNSUITABLE),
        "Section 437 notice recorded.",
        "Record the section 437(1) notice served on the parent: how and when it was served.",
    ),
    "cannot_locate": TransitionPage(
        "Child cannot be located",
        "Record that the child cannot be located",
        f.CannotLocateForm,
        _by_transition("cannot_locate"),
        "The case is now a child missing education enquiry.",
    ),
    "located": TransitionPage(
        "Child located",
        "Record that the child is located",
        f.LocatedForm,
        _by_transition("located"),
        "Child located. Check the address and contacts again.",
    ),
    "parent_satisfies": TransitionPage(
        "Parent satisfies the local authority",
        "Record the outcome",
        f.ParentSatisfiesForm,
        _by_transition("parent_satisfies"),
        "Outcome recorded. The case is now being monitored.",
        "The parent has shown that the child is receiving suitable education.",
    ),
    "sao_served": TransitionPage(
        "Serve a school attendance order",
        "Record the order",
        f.SaoServedForm,
        _by_transition("sao_served"),
        "School attendance order recorded.",
    ),
    "order_complied": TransitionPage(
        "School attendance order complied with",
        "Close the case",
        f.OrderCompliedForm,
        _by_transition("order_complied"),
        "Order complied with: the case is closed.",
        warning=True,
    ),
    "order_revoked": TransitionPage(
        "School attendance order revoked",
        "Record the revocation",
        f.OrderRevokedForm,
        _by_transition("order_revoked"),
        "Order revoked. The case is now being monitored.",
    ),
    "concern_raised": TransitionPage(
        "Raise a safeguarding concern",
        "Raise the concern",
        f.ConcernForm,
        _concern,
        "Concern raised. The case has gone to the front door for a decision.",
        warning=True,
    ),
    "close": TransitionPage(
        "Close the case",
        "Close the case",
        f.CloseForm,
        _by_transition("close"),
        "The case is closed.",
        warning=True,
    ),
    "reopen": TransitionPage(
        "Reopen the case",
        "Reopen the case",
        f.ReopenForm,
        _reopen,
        "The case is reopened and the risk check has run again.",
        "Only reopen a case whose closure was made in error.",
        tell_state=True,
    ),
}


def user_transition_names() -> set[str]:
    """The transitions people make (the rest are the product's own automatic ones)."""
    field = Episode._meta.get_field("state")
    return {t.name for t in field.get_all_transitions(Episode) if t.permission is not by_system}  # type: ignore[attr-defined]


def _meta(name: str) -> Any:
    return getattr(Episode, name)._django_fsm


def may_make(episode: Episode, user: Any, name: str) -> bool:
    """Whether the user's role lets them make this transition on this case, whatever its state
    (a transition's permission is the same from every source state)."""
    return any(t.has_perm(episode, user) for t in _meta(name).transitions.values())


def blocked_reason(episode: Episode, name: str) -> str:
    """Why the transition cannot be made on the case as it stands, in plain English ('' if it can)."""
    meta = _meta(name)
    if not meta.has_transition(episode.state):
        return f"This case is {episode.get_state_display().lower()}, so you cannot do this now."
    if meta.conditions_met(episode, episode.state):
        return ""
    if name in CLOSING and not no_open_safeguarding_escalation(episode):
        return CLOSE_BLOCKED
    if name == "sao_served" and not notice_period_over(episode):
        earliest = f.sao_earliest(episode)
        when = f._long(earliest) if earliest else "the end of the notice period"
        return f"A school attendance order cannot be served before {when}: 15 days from the day the notice was served."
    if name == "contacts_verified" and not contacts_are_verified(episode):
        return (
            "The contact details are not verified yet. They are verified automatically once they have been "
            "confirmed with the family and one independent source."
        )
    if name == "reopen":
        return "A case closed as a duplicate is reopened by undoing the merge."
    return "The case is not ready for this yet."


@role_required(*LA_ROLES)
@require_http_methods(["GET", "POST"])
def transition(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """One decision on a case: the form for the named transition, and its service on POST."""
    if name not in PAGES and name not in MERGE_TRANSITIONS:
        raise Http404("No such action")
    episode = episode_for(request.user, pk)
    if name in MERGE_TRANSITIONS:
        # Merging and undoing a merge have their own pages, with the duplicate to compare.
        return redirect("cases:merge", pk=episode.pk)
    if name == "concern_raised":
        # A concern has its own page: it is kept in every active state, safeguarding review included.
        return concern_new(request, pk)
    if not may_make(episode, request.user, name):
        raise PermissionDenied
    page = PAGES[name]
    blocked = blocked_reason(episode, name)
    if request.method == "GET" and blocked and not _meta(name).has_transition(episode.state):
        return _back_to_case(request, episode, blocked, success=False)
    form = page.form(request.POST or None, episode=episode)
    if request.method == "POST" and form.is_valid():
        done = _attempt(
            form,
            lambda: page.run(episode, request.user, form),  # type: ignore[arg-type]
            refusal=lambda: blocked_reason(_fresh(request, pk), name) or "The case is not ready for this yet.",
        )
        if done is not None:
            text = f"{page.done} Status: {done.get_state_display()}." if page.tell_state else page.done
            return _back_to_case(request, episode, text)
    context = _context(
        episode,
        form,
        page=page,
        name=name,
        blocked=blocked,
        sao_earliest=f.sao_earliest(episode) if name == "sao_served" else None,
        contacts=contacts_status(episode),
    )
    return render(request, "officers/actions/transition.html", context)
