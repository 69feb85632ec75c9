"""Finding the child a notification is about, without ever joining two children silently.

Only two things make a certain match (DESIGN section 3, "Matching"):

- the UPN (current or former) agrees, and so do the legal names and the date of birth;
- the legal names and date of birth agree, and the UPNs do not conflict (two different permanent
  UPNs belong to two children: a UPN is for life).

Every disagreement between identifiers and names is a likely match, stored with its reasons for an
officer to resolve: the same UPN with different names or a different date of birth; the same names
and date of birth with different UPNs; a former name; a swapped name order; a preferred first name;
a hyphenated surname; a similar spelling. Twins (same date of birth and address, different first
names) are different children.

Names are compared through :func:`name_key`, in every script. The key is only ever compared, never
stored or shown: user text is kept as it was typed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher
from typing import ClassVar

from django.db.models import BinaryField, CharField, F, Func, JSONField, Q, Value
from django.db.models.functions import NullIf
from django.db.models.lookups import GreaterThan

from ehe_register.models import AnyOf, Child, ChildMerge
from ehe_register.validators import is_temporary_upn

# Latin letters with a stroke or bar carry no combining mark after NFKD, yet people without the
# key type the plain letter ("Lukasz" for "Łukasz", "Oyvind" for "Øyvind").
_LATIN_FOLDS = str.maketrans(
    {"ł": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "ŧ": "t", "\u0131": "i", "æ": "ae", "œ": "oe", "þ": "th"}
)
# Marks that are accents or optional vowel points rather than part of a letter: the combining
# diacritics NFKD splits off Latin, Greek and Cyrillic letters, Arabic harakat (and the hamza
# carried by alef) and Hebrew points. Marks of other scripts (Devanagari vowel signs, the kana
# voicing marks) spell a different name, so they are kept.
_ACCENT_RANGES = (
    (0x0300, 0x036F),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
    (0x0591, 0x05C7),
    (0x064B, 0x065F),
)
# Modifier letters typed as apostrophes (U+02BC, U+02BB, U+02B9 ...) and the Arabic tatweel that only stretches a word.
_NOT_NAME_LETTERS = frozenset("\u02b9\u02bb\u02bc\u02bd\u02be\u02bf\u0640")


_NOT_ASCII_LETTERS = re.compile("[^a-z]+")


_ACCENTS = frozenset(chr(code) for low, high in _ACCENT_RANGES for code in range(low, high + 1))


def _is_accent(character: str) -> bool:
    return character in _ACCENTS


_REMEMBERED: ContextVar[dict[str, str] | None] = ContextVar("name_keys_remembered", default=None)
#: Names whose keys one ``name_keys_remembered`` block keeps at most (some tens of megabytes).
NAME_KEYS_REMEMBERED = 250_000


@contextmanager
def name_keys_remembered() -> Iterator[None]:
    """Within this block (this thread or task), :func:`name_key` keeps the key of each name it is
    given, up to ``NAME_KEYS_REMEMBERED`` names, and gives it again for the same name instead of
    working it out: a bulk import compares every chunk's children with the LA's children born on
    the chunk's dates, and so keys the same names chunk after chunk. The keys go at the end."""
    token = _REMEMBERED.set({})
    try:
        yield
    finally:
        _REMEMBERED.reset(token)


def name_key(value: str) -> str:
    """The form in which two spellings of a name are compared: case-folded, accents removed,
    letters of every script kept, everything else (spaces, hyphens, apostrophes, digits,
    punctuation) dropped. "O'Brien-Zoë" -> "obrienzoe", "Алёна" -> "алена", "王小明" -> "王小明".

    An empty key (a name of punctuation or digits only) is never a match for anything.
    """
    value = value or ""
    remembered = _REMEMBERED.get()
    if remembered is None:
        return _key(value)
    key = remembered.get(value)
    if key is None:
        key = _key(value)
        if len(remembered) < NAME_KEYS_REMEMBERED:
            remembered[value] = key
    return key


