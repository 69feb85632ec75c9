"""What every format parser gives back, and the checks they share with the forms.

A parser reads one file as a stream and yields one :class:`ParsedRow` per row (a spreadsheet row,
a CTF pupil): either the one intake record (``workflows.services.intake.IntakeRecord``) or the
problems that stop it, each a ``RowError`` of the registry (``imports.formats``) naming the column
or element and saying in plain English what to fix. A problem with the whole file (not XML, an XML
bomb, a CTF from another LA's school, a missing column) raises the registry's ``BadFile`` instead,
and nothing in the file is imported.

The child's details go through :func:`child_details_check`, which uses the validators the
officer's new-case form and the school's form use (UPN check letter, postcode, UK phone, NHS
number, the same length limits and messages), so an import is never a way round the form's rules.
Parsers never write to the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from ehe_register.models import Relationship, SenStatus, Sex, SocialCareStatus
from ehe_register.services.children import ChildDetails, ParentDetails
from ehe_register.validators import validate_nhs_number, validate_postcode, validate_uk_phone, validate_upn
from imports.formats import RowError
from workflows.services.intake import IntakeRecord

EMAIL_MESSAGE = "Enter an email address in the correct format, like name@example.com"
#: Longest text kept from any one cell or element; longer values are refused with a message (the
#: database limits below are all shorter, this only bounds the work done on a hostile cell).
CELL_LIMIT = 10_000


@dataclass(frozen=True)
class ParsedRow:
    """One row of a file: the record it gives, or the problems that stop it.

    ``row`` is the number the person sees: the spreadsheet's row number (the heading row is row 1),
    or a CTF pupil's position in the file (the first pupil is 1). ``label`` says which in words.
    """

    row: int
    record: IntakeRecord | None
    errors: tuple[RowError, ...] = ()
    label: str = ""

    @property
    def ok(self) -> bool:
        return self.record is not None and not self.errors


@dataclass
class Problems:
    """Collects a row's problems; ``where`` maps a field's key to the name the person knows it by
    (a column heading or an element path), ``row`` is the row's number as :class:`ParsedRow` has it."""

    where: Mapping[str, str] = field(default_factory=dict)
    row: int = 0
    errors: list[RowError] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)  # the fields with a problem

    def add(self, key: str, message: str) -> None:
        self.errors.append(RowError(self.row, self.where.get(key, key), message))
        self.keys.add(key)

    def __bool__(self) -> bool:
        return bool(self.errors)


def text(value: object) -> str:
    """A cell or element's text, stripped; nothing (None) is the empty string."""
    if value is None:
        return ""
    return str(value).strip()


def text_check(problems: Problems, key: str, value: str, label: str, max_length: int) -> str:
    """The value if it can be stored: no null character (PostgreSQL cannot store one; Django's
    forms refuse it too) and not longer than the form allows."""
    if "\x00" in value:
        problems.add(key, f"{label} must not contain a null character")
        return ""
    if len(value) > max_length:
        problems.add(key, f"{label} must be {max_length} characters or less")
        return ""
    return value


_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[T ][0-9:.]+(?:Z|[+-][0-9:]+)?)?")
_UK_DATE = re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})(?: [0-9:]+)?")


def date_parse(value: object) -> date | None:
    """A date written as 2014-03-27 or 27/03/2014 (also 27-03-2014 and 27.03.2014, as UK
    spreadsheets and the GIAS extract write them), or a date a spreadsheet cell already holds.
    Only the digits 0 to 9 are read. None when it is not a real date."""
    if isinstance(value, datetime):
        return value.date()  # a spreadsheet's date-and-time cell: its day
    if isinstance(value, date):
        return value
    value = text(value)
    iso = _ISO_DATE.fullmatch(value)
    uk = _UK_DATE.fullmatch(value) if iso is None else None
    if iso is not None:
        year, month, day = (int(part) for part in iso.groups())
    elif uk is not None:
        day, month, year = (int(part) for part in uk.groups())
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def date_check(problems: Problems, key: str, value: object, label: str, *, example: str) -> date | None:
    """A date, or a problem saying how to write it; blank is None with no problem."""
    if isinstance(value, date) or text(value):
        parsed = date_parse(value)
        if parsed is None:
            problems.add(key, f"{label} must be a real date, like {example}")
        return parsed
    return None


SEX_VALUES = {"m": Sex.MALE, "male": Sex.MALE, "f": Sex.FEMALE, "female": Sex.FEMALE}
SEX_UNKNOWN = {"", "u", "unknown", "not known", "9", "0"}

_CHOICE_KEY = re.compile(r"[\s_\-]+")


