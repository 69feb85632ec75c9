"""A council's existing EHE register (a spreadsheet kept for years), migrated with its open cases.

Every council's spreadsheet is different, so the upload starts with a column-mapping step: for
each field below, which column feeds it (:func:`mapping_suggest` proposes one from the headings,
:func:`mapping_check` says what is wrong with a choice, and :func:`column_mapping_save` keeps it
for the LA's next upload). Each row then becomes an import record (source "import") carrying the
case as the old register holds it: its state, assigned officer, review date, the date contacts
were last verified, the dates of a s437 notice or school attendance order. The pipeline writes the
records through ``workflows.services.bulk.episodes_import``, which creates each case in
``notified`` and moves it by the ``imported`` transition (with its TransitionLog row), never by
writing the state; each case's origin (file, row, old reference) is its ``source_detail``.

The child, address and parent pass the checks of the officer's new-case form
(``base.child_details_check``). The case's facts must agree with its state as the integrity check
reads them (``workflows.states.STATE_DATE_RULES``): a review date for monitoring and review due,
a s437 service date for a notice or an order, the order's own date for an order. Closed cases stay
in the old register (they have no closure reason here); a case not yet risk-checked comes in as a
new notification, not through this import.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import IO

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ehe_register.models import LocalAuthority, ReasonCode, User
from ehe_register.roles import Role
from imports.formats import BadFile, ImportContext, Outcome, register
from imports.formats.base import (
    ParsedRow,
    Problems,
    child_details_check,
    choice_key,
    choice_lookup,
    date_check,
    detail,
    text,
    text_check,
)
from imports.formats.cases import CaseRowsFormat, is_one_open_case
from imports.formats.tabular import read_headed
from imports.models import ColumnMapping
from workflows.services.bulk import episodes_import
from workflows.services.intake import IntakeRecord
from workflows.states import ACTIVE_STATES, Source, State


@dataclass(frozen=True)
class LegacyField:
    label: str
    required: bool = False
    aliases: tuple[str, ...] = ()


#: The fields a legacy register can feed, in the order the mapping step shows them.
LEGACY_FIELDS: dict[str, LegacyField] = {
    "reference": LegacyField("Reference in the old register", aliases=("reference", "ref", "case reference", "id")),
    "legal_first_name": LegacyField("Legal first name", True, ("first name", "forename", "given name")),
    "legal_middle_names": LegacyField("Legal middle names", aliases=("middle name", "middle names")),
    "legal_last_name": LegacyField("Legal last name", True, ("last name", "surname", "family name")),
    "preferred_first_name": LegacyField("Preferred first name", aliases=("known as", "preferred name")),
    "date_of_birth": LegacyField("Date of birth", True, ("dob", "birth date")),
    "sex": LegacyField("Sex", aliases=("gender",)),
    "upn": LegacyField("UPN", aliases=("unique pupil number",)),
    "nhs_number": LegacyField("NHS number", aliases=("nhs",)),
    "address_line_1": LegacyField("Address line 1", True, ("address", "address 1", "street")),
    "address_line_2": LegacyField("Address line 2", aliases=("address 2",)),
    "address_town": LegacyField("Town or city", True, ("town", "city")),
    "postcode": LegacyField("Postcode", True, ("post code",)),
    "sen_status": LegacyField("SEN status", aliases=("sen", "send")),
    "social_care_status": LegacyField("Social care status", aliases=("social care",)),
    "parent_first_name": LegacyField("Parent's first name", True, ("parent first name", "parent forename")),
    "parent_last_name": LegacyField("Parent's last name", True, ("parent last name", "parent surname")),
    "parent_relationship": LegacyField("Parent's relationship to the child", aliases=("relationship",)),
    "parent_phone": LegacyField("Parent's emergency phone number", True, ("phone", "telephone", "parent phone")),
    "parent_email": LegacyField("Parent's email address", aliases=("email", "parent email")),
    "state": LegacyField("State of the case", True, ("state", "status", "stage")),
    "assigned_officer": LegacyField(
        "Assigned officer (name or email)", aliases=("officer", "assigned to", "caseworker")
    ),
    "received_on": LegacyField("Date the local authority was told", aliases=("date notified", "date received")),
    "review_due_on": LegacyField("Review due date", aliases=("review date", "next review")),
    "contacts_verified_on": LegacyField("Date contacts were last verified", aliases=("verified", "date verified")),
    "first_contact_on": LegacyField("Date of first contact with the family", aliases=("first contact",)),
    "next_action_due": LegacyField("Next action due date", aliases=("next action", "next action date")),
    "s437_served_on": LegacyField("Date the section 437 notice was served", aliases=("s437 served", "s437 date")),
    "attendance_order_served_on": LegacyField(
        "Date the school attendance order was served", aliases=("sao served", "sao date")
    ),
    "reason_code": LegacyField("Reason the parent gave for home education", aliases=("reason",)),
}

#: The states a legacy case can enter in: every open state after the risk check.
LEGACY_STATES = tuple(s for s in ACTIVE_STATES if s != State.NOTIFIED)
#: What a state needs, as the integrity check reads it (``workflows.states.STATE_DATE_RULES``).
STATE_NEEDS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        (State.MONITORING, State.REVIEW_DUE),
        "review_due_on",
        "A case in monitoring or review due needs its review due date",
    ),
    (
        (State.S437_NOTICE, State.ATTENDANCE_ORDER),
        "s437_served_on",
        "A section 437 notice or school attendance order case needs the date the notice was served",
    ),
    (
        (State.ATTENDANCE_ORDER,),
        "attendance_order_served_on",
        "A school attendance order case needs the date the order was served",
    ),
)
DATE_EXAMPLE = "27/03/2014"


# ---------------------------------------------------------------------------------------------
# The mapping step


def mapping_suggest(headings: Iterable[str], saved: Mapping[str, str] | None = None) -> dict[str, str]:
    """A first choice of column for each field: the saved choice where the file still has that
    column, else a heading that reads as the field's label or one of its other names."""
    present = [text(h) for h in headings if text(h)]
    by_key = {choice_key(h): h for h in present}
    chosen: dict[str, str] = {}
    for key, spec in LEGACY_FIELDS.items():
        if saved and saved.get(key) in present:
            chosen[key] = saved[key]
            continue
        for name in (spec.label, key, *spec.aliases):
            heading = by_key.get(choice_key(name))
            if heading is not None and heading not in chosen.values():
                chosen[key] = heading
                break
    return chosen


