"""The kinds of file the register takes in, and the interface each one fits.

A **format** turns a file into records and knows how its records meet the register. The pipeline
(``imports.services``) does everything else the same way for every format: storing the upload and
its SHA-256, the size limit, refusing the same file twice, the dry-run preview, chunking, one
transaction per chunk, progress, the row-error list, the batch history, the Celery task and
``manage.py import_file``. A format never writes outside :meth:`Format.write`, and
:meth:`Format.write` writes only through services of ``workflows`` (the one intake path) or of
``ehe_register`` (reference data such as schools).

The interface (``Format``), for a new module ``imports/formats/<name>.py``::

    class MyFormat:                       # any object with these members; see NotificationsFormat
        kind = "ctf"                      # the KIND of `manage.py import_file KIND PATH` and of URLs
        label = "Common Transfer File"    # shown to users ("Import a Common Transfer File")
        extensions = (".xml",)            # accepted file name endings, lower case
        columns: tuple[Column, ...]       # documented columns or elements (may be empty)
        template_available = False        # True: `template(extension)` gives headings + example row
        roles = (Role.EHE_OFFICER,        # who may import it (optional: EHE officers and managers
                 Role.EHE_MANAGER)        # of the LA when absent; see `may_import`)
        checked_rows_reusable = True      # optional: a run may read back (unpickled) the records its
                                          # preview made (`imports.services.checked_rows_kept`);
                                          # only when `write` needs nothing else from `to_record`

        def rows(self, stream, *, extension, context) -> Iterator[tuple[int, dict[str, Any]]]:
            '''(row number as the user sees it, one row's values) for every row, read lazily from
            the binary ``stream``. A problem with the whole file raises BadFile with a plain
            message (nothing is written: the preview reads the whole file before any write).'''

        def to_record(self, row_number, row, *, context) -> Any | list[RowError]:
            '''One row checked with the same validators the screens use; a record the format's
            ``classify`` and ``write`` take, or the row's errors (each naming its column).
            Must not write. May keep per-file state in ``context.cache`` (e.g. duplicates).'''

        def classify(self, records: Sequence[tuple[int, Any]], *, context) -> list[Outcome]:
            '''What writing these records would do (NEW, UPDATED, UNCHANGED, LIKELY_MATCH), with
            set-based reads (one query per chunk, not per row). Must not write.'''

        def write(self, records: Sequence[tuple[int, Any]], *, context) -> list[Outcome]:
            '''Write one chunk (the pipeline holds the transaction); what happened to each record.
            Writing the same rows again must give UNCHANGED (a re-run after a failure).'''

    register(MyFormat())                  # at the end of the module; imports/formats/__init__.py
                                          # imports each format module at the bottom

``imports.formats.tabular`` reads CSV and XLSX for any format with headed columns (every bad-file
check included; ``read_headed`` for a council's own headings); an XML format reads its own stream
through ``defusedxml``. The formats whose parser gives ``base.ParsedRow`` records that open cases
(``ctf``, ``legacy``) share ``imports.formats.cases``: the same child twice in a file is a row
error, a child with an open case is UNCHANGED, never a second open case.

``ImportContext`` carries the LA, the user, the time the run is as of, the file's name (as uploaded,
for a case's origin) and a per-file ``cache``.
Records are whatever the format chooses; intake formats use ``workflows.services.intake.IntakeRecord``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import IO, Any, Protocol

from django.utils import timezone

from ehe_register.accounts.guards import user_may_act_as
from ehe_register.models import LocalAuthority, User
from ehe_register.roles import Role


class BadFile(Exception):
    """The file as a whole cannot be imported; the message says why and what to do, in plain English."""


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass(frozen=True)
class Column:
    """A documented column: its heading, whether every row needs it, what it holds, an example."""

    name: str
    required: bool
    description: str
    example: str = ""


class Outcome(StrEnum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    LIKELY_MATCH = "likely_match"
    ERROR = "error"


@dataclass
class ImportContext:
    local_authority: LocalAuthority
    user: User
    as_of: datetime
    cache: dict[str, Any] = field(default_factory=dict)
    file_name: str = ""
    _today: tuple[datetime, date] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def today(self) -> date:
        """The day of ``as_of`` in the service's time zone (worked out again when ``as_of`` changes)."""
        if self._today is None or self._today[0] is not self.as_of:
            self._today = (self.as_of, timezone.localdate(self.as_of))
        return self._today[1]


class Format(Protocol):
    kind: str
    label: str
    extensions: tuple[str, ...]
    columns: tuple[Column, ...]
    template_available: bool

    def rows(
        self, stream: IO[bytes], *, extension: str, context: ImportContext
    ) -> Iterator[tuple[int, dict[str, Any]]]: ...

    def to_record(self, row_number: int, row: dict[str, Any], *, context: ImportContext) -> Any: ...

    def classify(self, records: Sequence[tuple[int, Any]], *, context: ImportContext) -> list[Outcome]: ...

    def write(self, records: Sequence[tuple[int, Any]], *, context: ImportContext) -> list[Outcome]: ...


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    if fmt.kind in FORMATS:
        raise ValueError(f"A format of kind {fmt.kind!r} is already registered")
    FORMATS[fmt.kind] = fmt
    return fmt


def format_for(kind: str) -> Format:
    """The format of that kind; KeyError names the kinds there are."""
    try:
        return FORMATS[kind]
    except KeyError:
        raise KeyError(f"No import of kind {kind!r}; the kinds are {', '.join(sorted(FORMATS))}") from None


#: Who may import a format's files when the format does not say (its ``roles``).
DEFAULT_ROLES = (Role.EHE_OFFICER, Role.EHE_MANAGER)


def format_roles(fmt: Format) -> frozenset[Role]:
    return frozenset(getattr(fmt, "roles", DEFAULT_ROLES))


def may_import(user: Any, kind: str) -> bool:
    """Whether ``user`` may import files of ``kind`` (an EHE officer may not load the schools list)."""
    return kind in FORMATS and user_may_act_as(user, format_roles(FORMATS[kind]))


# Each format registers itself when imported.
from imports.formats import ctf, gias, legacy, notifications  # noqa: E402, F401
