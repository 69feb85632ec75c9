"""Many school notifications at once (a file of them), giving exactly what ``notification_record``
gives one at a time.

``notifications_record_many`` splits the records. A record that needs no judgement is written
set-wise: a new child (no certain or likely match on the register, and no parent matching a person
the LA holds), no safeguarding trigger, and nothing in common with another record of the same call
(a UPN, a parent's phone, email or home, or a date of birth with names that matching would join or
flag, ``sought_children_related``) that could make one record's outcome depend on the other. Those
children, addresses, parents, episodes, risk checks (the same ``risk_check`` TransitionLog rows)
and notifications are written in a few statements, with their history (pghistory's event rows,
written set-wise in place of the row triggers, ``_history_set_wise``), and the rules are evaluated
for their cases by one sweep (``sweep_run`` over their ids), as ``episode_rules_evaluate`` does
for one. Foreign keys are checked as each statement ends (``SET CONSTRAINTS ALL IMMEDIATE``).
Every other record (a child already on the register, a likely match, a concern, social care
involvement, a sibling in the same file) goes through ``notification_record`` itself, in order,
after the set-wise part. The split only decides how a record is written, never what is written:
``tests/workflows/test_bulk_notifications.py`` compares the two paths on the same records.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

import pgtrigger
from django.db import connection, transaction
from django.db.models import F, Func, Model, Q, Value
from django.db.models.functions import Upper
from django.utils import timezone

from ehe_register.models import (
    Address,
    AddressKind,
    Child,
    ChildPerson,
    LocalAuthority,
    OffRollNotification,
    Person,
    Routing,
    SocialCareStatus,
)
from ehe_register.services.children import ParentDetails
from ehe_register.services.matching import Sought, children_match, name_key, sought_children_related
from ehe_register.validators import is_compulsory_school_age, normalise_uk_phone, year_group
from workflows.actors import SYSTEM
from workflows.clocks import next_action_due_after
from workflows.models import Episode
from workflows.services.intake import IntakeRecord
from workflows.services.submission import notification_record
from workflows.states import Source, State


@dataclass(frozen=True)
class Recorded:
    """What became of one record: its notification's id, whether it was written set-wise, and
    what matching found for it on the register before this call wrote anything (a certain
    match, likely matches; neither for an LA that does not use the service, whose records are
    forwarded unmatched)."""

    notification_id: int
    set_wise: bool
    certain: bool = False
    likely: bool = False


def notifications_record_many(*, records: Sequence[IntakeRecord], as_of: datetime) -> list[Recorded]:
    """Record school notifications for one LA, in one transaction; one result per record, in order."""
    if not records:
        return []
    la_ids = {r.local_authority_id for r in records}
    if len(la_ids) != 1:
        raise ValueError("One call records notifications for children of one local authority")
    for record in records:
        if record.notice is None or record.opened_by_school is None or record.child is None:
            raise ValueError("A school's notification names its school and describes the child and the notice")
        if record.source != Source.SCHOOL:
            raise ValueError("Only a school's notifications are recorded here")
    la = LocalAuthority.objects.get(pk=la_ids.pop())
    with transaction.atomic():
        # Foreign keys checked as each statement ends, not queued to the commit: every history
        # trigger and rule below opens a subtransaction, and each one's cost grew with the checks
        # queued so far (a chunk of 1,000 records queues tens of thousands).
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if la.uses_service:
            # The identity locks every intake takes, all at once and in order (no deadlock with a
            # form submitted meanwhile): the matching below is then exact until this commits.
            _identity_locks(la.pk, sorted({r.child.date_of_birth for r in records if r.child is not None}))
            judged = _needing_no_judgement(la, records)
        else:
            judged = [_Judged(quick=False, certain=False, likely=False)] * len(records)
        written = iter(_write_set_wise(la, [r for r, j in zip(records, judged, strict=True) if j.quick], as_of))
        ids = [next(written) if j.quick else 0 for j in judged]
        for index, (record, j) in enumerate(zip(records, judged, strict=True)):
            if not j.quick:  # in order, after the set-wise part
                ids[index] = notification_record(data=record, as_of=as_of).pk
        return [
            Recorded(notification_id=pk, set_wise=j.quick, certain=j.certain, likely=j.likely)
            for pk, j in zip(ids, judged, strict=True)
        ]


def _identity_locks(la_id: int, dates: list[date]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, d) FROM unnest(%s::int[]) WITH ORDINALITY AS u(d, n) ORDER BY n",
            [la_id, [d.toordinal() for d in dates]],
        )


# --- Which records need no judgement ---------------------------------------------------------------


def _phone_keys(value: str) -> set[str]:
    digits = "".join(c for c in normalise_uk_phone(value or "") if c in "0123456789")
    if len(digits) < 6:
        return set()
    return {digits, "44" + digits[1:], "0044" + digits[1:], "440" + digits[1:]} if digits.startswith("0") else {digits}


def _line_key(value: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", value or "").casefold() if c.isalnum())


def _home_key(record: IntakeRecord) -> tuple[str, str] | None:
    child = record.child
    if child is None or not (child.address_line_1 and child.postcode):
        return None
    return (child.postcode.upper(), _line_key(child.address_line_1))


def _contact_keys(parent: ParentDetails) -> set[str]:
    keys = {f"tel:{k}" for k in _phone_keys(parent.emergency_phone)}
    if parent.email.strip():
        keys.add(f"email:{parent.email.strip().upper()}")  # iexact, as person_match compares
    return keys


@dataclass(frozen=True)
class _Judged:
    quick: bool  # written set-wise
    certain: bool  # matching found a certain match on the register
    likely: bool  # ... or likely matches


def _needing_no_judgement(la: LocalAuthority, records: Sequence[IntakeRecord]) -> list[_Judged]:
    """For each record, whether it can be written set-wise (see the module's docstring), with what
    matching found for it. Erring towards not quick is always safe: the record then takes the
    one-at-a-time path."""
    children = [r.child for r in records if r.child is not None]
    soughts = [
        Sought(
            local_authority_id=la.pk,
            legal_first_name=c.legal_first_name,
            legal_last_name=c.legal_last_name,
            date_of_birth=c.date_of_birth,
            preferred_first_name=c.preferred_first_name,
            upn=c.upn,
            postcode=c.postcode,
        )
        for c in children
    ]
    matches = children_match(soughts)
    upns = sorted({c.upn for c in children if c.upn})
    held_upns: set[str] = set()
    if upns:
        for upn, former in Child.objects.filter(
            Q(upn__any=upns) | Q(former_upns__has_any_keys=upns), local_authority_id=la.pk
        ).values_list("upn", "former_upns"):
            held_upns |= {upn, *(former or [])}
    known_people = _people_sharing_contacts(la, records)
    known_homes = _homes_on_register(la, records)

    seen_dates: dict[date, list[Sought]] = {}
    seen_upns: set[str] = set()
    seen_contacts: set[str] = set()
    seen_homes: set[tuple[str, str]] = set()
    answers = []
    for record, match, sought in zip(records, matches, soughts, strict=True):
        child = record.child
        assert child is not None
        home = _home_key(record)
        contacts = set().union(*(_contact_keys(p) for p in child.parents)) if child.parents else set()
        quick = (
            match.certain is None
            and not match.likely
            and not (child.upn and child.upn in held_upns)
            and record.concern is None
            and child.social_care_status not in SocialCareStatus.safeguarding_triggers()
            and not any(sought_children_related(sought, earlier) for earlier in seen_dates.get(child.date_of_birth, ()))
            and not (child.upn and child.upn in seen_upns)
            and not (contacts & seen_contacts)
            and not (home is not None and home in seen_homes)
            and not any(_is_known_person(p, known_people) for p in child.parents)
            and not (home is not None and home in known_homes and any(p.lives_with_child for p in child.parents))
        )
        answers.append(_Judged(quick=quick, certain=match.certain is not None, likely=bool(match.likely)))
        # Every record, quick or not, is seen by the ones after it.
        seen_dates.setdefault(child.date_of_birth, []).append(sought)
        if child.upn:
            seen_upns.add(child.upn)
        seen_contacts |= contacts
        if home is not None:
            seen_homes.add(home)
    return answers


def _digits(field_name: str) -> Func:
    return Func(F(field_name), Value(r"[^0-9]"), Value(""), Value("g"), function="regexp_replace")


def _people_sharing_contacts(la: LocalAuthority, records: Sequence[IntakeRecord]) -> dict[str, set[tuple[str, str]]]:
    """The name keys of the LA's people, by each phone (as digits) and email they hold, for the
    contacts the records' parents give."""
    phones: set[str] = set()
    emails: set[str] = set()
    for record in records:
        for parent in record.child.parents if record.child is not None else ():
            phones |= _phone_keys(parent.emergency_phone)
            if parent.email.strip():
                emails.add(parent.email.strip().upper())
    if not (phones or emails):
        return {}
    in_la = Person.objects.filter(local_authority_id=la.pk).annotate(
        _phone=_digits("emergency_phone"), _other=_digits("other_phone"), _email=Upper("email")
    )
    # One query per kind of contact, each on its own expression index (person_la_phone,
    # person_la_other_phone, person_la_email): an OR of the three reads every person of the LA.
    # Each list is one array parameter (``__any``): a chunk of an import gives thousands.
    people: set[tuple[str, str, str, str, str]] = set()
    for kind, values in (("_phone", phones), ("_other", phones), ("_email", emails)):
        if values:
            wanted = in_la.filter(**{f"{kind}__any": sorted(values)})
            people.update(wanted.values_list("first_name", "last_name", "_phone", "_other", "_email"))
    known: dict[str, set[tuple[str, str]]] = {}
    for first, last, phone, other, email in people:
        key = (name_key(first), name_key(last))
        for contact in (f"tel:{phone}", f"tel:{other}", f"email:{email}"):
            known.setdefault(contact, set()).add(key)
    return known


def _is_known_person(parent: ParentDetails, known: dict[str, set[tuple[str, str]]]) -> bool:
    """Whether the LA holds a person of the parent's name sharing one of their contacts."""
    key = (name_key(parent.first_name), name_key(parent.last_name))
    return any(key in known.get(contact, set()) for contact in _contact_keys(parent))


def _homes_on_register(la: LocalAuthority, records: Sequence[IntakeRecord]) -> set[tuple[str, str]]:
    """The (postcode, first line) of the LA's children's current addresses among the records' homes."""
    homes = {h for h in map(_home_key, records) if h is not None}
    if not homes:
        return set()
    postcodes = sorted({postcode for postcode, _ in homes})
    found = set()
    for postcode, line in Address.objects.filter(
        local_authority_id=la.pk, kind=AddressKind.CURRENT, postcode__any=postcodes
    ).values_list("postcode", "line_1"):
        found.add((postcode.upper(), _line_key(line)))
    return found & homes


# --- Writing set-wise ------------------------------------------------------------------------------


def _write_set_wise(la: LocalAuthority, records: list[IntakeRecord], as_of: datetime) -> list[int]:
    """New children with their homes and parents, their episodes through the risk check, and the
    notifications, for records that need no judgement; the notifications' ids. Call inside the
    transaction. One INSERT per table (``_insert``): the rows as the ORM would write them, and
    their history as the ORM's would be recorded."""
    if not records:
        return []
    today = timezone.localdate(as_of)
    # A record's origin, else its school's name (the same few schools for a whole file); the day
    # received, else today (``IntakeRecord.received``).
    school_names: dict[int | None, str] = {}
    for r in records:
        school = r.opened_by_school
        if school is not None and school.pk not in school_names:
            school_names[school.pk] = str(school)
    origins = [
        r.source_detail or school_names.get(r.opened_by_school.pk if r.opened_by_school else None, "None")
        for r in records
    ]
    received = [r.received_on or today for r in records]
    details = [r.child for r in records]
    assert all(d is not None for d in details)
    child_ids = _insert(Child, [_new_child(la, r, on) for r, on in zip(records, received, strict=True)])
    _insert(
        Address,
        [
            {
                "local_authority_id": la.pk,
                "child_id": child_id,
                "kind": AddressKind.CURRENT,
                "line_1": d.address_line_1,
                "line_2": d.address_line_2,
                "town": d.address_town,
                "postcode": d.postcode,
            }
            for child_id, d in zip(child_ids, details, strict=True)
            if d is not None and d.address_line_1 and d.postcode
        ],
    )
    parents = [(child_id, p) for child_id, r in zip(child_ids, records, strict=True) for p in _parents_once(r)]
    person_ids = _insert(Person, [_new_person(la, p) for _, p in parents])
    _insert(
        ChildPerson,
        [
            {
                "child_id": child_id,
                "person_id": person_id,
                "relationship": p.relationship,
                "parental_responsibility": p.parental_responsibility,
                "lives_with_child": p.lives_with_child,
            }
            for (child_id, p), person_id in zip(parents, person_ids, strict=True)
        ],
    )
    episode_ids = _insert(
        Episode,
        [
            {
                "local_authority_id": la.pk,
                "child_id": child_id,
                "source": Source.SCHOOL,
                "source_detail": origin,
                "opened_by_school_id": r.opened_by_school.pk if r.opened_by_school is not None else None,
                "received_on": on,
                "opened_at": as_of,
                "concern_at_intake": False,
                "special_school_placed_by_la": r.special_school_placed_by_la,
                "attendance_order_in_force": r.attendance_order_in_force,
                "reason_code": r.reason_code,
            }
            for child_id, r, origin, on in zip(child_ids, records, origins, received, strict=True)
        ],
    )
    _risk_check_set_wise(episode_ids, records, as_of)
    # The rules for these cases, as episode_rules_evaluate does for one (imported here as there:
    # the sweep imports the intake path).
    from workflows.sweeps import sweep_run

    sweep_run(as_of=as_of, la_code=la.dfe_code, episode_ids=episode_ids, climb=False)
    references = _next_references(la, len(records))
    return _insert(
        OffRollNotification,
        [
            {
                "reference": reference,
                "school_id": r.opened_by_school.pk,
                "submitted_by_id": r.notice.submitted_by.pk if r.notice.submitted_by is not None else None,
                "submitted_at": as_of,
                "snapshot": r.notice.snapshot,
                "residence_la_id": la.pk,
                "routing": Routing.THIS_DEPLOYMENT,
                "child_id": child_id,
                "episode_id": episode_id,
                "legal_first_name": r.child.legal_first_name,
                "legal_last_name": r.child.legal_last_name,
                "date_of_birth": r.child.date_of_birth,
                "upn": r.child.upn,
                "postcode": r.child.postcode,
                "notice_received_on": r.notice.notice_received_on,
                "removed_from_roll_on": r.notice.removed_from_roll_on,
                "removal_status": r.notice.removal_status,
                "reason_code": r.reason_code,
                "safeguarding_concerns": False,
                "outside_school_age": not is_compulsory_school_age(r.child.date_of_birth, today),
            }
            for reference, child_id, episode_id, r in zip(references, child_ids, episode_ids, records, strict=True)
            if r.notice is not None and r.child is not None and r.opened_by_school is not None
        ],
    )


class _Encoder(json.JSONEncoder):
    """Values as PostgreSQL reads them from JSON: dates and times in full (to the microsecond,
    which Django's encoder would cut to the millisecond), decimals as written."""

    def default(self, o: Any) -> Any:
        if isinstance(o, date | datetime):
            return o.isoformat()
        if isinstance(o, Decimal):
            return str(o)
        return super().default(o)


def _insert(model: type[Model], rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (each a dict of column values; a column not given takes the field's default,
    ``auto_now``/``auto_now_add`` the time now, as ``bulk_create`` fills them) into the model's
    table in one statement; their new ids, in order.

    The ids are taken from the table's sequence first (so no RETURNING order is relied on), and the
    rows are sent as one JSON document read by ``jsonb_to_recordset``: a few hundred thousand values
    cost one string to send, where the ORM's insert adapts every value in Python. A tracked model's
    history (``pghistory``) is written by :func:`_history_set_wise`: the same rows its trigger writes,
    in one statement."""
    if not rows:
        return []
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    defaults: dict[str, Any] = {}
    for f in fields:
        assert f.attname == f.column  # rows are keyed by column
        default = now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
        # Written as the encoder writes it, once, rather than by the encoder for every row.
        defaults[f.column] = default.isoformat() if isinstance(default, date | datetime) else default
    unknown = set().union(*rows) - set(defaults)
    if unknown:
        raise ValueError(f"{meta.db_table} has no column {', '.join(sorted(unknown))}")
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    types = ", ".join(f"{quote(f.column)} {f.db_type(connection)}" for f in fields)
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        document = json.dumps(
            [{**defaults, **row, "_id": pk_value} for pk_value, row in zip(ids, rows, strict=True)], cls=_Encoder
        )
        with _history_set_wise(model, "insert") as recorded:
            cursor.execute(
                f"INSERT INTO {table} ({pk}, {columns}) "  # noqa: S608 - names from the model, values as one parameter
                f"SELECT _id, {columns} FROM jsonb_to_recordset(%s::jsonb) AS r(_id bigint, {types}) ORDER BY _id",
                [document],
            )
            recorded.extend(ids)
    return ids


@contextmanager
def _history_set_wise(model: type[Model], operation: str) -> Iterator[list[int]]:
    """Within this block, the model's ``pghistory`` trigger for ``operation`` ("insert" or
    "update") is skipped (``pgtrigger.ignore``); after it, the rows whose ids the block put in the
    list it was given (the rows it wrote) are recorded as that trigger records them: every tracked
    column as it now stands, the label, the object's id, the time (``NOW()``, the transaction's)
    and the context (``_pgh_attach_context()``, once), in id order.

    The trigger runs a subtransaction for every row it records (its context look-up), which made
    the history most of an import's cost; written here, the history of a chunk is one statement.
    A model without history just runs the block. Only this module's own statements may run in the
    block: ``pgtrigger.ignore`` puts a statement of its own before each (so positional parameters
    only)."""
    ids: list[int] = []
    event = _event_model(model)
    if event is None:
        yield ids
        return
    with pgtrigger.ignore(f"{model._meta.label}:{operation}_{operation}"):
        yield ids
    if not ids:
        return
    quote = connection.ops.quote_name
    tracked = [f.column for f in event._meta.concrete_fields if not f.name.startswith("pgh_")]
    columns = ", ".join(quote(c) for c in tracked)
    values = ", ".join(f"t.{quote(c)}" for c in tracked)
    with connection.cursor() as cursor:
        table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
        cursor.execute(
            # The context is attached once, as each row's trigger would attach the same one.
            "WITH context AS MATERIALIZED (SELECT _pgh_attach_context() AS id) "  # noqa: S608 - names from the models
            f"INSERT INTO {quote(event._meta.db_table)} "
            f"({columns}, pgh_context_id, pgh_created_at, pgh_label, pgh_obj_id) "
            f"SELECT {values}, context.id, NOW(), %s, t.{pk} FROM {table} t CROSS JOIN context "
            f"WHERE t.{pk} = ANY(%s) ORDER BY t.{pk}",
            [operation, list(ids)],
        )


def _event_model(model: type[Model]) -> type[Model] | None:
    """The model's ``pghistory`` event model (its one tracker of inserts and updates), if it has one."""
    events = getattr(model, "pgh_event_models", None)
    if not events:
        return None
    (event,) = set(events.values())
    return cast(type[Model], event)