def mapping_check(columns: Mapping[str, str], headings: Iterable[str]) -> dict[str, str]:
    """Problems with a mapping, by field: a required field with no column, a column the file does
    not have, one column chosen for two fields. Empty when the mapping can be used."""
    present = {text(h) for h in headings}
    problems: dict[str, str] = {}
    used: dict[str, str] = {}
    for key, spec in LEGACY_FIELDS.items():
        heading = text(columns.get(key))
        if not heading:
            if spec.required:
                problems[key] = f"Choose the column that holds the {spec.label[0].lower() + spec.label[1:]}"
            continue
        if heading not in present:
            problems[key] = f"The file has no column called {heading[:60]}"
        elif heading in used:
            problems[key] = f"{heading[:60]} is already chosen for {LEGACY_FIELDS[used[heading]].label.lower()}"
        else:
            used[heading] = key
    return problems


def column_mapping_get(*, local_authority: LocalAuthority) -> dict[str, str]:
    """The LA's saved choice of columns for its register (empty before the first upload)."""
    saved = ColumnMapping.objects.filter(local_authority=local_authority, kind=ColumnMapping.Kind.LEGACY_REGISTER)
    mapping = saved.values_list("columns", flat=True).first()
    return {k: v for k, v in (mapping or {}).items() if k in LEGACY_FIELDS and isinstance(v, str)}


def column_mapping_save(
    *, local_authority: LocalAuthority, columns: Mapping[str, str], actor: User | None, as_of: datetime
) -> ColumnMapping:
    """Keep the LA's choice of columns for its next upload (one row per LA, replaced each time)."""
    kept = {key: text(columns[key]) for key in LEGACY_FIELDS if text(columns.get(key))}
    mapping, _ = ColumnMapping.objects.update_or_create(
        local_authority=local_authority,
        kind=ColumnMapping.Kind.LEGACY_REGISTER,
        defaults={"columns": kept, "saved_at": as_of, "saved_by": actor},
    )
    return mapping


# ---------------------------------------------------------------------------------------------
# The rows


