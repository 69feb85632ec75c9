"""The day a test module is written against, kept true for the whole run.

A module that reads ``timezone.localdate()`` once, at import, and a suite that runs across
midnight disagree about "today" for the tests after it. :func:`stay_on` is an autouse fixture
for such modules: each test runs on that day from noon, the clock ticking as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, time

import pytest
import time_machine

from ehe_register.working_days import LONDON


def stay_on(day: date) -> Callable[[], Iterator[None]]:
    @pytest.fixture(autouse=True)
    def on_the_day() -> Iterator[None]:
        with time_machine.travel(datetime.combine(day, time(12), tzinfo=LONDON), tick=True):
            yield

    return on_the_day
