"""Two-factor enrolment in a real browser: an administrator makes a link, an officer follows it,
scans nothing (the test reads the key from the page) and signs in; every page passes axe-core."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from ehe_register.models import LocalAuthority, User
from ehe_register.roles import Role
from tests.factories import TEST_PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def code_for(device: TOTPDevice) -> str:
    device = TOTPDevice.objects.get(pk=device.pk)
    return f"{totp(device.bin_key):06d}"


def sign_in(page: Any, base_url: str, user: User, path: str = "/") -> None:
    page.goto(f"{base_url}{path}")
    page.get_by_label(re.compile(r"^user ?name$", re.IGNORECASE)).fill(user.username)
    page.get_by_label("Password", exact=True).fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_enrolment_by_link_and_every_two_factor_page_passes_axe(
    axe_page: Any, live_server: Any, la: LocalAuthority, axe_violations: Callable[[Any], str], settings: Any
) -> None:
    settings.EHE_REQUIRE_2FA = True
    page, base = axe_page, live_server.url
    found: dict[str, str] = {}

    def check(name: str) -> None:
        if violations := axe_violations(page):
            found[name] = violations

    officer = make_user(Role.EHE_OFFICER, la)
    administrator = make_user(Role.ADMINISTRATOR)
    admin_app = TOTPDevice.objects.create(user=administrator, name="app", confirmed=True)

    # The administrator signs in with a code and makes the officer a link.
    sign_in(page, base, administrator, f"/accounts/people/{officer.pk}/two-factor/")
    page.wait_for_url(re.compile(r"/accounts/two-factor/\?next="))
    check("second step")
    page.get_by_role("textbox", name="Code").fill(code_for(admin_app))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Two-factor sign-in").wait_for()
    check("a person's two-factor sign-in")
    page.get_by_role("button", name="Make an enrolment link").click()
    page.get_by_role("heading", name="Enrolment link made").wait_for()
    check("the link, shown once")
    link = re.search(r"https?://\S+/accounts/two-factor/enrol/[A-Za-z0-9_-]+/", page.content())
    assert link is not None
    page.context.clear_cookies()

    # The officer's password alone leads only to "ask for a link".
    sign_in(page, base, officer)
    page.get_by_role("heading", name="You need an enrolment link to set up two-factor sign-in").wait_for()
    check("needs a link")

    # With the link: the set-up page, a wrong code, then the right one, then the backup codes.
    page.goto(link.group(0))
    page.get_by_role("heading", name="Set up two-factor sign-in").wait_for()
    assert page.get_by_role("img", name="QR code to add this service to your authenticator app").count() == 1
    check("set-up")
    page.get_by_role("textbox", name="Code").fill("000000")
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("There is a problem").wait_for()
    check("set-up with an error")
    device = TOTPDevice.objects.get(user=officer, confirmed=False)
    device.throttle_reset()
    page.get_by_role("textbox", name="Code").fill(code_for(device))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Two-factor sign-in is set up").wait_for()
    assert page.locator("li.app-secret").count() == 10
    check("backup codes, shown once")
    page.get_by_role("link", name="Continue to the service").click()
    page.get_by_role("heading", name="Your cases").wait_for()

    # The used link is refused; the backup codes page no longer shows the codes.
    page.goto(link.group(0))
    page.get_by_role("heading", name="You cannot use this enrolment link").wait_for()
    check("link refused")
    page.goto(f"{base}/accounts/two-factor/backup-codes/")
    page.get_by_role("heading", name="Backup codes").wait_for()
    check("backup codes left")

    # The administrator's reset confirmation page.
    page.context.clear_cookies()
    sign_in(page, base, administrator, f"/accounts/people/{officer.pk}/two-factor/reset/")
    page.wait_for_url(re.compile(r"/accounts/two-factor/\?next="))
    admin_app.refresh_from_db()
    admin_app.last_t = -1  # a new code in the same 30 seconds would be refused as a replay
    admin_app.save(update_fields=["last_t"])
    page.get_by_role("textbox", name="Code").fill(code_for(admin_app))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Reset two-factor sign-in").wait_for()
    check("reset confirmation")
    page.get_by_role("button", name="Reset two-factor sign-in").click()
    page.get_by_role("heading", name="Two-factor sign-in reset").wait_for()
    check("reset done, new link")
    assert not TOTPDevice.objects.filter(user=officer).exists()

    assert found == {}, "\n".join(f"{name}:\n{violations}" for name, violations in found.items())
