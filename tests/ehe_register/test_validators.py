"""Tests for ehe_register.validators: pure functions, no database."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from ehe_register import validators
from ehe_register.validators import (
    NHS_CHECK_DIGIT_MESSAGE,
    NHS_LENGTH_MESSAGE,
    PHONE_MESSAGE,
    POSTCODE_MESSAGE,
    UPN_CHECK_LETTER_MESSAGE,
    UPN_LA_CODE_MESSAGE,
    UPN_LAST_CHARACTER_MESSAGE,
    UPN_LENGTH_MESSAGE,
    UPN_SERIAL_MESSAGE,
    compulsory_school_age_end,
    compulsory_school_age_start,
    is_compulsory_school_age,
    is_temporary_upn,
    nhs_check_digit,
    normalise_postcode,
    normalise_uk_phone,
    normalise_upn,
    upn_check_letter,
    upn_la_codes,
    validate_nhs_number,
    validate_postcode,
    validate_uk_phone,
    validate_upn,
    year_group,
    year_group_label,
)

BLNS = json.loads((Path(__file__).resolve().parent.parent / "data" / "blns.json").read_text(encoding="utf-8"))


def _message(excinfo: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return excinfo.value.messages


# ---------------------------------------------------------------------------------------------
# LA codes
# ---------------------------------------------------------------------------------------------


def test_la_codes_are_cached() -> None:
    assert upn_la_codes() is upn_la_codes()


@pytest.mark.parametrize(
    "code",
    [
        "201",  # City of London
        "936",  # Surrey
        "838",  # Dorset (post-2019), missing from python-stdnum
        "839",  # BCP, missing from python-stdnum
        "940",
        "941",
        "942",
        "943",
        "314",  # from the combined "314 / 318" cell as well as its own row
        "318",
        "835",  # Dorset (abolished)
        "909",  # Cumbria (abolished)
        "928",  # Northamptonshire (abolished)
        "370",  # appears live and terminated
        "420",  # Isles of Scilly
        "660",  # Welsh range start
        "681",  # Welsh range end
        "670",
        "001",  # DfE pseudo-LA codes
        "005",
    ],
)
def test_la_code_accepted(code: str) -> None:
    assert code in upn_la_codes()


@pytest.mark.parametrize("code", ["000", "006", "659", "682", "999", "804", "x", "940 / 941", "94", "9400"])
def test_la_code_rejected(code: str) -> None:
    assert code not in upn_la_codes()


def test_la_codes_are_all_three_ascii_digits() -> None:
    assert all(re.fullmatch(r"[0-9]{3}", code) for code in upn_la_codes())


# ---------------------------------------------------------------------------------------------
# UPN
# ---------------------------------------------------------------------------------------------

VALID_UPNS = [
    "H801200001001",  # DESIGN vector
    "B801200005001",  # python-stdnum's documented example
    "Z838526018159",
    "U839083016613",
    "N940186091390",
    "Y941996030824",
    "Z942628194821",
    "W943993518190",
    "D835937865797",
    "Q909543231948",
    "V928757491186",
    "E660252760189",
    "X681555979711",
    "U670471049746",
    "Z001507529170",
    "E005342366712",
    "D003571177774",
    "W936768426846",
    "C201563212233",
    "E370079244026",
    "X420859952890",
    "Z702786666176",
    "A314031372159",
    "Q318010928159",
    "Z213013962459",
]

TEMPORARY_UPNS = [
    "J94021547280A",  # hand-checked: 284 mod 23 = 8 -> J
    "G83585280841H",
    "K00348525388Z",
    "K37053933633N",
    "Z37075004743Y",
]


@pytest.mark.parametrize("upn", VALID_UPNS + TEMPORARY_UPNS)
def test_valid_upn(upn: str) -> None:
    assert validate_upn(upn) == upn
    assert upn_check_letter(upn[1:]) == upn[0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" h801200001001 ", "H801200001001"),
        ("h801200001001", "H801200001001"),
        ("\tj94021547280a\n", "J94021547280A"),
    ],
)
def test_upn_is_normalised(raw: str, expected: str) -> None:
    assert normalise_upn(raw) == expected
    assert validate_upn(raw) == expected


@pytest.mark.parametrize("upn", TEMPORARY_UPNS)
def test_temporary_upn(upn: str) -> None:
    assert is_temporary_upn(upn)
    assert is_temporary_upn(upn.lower())


@pytest.mark.parametrize("upn", VALID_UPNS)
def test_permanent_upn_is_not_temporary(upn: str) -> None:
    assert not is_temporary_upn(upn)


@pytest.mark.parametrize("value", ["", "A", "J94021547280", "J94021547280AB"])
def test_short_or_long_value_is_not_temporary(value: str) -> None:
    assert not is_temporary_upn(value)


@pytest.mark.parametrize(
    ("upn", "message"),
    [
        # length first
        ("", UPN_LENGTH_MESSAGE),
        ("   ", UPN_LENGTH_MESSAGE),
        ("H80120000100", UPN_LENGTH_MESSAGE),
        ("H8012000010011", UPN_LENGTH_MESSAGE),
        ("H801 200 001 001", UPN_LENGTH_MESSAGE),
        ("H801200001001H801200001001", UPN_LENGTH_MESSAGE),
        # characters 2-4
        ("H000200001001", UPN_LA_CODE_MESSAGE),
        ("H999200001001", UPN_LA_CODE_MESSAGE),
        ("H804200001001", UPN_LA_CODE_MESSAGE),
        ("H659200001001", UPN_LA_CODE_MESSAGE),
        ("H682200001001", UPN_LA_CODE_MESSAGE),
        ("H006200001001", UPN_LA_CODE_MESSAGE),
        ("HABC200001001", UPN_LA_CODE_MESSAGE),
        ("H 80200001001", UPN_LA_CODE_MESSAGE),
        ("H\u0668\u0660\u0661200001001", UPN_LA_CODE_MESSAGE),  # Arabic-Indic digits are not LA codes
        ("Z000AAAAAAAA!", UPN_LA_CODE_MESSAGE),  # LA code checked before the rest
        # characters 5-12
        ("H8012000A1001", UPN_SERIAL_MESSAGE),
        ("H801-00001001", UPN_SERIAL_MESSAGE),
        ("H801 00001001", UPN_SERIAL_MESSAGE),
        ("H801\u00b200001001", UPN_SERIAL_MESSAGE),  # superscript two: isdigit() but not a digit here
        ("Z801AAAAAAAA!", UPN_SERIAL_MESSAGE),  # serial checked before character 13
        # character 13
        ("H80120000100I", UPN_LAST_CHARACTER_MESSAGE),
        ("H80120000100O", UPN_LAST_CHARACTER_MESSAGE),
        ("H80120000100S", UPN_LAST_CHARACTER_MESSAGE),
        ("H80120000100*", UPN_LAST_CHARACTER_MESSAGE),
        ("Z80120000100!", UPN_LAST_CHARACTER_MESSAGE),  # character 13 checked before the check letter
        # check letter last
        ("Z801200001001", UPN_CHECK_LETTER_MESSAGE),  # DESIGN vector
        ("A801200005001", UPN_CHECK_LETTER_MESSAGE),
        ("1801200001001", UPN_CHECK_LETTER_MESSAGE),
        ("I801200001001", UPN_CHECK_LETTER_MESSAGE),
        ("H801200001010", UPN_CHECK_LETTER_MESSAGE),  # transposed last two digits
        ("H801200001002", UPN_CHECK_LETTER_MESSAGE),  # one digit mistyped
        ("Y838526018159", UPN_CHECK_LETTER_MESSAGE),
        ("A94021547280A", UPN_CHECK_LETTER_MESSAGE),  # temporary UPN with a wrong check letter
    ],
)
def test_invalid_upn(upn: str, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_upn(upn)
    assert _message(excinfo) == [message]


def test_check_letter_rejects_a_bad_body() -> None:
    with pytest.raises(ValueError, match="12 characters"):
        upn_check_letter("80120000100")
    with pytest.raises(ValueError, match="cannot appear"):
        upn_check_letter("80120000100I")


# ---------------------------------------------------------------------------------------------
# Postcode
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("EC1A 1BB", "EC1A 1BB"),  # AANA NAA
        ("W1A 0AX", "W1A 0AX"),  # ANA NAA
        ("M1 1AE", "M1 1AE"),  # AN NAA
        ("B33 8TH", "B33 8TH"),  # ANN NAA
        ("CR2 6XH", "CR2 6XH"),  # AAN NAA
        ("DN55 1PT", "DN55 1PT"),  # AANN NAA
        ("GU21 4QU", "GU21 4QU"),  # Woking, Surrey
        ("KT1 2DN", "KT1 2DN"),  # Kingston upon Thames (Surrey County Hall)
        ("RH1 1SH", "RH1 1SH"),
        ("GU1 4LH", "GU1 4LH"),
        ("SW1A 1AA", "SW1A 1AA"),
        ("SW1A 2AA", "SW1A 2AA"),
        ("WC2N 5DU", "WC2N 5DU"),
        ("N1 9GU", "N1 9GU"),
        ("E1 6AN", "E1 6AN"),
        ("M60 2LA", "M60 2LA"),
        ("LS1 4DY", "LS1 4DY"),
        ("CF10 1EP", "CF10 1EP"),
        ("BT1 5GS", "BT1 5GS"),
        ("EH1 1YZ", "EH1 1YZ"),
        ("GIR 0AA", "GIR 0AA"),
        ("gir0aa", "GIR 0AA"),
        ("ec1a1bb", "EC1A 1BB"),
        ("  sw1a   1aa  ", "SW1A 1AA"),
        ("Gu21\t4qu\n", "GU21 4QU"),
        ("S W 1 A 1 A A", "SW1A 1AA"),
    ],
)
def test_valid_postcode(raw: str, expected: str) -> None:
    assert normalise_postcode(raw) == expected
    assert validate_postcode(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "SW1A",
        "1AA",
        "A 1AA",
        "SW1A 1A",
        "SW1A 1AAX",
        "SW1A 1A1",
        "SW1A-1AA",
        "EC1A 11B",
        "A123 1AA",
        "AAA1 1AA",
        "W1AA 1AA",
        "1W1 1AA",
        "AI1 1AA",  # I not allowed second
        "AZ1 1AA",  # Z not allowed second
        "GIR 0AB",
        "BFPO 123",
        "12345",
        "SW1A 1\u00c4A",
        "\uff33\uff371A 1AA",  # full-width letters
        "EC1A 1BB junk",
        "EC1A 1BBX",
        "M1 1AE1",
        "SW1A 1AA;DROP TABLE",
        "123 SW1A 1AA",
        "<script>SW1A 1AA",
        "XGIR 0AA",
        "GIR 0AA GIR 0AA",
    ],
)
def test_invalid_postcode(raw: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_postcode(raw)
    assert _message(excinfo) == [POSTCODE_MESSAGE]


@pytest.mark.parametrize("raw", ["123 SW1A 1AA", "<script>SW1A 1AA", "XGIR 0AA", "GIR 0AA GIR 0AA"])
def test_postcode_pattern_must_be_anchored(raw: str) -> None:
    """An un-anchored search finds a postcode inside these; only the full match rejects them."""
    assert validators._POSTCODE.search(normalise_postcode(raw)) is not None
    with pytest.raises(ValidationError):
        validate_postcode(raw)


@pytest.mark.parametrize(("raw", "expected"), [("", ""), ("ab", "AB"), ("abc", "ABC"), ("abcd", "A BCD")])
def test_normalise_postcode_short_values(raw: str, expected: str) -> None:
    assert normalise_postcode(raw) == expected


# ---------------------------------------------------------------------------------------------
# NHS number
# ---------------------------------------------------------------------------------------------

VALID_NHS_NUMBERS = [
    "9434765919",  # hand-checked: sum 299, 299 mod 11 = 2, 11 - 2 = 9
    "9434765870",
    "4010232137",
    "9990548609",
    "2914177763",
    "3170669079",
    "4391500086",
    "0636083772",
    "8353374064",
    "8124158681",
    "3449786903",
    "7366258512",
    "7812865703",
    "8303883682",
    "5957489069",
    "8288360750",
    "9838675652",
    "0889957908",
    "3289218406",
    "1107043417",
    "9254122483",
    "2447577109",
]


def _reference_nhs_ok(number: str) -> bool:
    """Independent restatement of the NHS mod-11 rule, to cross-check the vectors."""
    total = sum(int(number[i]) * (10 - i) for i in range(9))
    check = (11 - total % 11) % 11
    return check != 10 and check == int(number[9])


@pytest.mark.parametrize("number", VALID_NHS_NUMBERS)
def test_valid_nhs_number(number: str) -> None:
    assert _reference_nhs_ok(number)
    assert validate_nhs_number(number) == number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("943 476 5919", "9434765919"),
        ("943-476-5919", "9434765919"),
        (" 943 476 5919 ", "9434765919"),
        ("943 - 476 - 5919", "9434765919"),
        ("9434765919\n", "9434765919"),
    ],
)
def test_nhs_number_is_normalised(raw: str, expected: str) -> None:
    assert validate_nhs_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", NHS_LENGTH_MESSAGE),
        ("   ", NHS_LENGTH_MESSAGE),
        ("943476591", NHS_LENGTH_MESSAGE),
        ("94347659199", NHS_LENGTH_MESSAGE),
        ("943 476 591X", NHS_LENGTH_MESSAGE),
        ("abcdefghij", NHS_LENGTH_MESSAGE),
        ("\uff19434765919", NHS_LENGTH_MESSAGE),  # full-width digit
        ("+9434765919", NHS_LENGTH_MESSAGE),
        ("9434.765.919", NHS_LENGTH_MESSAGE),
        ("943/476/5919", NHS_LENGTH_MESSAGE),
        ("9434765918", NHS_CHECK_DIGIT_MESSAGE),
        ("9434765910", NHS_CHECK_DIGIT_MESSAGE),
        ("9434756919", NHS_CHECK_DIGIT_MESSAGE),  # transposed 6 and 5
        ("9434765871", NHS_CHECK_DIGIT_MESSAGE),
        ("4010232138", NHS_CHECK_DIGIT_MESSAGE),
        ("9990548600", NHS_CHECK_DIGIT_MESSAGE),
        ("1434765919", NHS_CHECK_DIGIT_MESSAGE),
        # 123456789: sum 210, 210 mod 11 = 1, 11 - 1 = 10: no check digit is valid
        ("1234567890", NHS_CHECK_DIGIT_MESSAGE),
        ("1234567891", NHS_CHECK_DIGIT_MESSAGE),
        ("1234567895", NHS_CHECK_DIGIT_MESSAGE),
        ("1234567899", NHS_CHECK_DIGIT_MESSAGE),
    ],
)
def test_invalid_nhs_number(raw: str, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_nhs_number(raw)
    assert _message(excinfo) == [message]


def test_remainder_giving_ten_has_no_check_digit() -> None:
    assert nhs_check_digit("123456789") is None
    for last in "0123456789":
        with pytest.raises(ValidationError):
            validate_nhs_number("123456789" + last)


def test_remainder_zero_gives_check_digit_zero() -> None:
    # 0*10 + ... + 0*2 = 0 -> 11 - 0 = 11 -> 0
    assert nhs_check_digit("000000000") == 0
    assert validate_nhs_number("0000000000") == "0000000000"


# ---------------------------------------------------------------------------------------------
# UK phone
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("01632 960 001", "01632960001"),
        ("07700 900 982", "07700900982"),
        ("07700900982", "07700900982"),
        (" 07700 900 982 ", "07700900982"),
        ("+44 7700 900982", "07700900982"),
        ("+447700900982", "07700900982"),
        ("+44 (0)7700 900982", "07700900982"),
        ("+44(0)7700900982", "07700900982"),
        ("0044 7700 900982", "07700900982"),
        ("0044 (0)1632 960001", "01632960001"),
        ("(01632) 960001", "01632960001"),
        ("01632-960-001", "01632960001"),
        ("020 7946 0000", "02079460000"),
        ("+44 20 7946 0000", "02079460000"),
        ("0113 496 0000", "01134960000"),
        ("0121 496 0000", "01214960000"),
        ("0131 496 0000", "01314960000"),
        ("0161 496 0000", "01614960000"),
        ("028 9018 0000", "02890180000"),
        ("029 2018 0000", "02920180000"),
        ("0191 498 0000", "01914980000"),
        ("0300 123 1234", "03001231234"),
        ("0800 123 456", "0800123456"),
        ("0808 157 0000", "08081570000"),
        ("0500 123456", "0500123456"),
        ("0909 879 0000", "09098790000"),
        ("016977 2345", "0169772345"),
    ],
)
def test_valid_uk_phone(raw: str, expected: str) -> None:
    assert normalise_uk_phone(raw) == expected
    assert validate_uk_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "hello",
        "0",
        "0770",
        "123456",
        "077009",
        "077009009",  # 9 digits
        "077009009821",  # 12 digits
        "07700 900 9821 1",
        "7700 900982",  # no leading 0
        "04123 456789",  # 04 not allowed
        "06123 456789",  # 06 not allowed
        "00 7700 900982",
        "+33 1 23 45 67 89",  # France
        "+1 202 555 0123",  # USA
        "0033 123456789",
        "00353 1 234 5678",  # Ireland
        "+353 1 234 5678",
        "+44 07700 900982",  # national 0 kept after +44
        "+44 (0)(0)7700 900982",
        "+44",
        "07700 9OO 982",  # letter O
        "07700.900.982",
        "07700_900_982",
        "07700 900 982 ext 5",
        "tel: 07700900982",
        "\uff107700900982",  # full-width zero
        "07700900982+",
        "44 7700 900982",
    ],
)
def test_invalid_uk_phone(raw: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_uk_phone(raw)
    assert _message(excinfo) == [PHONE_MESSAGE]


# ---------------------------------------------------------------------------------------------
# Compulsory school age and year group
# ---------------------------------------------------------------------------------------------


def _is_last_friday_of_june(day: date) -> bool:
    return day.month == 6 and day.weekday() == 4 and (day + timedelta(days=7)).month == 7


@pytest.mark.parametrize(
    ("dob", "expected"),
    [
        (date(2019, 9, 1), date(2024, 12, 31)),  # 5 on 1 Sept: next prescribed day 31 Dec
        (date(2019, 8, 31), date(2024, 8, 31)),  # 5 on a prescribed day: that day
        (date(2019, 12, 31), date(2024, 12, 31)),
        (date(2020, 1, 1), date(2025, 3, 31)),
        (date(2020, 3, 31), date(2025, 3, 31)),
        (date(2020, 4, 1), date(2025, 8, 31)),
        (date(2020, 2, 29), date(2025, 3, 31)),  # 5th birthday taken as 1 March 2025
        (date(2016, 2, 29), date(2021, 3, 31)),
        (date(2020, 2, 28), date(2025, 3, 31)),
    ],
)
def test_compulsory_school_age_start(dob: date, expected: date) -> None:
    assert compulsory_school_age_start(dob) == expected


@pytest.mark.parametrize(
    ("dob", "expected"),
    [
        # born 1 Sept 2009: 16 on 1 Sept 2025, school year 2025/26, leaves June 2026
        (date(2009, 9, 1), date(2026, 6, 26)),
        # born 31 Aug 2009: 16 on 31 Aug 2025, school year 2024/25, leaves June 2025 (still 15)
        (date(2009, 8, 31), date(2025, 6, 27)),
        (date(2007, 1, 15), date(2023, 6, 30)),  # 30 June 2023 is itself a Friday
        (date(2010, 5, 5), date(2026, 6, 26)),
        (date(2020, 2, 29), date(2036, 6, 27)),  # 16th birthday 29 Feb 2036 (a leap year)
        (date(2008, 2, 29), date(2024, 6, 28)),
        (date(2019, 9, 1), date(2036, 6, 27)),
    ],
)
def test_compulsory_school_age_end(dob: date, expected: date) -> None:
    assert _is_last_friday_of_june(expected)
    assert compulsory_school_age_end(dob) == expected


@pytest.mark.parametrize("year", range(2000, 2041))
def test_end_is_always_the_last_friday_of_june(year: int) -> None:
    assert _is_last_friday_of_june(compulsory_school_age_end(date(year, 1, 1)))


@pytest.mark.parametrize("dob", [date(2019, 9, 1), date(2019, 8, 31), date(2020, 2, 29), date(2010, 5, 5)])
def test_is_compulsory_school_age_edges(dob: date) -> None:
    start = compulsory_school_age_start(dob)
    end = compulsory_school_age_end(dob)
    one_day = timedelta(days=1)
    assert not is_compulsory_school_age(dob, start - one_day)
    assert is_compulsory_school_age(dob, start)
    assert is_compulsory_school_age(dob, end)
    assert not is_compulsory_school_age(dob, end + one_day)


@pytest.mark.parametrize(
    ("dob", "on", "expected"),
    [
        (date(2019, 9, 1), date(2024, 9, 1), 0),  # oldest in Reception
        (date(2020, 8, 31), date(2024, 9, 1), 0),  # youngest in Reception
        (date(2019, 8, 31), date(2024, 9, 1), 1),  # a day older: Year 1
        (date(2019, 8, 31), date(2024, 8, 31), 0),  # still 2023/24 on 31 August
        (date(2019, 9, 1), date(2025, 7, 20), 0),
        (date(2020, 9, 1), date(2024, 9, 1), -1),  # nursery
        (date(2016, 2, 29), date(2021, 9, 1), 1),
        (date(2009, 9, 1), date(2025, 9, 1), 11),
        (date(2009, 8, 31), date(2025, 9, 1), 12),
        (date(2007, 9, 1), date(2025, 9, 1), 13),
        (date(2006, 9, 1), date(2025, 9, 1), 14),
    ],
)
def test_year_group(dob: date, on: date, expected: int) -> None:
    assert year_group(dob, on) == expected


@pytest.mark.parametrize(
    ("n", "label"),
    [
        (-2, "Nursery"),
        (-1, "Nursery"),
        (0, "Reception"),
        (1, "Year 1"),
        (11, "Year 11"),
        (13, "Year 13"),
        (14, "Post-16"),
    ],
)
def test_year_group_label(n: int, label: str) -> None:
    assert year_group_label(n) == label


# ---------------------------------------------------------------------------------------------
# Hostile input: only ValidationError may escape
# ---------------------------------------------------------------------------------------------

VALIDATORS: list[Callable[[str], str]] = [validate_upn, validate_postcode, validate_nhs_number, validate_uk_phone]
NORMALISERS: list[Callable[[str], object]] = [normalise_upn, normalise_postcode, normalise_uk_phone, is_temporary_upn]


def test_blns_is_loaded() -> None:
    assert len(BLNS) == 461
    assert all(isinstance(value, str) for value in BLNS)


@pytest.mark.parametrize("validator", VALIDATORS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("value", BLNS, ids=[f"blns{i}" for i in range(len(BLNS))])
def test_hostile_strings_raise_only_validation_error(validator: Callable[[str], str], value: str) -> None:
    try:
        result = validator(value)
    except ValidationError:
        return
    assert isinstance(result, str)


@pytest.mark.parametrize("function", NORMALISERS, ids=lambda f: f.__name__)
def test_hostile_strings_never_break_normalisers(function: Callable[[str], object]) -> None:
    for value in BLNS:
        function(value)
