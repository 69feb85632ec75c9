"""The retention screens: a manager places and lifts legal holds; managers, heads of service and
auditors see what the next runs will anonymise."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ehe_register.models import AccessLog, LegalHold, LocalAuthority
from ehe_register.roles import Role
from tests.factories import ChildFactory, make_episode, make_user
from tests.workflows.family_records import at
from workflows.services.retention import retention_apply
from workflows.states import State

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_manager_places_and_lifts_a_hold(la: LocalAuthority, time_machine: Any) -> None:
    time_machine.move_to(at(date(2026, 3, 10)))
    episode = make_episode(State.CLOSED, child=ChildFactory(local_authority=la, date_of_birth=date(2001, 3, 20)))
    manager = make_user(Role.EHE_MANAGER, la)
    client = _client(manager)
    url = reverse("cases:legal_holds", kwargs={"pk": episode.pk})

    page = client.get(url)
    assert page.status_code == 200
    assert "No hold is in force" in page.content.decode()
    assert AccessLog.objects.filter(child=episode.child, path=url).exists()

    refused = client.post(url, {"reason": "", "until_day": "1", "until_month": "1", "until_year": "2020"})
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "Enter why the records must be kept" in body
    assert "must be today or in the future" in body
    assert not LegalHold.objects.exists()

    placed = client.post(url, {"reason": "Claim KB-2026-14", "until_day": "", "until_month": "", "until_year": ""})
    assert placed.status_code == 302
    hold = LegalHold.objects.get()
    assert (hold.reason, hold.until, hold.placed_by, hold.lifted_at) == ("Claim KB-2026-14", None, manager, None)
    # The run due on 1 April keeps the records while the hold is in force.
    assert retention_apply(as_of=at(date(2026, 4, 1), 2)).held["936"] == 1

    lift_url = reverse("cases:legal_hold_lift", kwargs={"pk": episode.pk, "hold_pk": hold.pk})
    assert client.get(lift_url).status_code == 200
    assert client.post(lift_url, {"reason": ""}).status_code == 400
    assert client.post(lift_url, {"reason": "Claim settled"}).status_code == 302
    hold.refresh_from_db()
    assert (hold.lifted_by, hold.lift_reason) == (manager, "Claim settled")
    assert client.get(lift_url).status_code == 404  # lifted once only
    assert retention_apply(as_of=at(date(2026, 5, 1), 2)).anonymised["936"] == 1


def test_another_las_manager_cannot_hold_or_lift(la: LocalAuthority, other_la: LocalAuthority) -> None:
    episode = make_episode(State.CLOSED, la=la)
    hold = LegalHold.objects.create(
        local_authority=la,
        child=episode.child,
        reason="x",
        placed_by=make_user(Role.EHE_MANAGER, la),
        placed_at=at(date(2026, 1, 5)),
    )
    outsider = _client(make_user(Role.EHE_MANAGER, other_la))
    assert outsider.get(reverse("cases:legal_holds", kwargs={"pk": episode.pk})).status_code == 404
    lift = reverse("cases:legal_hold_lift", kwargs={"pk": episode.pk, "hold_pk": hold.pk})
    assert outsider.post(lift, {"reason": "no"}).status_code == 404
    assert LegalHold.objects.get().lifted_at is None


def test_the_retention_page_lists_what_is_coming(
    la: LocalAuthority, other_la: LocalAuthority, time_machine: Any
) -> None:
    time_machine.move_to(at(date(2026, 3, 10)))
    due = make_episode(
        State.CLOSED,
        child=ChildFactory(
            local_authority=la, legal_first_name="Tamsin", legal_last_name="Oakhart", date_of_birth=date(2001, 3, 20)
        ),
    )
    make_episode(
        State.CLOSED,
        child=ChildFactory(local_authority=other_la, legal_first_name="Elsewhere", date_of_birth=date(2001, 3, 20)),
    )
    make_episode(State.MONITORING, child=ChildFactory(local_authority=la, legal_first_name="Stillopen"))
    for role in (Role.EHE_MANAGER, Role.HEAD_OF_SERVICE, Role.AUDITOR):
        page = _client(make_user(role, la)).get(reverse("cases:retention"))
        assert page.status_code == 200
        body = page.content.decode()
        assert "Tamsin Oakhart" in body
        assert "1 April 2026" in body
        assert "Elsewhere" not in body
        assert "Stillopen" not in body
        hold_link = reverse("cases:legal_holds", kwargs={"pk": due.pk})
        assert (hold_link in body) == (role == Role.EHE_MANAGER)


def test_the_privacy_notice_says_how_long_and_how_to_ask(la: LocalAuthority, other_la: LocalAuthority) -> None:
    LocalAuthority.objects.filter(pk=other_la.pk).update(retention_until_birthday=30, uses_service=False)
    page = Client().get(reverse("privacy"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Surrey County Council" in body
    assert "25th birthday" in body
    assert "ehe@example.org" in body
    assert "30th birthday" not in body  # councils not using the service are not listed
    assert "subject access request" in body
