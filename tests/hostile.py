"""Hostile input for the fuzzing suites: the Big List of Naughty Strings and hypothesis strategies.

``tests/test_hostile_forms.py`` (every form class), ``tests/test_hostile_http.py`` (every page's
forms over HTTP) and ``tests/test_hostile_parsers.py`` (every parser and validator) share these.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.other_digits import OTHER_DIGITS

BLNS: list[str] = json.loads((Path(__file__).resolve().parent / "data" / "blns.json").read_text(encoding="utf-8"))

# Numbers beyond any column, and spellings int() or float() read that a person would not type.
HUGE_NUMBERS = ["9" * 20, "-" + "9" * 20, "1e309", "NaN", "-0", "0x1F", "1_000"]
EDGE_TEXT = ["", " ", "\x00", "a\x00b", "\ud800", "\r\n", "\t", "\u202e", "\ufeff", "ß" * 10_001]

FUZZ_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples on every run, so a failure is reproducible in CI
)


def hostile_text() -> st.SearchStrategy[str]:
    """One value a hostile or careless user might type into any box or put in any query string."""
    return st.one_of(
        st.sampled_from(BLNS),
        st.sampled_from(OTHER_DIGITS + HUGE_NUMBERS + EDGE_TEXT),
        st.text(max_size=60),
        st.text(alphabet=st.characters(categories=["Nd", "No", "Zs", "Cc", "Cf"]), max_size=20),
        st.integers().map(str),
        st.dates().map(lambda d: d.isoformat()),
    )


def storable_text() -> st.SearchStrategy[str]:
    """Hostile text that PostgreSQL can hold (no lone surrogates, which UTF-8 cannot encode): for
    values that come out of the database, never straight from a request."""
    return hostile_text().filter(lambda value: not any(0xD800 <= ord(ch) <= 0xDFFF for ch in value))
