"""The roles of DESIGN section 2, held as Django groups of the same names."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SCHOOL_USER = "school_user"
    EHE_OFFICER = "ehe_officer"
    CSPA_DUTY_WORKER = "cspa_duty_worker"
    CSPA_MANAGER = "cspa_manager"
    EHE_MANAGER = "ehe_manager"
    HEAD_OF_SERVICE = "head_of_service"
    AUDITOR = "auditor"
    ADMINISTRATOR = "administrator"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.SCHOOL_USER: "School user",
    Role.EHE_OFFICER: "EHE officer",
    Role.CSPA_DUTY_WORKER: "Front door duty worker",
    Role.CSPA_MANAGER: "Front door manager",
    Role.EHE_MANAGER: "EHE manager",
    Role.HEAD_OF_SERVICE: "Head of service",
    Role.AUDITOR: "Auditor",
    Role.ADMINISTRATOR: "Administrator",
}

# Roles that work inside one LA and see its children.
LA_ROLES = frozenset(
    {
        Role.EHE_OFFICER,
        Role.CSPA_DUTY_WORKER,
        Role.CSPA_MANAGER,
        Role.EHE_MANAGER,
        Role.HEAD_OF_SERVICE,
        Role.AUDITOR,
    }
)
