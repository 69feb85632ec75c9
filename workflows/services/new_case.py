"""A case opened by an officer: from a parent's own notice, another agency, or the officer's own
knowledge (DESIGN section 6, "New case").

The same matching and risk check as a school's notification, in one transaction and under the
same advisory lock as school intake (same LA and date of birth), so that an officer and a school
telling us about the same new child at the same moment give one child and one open case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from ehe_register.models import (
    Address,
    AddressKind,
    Child,
    ChildPerson,
    Person,
    PossibleMatch,
    SocialCareStatus,
    User,
)
from ehe_register.roles import Role
from ehe_register.services.intake import _lock_child_identity
from ehe_register.services.matching import Sought, child_match, name_key
from workflows.actors import actor_name
from workflows.models import Episode, Escalation, EscalationEvent
from workflows.services.casework import episode_assign
from workflows.services.intake import episode_open
from workflows.states import ACTIVE_STATES, Source

OFFICER_SOURCES = (Source.PARENT, Source.OTHER_AGENCY, Source.OFFICER)


class ChildHasOpenCase(Exception):
    """The child matched a known child who already has an open case: work on that case instead."""

    def __init__(self, episode: Episode) -> None:
        self.episode = episode
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"This child already has an open case, {self.episode.reference}. Record what you know on that case"


@dataclass(frozen=True)
class ParentDetails:
    first_name: str
    last_name: str
    relationship: str
    emergency_phone: str
    email: str = ""


@dataclass(frozen=True)
class NewCaseInput:
    legal_first_name: str
    legal_last_name: str
    date_of_birth: date
    source: str
    received_on: date
    legal_middle_names: str = ""
    preferred_first_name: str = ""
    sex: str = "U"
    upn: str = ""
    nhs_number: str = ""
    address_line_1: str = ""
    address_line_2: str = ""
    address_town: str = ""
    postcode: str = ""
    parent: ParentDetails | None = None
    source_detail: str = ""
    sen_status: str = "none"
    social_care_status: str = SocialCareStatus.NONE
    social_worker_email: str = ""
    concern: bool = False
    concern_detail: str = ""
    special_school_placed_by_la: bool = False
    attendance_order_in_force: bool = False
    reason_code: str = ""
    assign_to_me: bool = False


@dataclass(frozen=True)
class NewCaseResult:
    episode: Episode
    child_created: bool
    likely_matches: int


def case_open(*, data: NewCaseInput, actor: User, as_of: datetime | None = None) -> NewCaseResult:
    """Find or create the child, open the case and run the risk check, in one transaction.

    A certain match reuses the known child (and is refused with :class:`ChildHasOpenCase` when
    that child already has an open case); likely matches are stored as ``PossibleMatch`` rows for
    an officer to resolve, never merged. A concern sends the case to safeguarding review with
    ``concern_ticked`` raised; what the officer wrote about it goes on the escalation's log.
    """
    as_of = as_of or timezone.now()
    la_id = actor.local_authority_id
    if la_id is None or not (actor.roles & {Role.EHE_OFFICER, Role.EHE_MANAGER}):
        raise PermissionDenied("Only EHE officers and managers can open a case")
    if data.source not in OFFICER_SOURCES:
        raise ValidationError("Say where the information came from")
    if data.concern and not data.concern_detail.strip():
        raise ValidationError("Describe the safeguarding concern")
    with transaction.atomic():
        _lock_child_identity(la_id, data.date_of_birth)
        result = child_match(
            Sought(
                local_authority_id=la_id,
                legal_first_name=data.legal_first_name,
                legal_last_name=data.legal_last_name,
                date_of_birth=data.date_of_birth,
                preferred_first_name=data.preferred_first_name,
                upn=data.upn,
                postcode=data.postcode,
            )
        )
        likely = []
        if result.certain is not None:
            child = result.certain
            open_case = Episode.objects.filter(child=child, state__in=ACTIVE_STATES).first()
            if open_case is not None:
                raise ChildHasOpenCase(open_case)
            _update_known_child(child, data)
        else:
            child = _create_child(data, la_id)
            likely = result.likely
        for candidate, reasons in likely:
            PossibleMatch.objects.get_or_create(
                child=child, candidate=candidate, defaults={"reasons": reasons, "found_at": as_of}
            )
        if data.parent is not None:
            _link_parent(child, data.parent)

        episode = episode_open(
            child=child,
            source=Source(data.source),
            source_detail=data.source_detail,
            received_on=data.received_on,
            as_of=as_of,
            concern_at_intake=data.concern,
            special_school_placed_by_la=data.special_school_placed_by_la,
            attendance_order_in_force=data.attendance_order_in_force,
            reason_code=data.reason_code,
        )
        if data.concern:
            escalation = Escalation.objects.get(episode=episode, rule="concern_ticked", resolved_at__isnull=True)
            EscalationEvent.objects.create(
                escalation=escalation,
                kind="noted",
                level=escalation.level,
                actor_name=actor_name(actor),
                note=data.concern_detail.strip(),
                at=as_of,
            )
        if data.assign_to_me and actor.has_role(Role.EHE_OFFICER):
            episode = episode_assign(
                episode_id=episode.pk, officer=actor, actor=actor, expected_version=None, as_of=as_of
            )
        return NewCaseResult(
            episode=Episode.objects.get(pk=episode.pk),
            child_created=result.certain is None,
            likely_matches=len(likely),
        )


def _create_child(data: NewCaseInput, la_id: int) -> Child:
    child = Child.objects.create(
        local_authority_id=la_id,
        legal_first_name=data.legal_first_name,
        legal_middle_names=data.legal_middle_names,
        legal_last_name=data.legal_last_name,
        preferred_first_name=data.preferred_first_name,
        date_of_birth=data.date_of_birth,
        sex=data.sex,
        upn=data.upn,
        nhs_number=data.nhs_number,
        sen_status=data.sen_status,
        social_care_status=data.social_care_status,
        social_worker_email=data.social_worker_email,
    )
    if data.address_line_1 and data.postcode:
        _add_address(child, data, AddressKind.CURRENT)
    return child


def _update_known_child(child: Child, data: NewCaseInput) -> None:
    """What an officer's new case may add to a known child, never overwriting what the LA holds:
    a UPN (the old one kept as former), an NHS number, a social care status where none was known,
    and an address to check."""
    changed = []
    if data.upn and data.upn != child.upn:
        if child.upn:
            child.former_upns = [child.upn, *child.former_upns]
        child.upn = data.upn
        changed += ["upn", "former_upns"]
    if data.nhs_number and not child.nhs_number:
        child.nhs_number = data.nhs_number
        changed.append("nhs_number")
    if data.social_care_status != SocialCareStatus.NONE and child.social_care_status == SocialCareStatus.NONE:
        child.social_care_status = data.social_care_status
        changed.append("social_care_status")
    if data.social_worker_email and not child.social_worker_email:
        child.social_worker_email = data.social_worker_email
        changed.append("social_worker_email")
    if changed:
        child.save(update_fields=[*changed, "updated_at"])
    if data.address_line_1 and data.postcode:
        current = child.addresses.filter(kind=AddressKind.CURRENT).first()
        if current is None:
            _add_address(child, data, AddressKind.CURRENT)
        elif (current.postcode, current.line_1.lower()) != (data.postcode, data.address_line_1.lower()):
            _add_address(child, data, AddressKind.ADDITIONAL)


def _add_address(child: Child, data: NewCaseInput, kind: AddressKind) -> Address:
    return Address.objects.create(
        local_authority_id=child.local_authority_id,
        child=child,
        kind=kind,
        line_1=data.address_line_1,
        line_2=data.address_line_2,
        town=data.address_town,
        postcode=data.postcode,
    )


def _link_parent(child: Child, parent: ParentDetails) -> None:
    """Link the parent or carer, unless a person of that name is already linked to the child."""
    for link in child.carer_links.select_related("person"):
        same_name = (name_key(link.person.first_name), name_key(link.person.last_name)) == (
            name_key(parent.first_name),
            name_key(parent.last_name),
        )
        if same_name:
            return
    person = Person.objects.create(
        local_authority_id=child.local_authority_id,
        first_name=parent.first_name,
        last_name=parent.last_name,
        emergency_phone=parent.emergency_phone,
        email=parent.email,
    )
    ChildPerson.objects.create(child=child, person=person, relationship=parent.relationship)
