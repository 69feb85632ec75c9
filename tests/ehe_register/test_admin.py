"""The Django admin holds reference data and accounts only: no child, family or case.

The admin writes no AccessLog row and is not scoped to a local authority, so a child's record
shown there would be an unlogged view across every LA.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from ehe_register.demo_data import demo_seed
from ehe_register.models import AccessAction, Child, OffRollNotification, Person
from ehe_register.roles import Role
from ehe_register.services.access import access_log_record
from ehe_register.services.reference_data import local_authorities_load
from tests.factories import make_user
from workflows.models import Episode

pytestmark = pytest.mark.django_db

ADMIN_MODELS = {
    # Accounts and how people sign in.
    "ehe_register.User",
    "auth.Group",
    "ehe_register.AccountEvent",
    "axes.AccessAttempt",
    "axes.AccessLog",
    "axes.AccessFailureLog",
    # Reference data.
    "ehe_register.LocalAuthority",
    "ehe_register.School",
    "ehe_register.ReasonCode",
    # When the scheduled work runs.
    "django_celery_beat.PeriodicTask",
    "django_celery_beat.ClockedSchedule",
    "django_celery_beat.CrontabSchedule",
    "django_celery_beat.SolarSchedule",
    "django_celery_beat.IntervalSchedule",
}


def test_the_admin_registers_only_reference_data_and_accounts() -> None:
    assert {model._meta.label for model in admin.site._registry} == ADMIN_MODELS


def test_no_child_or_case_appears_anywhere_in_the_admin() -> None:
    local_authorities_load()
    demo_seed()
    administrator = make_user(Role.ADMINISTRATOR)
    officer = make_user(Role.EHE_OFFICER, Episode.objects.first().local_authority)  # type: ignore[union-attr]
    access_log_record(user=officer, children=list(Child.objects.all()[:20]), action=AccessAction.VIEW, path="/x/")
    secrets = {
        *(f"{first} {last}" for first, last in Child.objects.values_list("legal_first_name", "legal_last_name")),
        *(f"{first} {last}" for first, last in Person.objects.values_list("first_name", "last_name")),
        *(episode.reference for episode in Episode.objects.select_related("local_authority")),
        *OffRollNotification.objects.values_list("reference", flat=True),
    }
    assert len(secrets) > 300

    client = Client()
    client.force_login(administrator)
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        meta = model._meta
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        first = model.objects.first()
        if first is not None:
            urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk]))
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        shown = sorted(secret for secret in secrets if secret in page)
        assert shown == [], f"{url} shows {shown[:5]}"
