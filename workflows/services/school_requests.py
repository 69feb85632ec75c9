"""Asking a child's last school what address and contacts it holds, and recording its answer.

The officer sends the request (:func:`school_contact_request_send`); the school's users are told
and answer in the school portal (:func:`school_contact_request_answer`). The product, not the
school, compares the answer with the LA's current address (normalised postcode and first address
line, ignoring case) and records the school's AddressCheck through ``address_check_record``, so
verification follows exactly as for any other check. The school never sees the LA's address,
not even as "it matches": the comparison is for the LA's eyes only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from ehe_register.models import (
    Address,
    AddressKind,
    CheckMethod,
    CheckOutcome,
    School,
    SchoolContactRequest,
    User,
)
from ehe_register.roles import Role
from ehe_register.validators import normalise_postcode, normalise_uk_phone
from notifications.models import Channel
from notifications.services import message_enqueue
from workflows.models import Episode
from workflows.services.casework import CASEWORKERS, address_check_record
from workflows.services.transitions import episode_lock, episode_touch

ALREADY_ANSWERED = "This request has already been answered"
NO_LONGER_NEEDED = "The local authority has closed this case, so this request no longer needs an answer"


def _is_caseworker_of(user: User | None, episode: Episode) -> bool:
    return (
        user is not None
        and user.is_active
        and user.local_authority_id == episode.local_authority_id
        and bool(user.roles & CASEWORKERS)
    )


def school_users(school: School) -> list[User]:
    """The active users who act for ``school`` (the people a request goes to)."""
    return list(User.objects.filter(schools=school, is_active=True, groups__name=Role.SCHOOL_USER.value).distinct())


def school_contact_request_send(
    *, episode_id: int, school: School, actor: User, expected_version: int | None, as_of: datetime | None = None
) -> SchoolContactRequest:
    """Ask ``school`` what address and contacts it holds for the case's child, and tell its users.

    The messages carry the request's id and the path of its page only: never the child's name."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        episode = episode_lock(episode_id, expected_version)
        if not _is_caseworker_of(actor, episode):
            raise PermissionDenied("Only the EHE team can ask a school to confirm contact details")
        if not episode.is_active:
            raise ValidationError("This case is closed. Reopen it before asking a school")
        recipients = school_users(school)
        if not recipients:
            raise ValidationError(f"No one at {school.name} uses this service yet. Contact the school another way")
        waiting = SchoolContactRequest.objects.filter(episode=episode, school=school, answered_at__isnull=True).first()
        if waiting is not None:
            asked_on = date_format(timezone.localtime(waiting.requested_at), "j F Y")
            raise ValidationError(f"{school.name} was asked on {asked_on} and has not answered yet")
        try:
            with transaction.atomic():
                request = SchoolContactRequest.objects.create(
                    episode=episode, school=school, requested_by=actor, requested_at=as_of
                )
        except IntegrityError:  # asked by someone else a moment ago
            raise ValidationError(f"{school.name} has just been asked and has not answered yet") from None
        episode_touch(episode, actor, as_of)
        path = reverse("schools:request_answer", kwargs={"pk": request.pk})
        for person in recipients:
            for channel in (Channel.IN_APP, Channel.EMAIL):
                message_enqueue(
                    template="emails/school_request",
                    idempotency_key=f"school_request:{request.pk}:{person.pk}:{channel}",
                    channel=channel,
                    recipient_user=person,
                    local_authority=episode.local_authority,
                    payload={"request_id": request.pk, "path": path},
                    as_of=as_of,
                )
        return request


@dataclass(frozen=True)
class SchoolAnswer:
    """What the school holds for the pupil."""

    line_1: str
    line_2: str
    town: str
    postcode: str
    phone: str = ""


