"""Numbers are read from the digits 0 to 9 only, and any other digit gets a plain message, never a
server error. ``str.isdigit()`` is True for "²", which ``int()`` then refuses with an exception;
``int()`` itself reads Arabic-Indic, full-width and NKo digits as numbers. Every number a form or
a query string carries goes through ``ehe_register.forms.fields.ascii_int``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django import forms
from django.test import Client
from django.urls import reverse

from ehe_register.forms.fields import WholeNumberField, ascii_int
from ehe_register.forms.portal import NotificationForm
from ehe_register.forms_rendering import GovukDateField, GovukDateWidget
from ehe_register.models import Absence, Child, LocalAuthority, OffRollNotification, User
from ehe_register.roles import Role
from tests.ehe_register.test_portal_forms import SAFEGUARDING_YES, valid_data
from tests.ehe_register.test_portal_views import NOW
from tests.factories import make_episode, make_user
from tests.other_digits import OTHER_DIGITS
from tests.workflows.test_actions import activity_data
from tests.workflows.test_new_case_and_merge import new_case_form
from workflows.forms import AbsenceForm, NewCaseForm
from workflows.forms_actions import ActivityForm
from workflows.models import Activity, Episode
from workflows.states import State

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def date_fields(form_class: type[forms.Form]) -> list[str]:
    """Every date question on the form."""
    return [name for name, field in form_class.base_fields.items() if isinstance(field, GovukDateField)]


def keys(name: str) -> list[str]:
    """The boxes of a date question (its day, month and year), or the field itself."""
    if name.endswith("_time") or name in ("version", "year_group"):
        return [name]
    return [f"{name}_{part}" for part in GovukDateWidget.parts]


def refused(response: Any) -> str:
    assert response.status_code < 500
    assert response.status_code != 302, "the form accepted a number in other digits"
    html = response.content.decode()
    assert "There is a problem" in html
    return html


@pytest.mark.parametrize("text", OTHER_DIGITS)
def test_ascii_int_reads_only_the_digits_0_to_9(text: str) -> None:
    assert ascii_int(text) is None
    assert ascii_int(f" 12{text}") is None
    with pytest.raises(forms.ValidationError, match="Enter a whole number using the digits 0 to 9"):
        WholeNumberField().clean(text)


def test_ascii_int_reads_plain_numbers() -> None:
    assert [ascii_int(v) for v in ["0", "12", " 7 ", "007", 5]] == [0, 12, 7, 7, 5]
    assert [ascii_int(v) for v in ["", "-1", "1.5", "1e3", None, True]] == [None] * 6


@pytest.fixture
def school_client(la: LocalAuthority) -> Iterator[Client]:
    with time_machine.travel(NOW, tick=True):
        yield signed_in(make_user(Role.SCHOOL_USER, la))


@pytest.mark.parametrize("name", [*date_fields(NotificationForm), "year_group"])
def test_the_school_notification_form(school_client: Client, la: LocalAuthority, name: str) -> None:
    base = valid_data(la, **SAFEGUARDING_YES)  # with a concern, so its dates are asked too
    for key in keys(name):
        for text in OTHER_DIGITS:
            html = refused(school_client.post(reverse("schools:notify"), {**base, key: text}))
            if key != "year_group":  # a choice, not a box
                assert text in html  # what was typed is shown back
    assert not OffRollNotification.objects.exists()


@pytest.mark.parametrize("name", date_fields(NewCaseForm))
def test_the_new_case_form(la: LocalAuthority, name: str) -> None:
    client = signed_in(make_user(Role.EHE_OFFICER, la))
    for key in keys(name):
        for text in OTHER_DIGITS:
            refused(client.post(reverse("cases:new"), new_case_form(**{key: text})))
    assert not Child.objects.exists()


@pytest.mark.parametrize("name", [*date_fields(ActivityForm), "occurred_time", "version"])
def test_an_action_form(la: LocalAuthority, name: str) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    client = signed_in(make_user(Role.EHE_OFFICER, la))
    url = reverse("cases:activity_new", kwargs={"pk": episode.pk})
    for key in keys(name):
        for text in OTHER_DIGITS:
            value = f"{text}:30" if key == "occurred_time" else text
            refused(client.post(url, activity_data(episode, **{key: value})))
    assert not Activity.objects.exists()
    assert Episode.objects.get(pk=episode.pk).version == episode.version


@pytest.mark.parametrize("name", date_fields(AbsenceForm))
def test_the_absence_form(la: LocalAuthority, name: str) -> None:
    client = signed_in(make_user(Role.EHE_OFFICER, la))
    start = NOW.date() + timedelta(days=400)
    data = {"kind": "planned", "starts_on_day": start.day, "starts_on_month": start.month, "starts_on_year": start.year}
    for key in keys(name):
        for text in OTHER_DIGITS:
            refused(client.post(reverse("cases:absence_new"), {**data, key: text}))
    assert not Absence.objects.exists()


@pytest.mark.parametrize("role", [Role.EHE_OFFICER, Role.EHE_MANAGER])
def test_the_assign_form_version(la: LocalAuthority, role: Role) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la)
    user = make_user(role, la)
    for text in OTHER_DIGITS:
        html = refused(signed_in(user).post(reverse("cases:assign", kwargs={"pk": episode.pk}), {"version": text}))
        assert "This page is out of date. Reload it" in html
    assert Episode.objects.get(pk=episode.pk).assigned_officer_id is None


@pytest.mark.parametrize(
    ("role", "url_name", "kwargs"),
    [
        (Role.SCHOOL_USER, "schools:notification_list", {}),
        (Role.SCHOOL_USER, "schools:request_list", {}),
        (Role.EHE_OFFICER, "notifications:list", {}),
        (Role.EHE_MANAGER, "cases:queue", {"slug": "team"}),
        (Role.EHE_OFFICER, "cases:queue", {"slug": "matches"}),
    ],
)
def test_page_numbers_in_other_digits_give_the_first_page(
    la: LocalAuthority, role: Role, url_name: str, kwargs: dict[str, str]
) -> None:
    client = signed_in(make_user(role, la))
    url = reverse(url_name, kwargs=kwargs)
    for text in OTHER_DIGITS:
        response = client.get(url, {"page": text})
        assert response.status_code == 200, text
        page = response.context["page"]
        # A numbered page (Django's Paginator), or a keyset page whose caption number is read apart.
        assert (page.number if hasattr(page, "number") else response.context["page_number"]) == 1


def test_queue_filters_in_other_digits_are_refused_plainly(la: LocalAuthority) -> None:
    client = signed_in(make_user(Role.EHE_MANAGER, la))
    url = reverse("cases:queue", kwargs={"slug": "team"})
    for text in OTHER_DIGITS:
        for key in ("priority", "officer", "school", "state"):
            assert client.get(url, {key: text}).status_code == 200, (key, text)
