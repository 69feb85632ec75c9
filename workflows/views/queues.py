"""The officer queues: one page per queue, with tabs and counts, filters and search, pages of 25,
bulk assignment for EHE managers, and resolving likely matches (DESIGN section 6).

A queue page runs the same number of queries whatever its size (``workflows.selectors``), and
reads about the same number of rows: a page of cases starts after the previous page's last row
(keyset pagination: the "Next page" link carries that row's sort keys), and the counts stop at
1,000 ("more than 1,000 cases") rather than counting every case of a large LA.
Addresses in lists are masked for children with a confidential address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from ehe_register.accounts.guards import role_required
from ehe_register.forms.fields import ascii_int
from ehe_register.roles import Role
from workflows.forms import BulkAssignForm, MatchResolveForm, QueueFilterForm
from workflows.models import Episode
from workflows.selectors import (
    MATCHES,
    PER_PAGE,
    QUEUE_ROLES,
    QUEUES_BY_SLUG,
    CappedCount,
    Queue,
    capped_count,
    default_queue_for,
    episodes_filter,
    episodes_for,
    officers_of,
    open_matches_for,
    possible_matches_for,
    queue_counts,
    queue_keyset_page,
    queue_matching,
    queues_for,
)
from workflows.services.casework import episode_assign
from workflows.services.merge import possible_match_resolve
from workflows.services.transitions import StaleVersion

ADDRESS_WITHHELD = "Address withheld"


def list_address(child: Any) -> str:
    """A child's current address as a list shows it: never for a confidential address."""
    if child.confidential_address:
        return ADDRESS_WITHHELD
    current = getattr(child, "current_addresses", None)
    if current is None:
        current = list(child.addresses.filter(kind="current"))
    if not current:
        return "No address"
    address = current[0]
    return ", ".join(part for part in (address.line_1, address.town, address.postcode) if part)


@dataclass(frozen=True)
class QueueRow:
    episode: Episode
    address: str
    overdue: bool


def _rows(episodes: list[Episode], today: date) -> list[QueueRow]:
    return [
        QueueRow(episode=e, address=list_address(e.child), overdue=bool(getattr(e, "is_overdue", False)))
        for e in episodes
    ]


def _tabs(user: Any, current: Queue, today: date, now: datetime) -> list[dict[str, Any]]:
    counts = queue_counts(user, today=today, now=now)
    return [
        {
            "queue": queue,
            "count": counts.get(queue.slug, 0),
            "url": reverse("cases:queue", kwargs={"slug": queue.slug}),
            "current": queue.slug == current.slug,
        }
        for queue in queues_for(user)
    ]


@role_required(*QUEUE_ROLES)
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """/cases/ opens on the user's own default queue."""
    queue = default_queue_for(request.user)
    if queue is None:
        raise PermissionDenied
    return redirect("cases:queue", slug=queue.slug)


