"""Bulk off-roll notifications: a CSV or XLSX file with one school notification per row.

The columns are the school portal's notification form, one column per question, named as the
form's fields are (``legal_first_name``, ``parent_1_emergency_phone``, ...), plus ``school_urn``
for the school the notification is from. Each row is checked by the form itself
(``ehe_register.forms.portal.NotificationForm``: the same fields, validators, messages and rules
across questions) and recorded as the form's submission is: matching, the risk check, escalations
(``workflows.services.bulk_notifications``). The child lives in the LA of the person importing.

Values: dates as ``2014-05-17`` or ``17/05/2014``; yes/no questions as ``yes`` or ``no``; lists
by their code or their wording as the form shows it (``F`` or ``Female``).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import re
from collections.abc import Iterator, Sequence
from typing import IO, Any

from django import forms
from django.core.exceptions import ValidationError

from ehe_register.forms.fields import NO, YES
from ehe_register.forms.portal import NotificationForm
from ehe_register.forms_rendering import GovukDateField
from ehe_register.models import (
    SCHOOL_YEAR_GROUPS,
    LocalAuthority,
    OffRollNotification,
    Relationship,
    RemovalStatus,
    School,
    SenStatus,
    Sex,
    SocialCareStatus,
)
from ehe_register.models.reference import reason_code_choices
from ehe_register.services.matching import Sought, children_match, name_key, name_key_may_be
from imports.formats import Column, ImportContext, Outcome, RowError, register
from imports.formats.tabular import read_table
from workflows.services.bulk_notifications import notifications_record_many
from workflows.services.intake import IntakeRecord
from workflows.states import ACTIVE_STATES


def _values(choices: Sequence[tuple[str, str]]) -> str:
    return "; ".join(f"{code} ({label})" for code, label in choices)


PARENT_COLUMNS = [
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("relationship", f"Relationship to the child: {_values(Relationship.choices)}"),
    ("parental_responsibility", "Has parental responsibility: yes or no"),
    ("lives_with_child", "The child normally lives with this person: yes or no"),
    ("same_address", "Lives at the child's home address: yes or no (blank: yes, unless an address is given)"),
    ("address_line_1", "Their own address, line 1 (when not at the child's address)"),
    ("address_line_2", "Their own address, line 2"),
    ("address_town", "Their own address, town or city"),
    ("postcode", "Their own address, postcode"),
    ("emergency_phone", "Emergency phone number, a UK number"),
    ("email", "Email address"),
]
PARENT_1_REQUIRED = {
    "first_name",
    "last_name",
    "relationship",
    "parental_responsibility",
    "lives_with_child",
    "emergency_phone",
}

COLUMNS: tuple[Column, ...] = (
    Column("school_urn", True, "The school's URN (6 digits)", "125001"),
    Column("legal_first_name", True, "Child's legal first name", "Maya"),
    Column("legal_middle_names", False, "Child's legal middle names", ""),
    Column("legal_last_name", True, "Child's legal last name", "Fletcher"),
    Column("preferred_first_name", False, "Child's preferred first name", ""),
    Column("date_of_birth", True, "Child's date of birth", "2014-05-17"),
    Column("sex", True, f"Child's sex: {_values(Sex.choices)}", "F"),
    Column("upn", False, "Unique pupil number (13 characters)", ""),
    Column("year_group", False, f"Year group: {_values(SCHOOL_YEAR_GROUPS)}", "7"),
    Column("address_line_1", True, "Child's home address, line 1", "12 Meadow Lane"),
    Column("address_line_2", False, "Child's home address, line 2", ""),
    Column("address_town", True, "Child's home address, town or city", "Guildford"),
    Column("postcode", True, "Child's home address, postcode", "GU1 4AA"),
    *(
        Column(
            f"parent_{n}_{name}",
            n == 1 and name in PARENT_1_REQUIRED,
            f"Parent or carer {n}: {text}",
            {
                "first_name": "Joanne",
                "last_name": "Fletcher",
                "relationship": "mother",
                "parental_responsibility": "yes",
                "lives_with_child": "yes",
                "same_address": "yes",
                "emergency_phone": "07700 900123",
            }.get(name, "")
            if n == 1
            else "",
        )
        for n in (1, 2)
        for name, text in PARENT_COLUMNS
    ),
    Column("notice_received_on", True, "Date the parent's written notice was received", "2026-01-12"),
    Column("removal_status", True, f"Removed from the admission register: {_values(RemovalStatus.choices)}", "removed"),
    Column("removed_from_roll_on", False, "Date removed from roll (needed when removed)", "2026-01-14"),
    Column("ground_confirmed", True, "Removed, or will be, on the ground in regulation 9(1)(f): yes", "yes"),
    Column("reason_code", True, "The reason the parent gave: a DfE reason code (list below)", "philosophical"),
    Column("reason_detail", False, "Anything else about the reason", ""),
    Column("sen_status", True, f"Special educational needs: {_values(SenStatus.choices)}", "none"),
    Column("social_care_status", True, f"Known to social care: {_values(SocialCareStatus.choices)}", "none"),
    Column("social_worker_email", False, "Allocated social worker's email address", ""),
    Column("special_school_placed_by_la", True, "A special school place arranged by the LA: yes or no", "no"),
    Column("attendance_order_in_force", True, "A school attendance order is in force: yes or no", "no"),
    Column("safeguarding_concerns", True, "Any safeguarding concerns: yes or no", "no"),
    Column("concern_nature", False, "The nature of the concern (needed when concerns is yes)", ""),
    Column("concern_last_raised_on", False, "When the concern was last raised (needed when yes)", ""),
    Column("referred_to_front_door", False, "Referred to the front door or social care: yes or no", ""),
    Column("referred_on", False, "Date it was referred (needed when referred)", ""),
    Column("referral_reference", False, "Referral reference (needed when referred)", ""),
    Column("dsl_name", False, "Designated safeguarding lead's name (needed when concerns is yes)", ""),
    Column("dsl_phone", False, "Designated safeguarding lead's direct phone (needed when yes)", ""),
)
REQUIRED = tuple(c.name for c in COLUMNS if c.required)
OPTIONAL = tuple(c.name for c in COLUMNS if not c.required)
DATE_COLUMNS = ("date_of_birth", "notice_received_on", "removed_from_roll_on", "concern_last_raised_on", "referred_on")
YES_NO_COLUMNS = frozenset(
    {
        "parent_1_parental_responsibility",
        "parent_1_lives_with_child",
        "parent_1_same_address",
        "parent_2_parental_responsibility",
        "parent_2_lives_with_child",
        "parent_2_same_address",
        "special_school_placed_by_la",
        "attendance_order_in_force",
        "safeguarding_concerns",
        "referred_to_front_door",
    }
)
CHOICE_COLUMNS: dict[str, Sequence[tuple[str, str]]] = {
    "sex": Sex.choices,
    "year_group": SCHOOL_YEAR_GROUPS,
    "parent_1_relationship": Relationship.choices,
    "parent_2_relationship": Relationship.choices,
    "removal_status": RemovalStatus.choices,
    "sen_status": SenStatus.choices,
    "social_care_status": SocialCareStatus.choices,
}
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_UK = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
DATE_MESSAGE = "{label} must be a date like 17/05/2014 or 2014-05-17"


class _ThisLocalAuthority(forms.Field):
    """The LA of the person importing: every row's child lives there (no query per row)."""

    def __init__(self, la: LocalAuthority) -> None:
        super().__init__(required=False)
        self.la = la

    def clean(self, value: Any) -> LocalAuthority:
        return self.la


