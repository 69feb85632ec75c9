"""Legal holds: an EHE manager keeps a child's records from retention (a claim, an inquiry, a
complaint), and lifts the hold when it is no longer needed. The hold names who placed it, why
and until when; lifting it names who and why. Retention reads holds in force on the day it runs
(``workflows.services.retention.hold_in_force``)."""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from ehe_register.models import Child, LegalHold, User
from ehe_register.roles import Role


def _may_hold(actor: User, local_authority_id: int) -> None:
    if not (actor.has_role(Role.EHE_MANAGER) and actor.local_authority_id == local_authority_id):
        raise PermissionDenied("Only an EHE manager of the child's local authority can place or lift a legal hold")


def legal_hold_place(
    *, child_id: int, reason: str, until: date | None, actor: User, as_of: datetime | None = None
) -> LegalHold:
    """Place a hold on the child's records from now until ``until`` (None: until lifted)."""
    now = as_of or timezone.now()
    with transaction.atomic():
        child = Child.objects.select_for_update().get(pk=child_id)
        _may_hold(actor, child.local_authority_id)
        if child.anonymised_at is not None:
            raise ValidationError("This child's records have already been anonymised: there is nothing to hold")
        if until is not None and until < timezone.localdate(now):
            raise ValidationError("The hold must last until today or a later day")
        return LegalHold.objects.create(
            local_authority_id=child.local_authority_id,
            child=child,
            reason=reason,
            until=until,
            placed_by=actor,
            placed_at=now,
        )


def legal_hold_lift(*, hold_id: int, reason: str, actor: User, as_of: datetime | None = None) -> LegalHold:
    """Lift a hold (once: lifting a lifted hold is refused)."""
    now = as_of or timezone.now()
    with transaction.atomic():
        hold = LegalHold.objects.select_for_update().get(pk=hold_id)
        _may_hold(actor, hold.local_authority_id)
        if hold.lifted_at is not None:
            raise ValidationError("This hold has already been lifted")
        hold.lifted_at = now
        hold.lifted_by = actor
        hold.lift_reason = reason
        hold.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        return hold
