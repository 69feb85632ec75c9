"""Browser tests: Playwright for Python driving Debian's chromium against pytest-django's live server.

Playwright's sync API runs an event loop in the test's thread, which trips Django's async-safety
check on every ORM call the test makes; the tests make those calls deliberately, between page
loads, so the check is switched off for this package.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page with the service's Content Security Policy in force, as users have it."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def axe_page(browser: Any) -> Iterator[Any]:
    """A page that ignores the CSP, so that axe-core can be injected (script-src 'self')."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm ci)")
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _known_govuk_frontend_issue(rule: str, node: dict[str, Any]) -> bool:
    """GOV.UK Frontend's conditional reveal puts aria-expanded on the radio that reveals content.

    ARIA 1.2 does not allow it on a radio, and axe says so; GOV.UK keeps it on purpose because
    screen readers announce it (alphagov/govuk-frontend#979, listed as a known issue). This is the
    one finding accepted, and only in exactly that form.
    """
    return (
        rule == "aria-allowed-attr"
        and 'class="govuk-radios__input"' in node["html"]
        and "aria-controls=" in node["html"]
        and all("aria-expanded" in line for line in node["failureSummary"].splitlines()[1:])
    )


def _unexpected(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = []
    for violation in violations:
        nodes = [node for node in violation["nodes"] if not _known_govuk_frontend_issue(violation["id"], node)]
        if nodes:
            kept.append({**violation, "nodes": nodes})
    return kept


def _describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines.extend(f"    {node['target']}: {node['failureSummary']}" for node in violation["nodes"])
    return "\n".join(lines)


@pytest.fixture
def axe_violations() -> Callable[[Any], str]:
    """Run axe-core on the page as it is now; return the violations described, or "".

    The one known GOV.UK Frontend finding (see ``_known_govuk_frontend_issue``) is left out.
    """

    def run(page: Any) -> str:
        page.add_script_tag(path=str(AXE))
        results = page.evaluate(
            "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
        )
        described = _describe(_unexpected(results["violations"]))
        if described:
            print(f"axe violations on {page.url}:\n{described}")
        return described

    return run
