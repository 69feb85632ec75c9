"""Validators and date rules for the identifiers and facts a notification carries.

Everything here is pure Python (no database, no models) so that forms, importers (CTF, CSV) and the
escalation rules can share one definition of "valid" and so the rules can be tested exhaustively
without a database. Each ``validate_*`` function returns the normalised value or raises
``django.core.exceptions.ValidationError`` with a message written for the person typing the value;
no other exception may escape, whatever the input (see the hostile-strings test).

The facts behind each rule are in DESIGN.md section 8.
"""

from __future__ import annotations

import csv
import functools
import re
from datetime import date, timedelta
from pathlib import Path

from django.core.exceptions import ValidationError

LAS_CSV = Path(__file__).resolve().parent.parent / "fixtures" / "las.csv"

_ASCII_DIGITS = frozenset("0123456789")

# ---------------------------------------------------------------------------------------------
# UPN (Unique Pupil Number)
# ---------------------------------------------------------------------------------------------

#: The DfE check-letter alphabet: 23 letters, without I, O and S (too easily read as 1, 0 and 5).
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"

UPN_LENGTH_MESSAGE = "UPN must be 13 characters"
UPN_CHECK_LETTER_MESSAGE = "UPN invalid (wrong check letter at character 1)"
UPN_LA_CODE_MESSAGE = "UPN invalid (characters 2-4 not a recognised LA code)"
UPN_SERIAL_MESSAGE = "UPN invalid (characters 5-12 not all numeric)"
UPN_LAST_CHARACTER_MESSAGE = "UPN invalid (character 13 not a recognised value)"

#: Welsh LA codes: Welsh pupils moving to England keep their UPN, and the QA list is England only.
_WELSH_LA_CODES = frozenset(f"{n:03d}" for n in range(660, 682))
#: Pseudo-LA codes the DfE uses inside UPNs (e.g. for UPNs it issues itself); not in the QA list.
_PSEUDO_LA_CODES = frozenset(f"{n:03d}" for n in range(1, 6))


@functools.cache
def upn_la_codes() -> frozenset[str]:
    """Every three-digit LA code a UPN may carry in characters 2-4.

    A UPN is for life, so the code of an LA that has since been abolished or merged (835, 909, 928
    ...) stays valid: every numeric code in the DfE QA list is accepted, live or terminated. Combined
    cells such as ``940 / 941`` yield both codes; ``x`` is skipped. The Welsh codes 660-681 and the
    DfE pseudo-LA codes 001-005 are added because the file does not hold them. We deliberately do not
    use python-stdnum's ``gb.upn``: its list is out of date (no 838, 839, 940-943).
    """
    codes: set[str] = set()
    with LAS_CSV.open(newline="", encoding="utf-8-sig") as handle:
        for record in csv.DictReader(handle):
            for part in (record.get("old_la_code") or "").split("/"):
                code = part.strip()
                if len(code) == 3 and set(code) <= _ASCII_DIGITS:
                    codes.add(code)
    return frozenset(codes | _WELSH_LA_CODES | _PSEUDO_LA_CODES)


def _upn_character_value(character: str) -> int:
    """The weight-table value of one UPN body character: a digit's own value, a letter's index."""
    if len(character) == 1 and character in _ASCII_DIGITS:
        return int(character)
    if len(character) == 1 and character in UPN_LETTERS:
        return UPN_LETTERS.index(character)
    raise ValueError(f"{character!r} cannot appear in a UPN")


def upn_check_letter(body: str) -> str:
    """The check letter (character 1) for a UPN body (characters 2-13).

    sum(value(char_i) * i for i = 2..13) mod 23, mapped into ``UPN_LETTERS``. Raises ``ValueError``
    (not ``ValidationError``: this is a programming error) if ``body`` is not 12 valid characters.
    """
    if len(body) != 12:
        raise ValueError("A UPN body is 12 characters (characters 2-13 of the UPN)")
    total = sum(_upn_character_value(character) * weight for weight, character in enumerate(body, start=2))
    return UPN_LETTERS[total % 23]


def normalise_upn(value: str) -> str:
    """Strip surrounding whitespace and upper-case: UPNs are often typed in lower case or pasted."""
    return value.strip().upper()


