from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from ehe_register.models import LocalAuthority
from ehe_register.roles import LA_ROLES, Role
from tests.factories import TEST_PASSWORD, make_user

pytestmark = pytest.mark.django_db


def sign_in(client: Client, username: str, password: str = TEST_PASSWORD) -> Any:
    return client.post(reverse("accounts:sign_in"), {"username": username, "password": password})


def test_sign_in_with_the_right_password_reaches_the_role_home(la: LocalAuthority) -> None:
    officer = make_user(Role.EHE_OFFICER, la)
    client = Client()
    assert sign_in(client, officer.username).status_code == 302
    page = client.get(reverse("home"))
    assert page.status_code == 200
    assert "Your cases" in page.content.decode()
    assert "Surrey County Council" in page.content.decode()


def test_sign_out_is_a_post_and_ends_the_session(la: LocalAuthority) -> None:
    officer = make_user(Role.EHE_OFFICER, la)
    client = Client()
    client.force_login(officer)
    assert client.post(reverse("accounts:sign_out")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.parametrize("role", sorted(LA_ROLES))
def test_two_factor_is_enforced_for_la_staff_when_switched_on(role: Role, la: LocalAuthority, settings: Any) -> None:
    """Without an authenticator the password reaches nothing but the page that says to ask for
    an enrolment link (the enrolment itself: tests/ehe_register/test_two_factor.py)."""
    settings.EHE_REQUIRE_2FA = True
    user = make_user(role, la)
    client = Client()
    sign_in(client, user.username)

    home = client.get(reverse("home"))
    assert home.status_code == 302
    assert home["Location"].startswith(reverse("accounts:two_factor"))
    second_step = client.get(home["Location"], follow=True)
    assert "You need an enrolment link to set up two-factor sign-in" in second_step.content.decode()
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert client.get(reverse("home")).status_code == 302


def test_a_confirmed_device_asks_for_a_code_at_each_sign_in(la: LocalAuthority, settings: Any) -> None:
    settings.EHE_REQUIRE_2FA = True
    officer = make_user(Role.EHE_OFFICER, la)
    device = TOTPDevice.objects.create(user=officer, name="app", confirmed=True)
    client = Client()
    sign_in(client, officer.username)
    verify = client.get(reverse("home"), follow=True)
    assert "Enter the code from your authenticator app" in verify.content.decode()
    code = f"{totp(device.bin_key):06d}"
    client.post(reverse("accounts:two_factor"), {"otp_token": code})
    assert client.get(reverse("home")).status_code == 200


def test_school_users_are_not_asked_for_two_factor(la: LocalAuthority, settings: Any) -> None:
    settings.EHE_REQUIRE_2FA = True
    school_user = make_user(Role.SCHOOL_USER, la)
    client = Client()
    sign_in(client, school_user.username)
    assert client.get(reverse("home")).status_code == 200


def test_two_factor_off_shows_the_warning_banner(la: LocalAuthority, settings: Any) -> None:
    settings.EHE_REQUIRE_2FA = False
    client = Client()
    client.force_login(make_user(Role.EHE_OFFICER, la))
    assert "Two-factor sign-in is switched off" in client.get(reverse("home")).content.decode()
    settings.EHE_REQUIRE_2FA = True
    client.force_login(make_user(Role.SCHOOL_USER, la))
    assert "Two-factor sign-in is switched off" not in client.get(reverse("home")).content.decode()


OFFICE_A, OFFICE_B = "192.0.2.10", "198.51.100.20"


def test_repeated_failures_lock_the_user_name_at_that_address_even_with_the_right_password(
    la: LocalAuthority, settings: Any
) -> None:
    officer = make_user(Role.EHE_OFFICER, la)
    client = Client(REMOTE_ADDR=OFFICE_A)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, officer.username, "wrong password").status_code == 200
    assert sign_in(client, officer.username, "wrong password").status_code == 429
    locked = sign_in(client, officer.username)
    assert locked.status_code == 429
    assert "Your account is locked" in locked.content.decode()
    assert "30 minutes" in locked.content.decode()
    assert client.get(reverse("home")).status_code == 302


def test_failures_from_one_address_do_not_lock_the_user_out_elsewhere(la: LocalAuthority, settings: Any) -> None:
    """Knowing a duty worker's user name is not enough to lock them out of their own office."""
    duty_worker = make_user(Role.CSPA_DUTY_WORKER, la)
    attacker = Client(REMOTE_ADDR=OFFICE_A)
    for _ in range(settings.AXES_FAILURE_LIMIT + 3):
        sign_in(attacker, duty_worker.username, "wrong password")
    assert sign_in(attacker, duty_worker.username).status_code == 429

    at_work = Client(REMOTE_ADDR=OFFICE_B)
    assert sign_in(at_work, duty_worker.username).status_code == 302
    assert at_work.get(reverse("home")).status_code == 200


