"""Every form on every page, submitted over HTTP with hostile strings: never a server error, and
a submission the service refuses leaves every table as it was (no partial write).

The pages are the URLs of the access matrix (``tests/test_access_matrix.py``), each opened by
every principal the matrix lets in, and every decision page of a case; their forms are read
from the HTML, so a form added to any page is fuzzed without being listed here. Forms posting
elsewhere (the case page's actions) are followed to their own URL. Django's own admin is left
to Django.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from ehe_register.accounts.two_factor import enrolment_link_issue
from tests.access_matrix import ADMIN, OK
from tests.factories import make_episode
from tests.hostile import BLNS
from tests.test_access_matrix import EXPECTED, principals, url_kwargs  # noqa: F401 - fixtures
from workflows.models import Episode
from workflows.states import State
from workflows.views.actions import PAGES

pytestmark = pytest.mark.django_db

# Forms that end the session or hand out credentials are not input to fuzz.
NOT_FUZZED_ACTIONS = ("/accounts/sign-out/", "/accounts/people/")
# Written by reading a page (who viewed which child), not by the submission.
READ_LOGS = {"ehe_register_accesslog"}
SUBMISSIONS_WITH_EVERY_FIELD_HOSTILE = 3


@dataclass
class PageForm:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # (name, value the page holds)

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(name for name, _ in self.fields))


class FormReader(HTMLParser):
    """The forms of a page: action, method and each named control with its current value."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[PageForm] = []
        self._form: PageForm | None = None
        self._select: str | None = None
        self._select_value: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = PageForm(
                urljoin(self.page_url, a.get("action") or self.page_url), a.get("method", "get").lower()
            )
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox") and "checked" not in a and a["name"] in self._form.names:
                return
            self._form.fields.append((a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name"):
            self._select, self._select_value = a["name"], None
        elif tag == "option" and self._select is not None:
            if self._select_value is None or "selected" in a:
                self._select_value = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._form.fields.append((a["name"], ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None and self._form is not None:
            self._form.fields.append((self._select, self._select_value or ""))
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def page_forms(client: Client, url: str) -> list[PageForm]:
    response = client.get(url)
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        return []
    reader = FormReader(f"http://testserver{url}")
    reader.feed(response.content.decode())
    return [
        f
        for f in reader.forms
        if f.names and not urlsplit(f.action).path.startswith(NOT_FUZZED_ACTIONS) and "/admin/" not in f.action
    ]


def row_counts() -> dict[str, int]:
    """Rows in every table of the product's apps (history tables included: they count updates)."""
    tables = sorted(
        {
            model._meta.db_table
            for label in ("ehe_register", "workflows", "imports", "notifications")
            for model in apps.get_app_config(label).get_models()
            if not model._meta.proxy and model._meta.managed
        }
        - READ_LOGS
    )
    sql = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")' for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(zip(tables, cursor.fetchone(), strict=True))


def submissions(form: PageForm, round_: int) -> Iterator[dict[str, list[str]]]:
    """Every field hostile at once (a few rounds), then each field alone on the page's own values."""
    names = form.names
    for n in range(SUBMISSIONS_WITH_EVERY_FIELD_HOSTILE):
        yield {name: [BLNS[(round_ * 131 + n * 53 + i * 7) % len(BLNS)]] for i, name in enumerate(names)}
    own: dict[str, list[str]] = {}
    for name, value in form.fields:
        own.setdefault(name, []).append(value)
    for i, name in enumerate(names):
        yield {**own, name: [BLNS[(round_ * 17 + i * 29) % len(BLNS)]]}


@dataclass
class Finding:
    url: str
    problem: str


def fuzz_form(client: Client, page_url: str, form: PageForm, round_: int, findings: list[Finding]) -> None:
    target = urlsplit(form.action).path + (f"?{urlsplit(form.action).query}" if urlsplit(form.action).query else "")
    for data in submissions(form, round_):
        before = row_counts() if form.method == "post" else None
        response = client.post(target, data) if form.method == "post" else client.get(target, data)
        if response.status_code >= 500:
            findings.append(Finding(target, f"{response.status_code} from {page_url}'s form with {data!r:.300}"))
            continue
        if before is not None and response.status_code not in (301, 302, 303):
            after = row_counts()
            changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
            if changed:
                findings.append(Finding(target, f"refused ({response.status_code}) but wrote {changed}"))


def transition_pages(la: Any) -> list[str]:
    """One page per decision a case can take, each on a case in a state the decision starts from."""
    urls = []
    # The notice period is over, so the order can be served.
    fields = {"sao_served": {"s437_served_on": timezone.localdate() - timedelta(days=30)}}
    for name in sorted(PAGES):
        sources = sorted(s for s in transition_sources(name) if s in State.values)
        episode = make_episode(sources[0], la=la, **fields.get(name, {}))
        urls.append(reverse("cases:transition", kwargs={"pk": episode.pk, "name": name}))
    return urls


def transition_sources(name: str) -> set[str]:
    field = Episode._meta.get_field("state")
    return {str(t.source) for t in field.get_all_transitions(Episode) if t.name == name}  # type: ignore[attr-defined]


def pages(
    people: dict[str, Any], arguments: dict[str, Callable[[], dict[str, Any]]], la: Any
) -> list[tuple[str, list[str]]]:
    """Each page, and the principals the matrix lets open it."""
    found = []
    for name, expected in sorted(EXPECTED.items()):
        if name in (ADMIN, "cases:transition"):  # every decision is below, each on a case of its own
            continue
        who = [p for p in people if expected.get(p) == OK]
        if who:
            found.append((reverse(name, kwargs=arguments[name]() if name in arguments else None), who))
    caseworkers = ["ehe_manager", "ehe_officer", "cspa_duty_worker", "head_of_service"]
    found.extend((url, caseworkers) for url in transition_pages(la))
    found.append((reverse("accounts:enrol_set_up"), ["cspa_manager"]))  # holds a live link (clients())
    return found


def clients(people: dict[str, Any]) -> dict[str, Client]:
    """One client per principal; two of them set up to see the two-factor forms."""
    signed_in: dict[str, Client] = {}
    for who, user in people.items():
        client = Client(raise_request_exception=False)  # a server error is a finding, listed with the rest
        if user is not None:
            client.force_login(user)
        signed_in[who] = client
    # The second step of signing in, for someone with an authenticator.
    TOTPDevice.objects.create(user=people["auditor"], name="app", confirmed=True)
    # The enrolment page, for someone holding a live link.
    token = enrolment_link_issue(user=people["cspa_manager"], issued_by=None)
    signed_in["cspa_manager"].get(reverse("accounts:enrol", kwargs={"token": token}))
    return signed_in


def test_every_form_on_every_page_takes_hostile_strings(
    principals: dict[str, Any],  # noqa: F811
    url_kwargs: dict[str, Callable[[], dict[str, Any]]],  # noqa: F811
    la: Any,
    settings: Any,
) -> None:
    settings.EHE_NOTIFICATIONS_PER_HOUR = 0
    findings: list[Finding] = []
    fuzzed: set[tuple[str, str]] = set()
    by_principal = clients(principals)
    for round_, (url, who) in enumerate(pages(principals, url_kwargs, la)):
        for principal in who:
            for form in page_forms(by_principal[principal], url):
                key = (urlsplit(form.action).path, ",".join(sorted(form.names)))
                if key in fuzzed:
                    continue
                fuzzed.add(key)
                fuzz_form(by_principal[principal], url, form, round_, findings)
    assert findings == []
    # The walk reached the forms that matter (a page that stopped rendering its form fails here).
    paths = {path for path, _ in fuzzed}
    for must in [
        "/school/notify/",
        "/school/requests/",
        "/cases/new/",
        "/accounts/sign-in/",
        "/accounts/two-factor/",
        "/accounts/two-factor/enrol/",
        "/actions/close/",
        "/actions/sao_served/",
    ]:
        assert any(must in path for path in paths), must
    assert len(fuzzed) >= 45, sorted(fuzzed)
