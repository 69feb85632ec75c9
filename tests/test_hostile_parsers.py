"""Every parser and validator, fed hostile input: each either answers or refuses in its own
documented way (``ValidationError``, ``None``, ``ValueError`` with the line), never anything else.

Validators are collected from ``ehe_register.validators`` by name (``validate_*``,
``normalise_*``, ``is_*`` taking one string), so a new one is covered. The query strings every
page reads (page numbers, "next page" keys, filters) are fuzzed over HTTP at the end.
"""

from __future__ import annotations

import contextlib
import csv
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from ehe_register import validators
from ehe_register.forms.fields import ascii_digits, ascii_int
from ehe_register.services.matching import name_key, name_parts
from ehe_register.services.reference_data import local_authority_rows, reason_code_rows
from notifications.delivery import message_id_header
from tests.access_matrix import ADMIN, OK
from tests.hostile import BLNS, FUZZ_SETTINGS, hostile_text, storable_text
from tests.test_access_matrix import EXPECTED, principals, url_kwargs  # noqa: F401 - fixtures
from tests.test_hostile_http import FormReader
from workflows.selectors import AFTER_SEPARATOR, QUEUE_KEYS, keyset_values


def string_validators() -> list[Callable[[str], Any]]:
    found = []
    for name, function in inspect.getmembers(validators, inspect.isfunction):
        if function.__module__ != validators.__name__ or not name.startswith(("validate_", "normalise_", "is_")):
            continue
        parameters = list(inspect.signature(function).parameters.values())
        if len(parameters) == 1 and parameters[0].annotation in (str, "str"):
            found.append(function)
    return found


VALIDATORS = string_validators()


def test_the_validators_are_found() -> None:
    names = {f.__name__ for f in VALIDATORS}
    assert {"validate_upn", "validate_postcode", "validate_nhs_number", "validate_uk_phone"} <= names
    assert {"normalise_postcode", "is_temporary_upn"} <= names


@pytest.mark.parametrize("validator", VALIDATORS, ids=lambda f: f.__name__)
def test_validators_raise_only_validation_error(validator: Callable[[str], Any]) -> None:
    @FUZZ_SETTINGS
    @given(st.one_of(hostile_text(), st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUVWXYZ ", max_size=16)))
    def run(value: str) -> None:
        with contextlib.suppress(ValidationError):
            validator(value)

    run()


@FUZZ_SETTINGS
@given(st.one_of(hostile_text(), st.integers(), st.none(), st.booleans(), st.floats()))
def test_ascii_int_reads_only_the_digits_0_to_9(value: object) -> None:
    result = ascii_int(value)
    if isinstance(value, str) and result is not None:
        assert value.strip().isascii()
        assert value.strip().isdigit()
    if isinstance(value, str):
        assert ascii_digits(value) == (value != "" and value.isascii() and value.isdigit())


@pytest.mark.parametrize("queue", sorted(QUEUE_KEYS))
def test_next_page_keys_are_read_or_refused(queue: str) -> None:
    keys = QUEUE_KEYS[queue]

    @FUZZ_SETTINGS
    @given(st.lists(hostile_text(), min_size=0, max_size=len(keys) + 1).map(AFTER_SEPARATOR.join))
    def run(token: str) -> None:
        keyset_values(keys, token)  # a list or None, never an exception

    run()
    for hostile in BLNS:
        keyset_values(keys, AFTER_SEPARATOR.join([hostile] * len(keys)))


@FUZZ_SETTINGS
@given(hostile_text())
def test_names_are_keyed_in_every_script(value: str) -> None:
    assert isinstance(name_key(value), str)
    assert isinstance(name_parts(value), set)


@FUZZ_SETTINGS
@given(storable_text())
def test_message_ids_are_made_from_any_stored_key(value: str) -> None:
    header = message_id_header(value)
    assert header.isascii()
    assert "\n" not in header


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8", errors="surrogatepass") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def hostile_rows() -> list[list[str]]:
    return [[BLNS[(i * 7 + j) % len(BLNS)] for j in range(6)] for i in range(len(BLNS))]


def test_the_reason_codes_file_is_read_or_refused_with_its_line(tmp_path: Path, hostile_rows: list[list[str]]) -> None:
    refusals: list[tuple[int, str]] = []
    for number, row in enumerate(hostile_rows):
        path = _write_csv(tmp_path / "reasons.csv", ["code", "label", "dfe_category", "order", "active"], [row[:5]])
        try:
            reason_code_rows(path)
        except ValueError as refused:
            refusals.append((number, str(refused)))
    assert refusals  # most hostile codes are refused ...
    assert all("line 2" in message for _, message in refusals)  # ... each naming its line


def test_the_la_list_skips_what_is_not_a_live_single_la(tmp_path: Path, hostile_rows: list[list[str]]) -> None:
    header = ["old_la_code", "new_la_code", "la_name", "status"]
    rows = [[row[0], row[1], row[2], row[3] if i % 2 else "live"] for i, row in enumerate(hostile_rows)]
    read = local_authority_rows(_write_csv(tmp_path / "las.csv", header, rows))
    assert all(r.dfe_code.isascii() and r.dfe_code.isdigit() and len(r.dfe_code) == 3 for r in read)


# --- Query strings over HTTP --------------------------------------------------------------------------

QUERY_NAMES = ["page", "after", "q", "sort", "next", "kind", "unread", "state", "school", "officer", "format"]


@pytest.mark.django_db
def test_every_page_reads_hostile_query_strings(
    principals: dict[str, Any],  # noqa: F811
    url_kwargs: dict[str, Callable[[], dict[str, Any]]],  # noqa: F811
) -> None:
    """Each page the matrix opens, as the first principal it lets in, with hostile values for the
    query parameters the service reads and for every control of the page's search forms."""
    findings = []
    for number, (name, expected) in enumerate(sorted(EXPECTED.items())):
        who = next((p for p in principals if expected.get(p) == OK), None)
        if name == ADMIN or who is None:
            continue
        client = Client(raise_request_exception=False)
        if principals[who] is not None:
            client.force_login(principals[who])
        url = reverse(name, kwargs=url_kwargs[name]() if name in url_kwargs else None)
        page = client.get(url)
        names = list(QUERY_NAMES)
        if "html" in page.get("Content-Type", ""):
            reader = FormReader(f"http://testserver{url}")
            reader.feed(page.content.decode())
            names += [n for form in reader.forms if form.method == "get" for n in form.names]
        for round_ in range(3):
            query = {n: BLNS[(number * 31 + round_ * 97 + i * 11) % len(BLNS)] for i, n in enumerate(names)}
            answer = client.get(url, query)
            if answer.status_code >= 500:
                findings.append(f"{name} as {who}: {answer.status_code} with {query!r:.300}")
    assert findings == []
