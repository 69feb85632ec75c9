"""A merge of two child records found to be the same child, kept so that it can be undone."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ChildMerge(models.Model):
    """One merge of ``duplicate_child`` into ``kept_child`` and, once undone, who undid it.

    ``moved`` records exactly what the merge changed, so that the undo puts it all back:

    - ``addresses``: ``[[address_id, kind_before], ...]`` moved from the duplicate to the kept child
      (a duplicate's current address becomes an additional one when the kept child has one);
    - ``carer_links``: ChildPerson ids moved (a parent already linked to the kept child stays put);
    - ``closed_episodes``: the duplicate's closed episodes, moved to the kept child;
    - ``merge_closed_episode`` / ``into_episode``: the duplicate's open episode closed by
      ``merge_close`` into the kept child's open episode (then moved to the kept child);
    - ``moved_open_episode``: the duplicate's open episode, moved as it was when the kept child had
      none;
    - ``resolved_escalations``: open escalations on the merge-closed episode, resolved by the merge;
    - ``added_former_upn``: the duplicate's UPN added to the kept child's former UPNs;
    - ``matches``: ``[[possible_match_id, status_before], ...]`` marked as the same child.

    The duplicate's off-roll notifications keep pointing at it: they are immutable.
    """

    local_authority = models.ForeignKey("ehe_register.LocalAuthority", on_delete=models.PROTECT, related_name="+")
    kept_child = models.ForeignKey("ehe_register.Child", on_delete=models.PROTECT, related_name="merges_kept")
    duplicate_child = models.ForeignKey(
        "ehe_register.Child", on_delete=models.PROTECT, related_name="merges_as_duplicate"
    )
    moved = models.JSONField(default=dict)
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    merged_at = models.DateTimeField()
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, blank=True, null=True, related_name="+"
    )
    undone_at = models.DateTimeField(blank=True, null=True)

    class Meta:
        ordering = ["-merged_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kept_child=models.F("duplicate_child")), name="child_merge_two_children"
            ),
            # A record merged away cannot be merged again until that merge is undone.
            models.UniqueConstraint(
                fields=["duplicate_child"], condition=models.Q(undone_at__isnull=True), name="child_merged_once"
            ),
        ]

    def __str__(self) -> str:
        return f"Child {self.duplicate_child_id} merged into {self.kept_child_id}"

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None
