"""Settings for benchmark runs: the product's own settings, with three differences.

- ``BENCH_DATABASE_NAME`` (set by the harness) picks the benchmark database on the same server as
  ``DATABASE_URL`` (or the embedded server), so every step runs against ``ehe_bench_<scale>`` or
  a copy of it and never against a developer's database.
- ``DEBUG`` is off, as in production: Django's debug cursor keeps every query in memory and would
  distort both timings and peak memory.
- The school submission rate limit (``EHE_NOTIFICATIONS_PER_HOUR``, read by
  ``workflows.services.submission._check_rate``) is switched off: four clients sending for 30
  seconds would otherwise be refused after 30 notifications an hour. The report says so.
"""

from __future__ import annotations

import os

from ehe_register.settings import *  # noqa: F403
from ehe_register.settings import DATABASES

DEBUG = False
EHE_NOTIFICATIONS_PER_HOUR = 10**9  # the rate limit is off for benchmark runs
if os.environ.get("BENCH_DATABASE_NAME"):
    DATABASES["default"]["NAME"] = os.environ["BENCH_DATABASE_NAME"]
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
