"""Finding the child a notification is about, without ever merging silently.

A UPN (current or former) that matches, or the same legal names and date of birth, is a certain
match. Near misses on the same date of birth (a preferred first name, swapped or hyphenated
surnames, a similar spelling) are likely matches, stored with their reasons for an officer.
Twins (same date of birth and address, different first names) are different children.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher

from django.db.models import Q

from ehe_register.models import Child, ChildMerge
from ehe_register.validators import is_temporary_upn


def name_key(value: str) -> str:
    """Lower case, accents and every non-letter removed: "O'Brien-Zoë" -> "obrienzoe"."""
    decomposed = unicodedata.normalize("NFKD", value or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z]", "", plain.lower())


def name_parts(value: str) -> set[str]:
    decomposed = unicodedata.normalize("NFKD", value or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return {re.sub(r"[^a-z]", "", part) for part in re.split(r"[\s\-]+", plain) if re.sub(r"[^a-z]", "", part)}


@dataclass(frozen=True)
class Sought:
    """The child as a notification describes them."""

    local_authority_id: int
    legal_first_name: str
    legal_last_name: str
    date_of_birth: date
    preferred_first_name: str = ""
    upn: str = ""
    postcode: str = ""


@dataclass
class MatchResult:
    certain: Child | None = None
    likely: list[tuple[Child, list[str]]] = field(default_factory=list)


def _upns_conflict(a: str, b: str) -> bool:
    """Two permanent UPNs that differ belong to two children (a UPN is for life)."""
    return bool(a and b and a != b and not is_temporary_upn(a) and not is_temporary_upn(b))


def child_match(sought: Sought) -> MatchResult:
    # A record merged into another is not a child of its own any more (until the merge is undone).
    merged_away = ChildMerge.objects.filter(undone_at__isnull=True).values("duplicate_child")
    in_la = Child.objects.filter(local_authority_id=sought.local_authority_id).exclude(pk__in=merged_away)
    if sought.upn:
        by_upn = in_la.filter(Q(upn=sought.upn) | Q(former_upns__contains=[sought.upn])).first()
        if by_upn is not None:
            return MatchResult(certain=by_upn)

    first, last = name_key(sought.legal_first_name), name_key(sought.legal_last_name)
    preferred = name_key(sought.preferred_first_name)
    result = MatchResult()
    for candidate in in_la.filter(date_of_birth=sought.date_of_birth).prefetch_related("addresses"):
        if _upns_conflict(sought.upn, candidate.upn):
            continue
        cand_first, cand_last = name_key(candidate.legal_first_name), name_key(candidate.legal_last_name)
        cand_preferred = name_key(candidate.preferred_first_name)
        if first == cand_first and last == cand_last:
            result.certain = result.certain or candidate
            continue
        reasons = _likely_reasons(first, last, preferred, cand_first, cand_last, cand_preferred, sought, candidate)
        if reasons:
            result.likely.append((candidate, ["same date of birth", *reasons]))
    if result.certain is not None:
        result.likely = []
    return result


def _likely_reasons(
    first: str,
    last: str,
    preferred: str,
    cand_first: str,
    cand_last: str,
    cand_preferred: str,
    sought: Sought,
    candidate: Child,
) -> list[str]:
    reasons = []
    firsts = {first, preferred} - {""}
    cand_firsts = {cand_first, cand_preferred} - {""}
    first_agrees = bool(firsts & cand_firsts)
    if first_agrees and last == cand_last:
        reasons.append("same surname; the first name matches a preferred name")
    if first == cand_last and last == cand_first:
        reasons.append("first name and surname swapped")
    if (
        first_agrees
        and last != cand_last
        and name_parts(sought.legal_last_name) & name_parts(candidate.legal_last_name)
    ):
        reasons.append("surnames share a part (hyphenated or double-barrelled)")
    if (
        not first_agrees
        and last == cand_last
        and SequenceMatcher(None, first, cand_first).ratio() >= 0.8
        and first[:1] == cand_first[:1]
    ):
        reasons.append("same surname and a similar first name")
    return reasons
