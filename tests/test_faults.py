"""Faults against the real servers: the database connection dropped in the middle of a request,
and the database unreachable. The service shows its own page, writes nothing in part, and the
next request works.

The server is pytest-django's live server (a real WSGI server answering real HTTP, one thread
per request, as gunicorn's workers do), the database the real PostgreSQL. The connection is
dropped by ``pg_terminate_backend`` from another connection, the way a database restart, a
failover or an administrator ends it.

The other faults have their tests next to the code they are about: Redis down during a school's
submission and SMTP down, against a real worker, Redis and SMTP server, in
``tests/notifications/test_celery_integration.py`` (and in process in ``test_delivery.py``);
the embedded PostgreSQL killed under ``make run`` in ``tests/ehe_register/test_embedded_db.py``.
"""

from __future__ import annotations

import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from typing import Any

import psycopg
import pytest
from django.db import connection, connections
from django.db.backends import utils as db_utils

from ehe_register.models import LocalAuthority, User
from ehe_register.roles import Role
from tests.factories import TEST_PASSWORD, make_user
from tests.test_hostile_http import row_counts
from tests.workflows.test_new_case_and_merge import new_case_form
from workflows.models import Episode

pytestmark = pytest.mark.django_db(transaction=True)

UNAVAILABLE = "Sorry, the service is unavailable"


class Browser:
    """Real HTTP with cookies and the CSRF token, as a browser sends them."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def open(self, path: str, data: dict[str, Any] | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        try:
            with self.opener.open(f"{self.base_url}{path}", body, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def submit(self, path: str, data: dict[str, Any]) -> tuple[int, str]:
        """Open the page, then post ``data`` with the page's CSRF token."""
        status, page = self.open(path)
        assert status == 200, page[:500]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token is not None
        return self.open(path, {**data, "csrfmiddlewaretoken": token.group(1)})

    def sign_in(self, user: User) -> None:
        status, page = self.submit("/accounts/sign-in/", {"username": user.username, "password": TEST_PASSWORD})
        assert status == 200, page[:500]
        assert "Sign in" not in re.findall(r"<h1[^>]*>([^<]*)</h1>", page), "still on the sign-in page"


@pytest.fixture
def officer(la: LocalAuthority) -> User:
    return make_user(Role.EHE_OFFICER, la)


@pytest.fixture
def browser(live_server: Any, officer: User) -> Browser:
    signed_in = Browser(live_server.url)
    signed_in.sign_in(officer)
    return signed_in


def _side_connection() -> psycopg.Connection[Any]:
    s = connection.settings_dict
    return psycopg.connect(
        dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"] or None, host=s["HOST"], port=s["PORT"] or None
    )


@pytest.fixture
def drop_connection_at(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Arm a fault: the first statement of a request thread whose SQL contains ``fault["sql"]``
    finds its connection ended by ``pg_terminate_backend`` from another connection."""
    fault: dict[str, Any] = {"sql": None, "fired": 0}
    original = db_utils.CursorWrapper.execute
    main = threading.main_thread()

    def execute(self: Any, sql: str, params: Any = None) -> Any:
        if fault["sql"] and fault["sql"] in sql and threading.current_thread() is not main and not fault["fired"]:
            fault["fired"] += 1
            pid = self.db.connection.info.backend_pid
            with _side_connection() as side:
                side.execute("SELECT pg_terminate_backend(%s)", [pid])
        return original(self, sql, params)

    monkeypatch.setattr(db_utils.CursorWrapper, "execute", execute)
    return fault


def test_a_connection_dropped_mid_request_writes_nothing_and_the_next_request_works(
    browser: Browser, drop_connection_at: dict[str, Any]
) -> None:
    before = row_counts()
    # A new case writes the child, their parent, addresses, the episode, its log and clocks in one
    # transaction; the connection goes as the episode row is written, after the child's.
    drop_connection_at["sql"] = 'INSERT INTO "workflows_episode"'
    status, page = browser.submit("/cases/new/", new_case_form())

    assert drop_connection_at["fired"] == 1
    assert status == 503
    assert UNAVAILABLE in page
    assert "Traceback" not in page
    assert row_counts() == before  # the child written before the drop was rolled back with it

    # The next request gets a new connection and works; the same case can be entered again.
    drop_connection_at["sql"] = None
    assert browser.open("/healthz") == (200, "ok\n")
    status, page = browser.submit("/cases/new/", new_case_form())
    assert status == 200
    assert "Ada Lovelace" in page
    assert Episode.objects.count() == 1


def test_a_dropped_connection_on_a_page_that_only_reads_shows_the_same_page(
    browser: Browser, drop_connection_at: dict[str, Any]
) -> None:
    drop_connection_at["sql"] = "workflows_episode"
    status, page = browser.open("/cases/queues/team/")
    assert drop_connection_at["fired"] == 1
    assert status == 503
    assert UNAVAILABLE in page
    assert browser.open("/cases/queues/team/")[0] == 200


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_with_the_database_unreachable_pages_say_so_and_recover(
    browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # New connections (each request thread makes its own) go to a port where nothing listens.
    settings_dict = connections.settings["default"]
    with monkeypatch.context() as down:
        down.setitem(settings_dict, "HOST", "127.0.0.1")
        down.setitem(settings_dict, "PORT", str(_closed_port()))
        probe = Browser(browser.base_url)  # a load balancer's health check carries no cookie
        assert probe.open("/healthz") == (503, "database unavailable\n")
        assert browser.open("/healthz")[0] == 503  # a signed-in browser's session is in the database
        status, page = browser.open("/cases/queues/team/")
        assert status == 503
        assert UNAVAILABLE in page
        status, page = browser.open("/accounts/sign-in/")
        assert status == 503
        assert UNAVAILABLE in page
    assert browser.open("/healthz") == (200, "ok\n")
    assert browser.open("/cases/queues/team/")[0] == 200


def test_an_error_that_is_not_the_database_keeps_the_general_page(
    browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflows.views import queues

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(queues, "queue_keyset_page", broken)
    status, page = browser.open("/cases/queues/team/")
    assert status == 500
    assert "Sorry, there is a problem with the service" in page