class NotificationRowForm(NotificationForm):
    """The school's notification form for one row of a file: the same fields, validators and
    rules, with what a form reads from the database (the school, the LA, the reasons) given once
    per file instead of queried per row. Build the shared fields with :meth:`fields_for`."""

    def __init__(
        self,
        data: Any,
        *,
        school: School,
        fields: dict[str, forms.Field],
        today: datetime.date,
        cleaned: dict[tuple[str, Any], Any] | None = None,
    ) -> None:
        # Every row shares one set of fields, built once (``fields_for``): a deep copy of ~60
        # fields per row would cost more than the checks. No field is changed while validating.
        self.base_fields = {}  # type: ignore[misc]
        # No label suffix: a row form is never shown, and the default one is translated per form.
        forms.Form.__init__(self, data, label_suffix="")
        self.fields = fields
        self.today = today
        self._schools = [school]
        self._cleaned_before = cleaned

    def _clean_fields(self) -> None:
        """Django's ``Form._clean_fields`` without building a BoundField per field: the same
        widget read, ``Field.clean`` and ``clean_<name>`` hooks, in the same order. (A row form
        has no prefix, no disabled field and no file field, where the BoundField would differ.)

        With ``cleaned`` (one dict for the rows of a file), a value a field has cleaned before
        without error is taken from it instead of cleaned again, for the fields whose cleaning
        depends on nothing but the value (``_REUSABLE``: lists, yes/no, dates) and for a blank
        value of any field; an error is always worked out again. The ``clean_<name>`` hooks,
        which may depend on the rest of the row or the day, always run."""
        data, files, cleaned = self.data, self.files, self.cleaned_data
        hooks = _hooks(type(self), tuple(self.fields))
        before = self._cleaned_before
        for name, field in self.fields.items():
            value = field.widget.value_from_datadict(data, files, name)
            try:
                if before is None:
                    cleaned[name] = field.clean(value)
                else:
                    key = (name, tuple(value) if isinstance(value, list) else value)
                    if key in before:
                        cleaned[name] = before[key]
                    else:
                        cleaned[name] = field.clean(value)
                        reusable = isinstance(field, _REUSABLE) and not isinstance(field, _NOT_REUSABLE)
                        if (reusable or not value) and len(before) < _CLEANED_KEPT:
                            before[key] = cleaned[name]
                hook = hooks[name]
                if hook is not None:
                    cleaned[name] = hook(self)
            except ValidationError as error:
                self.add_error(name, error)

    def _submitted(self, name: str) -> Any:
        """As the form's BoundField reads it (a row form has no prefix), without building one."""
        return self.fields[name].widget.value_from_datadict(self.data, self.files, name)

    @property
    def parent_2_entered(self) -> bool:
        """The form's answer, worked out once per row: it reads only the submitted data, which
        does not change while the row is checked (the form's rules ask it three times)."""
        entered: bool | None = self.__dict__.get("_parent_2_entered")
        if entered is None:
            entered = self._parent_2_entered = NotificationForm.parent_2_entered.fget(self)  # type: ignore[attr-defined]
        return entered

    @classmethod
    def fields_for(cls, la: LocalAuthority) -> dict[str, forms.Field]:
        import copy

        fields = copy.deepcopy(NotificationForm.base_fields)
        del fields["school"]
        fields["residence_la"] = _ThisLocalAuthority(la)
        fields["reason_code"].choices = [("", "Choose a reason"), *reason_code_choices()]  # type: ignore[attr-defined]
        assert not any(f.disabled or isinstance(f, forms.FileField) for f in fields.values())  # see _clean_fields
        return fields