def _same_line(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def address_differences(answer: SchoolAnswer, current: Address) -> list[str]:
    """How the school's address differs from the LA's current one, in words for the case record
    (empty when they match on normalised postcode and first address line)."""
    differences = []
    if normalise_postcode(answer.postcode) != normalise_postcode(current.postcode):
        differences.append(f"postcode {normalise_postcode(answer.postcode)} (ours: {current.postcode})")
    if not _same_line(answer.line_1, current.line_1):
        differences.append(f"first line of the address '{answer.line_1}' (ours: '{current.line_1}')")
    return differences


def _phone_note(answer: SchoolAnswer, episode: Episode) -> str:
    if not answer.phone:
        return "The school gave no parent's phone number."
    phones = {
        normalise_uk_phone(number)
        for link in episode.child.carer_links.select_related("person")
        for number in (link.person.emergency_phone, link.person.other_phone)
        if number
    }
    known = "a number we hold" if normalise_uk_phone(answer.phone) in phones else "not a number we hold"
    return f"The school holds the parent's phone {answer.phone} ({known})."


def _recording_officer(request: SchoolContactRequest, episode: Episode) -> User:
    """Whose name the check is recorded in: the officer who asked, or (if they have since left the
    team) the case's officer, or an EHE manager of the LA. ``address_check_record`` records checks
    by the EHE team; the note names the school user who answered."""
    candidates = [request.requested_by, episode.assigned_officer]
    for candidate in candidates:
        if _is_caseworker_of(candidate, episode):
            return candidate  # type: ignore[return-value]
    manager = (
        User.objects.filter(
            local_authority_id=episode.local_authority_id, groups__name=Role.EHE_MANAGER.value, is_active=True
        )
        .order_by("pk")
        .first()
    )
    if manager is None:
        raise ValidationError("The local authority cannot take answers at the moment. Try again later")
    return manager


def school_contact_request_answer(
    *, request_id: int, actor: User, answer: SchoolAnswer, as_of: datetime | None = None
) -> SchoolContactRequest:
    """Record the school's answer, compare it with the LA's current address, and record the
    school's AddressCheck (confirmed when they match, could not confirm with the difference named
    when they do not). Verification, and the case's move on from address verification, follow."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        request = (
            SchoolContactRequest.objects.select_for_update(of=("self",))
            .select_related("school", "requested_by")
            .get(pk=request_id)
        )
        if not actor.is_active or not actor.schools.filter(pk=request.school_id).exists():
            raise PermissionDenied("Only the school that was asked can answer this request")
        if request.is_answered:
            raise ValidationError(ALREADY_ANSWERED)
        episode = Episode.objects.select_related("child", "assigned_officer").get(pk=request.episode_id)
        if not episode.is_active:
            raise ValidationError(NO_LONGER_NEEDED)
        current = episode.child.addresses.filter(kind=AddressKind.CURRENT).first()
        answered_by = f"Answered by {actor.display_name} of {request.school.name} in the school portal."
        check = None
        if current is None:
            outcome = CheckOutcome.COULD_NOT_CONFIRM
        else:
            differences = address_differences(answer, current)
            outcome = CheckOutcome.COULD_NOT_CONFIRM if differences else CheckOutcome.CONFIRMED
            held = ", ".join(p for p in (answer.line_1, answer.line_2, answer.town, answer.postcode) if p)
            lines = [answered_by, f"The school holds: {held}."]
            if differences:
                lines.append("It differs from our current address in the " + " and the ".join(differences) + ".")
            lines.append(_phone_note(answer, episode))
            check = address_check_record(
                episode_id=episode.pk,
                actor=_recording_officer(request, episode),
                expected_version=None,
                method=CheckMethod.SCHOOL,
                outcome=outcome,
                checked_at=as_of,
                notes="\n".join(lines),
                school=request.school,
                as_of=as_of,
            )
        SchoolContactRequest.objects.filter(pk=request.pk).update(
            answered_by=actor,
            answered_at=as_of,
            answered_line_1=answer.line_1,
            answered_line_2=answer.line_2,
            answered_town=answer.town,
            answered_postcode=normalise_postcode(answer.postcode),
            answered_phone=answer.phone,
            outcome=outcome,
            address_check=check,
        )
        return SchoolContactRequest.objects.get(pk=request.pk)
