"""Who acts: a signed-in user, or the named system actor for automatic work."""

from __future__ import annotations

from typing import Any

from ehe_register.roles import Role


class SystemActor:
    """The product itself, acting on a clock or on an event (sweeps, the risk check on intake)."""

    is_system = True
    is_authenticated = True
    is_active = True
    pk = None
    id = None
    local_authority_id = None
    roles: frozenset[Role] = frozenset()
    display_name = "EHE register (automatic)"

    def __str__(self) -> str:
        return self.display_name

    def __repr__(self) -> str:
        return "SYSTEM"


SYSTEM = SystemActor()


def is_system(actor: Any) -> bool:
    return getattr(actor, "is_system", False) is True


def actor_name(actor: Any) -> str:
    return SYSTEM.display_name if is_system(actor) else actor.display_name
