"""Two-factor sign-in: who needs it, enrolment by one-time link, backup codes, resets.

The rules, each enforced here and tested in ``tests/ehe_register/test_two_factor.py``:

* A person without an authenticator enrols only with a live enrolment link issued to them by
  an administrator (or ``manage.py two_factor_link``) *and* their password: the password alone
  never adds a device, so a stolen password cannot be turned into a second factor.
* A link works once, for its own user, until it expires (``EHE_ENROLMENT_LINK_HOURS``). Only
  the SHA-256 of its token is stored. Issuing a new link revokes the user's earlier live ones.
* Enrolling makes ten backup codes (django-otp's static device), shown once; each signs in once.
* An administrator's reset removes the user's devices and backup codes and issues a new link;
  sessions verified with the old device stop being verified (django-otp no longer finds it).
* Every one of these writes an :class:`AccountEvent` naming who did it.

Who needs a second factor (when ``EHE_REQUIRE_2FA`` is on): LA staff and administrators always;
school users when any of their schools' LAs requires it; anyone who has set up a device, since
a device that is not asked for protects nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ehe_register.models import AccountEvent, AccountEventKind, EnrolmentLink, User
from ehe_register.roles import LA_ROLES, Role

BACKUP_CODE_COUNT = 10
BACKUP_DEVICE_NAME = "Backup codes"
APP_DEVICE_NAME = "Authenticator app"


class EnrolmentRefused(Exception):
    """An enrolment link that cannot be used; ``reason`` is a sentence to show the person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


LINK_NOT_RECOGNISED = (
    "This enrolment link is not recognised. "
    "Check you copied all of it, and that you signed in as the person it was made for."
)
LINK_USED = "This enrolment link has already been used. Each link works once."
LINK_EXPIRED = "This enrolment link has expired."
LINK_REPLACED = "This enrolment link was replaced by a newer one. Use the newest link you were given."


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _event(*, user: User, actor: User | None, kind: AccountEventKind, as_of: datetime, detail: str = "") -> None:
    AccountEvent.objects.create(user=user, actor=actor, kind=kind, detail=detail[:300], at=as_of)


def has_confirmed_device(user: Any) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def two_factor_required_for(user: Any) -> bool:
    """Whether ``user`` must give a second factor to use the service (see the module docstring)."""
    roles: frozenset[Role] = getattr(user, "roles", frozenset())
    if roles & (LA_ROLES | {Role.ADMINISTRATOR}) or getattr(user, "is_superuser", False):
        return True
    if Role.SCHOOL_USER in roles and user.schools.filter(local_authority__school_users_need_two_factor=True).exists():
        return True
    return has_confirmed_device(user)


# --- Enrolment links ------------------------------------------------------------------------------


def _revoke_live_links(user: User, as_of: datetime) -> int:
    return EnrolmentLink.objects.filter(user=user, used_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=as_of
    )


def enrolment_link_issue(*, user: User, issued_by: User | None, as_of: datetime | None = None) -> str:
    """Make a one-time enrolment link for ``user``; returns its token (shown once, never stored).

    Refused (``ValueError``) for a user who already has an authenticator: reset it first, so
    that a second device is never added beside one that may be in someone else's hands.
    """
    as_of = as_of or timezone.now()
    if has_confirmed_device(user):
        raise ValueError(f"{user.username} already has an authenticator app: reset it to issue a new link")
    token = secrets.token_urlsafe(32)
    hours = int(settings.EHE_ENROLMENT_LINK_HOURS)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one issue at a time per user
        _revoke_live_links(user, as_of)
        EnrolmentLink.objects.create(
            user=user,
            token_sha256=token_digest(token),
            issued_by=issued_by,
            issued_at=as_of,
            expires_at=as_of + timedelta(hours=hours),
        )
        _event(
            user=user,
            actor=issued_by,
            kind=AccountEventKind.LINK_ISSUED,
            as_of=as_of,
            detail=f"expires after {hours} hours" + ("" if issued_by else "; issued from the command line"),
        )
    return token


def _refusal(link: EnrolmentLink | None, user: Any, as_of: datetime) -> str | None:
    if link is None or link.user_id != user.pk:
        return LINK_NOT_RECOGNISED
    if link.used_at is not None:
        return LINK_USED
    if link.revoked_at is not None:
        return LINK_REPLACED
    if link.expires_at <= as_of:
        return LINK_EXPIRED
    return None


def enrolment_link_check(*, user: Any, token: str, as_of: datetime | None = None) -> EnrolmentLink:
    """The live link ``token`` names for ``user``, or :class:`EnrolmentRefused` saying why not."""
    as_of = as_of or timezone.now()
    link = EnrolmentLink.objects.filter(token_sha256=token_digest(token)).first()
    reason = _refusal(link, user, as_of)
    if reason is not None:
        raise EnrolmentRefused(reason)
    assert link is not None
    return link