def _key(value: str) -> str:
    """:func:`name_key`, worked out."""
    if value.isascii():  # the same key, without the Unicode work: only a-z are letters in ASCII
        return _NOT_ASCII_LETTERS.sub("", value.lower())
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", value or "").casefold())
    kept: list[str] = []
    for character in folded.translate(_LATIN_FOLDS):
        if character.isascii():  # most of the letters: an ASCII letter is kept, nothing else is
            if character.isalpha():
                kept.append(character)
            continue
        category = unicodedata.category(character)
        letter = category[0] == "L" and character not in _NOT_NAME_LETTERS
        spelling_mark = category[0] == "M" and bool(kept) and not _is_accent(character)
        if letter or spelling_mark:
            kept.append(character)
    return "".join(kept)


_ASCII_UPPER, _ASCII_LOWER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"


def name_key_may_be(field: str, keys: Iterable[str]) -> Q:
    """A filter that every row whose ``name_key`` of ``field`` is one of ``keys`` passes (and
    some others do), so that a read for names can leave most other rows in the database.

    For an ASCII name the database works out :func:`name_key` exactly (letters lowered by
    ``translate``, which no locale changes, everything but a to z dropped) and compares it; a name
    with any other character always passes, to be compared here. Only a prefilter: the caller
    still compares ``name_key`` itself."""
    sql_key = Func(
        Func(F(field), Value(_ASCII_UPPER), Value(_ASCII_LOWER), function="translate"),
        Value(f"[^{_ASCII_LOWER}]+"),
        Value(""),
        Value("g"),
        function="regexp_replace",
        output_field=CharField(),
    )
    # Written as UTF-8 (whatever the database's own encoding), a name is ASCII exactly when it has
    # as many bytes as characters.
    utf8 = Func(F(field), Value("UTF8"), function="convert_to", output_field=BinaryField())
    not_ascii = Q(GreaterThan(Func(utf8, function="octet_length"), Func(F(field), function="char_length")))
    return not_ascii | Q(AnyOf(sql_key, sorted(set(keys))))


def name_parts(value: str) -> set[str]:
    """The keys of the words of a name, split at spaces and dashes (not apostrophes: "O'Brien" is
    one word): "Fletcher-Hale" -> {"fletcher", "hale"}."""
    words = "".join(" " if unicodedata.category(c) == "Pd" else c for c in value or "").split()
    return {key for key in map(name_key, words) if key}


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
    """``certain`` is the child the intake is about, if any; ``likely`` lists children an officer
    must compare with it, each with the reasons in plain English. With a certain match, ``likely``
    holds only children whose UPN disagrees with the names (an identifier conflict to resolve)."""

    certain: Child | None = None
    likely: list[tuple[Child, list[str]]] = field(default_factory=list)


def _upns_conflict(sought: str, candidate: _Candidate) -> bool:
    """Two permanent UPNs that differ belong to two children (a UPN is for life). A temporary UPN
    is replaced by the permanent one, so it conflicts with nothing."""
    return bool(
        sought
        and candidate.upn
        and sought != candidate.upn
        and sought not in candidate.former_upns
        and not is_temporary_upn(sought)
        and not is_temporary_upn(candidate.upn)
    )


def _upn_agrees(sought: str, candidate: _Candidate) -> bool:
    return bool(sought) and (sought == candidate.upn or sought in candidate.former_upns)


def _merged_in_names(children: Iterable[_Candidate]) -> dict[int, set[tuple[str, str]]]:
    """For each child, the legal names of the records merged into it (and into those): an EHE
    manager has confirmed they are the same child, so those names are names of this child."""
    names: dict[int, set[tuple[str, str]]] = {}
    owner = {child.pk: child.pk for child in children}
    frontier = set(owner)
    while frontier:
        merges = ChildMerge.objects.filter(kept_child_id__any=sorted(frontier), undone_at__isnull=True).select_related(
            "duplicate_child"
        )
        frontier = set()
        for merge in merges:
            duplicate = merge.duplicate_child
            if duplicate.pk in owner:
                continue
            owner[duplicate.pk] = owner[merge.kept_child_id]
            names.setdefault(owner[duplicate.pk], set()).add(
                (name_key(duplicate.legal_first_name), name_key(duplicate.legal_last_name))
            )
            frontier.add(duplicate.pk)
    return names