# The fields whose cleaned value depends on nothing but the value submitted, and is immutable
# (``NotificationRowForm._clean_fields`` reuses it for the same value in a later row). Text fields
# are not among them: their values are mostly each row's own, and only a blank one is reused.
_REUSABLE = (forms.ChoiceField, forms.BooleanField, GovukDateField)
_NOT_REUSABLE = (forms.ModelChoiceField, forms.MultipleChoiceField)  # a record read, a list
_CLEANED_KEPT = 50_000  # values kept per file at most (a file of dates all different stays bounded)


@functools.cache
def _hooks(form_class: type[forms.Form], names: tuple[str, ...]) -> dict[str, Any]:
    """Each field's ``clean_<name>`` method of the form class (None when it has none), looked up
    once rather than once per field of every row."""
    return {name: getattr(form_class, f"clean_{name}", None) for name in names}


class NotificationsFormat:
    kind = "notifications"
    label = "off-roll notifications"
    extensions: tuple[str, ...] = (".csv", ".xlsx")
    columns = COLUMNS
    template_available = True
    # A record is plain data (pickled and read back by ``imports.services.checked_rows_kept``):
    # ``write`` needs nothing that ``to_record`` keeps in the context.
    checked_rows_reusable = True

    def rows(
        self, stream: IO[bytes], *, extension: str, context: ImportContext
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        return read_table(stream, extension=extension, required=REQUIRED, optional=OPTIONAL)

    def template_rows(self) -> tuple[list[str], list[str]]:
        return [c.name for c in COLUMNS], [c.example for c in COLUMNS]

    # --- One row ------------------------------------------------------------------------------------

    def to_record(
        self, row_number: int, row: dict[str, Any], *, context: ImportContext
    ) -> IntakeRecord | list[RowError]:
        cache = context.cache
        if "fields" not in cache:
            cache["fields"] = NotificationRowForm.fields_for(context.local_authority)
            cache["schools"] = {}
            cache["seen"] = {}
            cache["cleaned"] = {}
        urn = row.get("school_urn", "").strip()
        school = _school(cache["schools"], urn)
        errors: list[RowError] = []
        if school is None:
            errors.append(
                RowError(row_number, "school_urn", f"No school with URN {urn or '(blank)'} is on the register")
            )
        data, date_errors = _form_data(row)
        errors += [RowError(row_number, column, message) for column, message in date_errors]
        if school is None:
            return errors
        form = NotificationRowForm(
            data, school=school, fields=cache["fields"], today=context.today, cleaned=cache["cleaned"]
        )
        valid = form.is_valid()
        for name, messages in form.errors.items():
            column = "" if name == "__all__" else name
            if column and any(e.column == column for e in errors):
                continue  # the date's own message says it better
            errors += [RowError(row_number, column, str(m)) for m in messages]
        if errors or not valid:
            return errors
        snapshot = {"import_row": [str(row_number)], **{k: [v] for k, v in row.items() if v}}
        record = form.to_input(submitted_by=context.user, snapshot=snapshot)
        assert record.child is not None
        key = (
            name_key(record.child.legal_first_name),
            name_key(record.child.legal_last_name),
            record.child.date_of_birth,
        )
        first = cache["seen"].setdefault(_digest(key), row_number)
        if first != row_number:
            return [
                RowError(row_number, "legal_last_name", f"The same child as row {first} (same names and date of birth)")
            ]
        if record.child.upn:
            first = cache["seen"].setdefault(_digest(("upn", record.child.upn)), row_number)
            if first != row_number:
                return [RowError(row_number, "upn", f"The same UPN as row {first}")]
        return record

    # --- Many rows ----------------------------------------------------------------------------------

    def classify(self, records: Sequence[tuple[int, IntakeRecord]], *, context: ImportContext) -> list[Outcome]:
        intake = [r for _, r in records]
        already = _already_recorded(intake, context.local_authority)
        matches = children_match([_sought(r) for r in intake]) if context.local_authority.uses_service else []
        outcomes = []
        for index in range(len(intake)):
            if index in already:
                outcomes.append(Outcome.UNCHANGED)
            elif not matches:
                outcomes.append(Outcome.NEW)  # forwarded: the LA does not use the service
            elif matches[index].certain is not None:
                outcomes.append(Outcome.UPDATED)
            elif matches[index].likely:
                outcomes.append(Outcome.LIKELY_MATCH)
            else:
                outcomes.append(Outcome.NEW)
        return outcomes

    def write(self, records: Sequence[tuple[int, IntakeRecord]], *, context: ImportContext) -> list[Outcome]:
        """``classify``'s outcomes, from the one matching ``notifications_record_many`` does
        under its identity locks (not a second matching of the same rows before it)."""
        intake = [r for _, r in records]
        already = _already_recorded(intake, context.local_authority)
        to_write = [r for index, r in enumerate(intake) if index not in already]
        recorded = iter(notifications_record_many(records=to_write, as_of=context.as_of))
        outcomes = []
        for index in range(len(intake)):
            if index in already:
                outcomes.append(Outcome.UNCHANGED)
                continue
            result = next(recorded)
            if result.certain:
                outcomes.append(Outcome.UPDATED)
            elif result.likely:
                outcomes.append(Outcome.LIKELY_MATCH)
            else:
                outcomes.append(Outcome.NEW)
        return outcomes


def _digest(key: tuple[object, ...]) -> bytes:
    """A row's identity for the file's duplicate check, in 16 bytes whatever the names' length:
    the check remembers every row of the file, so it keeps digests rather than the names."""
    return hashlib.blake2b(repr(key).encode(), digest_size=16).digest()


def _school(cache: dict[str, School | None], urn: str) -> School | None:
    if urn not in cache:
        cache[urn] = School.objects.select_related("local_authority").filter(urn=urn).first() if urn else None
    return cache[urn]


_YES_NO = {"yes": YES, "y": YES, "no": NO, "n": NO}
# How each column becomes the form's data (``_form_data``), looked up once per cell.
_DATE, _YES_NO_KIND, _GROUND, _CHOICE, _TEXT, _SKIP = range(6)
_COLUMN_KIND = {
    **{column.name: _TEXT for column in COLUMNS},
    **dict.fromkeys(DATE_COLUMNS, _DATE),
    **dict.fromkeys(YES_NO_COLUMNS, _YES_NO_KIND),
    "ground_confirmed": _GROUND,
    **dict.fromkeys(CHOICE_COLUMNS, _CHOICE),
    "school_urn": _SKIP,
}
_DATE_KEYS = {column: (f"{column}_day", f"{column}_month", f"{column}_year") for column in DATE_COLUMNS}


def _form_data(row: dict[str, Any]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The row as the form's POST data would be; with any date that cannot be read."""
    data: dict[str, str] = {}
    errors = []
    for column, value in row.items():
        text = str(value or "").strip()
        kind = _COLUMN_KIND.get(column, _TEXT)
        if kind == _TEXT:
            data[column] = text
        elif kind == _DATE:
            if not text:
                continue
            parts = _date_parts(text)
            if parts is None:
                label = NotificationForm.base_fields[column].label or column
                errors.append((column, DATE_MESSAGE.format(label=label)))
                continue
            day, month, year = _DATE_KEYS[column]
            data[day], data[month], data[year] = parts
        elif kind == _YES_NO_KIND:
            data[column] = _YES_NO.get(text.lower(), text)
        elif kind == _GROUND:
            if text.lower() in ("yes", "y"):
                data[column] = "on"
        elif kind == _CHOICE:
            data[column] = _choice_codes(column).get(text.casefold(), text)
    for n in (1, 2):
        same = f"parent_{n}_same_address"
        if not data.get(same) and any(data.get(f"parent_{n}_{name}") for name in ("first_name", "last_name")):
            data[same] = NO if data.get(f"parent_{n}_address_line_1") else YES
    return data, errors


def _date_parts(text: str) -> tuple[str, str, str] | None:
    iso = _ISO.fullmatch(text)
    if iso:
        return iso.group(3), iso.group(2), iso.group(1)
    uk = _UK.fullmatch(text)
    if uk:
        return uk.group(1), uk.group(2), uk.group(3)
    return None


@functools.cache
def _choice_codes(column: str) -> dict[str, str]:
    """The column's choices: each one's code by its code and by its wording, case-folded (the
    first choice that has it). A value that is neither is given to the form as it is."""
    codes: dict[str, str] = {}
    for code, label in CHOICE_COLUMNS[column]:
        codes.setdefault(code.casefold(), code)
        codes.setdefault(str(label).casefold(), code)
    return codes


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


def _already_recorded(records: Sequence[IntakeRecord], la: LocalAuthority) -> set[int]:
    """Indexes of records whose notification is already on the register: the same school, child
    (names and date of birth) and day the notice was received, on a case still open. A file
    imported twice, or a run resumed after a failure, changes nothing for them."""
    if not records:
        return set()
    dates = sorted({r.child.date_of_birth for r in records if r.child is not None})
    schools = sorted({r.opened_by_school.pk for r in records if r.opened_by_school is not None})
    notices = sorted({r.notice.notice_received_on for r in records if r.notice is not None})
    firsts = {name_key(r.child.legal_first_name) for r in records if r.child is not None}
    lasts = {name_key(r.child.legal_last_name) for r in records if r.child is not None}
    held = set()
    for school_id, first, last, born, notice_on in OffRollNotification.objects.filter(
        name_key_may_be("legal_first_name", firsts),  # most names left in the database, not keyed here
        name_key_may_be("legal_last_name", lasts),
        residence_la=la,
        date_of_birth__any=dates,  # a chunk's thousand dates as one array parameter
        school_id__any=schools,
        notice_received_on__any=notices,
        episode__state__in=ACTIVE_STATES,
    ).values_list("school_id", "legal_first_name", "legal_last_name", "date_of_birth", "notice_received_on"):
        held.add((school_id, name_key(first), name_key(last), born, notice_on))
    found = set()
    for index, r in enumerate(records):
        assert r.child is not None
        assert r.notice is not None
        assert r.opened_by_school is not None
        key = (
            r.opened_by_school.pk,
            name_key(r.child.legal_first_name),
            name_key(r.child.legal_last_name),
            r.child.date_of_birth,
            r.notice.notice_received_on,
        )
        if key in held:
            found.add(index)
    return found


register(NotificationsFormat())
