"""What the formats whose rows open cases (a CTF's pupils, a legacy register's rows) share: the
pipeline's side of a parser that gives :class:`~imports.formats.base.ParsedRow`.

- ``rows`` runs the parser; each row travels to ``to_record`` as ``{"parsed": ParsedRow}``.
- ``to_record`` gives the parser's record or its errors, and refuses the same child twice in one
  file (the same names and date of birth, or the same UPN) on the later row, with a plain message:
  a register allows one open case per child, so the second would collide with the first.
- ``classify`` compares every record of a chunk with the register in one matching pass
  (``children_match``) and one query for open cases: a certain match with an open case is
  UNCHANGED (nothing is written for it: importing the same file again changes nothing), a
  certain match without one is UPDATED (a new case for a child already known), a likely match is
  LIKELY_MATCH (a new child, kept beside the candidate for an officer to resolve), else NEW.
- ``write`` is each format's own (the intake path it takes). A row that finds its child's case
  opened after the chunk was classified (another import, a school's form) is UNCHANGED too: the
  one-open-case constraint refuses it inside a savepoint of its own, so nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import IO, Any

from django.db import IntegrityError

from ehe_register.roles import Role
from ehe_register.services.matching import Sought, children_match, name_key
from imports.formats import ImportContext, Outcome, RowError
from imports.formats.base import ParsedRow
from workflows.models import Episode
from workflows.services.intake import IntakeRecord
from workflows.states import State

ONE_OPEN_CASE = "one_open_episode_per_child"


class CaseRowsFormat:
    """Base of the CTF and legacy register formats (see the module's docstring)."""

    roles: tuple[Role, ...] = (Role.EHE_OFFICER, Role.EHE_MANAGER)
    columns: tuple[Any, ...] = ()
    template_available = False
    #: The names a person knows the surname and UPN by in this kind of file (for the duplicate message).
    surname_where = "legal_last_name"
    upn_where = "upn"
    row_word = "row"  # how a message names another row ("row 4", "pupil 4")

    def parsed(self, stream: IO[bytes], *, extension: str, context: ImportContext) -> Iterator[ParsedRow]:
        raise NotImplementedError

    def rows(
        self, stream: IO[bytes], *, extension: str, context: ImportContext
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        for parsed in self.parsed(stream, extension=extension, context=context):
            yield parsed.row, {"parsed": parsed}

    def where(self, key: str, context: ImportContext) -> str:
        return {"legal_last_name": self.surname_where, "upn": self.upn_where}[key]

    def to_record(
        self, row_number: int, row: dict[str, Any], *, context: ImportContext
    ) -> IntakeRecord | list[RowError]:
        parsed: ParsedRow = row["parsed"]
        if parsed.record is None or parsed.errors:
            return list(parsed.errors) or [RowError(row_number, "", "This row cannot be imported")]
        child = parsed.record.child
        assert child is not None  # the parsers describe the child
        seen: dict[Any, int] = context.cache.setdefault("seen", {})
        key = (name_key(child.legal_first_name), name_key(child.legal_last_name), child.date_of_birth)
        first = seen.setdefault(key, row_number)
        if first != row_number:
            return [
                RowError(
                    row_number,
                    self.where("legal_last_name", context),
                    f"The same child as {self.row_word} {first} (same names and date of birth): "
                    "a child has one open case, so only the first is imported",
                )
            ]
        if child.upn:
            first = seen.setdefault(("upn", child.upn), row_number)
            if first != row_number:
                return [
                    RowError(
                        row_number,
                        self.where("upn", context),
                        f"The same UPN as {self.row_word} {first}: a child has one open case, so only the first "
                        "is imported",
                    )
                ]
        return parsed.record

    def classify(self, records: Sequence[tuple[int, IntakeRecord]], *, context: ImportContext) -> list[Outcome]:
        return intake_outcomes([record for _, record in records])


def intake_outcomes(records: Sequence[IntakeRecord]) -> list[Outcome]:
    """What intake would do with each record (see the module's docstring), set-based."""
    if not records:
        return []
    matches = children_match([_sought(record) for record in records])
    known = [match.certain.pk for match in matches if match.certain is not None]
    open_case = set(
        Episode.objects.filter(child_id__in=known).exclude(state=State.CLOSED).values_list("child_id", flat=True)
    )
    outcomes = []
    for match in matches:
        if match.certain is not None:
            outcomes.append(Outcome.UNCHANGED if match.certain.pk in open_case else Outcome.UPDATED)
        elif match.likely:
            outcomes.append(Outcome.LIKELY_MATCH)
        else:
            outcomes.append(Outcome.NEW)
    return outcomes


def is_one_open_case(error: IntegrityError) -> bool:
    """Whether the database refused a second open case for a child (and nothing else)."""
    return ONE_OPEN_CASE in str(error)


def _sought(record: IntakeRecord) -> Sought:
    child = record.child
    assert child is not None
    return Sought(
        local_authority_id=record.local_authority_id,
        legal_first_name=child.legal_first_name,
        legal_last_name=child.legal_last_name,
        date_of_birth=child.date_of_birth,
        preferred_first_name=child.preferred_first_name,
        upn=child.upn,
        postcode=child.postcode,
    )