def validate_upn(value: str) -> str:
    """Return the normalised UPN or raise ``ValidationError`` with exactly one message.

    The checks run in a fixed order (length, LA code, serial, character 13, check letter) so that
    the message names the first thing the person can fix; the check letter comes last because it
    is only meaningful once the other characters are right.
    """
    upn = normalise_upn(value)
    if len(upn) != 13:
        raise ValidationError(UPN_LENGTH_MESSAGE, code="upn_length")
    if upn[1:4] not in upn_la_codes():
        raise ValidationError(UPN_LA_CODE_MESSAGE, code="upn_la_code")
    if not set(upn[4:12]) <= _ASCII_DIGITS:
        raise ValidationError(UPN_SERIAL_MESSAGE, code="upn_serial")
    if upn[12] not in _ASCII_DIGITS and upn[12] not in UPN_LETTERS:
        raise ValidationError(UPN_LAST_CHARACTER_MESSAGE, code="upn_last_character")
    if upn[0] != upn_check_letter(upn[1:]):
        raise ValidationError(UPN_CHECK_LETTER_MESSAGE, code="upn_check_letter")
    return upn


def is_temporary_upn(upn: str) -> bool:
    """Whether a UPN is a temporary one (a letter from the check table at character 13).

    Schools issue a temporary UPN when the permanent one is not known yet; the officer should look
    for the permanent one. This only looks at character 13 of the normalised value: validate first.
    """
    normalised = normalise_upn(upn)
    return len(normalised) == 13 and normalised[12] in UPN_LETTERS


# ---------------------------------------------------------------------------------------------
# Postcode
# ---------------------------------------------------------------------------------------------

POSTCODE_MESSAGE = "Enter a real postcode, like SW1A 1AA"

# The GOV.UK / ONS data-standards pattern, upper case only (we upper-case first). The published
# expression only anchors its first branch, so a valid postcode followed by junk would pass; it is
# always used with ``fullmatch`` here, which anchors every alternative.
_POSTCODE = re.compile(
    r"(?:GIR 0AA)"
    r"|(?:"
    r"(?:[A-Z][0-9]{1,2}|[A-Z][A-HJ-Y][0-9]{1,2}|[A-Z][0-9][A-Z]|[A-Z][A-HJ-Y][0-9][A-Z]?)"
    r" [0-9][A-Z]{2}"
    r")"
)


def normalise_postcode(value: str) -> str:
    """Upper-case, drop every space, then put one space before the final three characters.

    People type postcodes with no space, two spaces, or in lower case; the inward code is always
    the last three characters, so this gives one stored form to compare and search on.
    """
    compact = "".join(value.upper().split())
    if len(compact) <= 3:
        return compact
    return f"{compact[:-3]} {compact[-3:]}"


def validate_postcode(value: str) -> str:
    """Return the normalised postcode or raise ``ValidationError``.

    The format is checked, not the existence of the postcode: a new-build address may not be in
    any lookup yet.
    """
    postcode = normalise_postcode(value)
    if not _POSTCODE.fullmatch(postcode):
        raise ValidationError(POSTCODE_MESSAGE, code="postcode")
    return postcode


# ---------------------------------------------------------------------------------------------
# NHS number
# ---------------------------------------------------------------------------------------------

NHS_LENGTH_MESSAGE = "NHS number must be 10 digits"
NHS_CHECK_DIGIT_MESSAGE = "NHS number is not valid (the check digit does not match)"


