"""Demonstration data for `make run`: two LAs using the service and a user for every role.

Development only: the command refuses to run in production. Re-running changes nothing.
Phone numbers are Ofcom's drama numbers (01632 960xxx), so nobody real is ever rung.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import transaction

from ehe_register.models import LocalAuthority, User
from ehe_register.roles import Role

DEMO_PASSWORD = "ehe-demo-2026"  # noqa: S105 - demonstration accounts only; refused in production


@dataclass(frozen=True)
class DemoLA:
    dfe_code: str
    council_name: str
    slug: str
    front_door_name: str
    front_door_short_name: str
    phone_block: int


DEMO_LAS = [
    DemoLA("936", "Surrey County Council", "surrey", "Children's Single Point of Access (C-SPA)", "C-SPA", 100),
    DemoLA("938", "West Sussex County Council", "westsussex", "Integrated Front Door (IFD)", "IFD", 200),
]

DEMO_STAFF: list[tuple[str, str, str, Role]] = [
    ("officer", "Priya", "Shah", Role.EHE_OFFICER),
    ("officer2", "Tom", "Hughes", Role.EHE_OFFICER),
    ("officer3", "Grace", "Okafor", Role.EHE_OFFICER),
    ("cspa", "Daniel", "Reid", Role.CSPA_DUTY_WORKER),
    ("cspa.manager", "Fiona", "Campbell", Role.CSPA_MANAGER),
    ("manager", "Helen", "Price", Role.EHE_MANAGER),
    ("head", "Martin", "Cole", Role.HEAD_OF_SERVICE),
    ("auditor", "Ruth", "Adams", Role.AUDITOR),
]


def _user(username: str, first: str, last: str, roles: list[Role], la: LocalAuthority | None) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org", "local_authority": la},
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    user.groups.add(*Group.objects.filter(name__in=[r.value for r in roles]))
    return user


@transaction.atomic
def demo_seed() -> None:
    for demo in DEMO_LAS:
        la = LocalAuthority.objects.get(dfe_code=demo.dfe_code)
        block = demo.phone_block
        LocalAuthority.objects.filter(pk=la.pk).update(
            uses_service=True,
            council_name=demo.council_name,
            front_door_name=demo.front_door_name,
            front_door_short_name=demo.front_door_short_name,
            front_door_email=f"front.door@{demo.slug}.example.org",
            front_door_phone=f"01632 960{block:03d}",
            front_door_out_of_hours_phone=f"01632 960{block + 1:03d}",
            sen_team_email=f"sen.team@{demo.slug}.example.org",
            ehe_team_email=f"ehe.team@{demo.slug}.example.org",
            ehe_team_phone=f"01632 960{block + 2:03d}",
        )
        for suffix, first, last, role in DEMO_STAFF:
            _user(f"{demo.slug}.{suffix}", first, last, [role], la)
    admin = _user("admin", "Sam", "Admin", [Role.ADMINISTRATOR], None)
    if not admin.is_staff:
        admin.is_staff = admin.is_superuser = True
        admin.save(update_fields=["is_staff", "is_superuser"])


def demo_logins() -> list[tuple[str, str]]:
    """(user name, role label) for every demo account, for the README and `make run`'s banner."""
    rows = []
    for user in User.objects.filter(username__in=_demo_usernames()).prefetch_related("groups").order_by("username"):
        labels = ", ".join(Role(g.name).label for g in user.groups.all())
        rows.append((user.username, labels))
    return rows


def _demo_usernames() -> list[str]:
    names = [f"{demo.slug}.{suffix}" for demo in DEMO_LAS for suffix, *_ in DEMO_STAFF]
    return [*names, "admin"]
