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


def _describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines.extend(f"    {node['target']}: {node['failureSummary']}" for node in violation["nodes"])
    return "\n".join(lines)


@pytest.fixture
def axe_violations() -> Callable[[Any], str]:
    """Run axe-core on the page as it is now; return the violations described, or "" (none are
    excused: the radios that reveal answers no longer carry GOV.UK Frontend's aria-expanded)."""

    def run(page: Any) -> str:
        page.add_script_tag(path=str(AXE))
        results = page.evaluate(
            "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
        )
        described = _describe(results["violations"])
        if described:
            print(f"axe violations on {page.url}:\n{described}")
        return described

    return run
