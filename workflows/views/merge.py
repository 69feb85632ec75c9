"""Merging duplicate child records and undoing a merge (EHE managers only).

``/cases/merge/`` finds the two records (by case or notification reference, or from a likely
match marked as the same child); the confirm page shows both side by side (and writes an
AccessLog row for each); the POST calls ``workflows.services.merge.children_merge``. Every
merge can be undone from its own page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from ehe_register.accounts.guards import role_required
from ehe_register.models import AccessAction, Address, Child, ChildMerge, MatchStatus
from ehe_register.roles import Role
from ehe_register.selectors import child_for, children_for, notifications_for
from ehe_register.services.access import access_log_record
from workflows.forms import MergeConfirmForm, MergeFindForm
from workflows.selectors import EPISODE_REFERENCE, episode_for, episodes_for, possible_matches_for
from workflows.services.merge import children_merge, children_unmerge
from workflows.services.transitions import StaleVersion, TransitionRefused
from workflows.states import ACTIVE_STATES


def _child_by_reference(user: Any, reference: str) -> Child | None:
    """The child a case reference (EHE-936-C000123) or notification reference names, if the user may see it."""
    upper = reference.strip().upper()
    if match := EPISODE_REFERENCE.fullmatch(upper):
        episode = episodes_for(user).filter(local_authority__dfe_code=match.group(1), pk=int(match.group(2))).first()
        return episode.child if episode else None
    notification = notifications_for(user).filter(reference=upper, child__isnull=False).first()
    if notification is None:
        return None
    return children_for(user).filter(pk=notification.child_id or 0).first()


def _matches_to_merge(user: Any) -> list[Any]:
    """Likely matches an officer marked as the same child, not merged yet."""
    merged = ChildMerge.objects.filter(undone_at__isnull=True).filter(
        Q(kept_child=OuterRef("candidate"), duplicate_child=OuterRef("child"))
        | Q(kept_child=OuterRef("child"), duplicate_child=OuterRef("candidate"))
    )
    return list(
        possible_matches_for(user)
        .filter(status=MatchStatus.SAME_CHILD)
        .exclude(Exists(merged))
        .select_related("child", "candidate", "resolved_by")
        .order_by("-resolved_at", "pk")
    )


def _render_start(request: HttpRequest, form: MergeFindForm) -> HttpResponse:
    context = {"form": form, "matches": _matches_to_merge(request.user)}
    return render(request, "officers/merge_start.html", context)


@role_required(Role.EHE_MANAGER)
@require_http_methods(["GET", "POST"])
def merge_start(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _render_start(request, MergeFindForm(initial={"first": request.GET.get("first", "")}))
    form = MergeFindForm(request.POST)
    if form.is_valid():
        first = _child_by_reference(request.user, form.cleaned_data["first"])
        second = _child_by_reference(request.user, form.cleaned_data["second"])
        if first is None:
            form.add_error("first", "No case or notification of your local authority has that reference")
        if second is None:
            form.add_error("second", "No case or notification of your local authority has that reference")
        if first is not None and second is not None:
            if first.pk == second.pk:
                form.add_error("second", "Both references are for the same child record. Enter two different records")
            else:
                return redirect("cases:merge_confirm", keep=first.pk, duplicate=second.pk)
    return _render_start(request, form)


@role_required(Role.EHE_MANAGER)
@require_http_methods(["GET"])
def merge_from_case(request: HttpRequest, pk: int) -> HttpResponse:
    """From a case page: merge this case's child with another record or, for a case a merge
    closed, undo that merge."""
    episode = episode_for(request.user, pk)
    merge = (
        ChildMerge.objects.filter(local_authority_id=episode.local_authority_id, undone_at__isnull=True)
        .filter(moved__merge_closed_episode=episode.pk)
        .first()
    )
    if merge is not None:
        return redirect("cases:merge_undo", pk=merge.pk)
    return _render_start(request, MergeFindForm(initial={"first": episode.reference}))


def _case_of(user: Any, child_id: int) -> int | None:
    """The child's open case, else their latest one."""
    episodes = episodes_for(user).filter(child=child_id)
    chosen = episodes.filter(state__in=ACTIVE_STATES).first() or episodes.order_by("-opened_at").first()
    return chosen.pk if chosen else None