def _new_child(la: LocalAuthority, record: IntakeRecord, on: date) -> dict[str, Any]:
    """The child's row; ``on`` is the day the record was received."""
    details = record.child
    assert details is not None
    child: dict[str, Any] = {
        "local_authority_id": la.pk,
        "legal_first_name": details.legal_first_name,
        "legal_middle_names": details.legal_middle_names,
        "legal_last_name": details.legal_last_name,
        "preferred_first_name": details.preferred_first_name,
        "date_of_birth": details.date_of_birth,
        "sex": details.sex,
        "upn": details.upn,
        "nhs_number": details.nhs_number,
        "sen_status": details.sen_status,
        "social_care_status": details.social_care_status,
        "social_worker_email": details.social_worker_email,
    }
    if details.school_year_group:  # as child_school_year_group_record keeps it
        child["school_year_group"] = details.school_year_group
        child["school_year_group_on"] = on
        child["derived_year_group"] = year_group(details.date_of_birth, on)
    return child


def _parents_once(record: IntakeRecord) -> list[ParentDetails]:
    """The record's parents, a second of the same name skipped (as ``_link_parents`` does)."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for parent in record.child.parents if record.child is not None else ():
        key = (name_key(parent.first_name), name_key(parent.last_name))
        if all(key) and key in seen:
            continue
        seen.add(key)
        kept.append(parent)
    return kept


def _new_person(la: LocalAuthority, parent: ParentDetails) -> dict[str, Any]:
    person: dict[str, Any] = {
        "local_authority_id": la.pk,
        "first_name": parent.first_name,
        "last_name": parent.last_name,
        "emergency_phone": parent.emergency_phone,
        "email": parent.email,
    }
    if parent.address_line_1 and parent.postcode:  # as person_address_record keeps it
        person["address_line_1"] = parent.address_line_1
        person["address_line_2"] = parent.address_line_2
        person["address_town"] = parent.address_town
        person["postcode"] = parent.postcode
    return person


def _risk_check_set_wise(episode_ids: list[int], records: list[IntakeRecord], as_of: datetime) -> None:
    """``risk_check`` for new cases without a safeguarding trigger: awaiting consent where consent
    applies (a special school place arranged by the LA, or a school attendance order: the social
    care statuses that also call for consent are safeguarding triggers, never written here), else
    address verification; the same TransitionLog row as ``episode_transition`` writes, and the
    case's clock for its new state, one statement for each target state."""
    targets = {
        pk: (
            State.AWAITING_CONSENT
            if r.special_school_placed_by_la or r.attendance_order_in_force
            else State.ADDRESS_VERIFICATION
        )
        for pk, r in zip(episode_ids, records, strict=True)
    }
    payload = json.dumps({"safeguarding_triggers": []})
    with connection.cursor() as cursor:
        for state in sorted({str(s) for s in targets.values()}):
            chosen = [pk for pk, target in targets.items() if target == state]
            # The clock of the new state, written with it: one write of each row.
            dues = next_action_due_after(episode_ids=chosen, as_of=as_of, state=state, transition="risk_check")
            rows = json.dumps([{"id": pk, "due": due.isoformat() if due else None} for pk, (_, due) in dues.items()])
            with _history_set_wise(Episode, "update") as recorded:
                cursor.execute(
                    """
                    WITH moved AS (
                        UPDATE workflows_episode e
                        SET state = %s, version = e.version + 1, last_changed_at = %s, last_changed_by_id = NULL,
                            next_action_due = d.due
                        FROM jsonb_to_recordset(%s::jsonb) AS d(id bigint, due date)
                        WHERE e.id = d.id AND e.state = %s
                        RETURNING e.id
                    )
                    INSERT INTO workflows_transitionlog
                        (episode_id, from_state, to_state, transition, actor_id, actor_name, reason, payload, at)
                    SELECT id, %s, %s, 'risk_check', NULL, %s, '', %s::jsonb, %s FROM moved ORDER BY id
                    RETURNING episode_id
                    """,
                    [state, as_of, rows, State.NOTIFIED, State.NOTIFIED, state, SYSTEM.display_name, payload, as_of],
                )
                recorded.extend(row[0] for row in cursor.fetchall())


def _next_references(la: LocalAuthority, n: int) -> list[str]:
    """``n`` notification references from the LA's sequence, in one statement."""
    prefix = f"EHE-{la.dfe_code}"
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO ehe_register_referencesequence (prefix, last_value) VALUES (%s, %s)
            ON CONFLICT (prefix) DO UPDATE SET last_value = ehe_register_referencesequence.last_value + %s
            RETURNING last_value
            """,
            [prefix, n, n],
        )
        (last,) = cursor.fetchone()  # type: ignore[misc]
    return [f"{prefix}-{value:06d}" for value in range(last - n + 1, last + 1)]
