"""Merging two child records found to be the same child, and undoing it (DESIGN section 6).

A likely match is never merged silently: an officer marks it as the same child
(:func:`possible_match_resolve`) and an EHE manager merges the records (:func:`children_merge`).
The merge moves the duplicate's addresses, parents and carers and episodes (activities, checks,
reviews and escalations travel with their episodes) to the kept child, closes the duplicate's
open case with the ``merge_close`` transition into the kept child's open case, and records what
moved in a :class:`ChildMerge` row, so that :func:`children_unmerge` can put everything back and
run the ``unmerge`` transition. Off-roll notifications are immutable and keep pointing at the
record they were about.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ehe_register.models import (
    Address,
    AddressKind,
    Child,
    ChildMerge,
    ChildPerson,
    MatchStatus,
    PossibleMatch,
    User,
)
from ehe_register.roles import Role
from workflows.escalation_rules import RULES, SAFEGUARDING_RULE_NAMES
from workflows.models import Episode, Escalation
from workflows.services.escalations import escalation_raise, escalation_resolve
from workflows.services.transitions import episode_lock, episode_touch, episode_transition
from workflows.states import ACTIVE_STATES


def _require_manager(actor: User, la_id: int) -> None:
    if actor.local_authority_id != la_id or not actor.has_role(Role.EHE_MANAGER):
        raise PermissionDenied("Only an EHE manager of this local authority can merge or unmerge records")


def _lock_children(*child_ids: int) -> dict[int, Child]:
    children = {c.pk: c for c in Child.objects.select_for_update().filter(pk__in=child_ids).order_by("pk")}
    if len(children) != len(set(child_ids)):
        raise ValidationError("One of the child records no longer exists")
    return children


def possible_match_resolve(
    *, match_id: int, same_child: bool, actor: User, as_of: datetime | None = None
) -> PossibleMatch:
    """Record an officer's answer on a likely match: the same child (the records then wait for an
    EHE manager to merge them) or a different child. Nothing is merged here."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        match = PossibleMatch.objects.select_for_update().select_related("child").get(pk=match_id)
        if actor.local_authority_id != match.child.local_authority_id or not (
            actor.roles & {Role.EHE_OFFICER, Role.EHE_MANAGER}
        ):
            raise PermissionDenied("Only an EHE officer or manager of this local authority can resolve a match")
        if match.status != MatchStatus.OPEN:
            raise ValidationError("This match has already been resolved")
        match.status = MatchStatus.SAME_CHILD if same_child else MatchStatus.DIFFERENT
        match.resolved_by = actor
        match.resolved_at = as_of
        match.save(update_fields=["status", "resolved_by", "resolved_at"])
        return match


