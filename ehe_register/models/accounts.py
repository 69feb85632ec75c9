"""Users. LA staff belong to one LA; school users to one or more schools (a trust's admissions
officer may submit for several). Roles are Django groups named after :class:`ehe_register.roles.Role`."""

from __future__ import annotations

from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models

from ehe_register.roles import LA_ROLES, Role


class User(AbstractUser):
    local_authority = models.ForeignKey(
        "ehe_register.LocalAuthority",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        help_text="For LA staff: the LA whose children they may see.",
    )
    schools = models.ManyToManyField(
        "ehe_register.School", blank=True, related_name="users", help_text="For school users: the schools they act for."
    )
    phone = models.CharField(max_length=30, blank=True)

    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]
        swappable = "AUTH_USER_MODEL"

    @cached_property
    def roles(self) -> frozenset[Role]:
        names = set(self.groups.values_list("name", flat=True))
        return frozenset(role for role in Role if role.value in names)

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_la_staff(self) -> bool:
        return self.local_authority_id is not None and bool(self.roles & LA_ROLES)

    @property
    def is_school_user(self) -> bool:
        return Role.SCHOOL_USER in self.roles

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username
