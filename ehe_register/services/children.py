"""Finding or recording the child an intake is about: the one path shared by a school's
notification and an officer's new case.

Matching runs under an advisory lock on (LA, date of birth), so two intakes about the same new
child at the same moment give one child. A known child keeps what the LA holds: an intake only adds
what was missing (a permanent UPN, an NHS number, a social care status, parents, an address to
re-check). Likely matches are returned for the caller to store; nothing is merged silently.

Parents and carers are matched within the LA (DESIGN section 3): the same name and a shared phone
number, email address or current address make the same person, which is how siblings notified
separately come to share their parents' rows.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import F, Func, Q, QuerySet, Value

from ehe_register.models import Address, AddressKind, Child, ChildPerson, Person, SocialCareStatus
from ehe_register.services.matching import Sought, child_match, name_key
from ehe_register.validators import is_temporary_upn, normalise_uk_phone, year_group


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
    parents; with either, the likely matches found for the caller to store. Callers hold the
    identity lock.

    A new child whose UPN another record of the LA already holds is recorded without it: the UPN
    stays on the notification, and the likely match tells an officer which record holds it.
    """
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
        return ChildFound(child=result.certain, created=False, likely=result.likely)
    upn = details.upn if details.upn and not _upn_held(la_id, details.upn) else ""
    child = Child.objects.create(
        local_authority_id=la_id,
        legal_first_name=details.legal_first_name,
        legal_middle_names=details.legal_middle_names,
        legal_last_name=details.legal_last_name,
        preferred_first_name=details.preferred_first_name,
        date_of_birth=details.date_of_birth,
        sex=details.sex,
        upn=upn,
        nhs_number=details.nhs_number,
        sen_status=details.sen_status,
        social_care_status=details.social_care_status,
        social_worker_email=details.social_worker_email,
    )
    # A new child has no address and no parents yet: nothing to read before adding them.
    current = _record_address(child, details, current=None)
    _link_parents(child, details.parents, current=current, linked=set())
    return ChildFound(child=child, created=True, likely=result.likely)


def _upn_held(la_id: int, upn: str, *, besides: Child | None = None) -> bool:
    """Whether another record of the LA (merged-away ones included: they keep their UPN) holds the
    UPN as its own or a former one. A UPN belongs to one child."""
    holders = Child.objects.filter(Q(upn=upn) | Q(former_upns__contains=[upn]), local_authority_id=la_id)
    if besides is not None:
        holders = holders.exclude(pk=besides.pk)
    return holders.exists()


def _update_known_child(child: Child, details: ChildDetails) -> None:
    changed = []
    if _upn_is_news(child, details.upn):
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
    current = _record_address(child, details, current=child.addresses.filter(kind=AddressKind.CURRENT).first())
    _link_parents(child, details.parents, current=current)


def _upn_is_news(child: Child, upn: str) -> bool:
    """A UPN becomes the child's own when the child has none or only a temporary one and the new
    one is permanent. A UPN the child held before, or one another record holds, never does."""
    if not upn or upn == child.upn or upn in child.former_upns:
        return False
    if child.upn and not (is_temporary_upn(child.upn) and not is_temporary_upn(upn)):
        return False
    return not _upn_held(child.local_authority_id, upn, besides=child)


def _record_address(child: Child, details: ChildDetails, *, current: Address | None) -> Address | None:
    """The address becomes current for a child with none; a different one is kept as additional,
    for an officer to re-check. It never replaces the LA's current address. ``current``: the
    child's current address before; returns the one after."""
    if not (details.address_line_1 and details.postcode):
        return current
    if current is not None and (current.postcode, current.line_1.lower()) == (
        details.postcode,
        details.address_line_1.lower(),
    ):
        return current
    recorded = Address.objects.create(
        local_authority_id=child.local_authority_id,
        child=child,
        kind=AddressKind.CURRENT if current is None else AddressKind.ADDITIONAL,
        line_1=details.address_line_1,
        line_2=details.address_line_2,
        town=details.address_town,
        postcode=details.postcode,
    )
    return recorded if current is None else current


