"""Append-only rows refuse updates and deletes in the database itself, and the admin offers neither."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.db import ProgrammingError, transaction

from ehe_register.models import AccessAction, AccessLog, LocalAuthority
from ehe_register.roles import Role
from ehe_register.services.access import access_log_record
from tests.factories import ChildFactory, make_user
from workflows.models import TransitionLog

pytestmark = pytest.mark.django_db


def test_access_log_rows_cannot_be_changed_or_deleted(la: LocalAuthority) -> None:
    officer = make_user(Role.EHE_OFFICER, la)
    child = ChildFactory(local_authority=la)
    assert access_log_record(user=officer, children=[child], action=AccessAction.VIEW, path="/cases/1/") == 1
    row = AccessLog.objects.get()
    assert (row.user, row.child, row.local_authority) == (officer, child, la)
    with pytest.raises(ProgrammingError, match="Cannot update or delete"), transaction.atomic():
        AccessLog.objects.update(path="/elsewhere/")
    with pytest.raises(ProgrammingError, match="Cannot update or delete"), transaction.atomic():
        AccessLog.objects.all().delete()
    assert AccessLog.objects.get().path == "/cases/1/"


@pytest.mark.parametrize("model", [AccessLog, TransitionLog])
def test_the_logs_are_not_in_the_admin(model: Any) -> None:
    """They name children; they are read in the service, scoped and logged, not in the admin."""
    assert model not in site._registry
