"""Two-factor enrolment only by a one-time link, backup codes, the administrator's reset, and
the LA's setting for school users (rules: ``ehe_register/accounts/two_factor.py``)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ehe_register.accounts import two_factor as tf
from ehe_register.models import AccountEvent, AccountEventKind, EnrolmentLink, LocalAuthority, User
from ehe_register.roles import Role
from tests.factories import TEST_PASSWORD, make_user

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def two_factor_on(settings: Any) -> None:
    settings.EHE_REQUIRE_2FA = True
    settings.EHE_ENROLMENT_LINK_HOURS = 72


@pytest.fixture
def officer(la: LocalAuthority) -> User:
    return make_user(Role.EHE_OFFICER, la)


@pytest.fixture
def administrator() -> User:
    return make_user(Role.ADMINISTRATOR)


def signed_in(user: User) -> Client:
    """A client signed in with the password only (no second factor yet)."""
    client = Client()
    answer = client.post(reverse("accounts:sign_in"), {"username": user.username, "password": TEST_PASSWORD})
    assert answer.status_code == 302
    return client


def verified_admin(administrator: User) -> Client:
    """An administrator signed in with password and authenticator."""
    device = TOTPDevice.objects.create(user=administrator, name="app", confirmed=True)
    client = signed_in(administrator)
    assert client.post(reverse("accounts:two_factor"), {"otp_token": code_for(device)}).status_code == 302
    return client


def code_for(device: TOTPDevice) -> str:
    device = TOTPDevice.objects.get(pk=device.pk)
    device.throttle_reset()
    return f"{totp(device.bin_key):06d}"


def link_path(token: str) -> str:
    return reverse("accounts:enrol", kwargs={"token": token})


def token_from(page: str) -> str:
    match = re.search(r"/accounts/two-factor/enrol/([A-Za-z0-9_-]+)/", page)
    assert match, "no enrolment link on the page"
    return match.group(1)


def open_set_up(client: Client, token: str) -> Any:
    arrived = client.get(link_path(token))
    assert arrived.status_code == 302, arrived.content.decode()[:500]
    assert arrived["Location"] == reverse("accounts:enrol_set_up")
    return client.get(arrived["Location"])


def enrol(client: Client, user: User, token: str) -> list[str]:
    """Follow the link, confirm the authenticator; returns the backup codes shown."""
    page = open_set_up(client, token)
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    done = client.post(reverse("accounts:enrol_set_up"), {"otp_token": code_for(device)})
    assert done.status_code == 302, done.content.decode()[:500]
    shown = client.get(done["Location"]).content.decode()
    return re.findall(r'<li class="app-secret">([a-z2-7]{8})</li>', shown)


def kinds(user: User) -> list[str]:
    return list(AccountEvent.objects.filter(user=user).order_by("at", "pk").values_list("kind", flat=True))


# --- Enrolment only by a valid, unexpired, unused link -----------------------------------------------


def test_an_administrator_s_link_and_the_password_enrol_and_give_backup_codes(
    officer: User, administrator: User, clock: Any
) -> None:
    admin = verified_admin(administrator)
    made = admin.post(reverse("accounts:staff_enrolment_link", kwargs={"pk": officer.pk}))
    assert made.status_code == 200
    token = token_from(made.content.decode())

    client = signed_in(officer)
    assert client.get(reverse("home")).status_code == 302  # no second factor yet
    set_up = open_set_up(client, token)
    page = set_up.content.decode()
    assert "<svg" in page
    assert 'role="img"' in page
    assert "data:image" not in page
    assert "<script>" not in page

    device = TOTPDevice.objects.get(user=officer, confirmed=False)
    wrong = client.post(reverse("accounts:enrol_set_up"), {"otp_token": "000000"})
    assert "The code is not right" in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=officer, confirmed=True).exists()

    done = client.post(reverse("accounts:enrol_set_up"), {"otp_token": code_for(device)})
    assert done.status_code == 302
    shown = client.get(done["Location"]).content.decode()
    codes = re.findall(r'<li class="app-secret">([a-z2-7]{8})</li>', shown)
    assert "Two-factor sign-in is set up" in shown
    assert len(codes) == tf.BACKUP_CODE_COUNT == len(set(codes))
    assert client.get(reverse("home")).status_code == 200

    # Shown once: the page does not show them again.
    again = client.get(reverse("accounts:backup_codes")).content.decode()
    assert not any(code in again for code in codes)
    assert "You have 10 unused backup codes" in again

    link = EnrolmentLink.objects.get(user=officer)
    assert link.used_at == START
    assert link.issued_by == administrator
    assert kinds(officer) == [
        AccountEventKind.LINK_ISSUED,
        AccountEventKind.ENROLLED,
        AccountEventKind.BACKUP_CODES_MADE,
    ]


def test_the_password_alone_never_sets_up_an_authenticator(officer: User) -> None:
    client = signed_in(officer)
    needs_link = client.get(reverse("accounts:two_factor"))
    assert "You need an enrolment link" in needs_link.content.decode()
    # The set-up page without a link in the session sends the user back, whatever they post.
    assert client.get(reverse("accounts:enrol_set_up"))["Location"] == reverse("accounts:two_factor")
    assert client.post(reverse("accounts:enrol_set_up"), {"otp_token": "123456"}).status_code == 302
    assert not TOTPDevice.objects.filter(user=officer).exists()
    assert client.get(reverse("home")).status_code == 302


def test_only_a_hash_of_the_token_is_stored(officer: User, administrator: User) -> None:
    token = tf.enrolment_link_issue(user=officer, issued_by=administrator)
    link = EnrolmentLink.objects.get(user=officer)
    assert link.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    stored = " ".join(str(value) for value in EnrolmentLink.objects.values_list().get())
    assert token not in stored
    assert len(token) >= 40  # 32 random bytes


def test_an_expired_link_is_refused(officer: User, administrator: User, clock: Any) -> None:
    token = tf.enrolment_link_issue(user=officer, issued_by=administrator)
    clock.move_to(START + timedelta(hours=72, seconds=1))
    client = signed_in(officer)
    refused = client.get(link_path(token))
    assert refused.status_code == 403
    assert "This enrolment link has expired" in refused.content.decode()
    assert not TOTPDevice.objects.filter(user=officer).exists()


def test_a_link_just_before_it_expires_still_works(officer: User, administrator: User, clock: Any) -> None:
    token = tf.enrolment_link_issue(user=officer, issued_by=administrator)
    clock.move_to(START + timedelta(hours=72, seconds=-1))
    assert len(enrol(signed_in(officer), officer, token)) == tf.BACKUP_CODE_COUNT


def test_a_link_that_expires_during_set_up_does_not_enrol(officer: User, administrator: User, clock: Any) -> None:
    token = tf.enrolment_link_issue(user=officer, issued_by=administrator)
    clock.move_to(START + timedelta(hours=72, minutes=-10))
    client = signed_in(officer)
    open_set_up(client, token)
    device = TOTPDevice.objects.get(user=officer, confirmed=False)
    clock.move_to(START + timedelta(hours=72, minutes=1))  # the session is still live
    refused = client.post(reverse("accounts:enrol_set_up"), {"otp_token": code_for(device)})
    assert refused.status_code == 403
    assert "expired" in refused.content.decode()
    assert not TOTPDevice.objects.filter(user=officer, confirmed=True).exists()
    assert EnrolmentLink.objects.get(user=officer).used_at is None


def test_a_used_link_is_refused(officer: User, administrator: User, clock: Any) -> None:
    token = tf.enrolment_link_issue(user=officer, issued_by=administrator)
    enrol(signed_in(officer), officer, token)
    clock.move_to(START + timedelta(minutes=5))
    refused = signed_in(officer).get(link_path(token))
    assert refused.status_code == 403
    assert "already been used" in refused.content.decode()
    assert TOTPDevice.objects.filter(user=officer).count() == 1


def test_two_tabs_with_one_link_enrol_once(officer: User, administrator: User, clock: Any) -> None:
    token = tf.enrolment_link_issue(user=officer, issued_by=administrator)
    first, second = signed_in(officer), signed_in(officer)
    open_set_up(first, token)
    open_set_up(second, token)
    device = TOTPDevice.objects.get(user=officer, confirmed=False)
    assert first.post(reverse("accounts:enrol_set_up"), {"otp_token": code_for(device)}).status_code == 302
    clock.move_to(START + timedelta(seconds=30))
    late = second.post(reverse("accounts:enrol_set_up"), {"otp_token": code_for(device)})
    assert late.status_code in (302, 403)
    assert TOTPDevice.objects.filter(user=officer, confirmed=True).count() == 1
    assert kinds(officer).count(AccountEventKind.ENROLLED) == 1


def test_someone_else_s_link_is_refused(officer: User, administrator: User, la: LocalAuthority) -> None:
    token = tf.enrolment_link_issue(user=officer, issued_by=administrator)
    colleague = make_user(Role.EHE_OFFICER, la)
    refused = signed_in(colleague).get(link_path(token))
    assert refused.status_code == 403
    assert "not recognised" in refused.content.decode()
    assert not TOTPDevice.objects.filter(user__in=[officer, colleague]).exists()
    assert EnrolmentLink.objects.get(user=officer).used_at is None


def test_a_newer_link_replaces_the_older(officer: User, administrator: User) -> None:
    older = tf.enrolment_link_issue(user=officer, issued_by=administrator)
    newer = tf.enrolment_link_issue(user=officer, issued_by=administrator)
    client = signed_in(officer)
    refused = client.get(link_path(older))
    assert refused.status_code == 403
    assert "replaced by a newer one" in refused.content.decode()
    assert len(enrol(client, officer, newer)) == tf.BACKUP_CODE_COUNT


def test_a_made_up_token_is_refused(officer: User) -> None:
    for token in ["x", "A" * 43, "..%2F..%2Fadmin", "ü" * 10]:
        refused = signed_in(officer).get(reverse("accounts:enrol", kwargs={"token": token}))
        assert refused.status_code == 403, token


def test_opening_a_link_signed_out_asks_for_the_password_first(officer: User, administrator: User) -> None:
    token = tf.enrolment_link_issue(user=officer, issued_by=administrator)
    client = Client()
    to_sign_in = client.get(link_path(token))
    assert to_sign_in.status_code == 302
    assert to_sign_in["Location"].startswith(reverse("accounts:sign_in"))
    back = client.post(
        to_sign_in["Location"], {"username": officer.username, "password": TEST_PASSWORD, "next": link_path(token)}
    )
    assert back["Location"] == link_path(token)
    assert len(enrol(client, officer, token)) == tf.BACKUP_CODE_COUNT


def test_a_link_is_not_issued_beside_an_authenticator(officer: User, administrator: User) -> None:
    TOTPDevice.objects.create(user=officer, name="app", confirmed=True)
    with pytest.raises(ValueError, match="reset"):
        tf.enrolment_link_issue(user=officer, issued_by=administrator)
    admin = verified_admin(administrator)
    stale_form = admin.post(reverse("accounts:staff_enrolment_link", kwargs={"pk": officer.pk}))
    assert stale_form["Location"] == reverse("accounts:staff_two_factor", kwargs={"pk": officer.pk})
    assert not EnrolmentLink.objects.filter(user=officer).exists()


# --- Backup codes -------------------------------------------------------------------------------------


def test_a_backup_code_signs_in_once(officer: User, administrator: User, clock: Any) -> None:
    codes = enrol(signed_in(officer), officer, tf.enrolment_link_issue(user=officer, issued_by=administrator))
    clock.move_to(START + timedelta(hours=1))

    phone_lost = signed_in(officer)
    asked = phone_lost.get(reverse("home"), follow=True).content.decode()
    assert "enter one of your backup codes" in asked
    spaced = f"{codes[3][:4]} {codes[3][4:].upper()}"  # as someone might type it off paper
    assert phone_lost.post(reverse("accounts:two_factor"), {"otp_token": spaced}).status_code == 302
    assert phone_lost.get(reverse("home")).status_code == 200
    assert tf.backup_codes_left(officer) == tf.BACKUP_CODE_COUNT - 1

    clock.move_to(START + timedelta(hours=2))
    again = signed_in(officer)
    refused = again.post(reverse("accounts:two_factor"), {"otp_token": codes[3]})
    assert "The code is not right" in refused.content.decode()
    assert again.get(reverse("home")).status_code == 302
    assert kinds(officer)[-1] == AccountEventKind.BACKUP_CODE_USED


def test_a_backup_code_is_spent_by_one_statement(officer: User) -> None:
    """Two sign-ins racing with one code: the DELETE that removes the row is the one that wins."""
    device = StaticDevice.objects.create(user=officer, name="Backup codes", confirmed=True)
    StaticToken.objects.create(device=device, token="abcdefgh")
    assert tf.backup_code_use(user=officer, code="abcdefgh") is not None
    device.throttle_reset()
    assert tf.backup_code_use(user=officer, code="abcdefgh") is None
    assert tf.backup_code_use(user=officer, code="") is None


def test_new_backup_codes_replace_the_old(officer: User, administrator: User, clock: Any) -> None:
    client = signed_in(officer)
    old = enrol(client, officer, tf.enrolment_link_issue(user=officer, issued_by=administrator))
    made = client.post(reverse("accounts:backup_codes"))
    shown = client.get(made["Location"]).content.decode()
    new = re.findall(r'<li class="app-secret">([a-z2-7]{8})</li>', shown)
    assert len(new) == tf.BACKUP_CODE_COUNT
    assert not set(new) & set(old)
    assert set(StaticToken.objects.filter(device__user=officer).values_list("token", flat=True)) == set(new)


def test_backup_codes_need_a_verified_second_factor(officer: User) -> None:
    device = TOTPDevice.objects.create(user=officer, name="app", confirmed=True)
    client = signed_in(officer)
    assert client.post(reverse("accounts:backup_codes")).status_code == 302
    assert not StaticDevice.objects.filter(user=officer).exists()
    client.post(reverse("accounts:two_factor"), {"otp_token": code_for(device)})
    assert client.post(reverse("accounts:backup_codes")).status_code == 302
    assert tf.backup_codes_left(officer) == tf.BACKUP_CODE_COUNT


# --- The administrator's reset --------------------------------------------------------------------------


def test_an_administrator_resets_a_lost_authenticator(officer: User, administrator: User, clock: Any) -> None:
    phone = signed_in(officer)
    codes = enrol(phone, officer, tf.enrolment_link_issue(user=officer, issued_by=administrator))
    assert phone.get(reverse("home")).status_code == 200

    admin = verified_admin(administrator)
    status = admin.get(reverse("accounts:staff_two_factor", kwargs={"pk": officer.pk})).content.decode()
    assert "Set up" in status
    assert "Reset two-factor sign-in" in status
    confirm = admin.get(reverse("accounts:staff_two_factor_reset", kwargs={"pk": officer.pk}))
    assert "10 unused backup codes" in confirm.content.decode()
    reset = admin.post(reverse("accounts:staff_two_factor_reset", kwargs={"pk": officer.pk}))
    assert reset.status_code == 200
    token = token_from(reset.content.decode())

    assert not TOTPDevice.objects.filter(user=officer).exists()
    assert not StaticDevice.objects.filter(user=officer).exists()
    event = AccountEvent.objects.filter(user=officer, kind=AccountEventKind.DEVICE_RESET).get()
    assert event.actor == administrator
    assert event.at == START
    assert kinds(officer)[-2:] == [AccountEventKind.DEVICE_RESET, AccountEventKind.LINK_ISSUED]
    history = admin.get(reverse("accounts:staff_two_factor", kwargs={"pk": officer.pk})).content.decode()
    assert "Two-factor sign-in reset" in history
    assert administrator.display_name in history

    # The session verified with the lost phone is asked again; the old backup codes are gone.
    assert phone.get(reverse("home")).status_code == 302
    clock.move_to(START + timedelta(minutes=1))
    finder = signed_in(officer)
    assert (
        "You need an enrolment link"
        in finder.post(reverse("accounts:two_factor"), {"otp_token": codes[0]}).content.decode()
    )
    # The new link enrols a new phone.
    assert len(enrol(finder, officer, token)) == tf.BACKUP_CODE_COUNT


def test_the_administrators_pages_need_a_second_factor_too(officer: User, administrator: User) -> None:
    password_only = signed_in(administrator)
    for name in ["accounts:staff_two_factor", "accounts:staff_two_factor_reset"]:
        answer = password_only.get(reverse(name, kwargs={"pk": officer.pk}))
        assert answer.status_code == 302
        assert answer["Location"].startswith(reverse("accounts:two_factor"))
    answer = password_only.post(reverse("accounts:staff_enrolment_link", kwargs={"pk": officer.pk}))
    assert answer.status_code == 302
    assert not EnrolmentLink.objects.exists()


def test_only_administrators_manage_two_factor(officer: User, la: LocalAuthority) -> None:
    manager = make_user(Role.EHE_MANAGER, la)
    device = TOTPDevice.objects.create(user=manager, name="app", confirmed=True)
    client = signed_in(manager)
    client.post(reverse("accounts:two_factor"), {"otp_token": code_for(device)})
    assert client.post(reverse("accounts:staff_two_factor_reset", kwargs={"pk": officer.pk})).status_code == 403
    assert client.post(reverse("accounts:staff_enrolment_link", kwargs={"pk": officer.pk})).status_code == 403
    assert not AccountEvent.objects.exists()


def test_the_command_line_issues_and_resets(officer: User) -> None:
    out = StringIO()
    call_command("two_factor_link", officer.username, stdout=out)
    token = token_from(out.getvalue())
    tf.enrolment_link_check(user=officer, token=token)
    TOTPDevice.objects.create(user=officer, name="app", confirmed=True)
    with pytest.raises(Exception, match="--reset"):
        call_command("two_factor_link", officer.username, stdout=StringIO())
    out = StringIO()
    call_command("two_factor_link", officer.username, "--reset", stdout=out)
    assert not TOTPDevice.objects.filter(user=officer).exists()
    assert AccountEvent.objects.filter(user=officer, kind=AccountEventKind.DEVICE_RESET, actor=None).exists()
    tf.enrolment_link_check(user=officer, token=token_from(out.getvalue()))


# --- School users: the LA decides -------------------------------------------------------------------------


def test_school_users_need_two_factor_only_where_their_la_says_so(la: LocalAuthority) -> None:
    school_user = make_user(Role.SCHOOL_USER, la)
    assert signed_in(school_user).get(reverse("home")).status_code == 200

    la.school_users_need_two_factor = True
    la.save(update_fields=["school_users_need_two_factor"])
    client = signed_in(school_user)
    home = client.get(reverse("home"))
    assert home.status_code == 302
    assert home["Location"].startswith(reverse("accounts:two_factor"))
    assert "You need an enrolment link" in client.get(home["Location"]).content.decode()


def test_a_school_user_who_set_it_up_is_always_asked(la: LocalAuthority, administrator: User, clock: Any) -> None:
    school_user = make_user(Role.SCHOOL_USER, la)
    assert not la.school_users_need_two_factor
    enrol(signed_in(school_user), school_user, tf.enrolment_link_issue(user=school_user, issued_by=administrator))
    clock.move_to(START + timedelta(minutes=1))
    assert signed_in(school_user).get(reverse("home")).status_code == 302


def test_a_school_user_of_several_las_is_asked_if_any_requires_it(la: LocalAuthority, other_la: LocalAuthority) -> None:
    from tests.factories import SchoolFactory

    school_user = make_user(Role.SCHOOL_USER, la)
    school_user.schools.add(SchoolFactory(local_authority=other_la))
    assert tf.two_factor_required_for(school_user) is False
    other_la.school_users_need_two_factor = True
    other_la.save(update_fields=["school_users_need_two_factor"])
    assert tf.two_factor_required_for(User.objects.get(pk=school_user.pk)) is True


def test_account_events_are_append_only(officer: User, administrator: User) -> None:
    from django.db import DatabaseError, transaction

    tf.enrolment_link_issue(user=officer, issued_by=administrator)
    for change in (lambda: AccountEvent.objects.update(detail="x"), lambda: AccountEvent.objects.all().delete()):
        with pytest.raises(DatabaseError, match="Cannot update or delete"), transaction.atomic():
            change()
    assert AccountEvent.objects.count() == 1