def child_match(sought: Sought) -> MatchResult:
    """Compare the sought child with the LA's children who share its UPN or its date of birth."""
    return children_match([sought])[0]


def children_match(soughts: Sequence[Sought]) -> list[MatchResult]:
    """:func:`child_match` for many sought children of one LA at once: the candidates of all of
    them are read in one query, and each is compared with its own by the same rules (an import's
    set-based matching; the result for each is exactly what ``child_match`` gives for it alone)."""
    if not soughts:
        return []
    la_ids = {sought.local_authority_id for sought in soughts}
    if len(la_ids) != 1:
        raise ValueError("children_match compares children of one local authority")
    # A record merged into another is not a child of its own any more (until the merge is undone).
    merged_away = ChildMerge.objects.filter(undone_at__isnull=True).values("duplicate_child")
    in_la = Child.objects.filter(local_authority_id=la_ids.pop()).exclude(pk__in=merged_away)
    dates = sorted({sought.date_of_birth for sought in soughts})
    upns = sorted({sought.upn for sought in soughts if sought.upn})
    # Each list as one array parameter (``__any``): a chunk of an import gives a thousand dates.
    wanted = Q(date_of_birth__any=dates)
    if upns:
        wanted |= Q(upn__any=upns) | Q(former_upns__has_any_keys=upns)
    # Candidates are read as plain values: a chunk of an import meets thousands of children born
    # on its dates, and only the few that match are needed as Child objects (read below). Most
    # have no former UPN or name: an empty list is read as NULL rather than decoded from JSON.
    no_former = Value([], output_field=JSONField())
    rows = (
        in_la.filter(wanted)
        .order_by("pk")
        .annotate(_upns=NullIf("former_upns", no_former), _names=NullIf("former_names", no_former))
        .values_list(*_Candidate.FIELDS[:-2], "_upns", "_names")
    )
    candidates = [
        _Candidate(pk, first, last, preferred, born, upn, upns or [], names or [])
        for pk, first, last, preferred, born, upn, upns, names in rows
    ]
    merged_names = _merged_in_names(candidates)
    by_date: dict[date, list[_Candidate]] = {}
    by_upn: dict[str, list[_Candidate]] = {}
    for candidate in candidates:
        by_date.setdefault(candidate.date_of_birth, []).append(candidate)
        for upn in {candidate.upn, *(candidate.former_upns or [])} - {""}:
            by_upn.setdefault(upn, []).append(candidate)
    found = []
    for sought in soughts:
        own = {c.pk: c for c in [*by_date.get(sought.date_of_birth, []), *by_upn.get(sought.upn, [])]}
        found.append(_compare(sought, sorted(own.values(), key=lambda c: c.pk), merged_names))
    hits = {c.pk for certain, likely in found for c in [*([certain] if certain else []), *(c for c, _ in likely)]}
    children = Child.objects.in_bulk(hits) if hits else {}
    return [
        MatchResult(
            certain=children[certain.pk] if certain is not None else None,
            likely=[(children[c.pk], reasons) for c, reasons in likely],
        )
        for certain, likely in found
    ]


def sought_children_related(one: Sought, other: Sought) -> bool:
    """Whether matching would join or flag either of two described children against the other
    once that other is on the register as described (a certain or a likely match, either way):
    a bulk intake writes two records of one file independently only when this is False."""
    for sought, stored in ((one, other), (other, one)):
        candidate = _Candidate(
            pk=0,
            legal_first_name=stored.legal_first_name,
            legal_last_name=stored.legal_last_name,
            preferred_first_name=stored.preferred_first_name,
            date_of_birth=stored.date_of_birth,
            upn=stored.upn,
            former_upns=[],
            former_names=[],
        )
        certain, likely = _compare(sought, [candidate], {})
        if certain is not None or likely:
            return True
    return False