def legacy_parse(
    rows: Iterable[tuple[int, Mapping[str, object]]],
    *,
    columns: Mapping[str, str],
    local_authority: LocalAuthority,
    file_name: str = "",
    today: date | None = None,
) -> Iterator[ParsedRow]:
    """Each row of the register as an import record carrying its case, or the problems that stop it.

    ``rows`` gives (row number as the spreadsheet shows it, values by column heading); ``columns``
    is a mapping that :func:`mapping_check` accepts. Officers are matched within the LA by email
    address or full name (an EHE officer or manager, active); a name two people share must be
    given as an email address.
    """
    today = today or timezone.localdate()
    officers = _Officers(local_authority)
    reasons = choice_lookup(ReasonCode.objects.values_list("code", "label"))
    states = choice_lookup((s, State(s).label) for s in State.values)
    for number, values in rows:
        yield _row_read(
            number,
            values,
            columns,
            local_authority=local_authority,
            file_name=file_name,
            today=today,
            officers=officers,
            reasons=reasons,
            states=states,
        )


class _Officers:
    """The LA's officers by email address and by full name (a name two people share is ambiguous)."""

    def __init__(self, local_authority: LocalAuthority) -> None:
        users = User.objects.filter(
            Q(groups__name=Role.EHE_OFFICER) | Q(groups__name=Role.EHE_MANAGER),
            local_authority=local_authority,
            is_active=True,
        ).distinct()
        self.by_email: dict[str, int] = {}
        self.by_name: dict[str, int | None] = {}
        for user in users:
            if user.email:
                self.by_email[user.email.casefold()] = user.pk
            for name in {user.get_full_name(), user.username}:
                key = choice_key(name)
                if key:
                    self.by_name[key] = None if key in self.by_name and self.by_name[key] != user.pk else user.pk

    def find(self, value: str) -> tuple[int | None, str]:
        """(the officer's id, "") or (None, what is wrong)."""
        if "@" in value:
            found = self.by_email.get(value.casefold())
            return (found, "") if found else (None, "No active EHE officer or manager of this council has that email")
        key = choice_key(value)
        if key in self.by_name and self.by_name[key] is None:
            return None, "Two officers have that name: give the officer's email address instead"
        found = self.by_name.get(key)
        return (found, "") if found else (None, "No active EHE officer or manager of this council has that name")


def _row_read(
    number: int,
    values: Mapping[str, object],
    columns: Mapping[str, str],
    *,
    local_authority: LocalAuthority,
    file_name: str,
    today: date,
    officers: _Officers,
    reasons: Mapping[str, str],
    states: Mapping[str, str],
) -> ParsedRow:
    def value(key: str) -> object:
        heading = columns.get(key)
        return values.get(heading) if heading else None

    where = {key: heading for key, heading in columns.items() if heading}
    for part in ("first_name", "last_name", "relationship", "emergency_phone", "email"):
        source = "parent_phone" if part == "emergency_phone" else f"parent_{part}"
        where[f"parent_1_{part}"] = columns.get(source, LEGACY_FIELDS[source].label)
    where["parents"] = where["parent_1_first_name"]
    problems = Problems(where=where, row=number)

    raw = {key: value(key) for key in LEGACY_FIELDS}
    parent = {
        "first_name": raw["parent_first_name"],
        "last_name": raw["parent_last_name"],
        "relationship": raw["parent_relationship"],
        "emergency_phone": raw["parent_phone"],
        "email": raw["parent_email"],
    }
    child = child_details_check(raw, [parent], problems, today=today, date_example=DATE_EXAMPLE)

    state = _state(problems, text(raw["state"]), states)
    dates = {
        key: date_check(problems, key, raw[key], LEGACY_FIELDS[key].label, example=DATE_EXAMPLE)
        for key in (
            "received_on",
            "review_due_on",
            "contacts_verified_on",
            "first_contact_on",
            "next_action_due",
            "s437_served_on",
            "attendance_order_served_on",
        )
    }
    for key in (
        "received_on",
        "contacts_verified_on",
        "first_contact_on",
        "s437_served_on",
        "attendance_order_served_on",
    ):
        if (day := dates[key]) is not None and day > today:
            problems.add(key, f"{LEGACY_FIELDS[key].label} must be today or in the past")
    for in_states, key, message in STATE_NEEDS:
        if state in in_states and dates[key] is None and key not in problems.keys:
            problems.add(key if columns.get(key) else "state", message)

    officer_id = None
    if officer_text := text(raw["assigned_officer"]):
        officer_id, message = officers.find(officer_text[:300])
        if message:
            problems.add("assigned_officer", message)
    reason = ""
    if reason_text := text(raw["reason_code"]):
        reason = reasons.get(choice_key(reason_text[:300]), "")
        if not reason:
            problems.add(
                "reason_code", "Reason must be one of the DfE's reasons for home education, as the form lists them"
            )
    reference = text_check(problems, "reference", text(raw["reference"]), "Reference", 60)

    label = f"Row {number}"
    if child is None or state is None or problems:
        return ParsedRow(row=number, record=None, errors=tuple(problems.errors), label=label)
    record = IntakeRecord(
        local_authority_id=local_authority.pk,
        source=Source.IMPORT,
        child=child,
        source_detail=detail(
            "Existing register", file_name, f"row {number}", f"reference {reference}" if reference else ""
        ),
        received_on=dates["received_on"],
        reason_code=reason,
        state=state,
        assigned_officer_id=officer_id,
        review_due_on=dates["review_due_on"],
        next_action_due=dates["next_action_due"],
        contacts_verified_at=_moment(dates["contacts_verified_on"]),
        first_contact_at=_moment(dates["first_contact_on"]),
        s437_served_on=dates["s437_served_on"],
        attendance_order_served_on=dates["attendance_order_served_on"],
    )
    return ParsedRow(row=number, record=record, label=label)