def nhs_check_digit(first_nine: str) -> int | None:
    """The mod-11 check digit for the first nine digits, or None when no digit can be valid.

    Weights 10 down to 2; check = 11 - (sum mod 11); 11 becomes 0 and 10 means the nine digits
    are never issued with any check digit.
    """
    total = sum(int(digit) * weight for digit, weight in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def validate_nhs_number(value: str) -> str:
    """Return the NHS number as 10 digits (spaces and hyphens removed) or raise ``ValidationError``.

    NHS numbers are usually written 3-3-4 with spaces or hyphens; the check digit catches most
    single-digit typos and transpositions before a wrong number is matched to a child.
    """
    digits = "".join(value.split()).replace("-", "")
    if len(digits) != 10 or not set(digits) <= _ASCII_DIGITS:
        raise ValidationError(NHS_LENGTH_MESSAGE, code="nhs_length")
    if nhs_check_digit(digits[:9]) != int(digits[9]):
        raise ValidationError(NHS_CHECK_DIGIT_MESSAGE, code="nhs_check_digit")
    return digits


# ---------------------------------------------------------------------------------------------
# UK phone number
# ---------------------------------------------------------------------------------------------

PHONE_MESSAGE = "Enter a UK phone number, like 01632 960 001 or 07700 900 982"

_PHONE = re.compile(r"0[1235789][0-9]{8,9}")
_PHONE_SEPARATORS = str.maketrans("", "", "-()")


def normalise_uk_phone(value: str) -> str:
    """Reduce a phone number as people write it to its national digits (not validated).

    Whitespace, hyphens and brackets are dropped; an international prefix +44 or 0044 becomes the
    national 0, and the "(0)" people write after +44 is dropped. Anything else (letters, other
    countries' prefixes) is left in place for ``validate_uk_phone`` to reject.
    """
    compact = "".join(value.split())
    for prefix in ("+44", "0044"):
        if compact.startswith(prefix):
            compact = compact[len(prefix) :]
            if compact.startswith("(0)"):
                compact = compact[3:]
            compact = "0" + compact
            break
    return compact.translate(_PHONE_SEPARATORS)


def validate_uk_phone(value: str) -> str:
    """Return the phone number as digits only (national form) or raise ``ValidationError``.

    A UK number is 10 or 11 digits starting 01, 02, 03, 05, 07, 08 or 09. We store digits only so
    that numbers typed differently compare equal; grouping for display is a template concern.
    """
    phone = normalise_uk_phone(value)
    if not _PHONE.fullmatch(phone):
        raise ValidationError(PHONE_MESSAGE, code="uk_phone")
    return phone


# ---------------------------------------------------------------------------------------------
# Compulsory school age and year group (England)
# ---------------------------------------------------------------------------------------------


def _birthday(dob: date, age: int) -> date:
    """The date a child born on ``dob`` turns ``age``; a 29 February birthday falls on 1 March in
    non-leap years (the legal convention in England and Wales)."""
    try:
        return dob.replace(year=dob.year + age)
    except ValueError:
        return date(dob.year + age, 3, 1)


def _age_on(dob: date, on: date) -> int:
    """Completed years of age on ``on``."""
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def compulsory_school_age_start(dob: date) -> date:
    """The prescribed day (31 March, 31 August or 31 December) on or after the 5th birthday.

    Education Act 1996 s.8: a child is of compulsory school age from the prescribed day following
    their 5th birthday, or the birthday itself if it is a prescribed day.
    """
    fifth = _birthday(dob, 5)
    for month, day in ((3, 31), (8, 31), (12, 31)):
        prescribed = date(fifth.year, month, day)
        if prescribed >= fifth:
            return prescribed
    raise AssertionError("unreachable: 31 December is on or after every day of its year")  # pragma: no cover


def _last_friday_of_june(year: int) -> date:
    """The school leaving date of a year: the last Friday in June."""
    june_30 = date(year, 6, 30)
    return june_30 - timedelta(days=(june_30.weekday() - 4) % 7)


def compulsory_school_age_end(dob: date) -> date:
    """The last Friday in June of the school year (1 September-31 August) in which the child turns 16.

    Education (School Leaving Date) Order 1997. A child born 31 August reaches 16 after that Friday
    and still stops being of compulsory school age on it.
    """
    sixteenth = _birthday(dob, 16)
    school_year_ends = sixteenth.year + 1 if sixteenth.month >= 9 else sixteenth.year
    return _last_friday_of_june(school_year_ends)


def is_compulsory_school_age(dob: date, on: date) -> bool:
    """Whether the child is of compulsory school age on ``on`` (both ends inclusive).

    A notification outside this range is accepted and flagged for the officer, not refused.
    """
    return compulsory_school_age_start(dob) <= on <= compulsory_school_age_end(dob)


def year_group(dob: date, on: date) -> int:
    """The national curriculum year for the academic year (from 1 September) containing ``on``.

    Age on the 31 August before that academic year starts, minus 4: 0 is Reception, 1-11 Years
    1-11, 12-13 sixth form, negative nursery. Children educated at home have no school to say which
    year they are in, so the officer sees the year they would be in.
    """
    start_year = on.year if on.month >= 9 else on.year - 1
    return _age_on(dob, date(start_year, 8, 31)) - 4


def year_group_label(n: int) -> str:
    """Human label for a ``year_group`` value."""
    if n < 0:
        return "Nursery"
    if n == 0:
        return "Reception"
    if n <= 13:
        return f"Year {n}"
    return "Post-16"