def _record(child: Child) -> dict[str, Any]:
    return {
        "child": child,
        "addresses": sorted(child.addresses.all(), key=lambda a: (a.kind != "current", a.pk)),
        "carers": [link for link in child.carer_links.all()],
        "episodes": list(child.episodes.all()),
        "open_episode": next((e for e in child.episodes.all() if e.state in ACTIVE_STATES), None),
    }


def _children_with_records(user: Any, *pks: int) -> list[Child]:
    children = {
        c.pk: c
        for c in children_for(user)
        .filter(pk__in=pks)
        .prefetch_related(
            Prefetch("addresses", queryset=Address.objects.order_by("pk")),
            "carer_links__person",
            Prefetch("episodes", queryset=episodes_for(user).order_by("-opened_at")),
        )
    }
    if len(children) != len(set(pks)):
        raise Http404("No such child")
    return [children[pk] for pk in pks]


@role_required(Role.EHE_MANAGER)
@require_http_methods(["GET", "POST"])
def merge_confirm(request: HttpRequest, keep: int, duplicate: int) -> HttpResponse:
    """Both records side by side; the POST merges the second into the first."""
    user: Any = request.user
    if keep == duplicate:
        raise Http404("Choose two different records")
    kept, dup = _children_with_records(user, keep, duplicate)
    form = MergeConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            merge = children_merge(
                keep_child_id=kept.pk,
                duplicate_child_id=dup.pk,
                actor=user,
                expected_versions=form.expected_versions(),
            )
        except StaleVersion as stale:
            form.add_error(None, str(stale))
        except (PermissionDenied, TransitionRefused) as refused:
            form.add_error(None, str(refused) or "You cannot merge these records")
        except ValidationError as invalid:
            for message in invalid.messages:
                form.add_error(None, message)
        else:
            messages.success(request, f"{dup.full_name}'s record was merged into {kept.full_name}'s. You can undo this")
            target = _case_of(user, merge.kept_child_id)
            if target:
                return redirect("cases:detail", pk=target)
            return redirect("cases:merge_undo", pk=merge.pk)
        kept, dup = _children_with_records(user, keep, duplicate)
    access_log_record(user=user, children=[kept, dup], action=AccessAction.VIEW, path=request.path)
    records = [_record(kept), _record(dup)]
    versions = ",".join(f"{e.pk}:{e.version}" for record in records for e in record["episodes"])
    if not form.is_bound:
        form = MergeConfirmForm(initial={"versions": versions})
    context = {
        "form": form,
        "kept": records[0],
        "duplicate": records[1],
        "swap_url": reverse("cases:merge_confirm", kwargs={"keep": dup.pk, "duplicate": kept.pk}),
    }
    return render(request, "officers/merge_confirm.html", context, status=409 if form.errors else 200)


@role_required(Role.EHE_MANAGER)
@require_http_methods(["GET", "POST"])
def merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    merge = get_object_or_404(
        ChildMerge.objects.select_related("kept_child", "duplicate_child", "merged_by", "undone_by"),
        pk=pk,
        local_authority_id=user.local_authority_id,
    )
    errors: list[str] = []
    if request.method == "POST":
        try:
            children_unmerge(merge_id=merge.pk, actor=user)
        except (PermissionDenied, TransitionRefused) as refused:
            errors.append(str(refused) or "You cannot undo this merge")
        except ValidationError as invalid:
            errors += invalid.messages
        else:
            messages.success(request, f"Merge undone: {merge.duplicate_child.full_name}'s record is separate again")
            restored = _case_of(user, merge.duplicate_child_id)
            if restored:
                return redirect("cases:detail", pk=restored)
            return redirect("cases:merge_start")
    kept = child_for(user, merge.kept_child_id)
    duplicate = child_for(user, merge.duplicate_child_id)
    access_log_record(user=user, children=[kept, duplicate], action=AccessAction.VIEW, path=request.path)
    moved = merge.moved or {}
    context = {
        "merge": merge,
        "errors": errors,
        "moved_counts": {
            "addresses": len(moved.get("addresses", [])),
            "carers": len(moved.get("carer_links", [])),
            "closed_episodes": len(moved.get("closed_episodes", [])),
        },
        "merge_closed": episodes_for(user).filter(pk=moved.get("merge_closed_episode") or 0).first(),
        "moved_open": episodes_for(user).filter(pk=moved.get("moved_open_episode") or 0).first(),
    }
    return render(request, "officers/merge_undo.html", context, status=400 if errors else 200)