def _link_parents(
    child: Child,
    parents: tuple[ParentDetails, ...],
    *,
    current: Address | None,
    linked: set[tuple[str, str]] | None = None,
) -> None:
    """Link each parent or carer to the child: skipped when a person of that name is already
    linked to the child; otherwise the LA's existing person of that name who shares a phone
    number, email address or the child's current address (see :func:`person_match`), or else a
    new person.

    The people about to be matched are locked by LA and name, so two notifications about siblings
    arriving at once still give one row per parent.

    ``current`` is the child's current address; ``linked``, the name keys of the people already
    linked to the child (None: read them; empty: a new child, linked to nobody).
    """
    keys = [(name_key(p.first_name), name_key(p.last_name)) for p in parents]
    _person_identity_lock(child.local_authority_id, sorted({k for k in keys if all(k)}))
    new_child = linked is not None and not linked
    if linked is None:
        linked = {
            (name_key(link.person.first_name), name_key(link.person.last_name))
            for link in child.carer_links.select_related("person")
        }
    people: set[int] = set()  # linked by this call
    for parent, key in zip(parents, keys, strict=True):
        if all(key) and key in linked:
            continue
        person = person_match(
            la_id=child.local_authority_id,
            parent=parent,
            address=current if parent.lives_with_child else None,
            besides=child,
        )
        if person is None:
            person = Person.objects.create(
                local_authority_id=child.local_authority_id,
                first_name=parent.first_name,
                last_name=parent.last_name,
                emergency_phone=parent.emergency_phone,
                email=parent.email,
            )
        link = {
            "relationship": parent.relationship,
            "parental_responsibility": parent.parental_responsibility,
            "lives_with_child": parent.lives_with_child,
        }
        if new_child and person.pk not in people:
            ChildPerson.objects.create(child=child, person=person, **link)  # a new child has no links yet
        else:
            ChildPerson.objects.get_or_create(child=child, person=person, defaults=link)
        people.add(person.pk)
        linked.add(key)
        person_address_record(person, parent)


def person_match(
    *, la_id: int, parent: ParentDetails, address: Address | None = None, besides: Child | None = None
) -> Person | None:
    """The LA's person who is this parent: the same name (compared by :func:`name_key`, so in any
    script) and at least one shared contact: a phone number (either of theirs, written any way),
    an email address (ignoring case) or, for a parent living with the child, the current address
    (postcode and first line) of a child they live with. A shared name alone is never enough:
    two families can have a parent of the same name. An empty name key never matches. The oldest
    such person wins.
    """
    first, last = name_key(parent.first_name), name_key(parent.last_name)
    if not (first and last):
        return None
    # One indexed read per kind of shared contact, their ids put together (UNION): the same
    # conditions OR-ed in one WHERE, with the join to the children's links, read every person of
    # the LA and worked out both phone forms for each (190 ms at a million children).
    in_la = Person.objects.filter(local_authority_id=la_id)
    branches: list[QuerySet[Any]] = []
    phones = _phone_forms(parent.emergency_phone)
    if phones:
        branches.append(in_la.annotate(_digits=_digits("emergency_phone")).filter(_digits__in=phones).values("pk"))
        branches.append(in_la.annotate(_digits=_digits("other_phone")).filter(_digits__in=phones).values("pk"))
    if parent.email.strip():
        branches.append(in_la.filter(email__iexact=parent.email.strip()).values("pk"))
    if address is not None:
        line = _address_line_key(address.line_1)
        homes = Address.objects.filter(
            local_authority_id=la_id, kind=AddressKind.CURRENT, postcode__iexact=address.postcode
        )
        if besides is not None:
            homes = homes.exclude(child=besides)
        children_there = [
            child_id
            for child_id, line_1 in homes.values_list("child_id", "line_1")
            if line and _address_line_key(line_1) == line
        ]
        if children_there:
            branches.append(
                in_la.filter(child_links__child__in=children_there, child_links__lives_with_child=True).values("pk")
            )
    if not branches:
        return None
    ids = branches[0] if len(branches) == 1 else branches[0].union(*branches[1:])
    people = Person.objects.filter(pk__in=ids).order_by("pk")
    return next((p for p in people if (name_key(p.first_name), name_key(p.last_name)) == (first, last)), None)


def _digits(field_name: str) -> Func:
    return Func(F(field_name), Value(r"[^0-9]"), Value(""), Value("g"), function="regexp_replace")


def _phone_forms(value: str) -> list[str]:
    """The digit strings one UK number is stored as: national, or with the 44 / 0044 prefix."""
    digits = "".join(c for c in normalise_uk_phone(value or "") if c in "0123456789")
    if len(digits) < 6:
        return []
    if digits.startswith("0"):
        return [digits, "44" + digits[1:], "0044" + digits[1:], "440" + digits[1:]]
    return [digits]


def _address_line_key(value: str) -> str:
    """Letters and digits of an address line, case-folded: "12, Meadow Lane" = "12 meadow lane"."""
    return "".join(c for c in unicodedata.normalize("NFKC", value or "").casefold() if c.isalnum())


def _person_identity_lock(la_id: int, keys: list[tuple[str, str]]) -> None:
    """Serialise intakes that could record the same parent: same LA and name. Single 64-bit keys
    never meet the (LA, date of birth) child locks, which use the two-key form; sorted, so two
    intakes naming the same two parents cannot deadlock."""
    ids = sorted(
        int.from_bytes(hashlib.blake2b(f"{la_id}:{first}:{last}".encode(), digest_size=8).digest(), "big", signed=True)
        for first, last in keys
    )
    with connection.cursor() as cursor:
        for lock_id in ids:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])


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
