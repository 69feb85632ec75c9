"""Finding or recording the child an intake is about: the one path shared by a school's
notification and an officer's new case.

Matching runs under an advisory lock on (LA, date of birth), so two intakes about the same new
child at the same moment give one child. A known child keeps what the LA holds: an intake only adds
what was missing (a permanent UPN, an NHS number, a social care status, parents, an address to
re-check). Likely matches are returned for the caller to store; nothing is merged silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db import connection

from ehe_register.models import Address, AddressKind, Child, ChildPerson, Person, SocialCareStatus
from ehe_register.services.matching import Sought, child_match, name_key
from ehe_register.validators import year_group


@dataclass(frozen=True)
class ParentDetails:
    first_name: str
    last_name: str
    relationship: str
    emergency_phone: str
    email: str = ""
    parental_responsibility: bool = True
    lives_with_child: bool = True
    # The parent's own address when it is not the child's home address (regulation 13); blank
    # when they live at the child's address.
    address_line_1: str = ""
    address_line_2: str = ""
    address_town: str = ""
    postcode: str = ""


@dataclass(frozen=True)
class ChildDetails:
    legal_first_name: str
    legal_last_name: str
    date_of_birth: date
    legal_middle_names: str = ""
    preferred_first_name: str = ""
    sex: str = "U"
    upn: str = ""
    nhs_number: str = ""
    address_line_1: str = ""
    address_line_2: str = ""
    address_town: str = ""
    postcode: str = ""
    parents: tuple[ParentDetails, ...] = ()
    sen_status: str = "none"
    social_care_status: str = SocialCareStatus.NONE
    social_worker_email: str = ""
    school_year_group: str = ""  # as the school gave it: "reception", "1".."11", "other" or ""


@dataclass
class ChildFound:
    child: Child
    created: bool
    likely: list[tuple[Child, list[str]]] = field(default_factory=list)


def child_identity_lock(la_id: int, date_of_birth: date) -> None:
    """Serialise intakes that could be about the same child: same LA and date of birth."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [la_id, date_of_birth.toordinal()])


def child_find_or_create(*, la_id: int, details: ChildDetails) -> ChildFound:
    """The certain match (updated with what it lacked), or a new child with its address and
    parents plus the likely matches found. Callers hold the identity lock."""
    result = child_match(
        Sought(
            local_authority_id=la_id,
            legal_first_name=details.legal_first_name,
            legal_last_name=details.legal_last_name,
            date_of_birth=details.date_of_birth,
            preferred_first_name=details.preferred_first_name,
            upn=details.upn,
            postcode=details.postcode,
        )
    )
    if result.certain is not None:
        _update_known_child(result.certain, details)
        return ChildFound(child=result.certain, created=False)
    child = Child.objects.create(
        local_authority_id=la_id,
        legal_first_name=details.legal_first_name,
        legal_middle_names=details.legal_middle_names,
        legal_last_name=details.legal_last_name,
        preferred_first_name=details.preferred_first_name,
        date_of_birth=details.date_of_birth,
        sex=details.sex,
        upn=details.upn,
        nhs_number=details.nhs_number,
        sen_status=details.sen_status,
        social_care_status=details.social_care_status,
        social_worker_email=details.social_worker_email,
    )
    _record_address(child, details)
    _link_parents(child, details.parents)
    return ChildFound(child=child, created=True, likely=result.likely)


def _update_known_child(child: Child, details: ChildDetails) -> None:
    changed = []
    if details.upn and details.upn != child.upn:
        if child.upn:
            child.former_upns = [child.upn, *child.former_upns]
        child.upn = details.upn
        changed += ["upn", "former_upns"]
    if details.nhs_number and not child.nhs_number:
        child.nhs_number = details.nhs_number
        changed.append("nhs_number")
    if details.social_care_status != SocialCareStatus.NONE and child.social_care_status == SocialCareStatus.NONE:
        child.social_care_status = details.social_care_status
        changed.append("social_care_status")
    if details.social_worker_email and not child.social_worker_email:
        child.social_worker_email = details.social_worker_email
        changed.append("social_worker_email")
    if changed:
        child.save(update_fields=[*changed, "updated_at"])
    _record_address(child, details)
    _link_parents(child, details.parents)


def _record_address(child: Child, details: ChildDetails) -> None:
    """The address becomes current for a child with none; a different one is kept as additional,
    for an officer to re-check. It never replaces the LA's current address."""
    if not (details.address_line_1 and details.postcode):
        return
    current = child.addresses.filter(kind=AddressKind.CURRENT).first()
    if current is not None and (current.postcode, current.line_1.lower()) == (
        details.postcode,
        details.address_line_1.lower(),
    ):
        return
    Address.objects.create(
        local_authority_id=child.local_authority_id,
        child=child,
        kind=AddressKind.CURRENT if current is None else AddressKind.ADDITIONAL,
        line_1=details.address_line_1,
        line_2=details.address_line_2,
        town=details.address_town,
        postcode=details.postcode,
    )


def _link_parents(child: Child, parents: tuple[ParentDetails, ...]) -> None:
    """Link each parent or carer unless a person of that name is already linked to the child."""
    linked = {
        (name_key(link.person.first_name), name_key(link.person.last_name))
        for link in child.carer_links.select_related("person")
    }
    for parent in parents:
        if (name_key(parent.first_name), name_key(parent.last_name)) in linked:
            continue
        person = Person.objects.create(
            local_authority_id=child.local_authority_id,
            first_name=parent.first_name,
            last_name=parent.last_name,
            emergency_phone=parent.emergency_phone,
            email=parent.email,
        )
        ChildPerson.objects.create(
            child=child,
            person=person,
            relationship=parent.relationship,
            parental_responsibility=parent.parental_responsibility,
            lives_with_child=parent.lives_with_child,
        )
        person_address_record(person, parent)


def person_address_record(person: Person, parent: ParentDetails) -> None:
    """Keep a parent's own address (regulation 13) on the person, when they gave one and the
    person has none yet: the LA's record of where a parent lives is never replaced by an intake."""
    if not (parent.address_line_1 and parent.postcode) or person.address_line_1:
        return
    person.address_line_1 = parent.address_line_1
    person.address_line_2 = parent.address_line_2
    person.address_town = parent.address_town
    person.postcode = parent.postcode
    person.save(update_fields=["address_line_1", "address_line_2", "address_town", "postcode", "updated_at"])


def child_school_year_group_record(child: Child, details: ChildDetails, on: date) -> None:
    """Keep the year group the school gave on ``on`` beside the one the date of birth gives for
    that day, so the case page can show both and flag a disagreement. The latest school's word
    replaces an earlier one; an intake that gives none leaves it alone."""
    if not details.school_year_group:
        return
    child.school_year_group = details.school_year_group
    child.school_year_group_on = on
    child.derived_year_group = year_group(child.date_of_birth, on)
    child.save(update_fields=["school_year_group", "school_year_group_on", "derived_year_group", "updated_at"])
