"""Every automatic escalation rule of DESIGN section 5, declared once.

A rule names its rungs (level 1, 2, 3): who owns the escalation at that level, who else is told,
and when that level falls due, computed on the working-day calendar from the moment the level
starts. Notify-only rules tell people and never climb. The sweeps (which episodes each rule finds)
are declared beside these in ``workflows.sweeps``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from ehe_register.models import LocalAuthority
from ehe_register.roles import Role
from ehe_register.working_days import due_after_working_days, due_end_of_working_day

DueRule = Callable[[datetime, LocalAuthority], datetime]


class Owner(StrEnum):
    """Owners that are not a role: resolved against the episode when the level starts."""

    ASSIGNED_OFFICER = "assigned_officer"  # the team queue (EHE officers) when unassigned
    # Told, never an owner: the owners of the case's overdue quality-audit actions, by name.
    AUDIT_ACTION_OWNERS = "audit_action_owners"


class External(StrEnum):
    """Recipients outside the product: they get the case reference and the team's contacts only."""

    SEN_TEAM = "sen_team"
    SOCIAL_WORKER = "social_worker"


Recipient = Role | Owner | External


def working_days(n: int) -> DueRule:
    return lambda start, la: due_after_working_days(start, n, la)


def end_of_working_day(start: datetime, la: LocalAuthority) -> datetime:
    return due_end_of_working_day(start, la)


def contacts_unverified_due(start: datetime, la: LocalAuthority) -> datetime:
    return due_after_working_days(start, la.contacts_unverified_working_days, la)


def first_contact_due(start: datetime, la: LocalAuthority) -> datetime:
    return start + timedelta(days=la.first_contact_days)


@dataclass(frozen=True)
class Rung:
    owner: Recipient
    due: DueRule | None
    also_tell: tuple[Recipient, ...] = ()


@dataclass(frozen=True)
class Rule:
    name: str
    summary: str
    rungs: tuple[Rung, ...]
    notify_only: bool = False
    safeguarding: bool = False
    tell: tuple[Recipient, ...] = field(default=())  # notify-only rules: who is told

    def rung(self, level: int) -> Rung:
        return self.rungs[level - 1]

    @property
    def top_level(self) -> int:
        return len(self.rungs)


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in [
        Rule(
            "concern_ticked",
            "A safeguarding concern was ticked",
            (
                Rung(Role.CSPA_DUTY_WORKER, end_of_working_day, also_tell=(Role.EHE_MANAGER,)),
                Rung(Role.CSPA_MANAGER, working_days(1)),
                Rung(Role.HEAD_OF_SERVICE, working_days(1)),
            ),
            safeguarding=True,
        ),
        Rule(
            "social_care_known",
            "The child is known to social care, or an earlier case closed with concerns",
            (
                Rung(Role.CSPA_DUTY_WORKER, working_days(1), also_tell=(External.SOCIAL_WORKER,)),
                Rung(Role.CSPA_MANAGER, working_days(1)),
                Rung(Role.HEAD_OF_SERVICE, working_days(1)),
            ),
            safeguarding=True,
        ),
        Rule(
            "consent_required",
            "The local authority's consent is needed before the child leaves school",
            (Rung(Role.EHE_MANAGER, working_days(5)), Rung(Role.HEAD_OF_SERVICE, working_days(2))),
        ),
        Rule("sen_notify", "The child has an EHCP", (Rung(External.SEN_TEAM, None),), notify_only=True),
        Rule(
            "contacts_unverified",
            "Contact details are not yet verified",
            (Rung(Role.EHE_MANAGER, contacts_unverified_due), Rung(Role.HEAD_OF_SERVICE, working_days(5))),
        ),
        Rule(
            "cme_enquiry",
            "Contact details are still not verified: children missing education enquiry",
            (Rung(Role.EHE_MANAGER, working_days(5)), Rung(Role.HEAD_OF_SERVICE, working_days(5))),
        ),
        Rule(
            "contacts_stale",
            "Contact details have gone stale",
            (
                Rung(Owner.ASSIGNED_OFFICER, working_days(5)),
                Rung(Role.EHE_MANAGER, working_days(5)),
                Rung(Role.HEAD_OF_SERVICE, working_days(5)),
            ),
        ),
        Rule(
            "enquiry_overdue",
            "No first contact (or no home visit) within the first contact period",
            (Rung(Role.EHE_MANAGER, first_contact_due), Rung(Role.HEAD_OF_SERVICE, working_days(5))),
        ),
        Rule(
            "review_overdue",
            "The review date has passed",
            (
                Rung(Owner.ASSIGNED_OFFICER, working_days(10)),
                Rung(Role.EHE_MANAGER, working_days(5)),
                Rung(Role.HEAD_OF_SERVICE, working_days(5)),
            ),
        ),
        # The audit's own clock (``workflows.models_audit.AuditAction``): an action past its due date
        # goes to the EHE managers, and each overdue action's owner is told by name.
        Rule(
            "audit_action_overdue",
            "A quality-audit action is overdue",
            (
                Rung(Role.EHE_MANAGER, working_days(5), also_tell=(Owner.AUDIT_ACTION_OWNERS,)),
                Rung(Role.HEAD_OF_SERVICE, working_days(5)),
            ),
        ),
        # The catch-all, after every other rule: a sweep raises it only where none of them holds the case.
        Rule(
            "next_action_overdue",
            "The next action's due date has passed",
            (
                Rung(Owner.ASSIGNED_OFFICER, working_days(5)),
                Rung(Role.EHE_MANAGER, working_days(5)),
                Rung(Role.HEAD_OF_SERVICE, working_days(5)),
            ),
        ),
        Rule(
            "officer_absent",
            "The assigned officer is absent: the case has moved",
            (Rung(Role.EHE_MANAGER, None),),
            notify_only=True,
        ),
    ]
}

SAFEGUARDING_RULE_NAMES = tuple(name for name, rule in RULES.items() if rule.safeguarding)