@role_required(*QUEUE_ROLES)
@require_GET
def queue_page(request: HttpRequest, slug: str) -> HttpResponse:
    queue = QUEUES_BY_SLUG.get(slug)
    if queue is None:
        raise Http404("No such queue")
    user = request.user
    if not queue.roles & user.roles:  # type: ignore[union-attr]
        raise PermissionDenied
    now = timezone.now()
    today = timezone.localdate(now)
    context: dict[str, Any] = {"queue": queue, "tabs": _tabs(user, queue, today, now), "today": today}
    if slug == MATCHES:
        matches = Paginator(open_matches_for(user), PER_PAGE).get_page(ascii_int(request.GET.get("page")))
        may_resolve = user.has_role(Role.EHE_OFFICER, Role.EHE_MANAGER)  # type: ignore[union-attr]
        context.update(page=matches, matches=matches.object_list, may_resolve=may_resolve)
        return render(request, "officers/queue_matches.html", context)

    officers = officers_of(user)
    form = QueueFilterForm(request.GET or None, officers=officers)
    episodes = episodes_filter(
        queue_matching(slug, user, today=today, now=now), user, form.filters(), today=today, now=now
    )
    page = queue_keyset_page(
        slug, user, episodes, request.GET.get("after", ""), today=today, now=now, per_page=PER_PAGE
    )
    total = capped_count(episodes) if page.rows or not page.first else CappedCount(0)
    number = 1 if page.first else _page_number(request.GET.get("page"))
    may_bulk_assign = user.has_role(Role.EHE_MANAGER)  # type: ignore[union-attr]
    context.update(
        form=form,
        page=page,
        rows=_rows(page.rows, today),
        total=total,
        page_number=number,
        page_count=None if total.capped else max(1, -(-total // PER_PAGE)),
        filtered=bool(request.GET.get("q") or form.has_changed()),
        may_bulk_assign=may_bulk_assign,
        bulk_form=BulkAssignForm(officers=officers, initial={"queue": slug}, auto_id="bulk_%s")
        if may_bulk_assign
        else None,
    )
    return render(request, "officers/queue.html", context)


def _page_number(raw: str | None) -> int:
    """The page's number as the "Next page" link counted it: for the caption only (the page
    itself is found by its ``after`` keys)."""
    number = ascii_int(raw)
    return number if number is not None and 1 < number < 1_000_000 else 2


@role_required(Role.EHE_MANAGER)
@require_POST
def bulk_assign(request: HttpRequest) -> HttpResponse:
    """Assign the ticked cases to one officer (or to the team queue), all or none: a case someone
    changed since the page was loaded stops the whole assignment, and says who changed it."""
    user = request.user
    form = BulkAssignForm(request.POST, officers=officers_of(user))
    slug = request.POST.get("queue", "")
    back = reverse("cases:queue", kwargs={"slug": slug}) if slug in QUEUES_BY_SLUG else reverse("cases:index")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(back)
    versions = form.versions()
    visible = set(episodes_for(user).filter(pk__in=list(versions)).values_list("pk", flat=True))
    if not versions or visible != set(versions):
        raise Http404("No such case")
    officer = form.cleaned_data["officer"]
    try:
        with transaction.atomic():
            for episode_id in sorted(versions):
                episode_assign(
                    episode_id=episode_id,
                    officer=officer,
                    actor=user,  # type: ignore[arg-type]
                    expected_version=versions[episode_id],
                )
    except StaleVersion as stale:
        messages.error(request, f"Nothing was assigned. {stale}")
        return redirect(back)
    except (PermissionDenied, ValidationError) as refused:
        messages.error(request, f"Nothing was assigned. {_message(refused)}")
        return redirect(back)
    count = len(versions)
    to = officer.display_name if officer else "the team queue"
    messages.success(request, f"{count} case{'s' if count != 1 else ''} assigned to {to}")
    return redirect(back)


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or "You cannot do that"


@role_required(Role.EHE_OFFICER, Role.EHE_MANAGER)
@require_POST
def match_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """Answer a likely match. "The same child" never merges: the match is marked and the officer
    is sent to the merge page (an EHE manager confirms the merge there)."""
    match = get_object_or_404(possible_matches_for(request.user), pk=pk)
    back = reverse("cases:queue", kwargs={"slug": MATCHES})
    form = MatchResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say whether these records are the same child")
        return redirect(back)
    same = form.cleaned_data["decision"] == "same"
    try:
        possible_match_resolve(match_id=match.pk, same_child=same, actor=request.user)  # type: ignore[arg-type]
    except (PermissionDenied, ValidationError) as refused:
        messages.error(request, _message(refused))
        return redirect(back)
    if not same:
        messages.success(request, f"{match.child} and {match.candidate} are recorded as different children")
        return redirect(back)
    if request.user.has_role(Role.EHE_MANAGER):  # type: ignore[union-attr]
        messages.success(request, "Marked as the same child. Check both records, then merge them")
        return redirect("cases:merge_confirm", keep=match.candidate_id, duplicate=match.child_id)
    messages.success(
        request,
        "Marked as the same child. An EHE manager will merge the two records: "
        "they are listed on the merge page until then",
    )
    return redirect(back)