def _state(problems: Problems, given: str, states: Mapping[str, str]) -> str | None:
    if not given:
        problems.add("state", "Enter the state of the case")
        return None
    state = states.get(choice_key(given[:300]))
    if state == State.CLOSED:
        problems.add("state", "Only open cases are imported: closed cases stay in the old register")
        return None
    if state == State.NOTIFIED:
        problems.add(
            "state",
            "A case not yet risk-checked is imported as a new notification, not from the register; "
            "give the state the case has reached, such as Address verification",
        )
        return None
    if state is None:
        labels = ", ".join(State(s).label for s in LEGACY_STATES)
        problems.add("state", f"State must be one of: {labels}")
    return state


def _moment(day: date | None) -> datetime | None:
    """A date the old register kept, as the start of that day in the service's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min)) if day is not None else None


# ---------------------------------------------------------------------------------------------
# The format: the register's rows through ``episodes_import``


class LegacyFormat(CaseRowsFormat):
    """An existing register (CSV or XLSX) read with the LA's saved choice of columns (the upload
    page asks for one when none fits the file's headings), each case entering through
    ``episodes_import`` and the ``imported`` transition, the file named on each case's timeline."""

    kind = "legacy"
    label = "an existing EHE register"
    extensions: tuple[str, ...] = (".csv", ".xlsx")

    def parsed(self, stream: IO[bytes], *, extension: str, context: ImportContext) -> Iterator[ParsedRow]:
        headings, rows = read_headed(stream, extension=extension)
        columns = column_mapping_get(local_authority=context.local_authority)
        problems = mapping_check(columns, headings)
        if problems:
            raise BadFile(
                "The saved choice of columns does not fit this file's headings ("
                + "; ".join(sorted(set(problems.values())))
                + "). Upload the file again and choose which column holds what."
            )
        context.cache["columns"] = columns
        return legacy_parse(
            rows,
            columns=columns,
            local_authority=context.local_authority,
            file_name=context.file_name,
            today=context.today,
        )

    def where(self, key: str, context: ImportContext) -> str:
        return str(context.cache.get("columns", {}).get(key) or LEGACY_FIELDS[key].label)

    def write(self, records: Sequence[tuple[int, IntakeRecord]], *, context: ImportContext) -> list[Outcome]:
        outcomes = self.classify(records, context=context)
        pairs = enumerate(zip(records, outcomes, strict=True))
        todo = [(index, record) for index, ((_, record), outcome) in pairs if outcome != Outcome.UNCHANGED]
        reason = detail("Imported from the existing register", context.file_name)
        try:
            with transaction.atomic():
                if todo:
                    episodes_import(records=[record for _, record in todo], as_of=context.as_of, reason=reason)
            return outcomes
        except IntegrityError as error:  # a child's case was opened since the chunk was classified
            if not is_one_open_case(error):
                raise
        for index, record in todo:  # one at a time: each case whole or not at all
            try:
                with transaction.atomic():
                    episodes_import(records=[record], as_of=context.as_of, reason=reason)
            except IntegrityError as error:
                if not is_one_open_case(error):
                    raise
                outcomes[index] = Outcome.UNCHANGED
        return outcomes


register(LegacyFormat())