def children_merge(
    *,
    keep_child_id: int,
    duplicate_child_id: int,
    actor: User,
    as_of: datetime | None = None,
    expected_versions: Mapping[int, int] | None = None,
) -> ChildMerge:
    """Merge the duplicate child record into the kept one, in one transaction.

    ``expected_versions`` maps episode ids to the versions the manager saw on the confirm page; a
    case changed since, or one missing from it (opened after the page was loaded, or a page that
    sent no versions), is refused with ``StaleVersion``. ``None`` (no page behind the call: tests
    and scripts) checks nothing. The duplicate's open case is closed by
    ``merge_close`` into the kept child's open case (refused while it has an open safeguarding
    escalation), or, when the kept child has no open case, moved over as it is.
    """
    as_of = as_of or timezone.now()
    if keep_child_id == duplicate_child_id:
        raise ValidationError("Choose two different child records")
    with transaction.atomic():
        children = _lock_children(keep_child_id, duplicate_child_id)
        kept, duplicate = children[keep_child_id], children[duplicate_child_id]
        _require_manager(actor, kept.local_authority_id)
        if duplicate.local_authority_id != kept.local_authority_id:
            raise PermissionDenied("Both records must belong to your local authority")
        merged_away = ChildMerge.objects.filter(
            duplicate_child_id__in=[kept.pk, duplicate.pk], undone_at__isnull=True
        ).exists()
        if merged_away:
            raise ValidationError("One of these records has already been merged into another. Undo that merge first")

        # Versions start at 1, so a case the manager was not shown always counts as changed.
        episodes = [
            episode_lock(episode_id, None if expected_versions is None else expected_versions.get(episode_id, 0))
            for episode_id in Episode.objects.filter(child__in=[kept.pk, duplicate.pk])
            .order_by("pk")
            .values_list("pk", flat=True)
        ]
        kept_open = next((e for e in episodes if e.child_id == kept.pk and e.is_active), None)
        duplicate_open = next((e for e in episodes if e.child_id == duplicate.pk and e.is_active), None)
        moved: dict[str, Any] = {
            "closed_episodes": [e.pk for e in episodes if e.child_id == duplicate.pk and not e.is_active],
            "merge_closed_episode": None,
            "into_episode": None,
            "moved_open_episode": None,
            "resolved_escalations": [],
        }

        if duplicate_open is not None and kept_open is not None:
            if duplicate_open.escalations.filter(rule__in=SAFEGUARDING_RULE_NAMES, resolved_at__isnull=True).exists():
                raise ValidationError(
                    f"{duplicate_open.reference} has an open safeguarding escalation. "
                    "The front door must decide on it before the records can be merged"
                )
            episode_transition(
                episode_id=duplicate_open.pk,
                transition="merge_close",
                actor=actor,
                expected_version=None,
                reason=f"Duplicate record of {kept.full_name}",
                as_of=as_of,
                into=kept_open,
            )
            moved["merge_closed_episode"] = duplicate_open.pk
            moved["into_episode"] = kept_open.pk
            # A closed duplicate's clocks must not keep climbing the ladder.
            for escalation in Escalation.objects.filter(episode=duplicate_open, resolved_at__isnull=True):
                escalation_resolve(
                    episode=duplicate_open,
                    rule_name=escalation.rule,
                    as_of=as_of,
                    actor=actor,
                    note=f"Merged into {kept_open.reference}",
                )
                moved["resolved_escalations"].append(escalation.rule)
            Episode.objects.filter(pk=duplicate_open.pk).update(child=kept)
        elif duplicate_open is not None:
            Episode.objects.filter(pk=duplicate_open.pk).update(child=kept)
            episode_touch(duplicate_open, actor, as_of)
            moved["moved_open_episode"] = duplicate_open.pk
        Episode.objects.filter(pk__in=moved["closed_episodes"]).update(child=kept)

        kept_has_current = Address.objects.filter(child=kept, kind=AddressKind.CURRENT).exists()
        moved["addresses"] = []
        for address_id, kind in Address.objects.filter(child=duplicate).order_by("pk").values_list("pk", "kind"):
            new_kind = AddressKind.ADDITIONAL if kind == AddressKind.CURRENT and kept_has_current else kind
            Address.objects.filter(pk=address_id).update(child=kept, kind=new_kind)
            moved["addresses"].append([address_id, kind])

        kept_people = ChildPerson.objects.filter(child=kept).values("person_id")
        links = ChildPerson.objects.filter(child=duplicate).exclude(person_id__in=kept_people)
        moved["carer_links"] = sorted(links.values_list("pk", flat=True))
        ChildPerson.objects.filter(pk__in=moved["carer_links"]).update(child=kept)

        moved["added_former_upn"] = ""
        if duplicate.upn and duplicate.upn != kept.upn and duplicate.upn not in kept.former_upns:
            kept.former_upns = [duplicate.upn, *kept.former_upns]
            kept.save(update_fields=["former_upns", "updated_at"])
            moved["added_former_upn"] = duplicate.upn

        between = PossibleMatch.objects.select_for_update().filter(
            Q(child=kept, candidate=duplicate) | Q(child=duplicate, candidate=kept)
        )
        moved["matches"] = [[m.pk, m.status] for m in between.order_by("pk") if m.status == MatchStatus.OPEN]
        PossibleMatch.objects.filter(pk__in=[pk for pk, _ in moved["matches"]]).update(
            status=MatchStatus.SAME_CHILD, resolved_by=actor, resolved_at=as_of
        )

        return ChildMerge.objects.create(
            local_authority_id=kept.local_authority_id,
            kept_child=kept,
            duplicate_child=duplicate,
            moved=moved,
            merged_by=actor,
            merged_at=as_of,
        )


def children_unmerge(*, merge_id: int, actor: User, as_of: datetime | None = None) -> ChildMerge:
    """Undo a merge: everything it moved goes back to the duplicate record, and the case it
    closed returns, through the ``unmerge`` transition, to the state it was in."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        merge = ChildMerge.objects.select_for_update().get(pk=merge_id)
        _require_manager(actor, merge.local_authority_id)
        if merge.undone_at is not None:
            raise ValidationError("This merge has already been undone")
        children = _lock_children(merge.kept_child_id, merge.duplicate_child_id)
        kept, duplicate = children[merge.kept_child_id], children[merge.duplicate_child_id]
        moved = merge.moved
        closed_by_merge = moved.get("merge_closed_episode")
        moved_open = moved.get("moved_open_episode")
        if (closed_by_merge or moved_open) and Episode.objects.filter(
            child=duplicate, state__in=ACTIVE_STATES
        ).exists():
            raise ValidationError("The duplicate record has an open case of its own now: it cannot take another")

        back = [*moved.get("closed_episodes", []), *[pk for pk in (closed_by_merge, moved_open) if pk]]
        for episode_id in sorted(back):
            episode_lock(episode_id, None)
        Episode.objects.filter(pk__in=back).update(child=duplicate)
        if closed_by_merge:
            episode = episode_transition(
                episode_id=closed_by_merge,
                transition="unmerge",
                actor=actor,
                expected_version=None,
                reason=f"Merge into {kept.full_name} undone",
                as_of=as_of,
            )
            for rule_name in moved.get("resolved_escalations", []):
                if not RULES[rule_name].notify_only:
                    escalation_raise(
                        episode=episode, rule_name=rule_name, as_of=as_of, actor=actor, note="Merge undone"
                    )
        if moved_open:
            episode_touch(Episode.objects.get(pk=moved_open), actor, as_of)

        for address_id, kind in moved.get("addresses", []):
            Address.objects.filter(pk=address_id).update(child=duplicate, kind=kind)
        ChildPerson.objects.filter(pk__in=moved.get("carer_links", [])).update(child=duplicate)

        added_upn = moved.get("added_former_upn")
        if added_upn and added_upn in kept.former_upns:
            kept.former_upns = [upn for upn in kept.former_upns if upn != added_upn]
            kept.save(update_fields=["former_upns", "updated_at"])

        for match_id, status in moved.get("matches", []):
            PossibleMatch.objects.filter(pk=match_id).update(status=status, resolved_by=None, resolved_at=None)

        merge.undone_by = actor
        merge.undone_at = as_of
        merge.save(update_fields=["undone_by", "undone_at"])
        return merge