def choice_key(value: str) -> str:
    """How a choice is compared: case-folded, runs of spaces, hyphens and underscores as one space."""
    return _CHOICE_KEY.sub(" ", value.casefold()).strip()


def choice_lookup(choices: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Stored value by value or label, compared with :func:`choice_key`."""
    lookup: dict[str, str] = {}
    for value, label in choices:
        lookup[choice_key(str(value))] = str(value)
        lookup[choice_key(str(label))] = str(value)
    return lookup


SEN_LOOKUP = choice_lookup(SenStatus.choices) | {"ehcp": SenStatus.EHCP, "sen support": SenStatus.SEN_SUPPORT}
SOCIAL_CARE_LOOKUP = choice_lookup(SocialCareStatus.choices) | {
    "cin": SocialCareStatus.CHILD_IN_NEED,
    "cp": SocialCareStatus.CHILD_PROTECTION_PLAN,
    "cpp": SocialCareStatus.CHILD_PROTECTION_PLAN,
    "lac": SocialCareStatus.LOOKED_AFTER,
    "cla": SocialCareStatus.LOOKED_AFTER,
    "s47": SocialCareStatus.S47_OPEN,
}
RELATIONSHIP_LOOKUP = choice_lookup(Relationship.choices) | {
    "mum": Relationship.MOTHER,
    "dad": Relationship.FATHER,
    "stepparent": Relationship.STEP_PARENT,
    "foster parent": Relationship.FOSTER_CARER,
}


def child_details_check(
    raw: Mapping[str, object],
    parents: Iterable[Mapping[str, object]],
    problems: Problems,
    *,
    today: date,
    date_example: str,
) -> ChildDetails | None:
    """The child's details checked as the new-case form checks them, or None with ``problems``.

    ``raw`` holds the child's fields under ``ChildDetails``' names (``sex``, ``sen_status`` and
    ``social_care_status`` as the file gives them: a stored value or its label); each of
    ``parents`` holds ``first_name``, ``last_name``, ``relationship``, ``emergency_phone``,
    ``email`` and optionally ``parental_responsibility`` and ``lives_with_child``, under the keys
    ``parent_<n>_<field>`` in ``problems.where``. As on the form, the child needs legal names, a
    date of birth in the past, an address with a real postcode, and at least one parent or carer
    with an emergency phone number.
    """
    first = required_text(
        problems, "legal_first_name", raw, "Legal first name", 100, "Enter the child's legal first name"
    )
    last = required_text(problems, "legal_last_name", raw, "Legal last name", 100, "Enter the child's legal last name")
    middle = text_check(problems, "legal_middle_names", text(raw.get("legal_middle_names")), "Legal middle names", 200)
    preferred = text_check(
        problems, "preferred_first_name", text(raw.get("preferred_first_name")), "Preferred first name", 100
    )

    dob_value = raw.get("date_of_birth")
    dob = date_check(problems, "date_of_birth", dob_value, "Date of birth", example=date_example)
    if dob is None and not (isinstance(dob_value, date) or text(dob_value)):
        problems.add("date_of_birth", "Enter the child's date of birth")
    elif dob is not None and dob > today:
        problems.add("date_of_birth", "Date of birth must be in the past")

    sex_text = text(raw.get("sex")).casefold()
    sex = SEX_VALUES.get(sex_text, Sex.NOT_KNOWN)
    if sex_text not in SEX_VALUES and sex_text not in SEX_UNKNOWN:
        problems.add("sex", "Sex must be M (male), F (female) or U (not known)")

    upn = _validated(problems, "upn", text(raw.get("upn")), validate_upn)
    nhs = _validated(problems, "nhs_number", text(raw.get("nhs_number")), validate_nhs_number)

    line_1_blank = "Enter address line 1, typically the building and street"
    line_1 = required_text(problems, "address_line_1", raw, "Address line 1", 200, line_1_blank)
    line_2 = text_check(problems, "address_line_2", text(raw.get("address_line_2")), "Address line 2", 200)
    town = required_text(problems, "address_town", raw, "Town or city", 100, "Enter town or city")
    postcode_text = text(raw.get("postcode"))
    postcode = _validated(problems, "postcode", postcode_text, validate_postcode)
    if not postcode_text:
        problems.add("postcode", "Enter postcode")

    sen = _choice(problems, "sen_status", raw.get("sen_status"), SEN_LOOKUP, SenStatus.NONE, "SEN status", SenStatus)
    social_care = _choice(
        problems,
        "social_care_status",
        raw.get("social_care_status"),
        SOCIAL_CARE_LOOKUP,
        SocialCareStatus.NONE,
        "Social care status",
        SocialCareStatus,
    )

    before = len(problems.errors)
    checked_parents = tuple(
        parent for n, values in enumerate(parents, start=1) if (parent := _parent_check(values, n, problems))
    )
    parent_problems = len(problems.errors) > before
    if not checked_parents and not parent_problems:
        problems.add("parents", "Enter at least one parent or carer with an emergency phone number")

    if problems or dob is None:
        return None
    return ChildDetails(
        legal_first_name=first,
        legal_last_name=last,
        legal_middle_names=middle,
        preferred_first_name=preferred,
        date_of_birth=dob,
        sex=sex,
        upn=upn,
        nhs_number=nhs,
        address_line_1=line_1,
        address_line_2=line_2,
        address_town=town,
        postcode=postcode,
        parents=checked_parents,
        sen_status=sen,
        social_care_status=social_care,
        school_year_group=text(raw.get("school_year_group")),
    )


def required_text(
    problems: Problems, key: str, raw: Mapping[str, object], label: str, max_length: int, blank_message: str
) -> str:
    """A required text field: the form's "Enter ..." message when blank, else :func:`text_check`."""
    value = text(raw.get(key))
    if not value:
        problems.add(key, blank_message)
        return ""
    return text_check(problems, key, value, label, max_length)


def _validated(problems: Problems, key: str, value: str, validator: object) -> str:
    """The validator's normalised value, or "" with its message; blank is "" with no problem."""
    if not value:
        return ""
    try:
        return str(validator(value))  # type: ignore[operator]
    except ValidationError as error:
        problems.add(key, error.messages[0])
        return ""


def _choice(
    problems: Problems,
    key: str,
    value: object,
    lookup: Mapping[str, str],
    default: str,
    label: str,
    choices: Iterable[tuple[str, str]] | type,
) -> str:
    given = text(value)
    if not given:
        return default
    found = lookup.get(choice_key(given))
    if found is None:
        labels = ", ".join(str(lab) for _, lab in choices.choices) if hasattr(choices, "choices") else ""
        problems.add(key, f"{label} must be one of: {labels}")
        return default
    return found


def _parent_check(values: Mapping[str, object], n: int, problems: Problems) -> ParentDetails | None:
    """One parent or carer, checked as the form checks parent 1; None with problems when it fails."""
    before = len(problems.errors)
    key = f"parent_{n}_"
    names = {key + "first_name": values.get("first_name"), key + "last_name": values.get("last_name")}
    first = required_text(
        problems, key + "first_name", names, "Parent's first name", 100, "Enter the parent or carer's first name"
    )
    last = required_text(
        problems, key + "last_name", names, "Parent's last name", 100, "Enter the parent or carer's last name"
    )
    relationship_text = text(values.get("relationship"))
    relationship = RELATIONSHIP_LOOKUP.get(choice_key(relationship_text), "")
    if not relationship_text:
        relationship = Relationship.OTHER
    elif not relationship:
        labels = ", ".join(str(label) for _, label in Relationship.choices)
        problems.add(key + "relationship", f"Relationship to the child must be one of: {labels}")
    phone_text = text(values.get("emergency_phone"))
    phone = _validated(problems, key + "emergency_phone", phone_text, validate_uk_phone)
    if not phone_text:
        problems.add(key + "emergency_phone", "Enter an emergency phone number for the parent or carer")
    email = text(values.get("email"))
    if email:
        try:
            if "\x00" in email or len(email) > 254:
                raise ValidationError(EMAIL_MESSAGE)
            validate_email(email)
        except ValidationError:
            problems.add(key + "email", EMAIL_MESSAGE)
            email = ""
    postcode = _validated(problems, key + "postcode", text(values.get("postcode")), validate_postcode)
    line_1 = text_check(problems, key + "address_line_1", text(values.get("address_line_1")), "Address line 1", 200)
    line_2 = text_check(problems, key + "address_line_2", text(values.get("address_line_2")), "Address line 2", 200)
    town = text_check(problems, key + "address_town", text(values.get("address_town")), "Town or city", 100)
    if len(problems.errors) > before:
        return None
    return ParentDetails(
        first_name=first,
        last_name=last,
        relationship=relationship,
        emergency_phone=phone,
        email=email,
        parental_responsibility=bool(values.get("parental_responsibility", True)),
        lives_with_child=bool(values.get("lives_with_child", True)),
        address_line_1=line_1,
        address_line_2=line_2,
        address_town=town,
        postcode=postcode,
    )


def detail(*parts: str, limit: int = 200) -> str:
    """A case's origin for ``Episode.source_detail`` (at most 200 characters), from its parts."""
    joined = ", ".join(part for part in parts if part)
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"