def test_behind_the_proxy_the_forwarded_address_is_the_one_locked(la: LocalAuthority, settings: Any) -> None:
    settings.EHE_TRUSTED_PROXIES = 1
    officer = make_user(Role.EHE_OFFICER, la)
    # Both arrive from the proxy's address; the proxy appends the address it saw.
    attacker = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"{OFFICE_B}, {OFFICE_A}")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(attacker, officer.username, "wrong password")
    assert sign_in(attacker, officer.username).status_code == 429
    # A forged left-hand entry does not dodge the lock; a different real address is not locked.
    forged = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"203.0.113.9, {OFFICE_A}")
    assert sign_in(forged, officer.username).status_code == 429
    assert sign_in(Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=OFFICE_B), officer.username).status_code == 302


def test_one_address_trying_many_user_names_is_limited_there(la: LocalAuthority, settings: Any) -> None:
    settings.EHE_LOCKOUT_ADDRESS_FAILURES = 8
    officer = make_user(Role.EHE_OFFICER, la)
    sprayer = Client(REMOTE_ADDR=OFFICE_A)
    names = [f"guess{n}" for n in range(4)]
    # Two failures each (below the per-user limit of 5): 8 in all from this address.
    answers = [sign_in(sprayer, name, "Winter2026!").status_code for name in names for _ in range(2)]
    assert answers == [200] * 7 + [429]
    refused = sign_in(sprayer, officer.username)
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.content.decode()
    # Nobody elsewhere is affected, including the user names that were tried.
    assert sign_in(Client(REMOTE_ADDR=OFFICE_B), officer.username).status_code == 302


def test_below_the_address_limit_other_users_at_that_address_sign_in(la: LocalAuthority, settings: Any) -> None:
    settings.EHE_LOCKOUT_ADDRESS_FAILURES = 8
    officer = make_user(Role.EHE_OFFICER, la)
    office = Client(REMOTE_ADDR=OFFICE_A)
    for name in ["typo1", "typo2", "typo3"]:
        for _ in range(2):
            assert sign_in(office, name, "wrong password").status_code == 200
    assert sign_in(office, officer.username, "wrong password").status_code == 200
    assert sign_in(office, officer.username).status_code == 302  # 7 failures: one short of the limit


def test_locking_someone_out_from_an_address_limits_that_address_too(la: LocalAuthority, settings: Any) -> None:
    """Locking out many users needs many failures from one address, and that address is stopped first."""
    settings.EHE_LOCKOUT_ADDRESS_FAILURES = 12
    victims = [make_user(Role.CSPA_DUTY_WORKER, la) for _ in range(3)]
    attacker = Client(REMOTE_ADDR=OFFICE_A)
    for victim in victims:
        for _ in range(settings.AXES_FAILURE_LIMIT):
            sign_in(attacker, victim.username, "wrong password")
    # Two victims locked at this address (10 failures), the third cut off by the address limit at 12.
    bystander = make_user(Role.EHE_OFFICER, la)
    assert sign_in(attacker, bystander.username).status_code == 429
    for victim in victims:
        assert sign_in(Client(REMOTE_ADDR=OFFICE_B), victim.username).status_code == 302


def test_a_lockout_ends_after_the_cool_off_time(la: LocalAuthority, settings: Any) -> None:
    settings.EHE_LOCKOUT_ADDRESS_FAILURES = 3
    officer = make_user(Role.EHE_OFFICER, la)
    start = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        client = Client(REMOTE_ADDR=OFFICE_A)
        for name in ["a", "b", "c"]:
            sign_in(client, name, "wrong password")
        assert sign_in(client, officer.username).status_code == 429
        clock.move_to(start + settings.AXES_COOLOFF_TIME - timedelta(minutes=1))
        assert sign_in(client, officer.username).status_code == 429
        clock.move_to(start + settings.AXES_COOLOFF_TIME + timedelta(minutes=1))
        assert sign_in(client, officer.username).status_code == 302


def test_a_failure_below_the_limit_does_not_lock(la: LocalAuthority, settings: Any) -> None:
    officer = make_user(Role.EHE_OFFICER, la)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, officer.username, "wrong password")
    assert sign_in(client, officer.username).status_code == 302


def test_sessions_expire_after_inactivity_and_each_request_extends_them(la: LocalAuthority) -> None:
    start = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        client = Client()
        client.force_login(make_user(Role.EHE_OFFICER, la))
        clock.move_to(start + timedelta(minutes=29))
        assert client.get(reverse("home")).status_code == 200
        clock.move_to(start + timedelta(minutes=58))  # 29 idle minutes since the last request
        assert client.get(reverse("home")).status_code == 200
        clock.move_to(start + timedelta(minutes=89))  # 31 idle minutes
        assert client.get(reverse("home")).status_code == 302


def test_healthz_answers_when_the_database_does(client: Client) -> None:
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_pages_carry_a_content_security_policy_without_inline_script(client: Client) -> None:
    response = client.get(reverse("accounts:sign_in"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script>" not in response.content.decode()