@dataclass(frozen=True, slots=True)
class _Candidate:
    """What matching reads of a child (:func:`_compare` takes it where it takes a Child)."""

    FIELDS: ClassVar[tuple[str, ...]] = (
        "pk",
        "legal_first_name",
        "legal_last_name",
        "preferred_first_name",
        "date_of_birth",
        "upn",
        "former_upns",
        "former_names",
    )
    pk: int
    legal_first_name: str
    legal_last_name: str
    preferred_first_name: str
    date_of_birth: date
    upn: str
    former_upns: list[str]
    former_names: list[str]
    # The names' keys, worked out once: a candidate is compared with every sought child born the
    # same day (in an import's chunk, dozens).
    first_key: str = field(init=False)
    last_key: str = field(init=False)
    preferred_key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "first_key", name_key(self.legal_first_name))
        object.__setattr__(self, "last_key", name_key(self.legal_last_name))
        object.__setattr__(self, "preferred_key", name_key(self.preferred_first_name))


_Found = tuple["_Candidate | None", list[tuple["_Candidate", list[str]]]]


def _compare(sought: Sought, candidates: list[_Candidate], merged_names: dict[int, set[tuple[str, str]]]) -> _Found:
    """The sought child against its candidates (the LA's children sharing its UPN or date of birth)."""
    first, last = name_key(sought.legal_first_name), name_key(sought.legal_last_name)
    names_usable = bool(first and last)
    certain: list[_Candidate] = []
    by_upn: list[tuple[_Candidate, list[str]]] = []
    by_names: list[tuple[_Candidate, list[str]]] = []
    for candidate in candidates:
        upn_agrees = _upn_agrees(sought.upn, candidate)
        upn_conflicts = _upns_conflict(sought.upn, candidate)
        same_dob = candidate.date_of_birth == sought.date_of_birth
        names_agree = names_usable and (
            (first, last) == (candidate.first_key, candidate.last_key)
            or (first, last) in merged_names.get(candidate.pk, ())
        )
        if names_agree and same_dob and not upn_conflicts:
            certain.append(candidate)
        elif upn_agrees:
            by_upn.append((candidate, _upn_reasons(names_usable, names_agree, same_dob)))
        elif names_agree and upn_conflicts:
            by_names.append((candidate, ["same date of birth", "same names and date of birth, different UPNs"]))
        elif names_usable and same_dob and not upn_conflicts:
            reasons = _likely_reasons(first, last, sought, candidate)
            if reasons:
                by_names.append((candidate, ["same date of birth", *reasons]))

    if len(certain) == 1:
        return certain[0], by_upn
    # Two records already share these names and date of birth: joining either would be a guess.
    ambiguous = [(c, ["same date of birth", "same names and date of birth as another record"]) for c in certain]
    return None, [*by_upn, *ambiguous, *by_names]


def _upn_reasons(names_usable: bool, names_agree: bool, same_dob: bool) -> list[str]:
    reasons = ["same date of birth"] if same_dob else []
    if not names_usable:
        reasons.append("same UPN; the names given cannot be compared")
    elif not names_agree:
        reasons.append("same UPN, different names")
    if not same_dob:
        reasons.append("same UPN, different date of birth")
    return reasons


def _likely_reasons(first: str, last: str, sought: Sought, candidate: _Candidate) -> list[str]:
    """Why a child with the same date of birth but different legal names may be the same child."""
    cand_first, cand_last = candidate.first_key, candidate.last_key
    reasons = []
    firsts = {first, name_key(sought.preferred_first_name)} - {""}
    cand_firsts = {cand_first, candidate.preferred_key} - {""}
    first_agrees = bool(firsts & cand_firsts)
    if first_agrees and last == cand_last:
        reasons.append("same surname; the first name matches a preferred name")
    if first == cand_last and last == cand_first:
        reasons.append("first name and surname swapped")
    if any(_is_former_name(first, last, former) for former in candidate.former_names or []):
        reasons.append("the names match a former name")
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


def _is_former_name(first: str, last: str, former: object) -> bool:
    """A former name is stored as written ("Maya Jane Smith"): its first and last words, or the
    whole of it, against the names given."""
    if not isinstance(former, str):
        return False
    words = [key for key in map(name_key, former.split()) if key]
    if not words:
        return False
    return (words[0], words[-1]) == (first, last) or "".join(words) == first + last