def enrolment_link_live(*, user: Any, link_id: int, as_of: datetime | None = None) -> EnrolmentLink:
    """The link ``link_id`` (held in the session after :func:`enrolment_link_check`), if still live."""
    as_of = as_of or timezone.now()
    link = EnrolmentLink.objects.filter(pk=link_id).first()
    reason = _refusal(link, user, as_of)
    if reason is not None:
        raise EnrolmentRefused(reason)
    assert link is not None
    return link


def enrolment_device(user: User) -> TOTPDevice:
    """The unconfirmed authenticator being set up (made on first sight of a live link)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)
    return device


def enrolment_complete(
    *, user: User, link_id: int, device_id: int, code: str, as_of: datetime | None = None
) -> tuple[TOTPDevice, list[str]] | None:
    """Confirm the device with the first right code, spending the link; returns the device and
    the new backup codes, or ``None`` when the code is wrong. :class:`EnrolmentRefused` when the
    link stopped being live meanwhile (used in another tab, expired, replaced).

    One transaction with the link locked: two tabs racing with the same link enrol once.
    """
    as_of = as_of or timezone.now()
    with transaction.atomic():
        link = EnrolmentLink.objects.select_for_update().filter(pk=link_id).first()
        reason = _refusal(link, user, as_of)
        if reason is not None:
            raise EnrolmentRefused(reason)
        assert link is not None
        device = TOTPDevice.objects.select_for_update().get(pk=device_id, user=user, confirmed=False)
        if not device.verify_token(code):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        link.used_at = as_of
        link.save(update_fields=["used_at"])
        _event(user=user, actor=user, kind=AccountEventKind.ENROLLED, as_of=as_of)
        codes = _backup_codes_replace(user=user, actor=user, as_of=as_of)
    return device, codes


# --- Backup codes ---------------------------------------------------------------------------------


def _backup_codes_replace(*, user: User, actor: User | None, as_of: datetime) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes: list[str] = []
    while len(codes) < BACKUP_CODE_COUNT:
        code = StaticToken.random_token()
        if code not in codes:
            codes.append(code)
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    _event(user=user, actor=actor, kind=AccountEventKind.BACKUP_CODES_MADE, as_of=as_of, detail=f"{len(codes)} codes")
    return codes


def backup_codes_make(*, user: User, actor: User, as_of: datetime | None = None) -> list[str]:
    """New backup codes for ``user``, replacing any left; shown once by the caller."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        return _backup_codes_replace(user=user, actor=actor, as_of=as_of)


def backup_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def normalise_backup_code(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch not in " -\t")


def backup_code_use(*, user: User, code: str, as_of: datetime | None = None) -> StaticDevice | None:
    """Spend one backup code; returns its device (to sign in with) or ``None``.

    The code is deleted by one ``DELETE``: of two requests racing with the same code, only the
    one whose statement removed the row signs in. django-otp's throttling applies.
    """
    as_of = as_of or timezone.now()
    device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        return None
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        return None
    token = normalise_backup_code(code)
    with transaction.atomic():
        deleted, _ = StaticToken.objects.filter(device=device, token=token).delete() if token else (0, {})
        if not deleted:
            device.throttle_increment()
            return None
        device.throttle_reset(commit=False)
        device.set_last_used_timestamp(commit=False)
        device.save()
        _event(
            user=user,
            actor=user,
            kind=AccountEventKind.BACKUP_CODE_USED,
            as_of=as_of,
            detail=f"{backup_codes_left(user)} left",
        )
    return device


# --- Administrators -------------------------------------------------------------------------------


def two_factor_reset(*, user: User, actor: User | None, as_of: datetime | None = None) -> str:
    """Remove ``user``'s authenticator and backup codes (a lost or stolen phone), revoke their
    live links, and issue a new link; returns its token. All in one transaction."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        apps = TOTPDevice.objects.filter(user=user).delete()[0]
        StaticDevice.objects.filter(user=user).delete()
        _revoke_live_links(user, as_of)
        _event(
            user=user,
            actor=actor,
            kind=AccountEventKind.DEVICE_RESET,
            as_of=as_of,
            detail=f"{apps} authenticator app(s) removed",
        )
        return enrolment_link_issue(user=user, issued_by=actor, as_of=as_of)


@dataclass(frozen=True)
class TwoFactorStatus:
    has_device: bool
    backup_codes_left: int
    live_link_expires_at: datetime | None
    required: bool


def two_factor_status(user: User, as_of: datetime | None = None) -> TwoFactorStatus:
    as_of = as_of or timezone.now()
    live = (
        EnrolmentLink.objects.filter(user=user, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=as_of)
        .order_by("-issued_at")
        .first()
    )
    return TwoFactorStatus(
        has_device=has_confirmed_device(user),
        backup_codes_left=backup_codes_left(user),
        live_link_expires_at=live.expires_at if live else None,
        required=two_factor_required_for(user),
    )
