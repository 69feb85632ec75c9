"""New cases opened by officers (matching and the risk check), resolving likely matches, and merging
duplicate child records and undoing the merge."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from ehe_register.models import (
    AccessLog,
    Address,
    AddressKind,
    Child,
    ChildMerge,
    ChildPerson,
    LocalAuthority,
    MatchStatus,
    PossibleMatch,
    Relationship,
    SocialCareStatus,
    User,
)
from ehe_register.roles import Role
from ehe_register.services.children import ChildDetails
from ehe_register.services.matching import Sought, child_match
from tests.clock import stay_on
from tests.factories import AddressFactory, ChildFactory, PersonFactory, make_episode, make_user
from tests.other_digits import OTHER_DIGITS
from workflows.models import (
    Activity,
    ActivityKind,
    ActivityOutcome,
    Episode,
    Escalation,
    EscalationEvent,
    TransitionLog,
)
from workflows.services.intake import IntakeRecord
from workflows.services.merge import children_merge, children_unmerge, possible_match_resolve
from workflows.services.new_case import ChildHasOpenCase, case_open
from workflows.services.transitions import StaleVersion
from workflows.states import ClosureReason, Source, State

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
on_today = stay_on(TODAY)
DOB = date(2014, 3, 3)
ADA = ChildDetails(legal_first_name="Ada", legal_last_name="Lovelace", date_of_birth=DOB)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def officer(la: LocalAuthority) -> User:
    return make_user(Role.EHE_OFFICER, la, first_name="Olive", last_name="Officer")


@pytest.fixture
def manager(la: LocalAuthority) -> User:
    return make_user(Role.EHE_MANAGER, la, first_name="Mina", last_name="Manager")


def new_case_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "source": Source.PARENT,
        "source_detail": "Letter from the mother",
        "received_on_day": TODAY.day,
        "received_on_month": TODAY.month,
        "received_on_year": TODAY.year,
        "legal_first_name": "Ada",
        "legal_middle_names": "",
        "legal_last_name": "Lovelace",
        "preferred_first_name": "",
        "date_of_birth_day": DOB.day,
        "date_of_birth_month": DOB.month,
        "date_of_birth_year": DOB.year,
        "sex": "F",
        "upn": "",
        "nhs_number": "",
        "address_line_1": "12 Analytical Street",
        "address_line_2": "",
        "address_town": "Guildford",
        "postcode": "gu1 1aa",
        "parent_first_name": "Annabella",
        "parent_last_name": "Milbanke",
        "parent_relationship": Relationship.MOTHER,
        "parent_emergency_phone": "07700 900 982",
        "parent_email": "",
        "sen_status": "none",
        "social_care_status": SocialCareStatus.NONE,
        "special_school_placed_by_la": "no",
        "attendance_order_in_force": "no",
        "concern": "no",
        "concern_detail": "",
        "reason_code": "",
    }
    return {**data, **overrides}


def post_new_case(user: User, **overrides: Any) -> Any:
    return client_for(user).post(reverse("cases:new"), new_case_form(**overrides))


# --- New case ----------------------------------------------------------------------------------


def test_a_new_case_for_a_new_child_goes_to_address_verification(la: LocalAuthority, officer: User) -> None:
    response = post_new_case(officer)

    episode = Episode.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:detail", kwargs={"pk": episode.pk})
    assert (episode.state, episode.source, episode.source_detail) == (
        State.ADDRESS_VERIFICATION,
        Source.PARENT,
        "Letter from the mother",
    )
    child = episode.child
    assert (child.legal_first_name, child.date_of_birth, child.local_authority_id) == ("Ada", DOB, la.pk)
    assert child.addresses.get().postcode == "GU1 1AA"
    link = child.carer_links.select_related("person").get()
    assert (link.person.first_name, link.person.emergency_phone) == ("Annabella", "07700900982")
    assert TransitionLog.objects.filter(episode=episode, transition="risk_check").exists()


def test_a_concern_goes_to_safeguarding_review_with_concern_ticked(la: LocalAuthority, officer: User) -> None:
    post_new_case(officer, concern="yes", concern_detail="Bruising seen by the health visitor")

    episode = Episode.objects.get()
    assert episode.state == State.SAFEGUARDING_REVIEW
    escalation = Escalation.objects.get(episode=episode, rule="concern_ticked", resolved_at__isnull=True)
    assert EscalationEvent.objects.filter(
        escalation=escalation, kind="noted", note="Bruising seen by the health visitor"
    ).exists()


def test_a_concern_needs_a_description(officer: User) -> None:
    response = post_new_case(officer, concern="yes")

    assert response.status_code == 200
    assert "Describe the safeguarding concern" in response.content.decode()
    assert not Episode.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "state", "rule"),
    [
        (
            {"social_care_status": SocialCareStatus.CHILD_PROTECTION_PLAN},
            State.SAFEGUARDING_REVIEW,
            "social_care_known",
        ),
        ({"special_school_placed_by_la": "yes"}, State.AWAITING_CONSENT, "consent_required"),
        ({"attendance_order_in_force": "yes"}, State.AWAITING_CONSENT, "consent_required"),
    ],
)
def test_the_same_risk_check_as_a_school_notification(
    officer: User, overrides: dict[str, Any], state: str, rule: str
) -> None:
    post_new_case(officer, **overrides)

    episode = Episode.objects.get()
    assert episode.state == state
    assert Escalation.objects.filter(episode=episode, rule=rule).exists()


def test_a_certain_match_reuses_the_child_and_opens_a_new_case(la: LocalAuthority, officer: User) -> None:
    known = ChildFactory(local_authority=la, legal_first_name="Ada", legal_last_name="Lovelace", date_of_birth=DOB)
    AddressFactory(child=known, local_authority=la, line_1="12 Analytical Street", postcode="GU1 1AA")
    earlier = make_episode(State.CLOSED, child=known)

    post_new_case(officer, social_care_status=SocialCareStatus.CHILD_IN_NEED)

    assert Child.objects.count() == 1
    new = Episode.objects.exclude(pk=earlier.pk).get()
    assert new.child_id == known.pk
    assert Child.objects.get(pk=known.pk).social_care_status == SocialCareStatus.CHILD_IN_NEED
    assert known.addresses.count() == 1  # the same address is not added twice


def test_a_certain_match_with_an_open_case_is_refused(la: LocalAuthority, officer: User) -> None:
    known = ChildFactory(local_authority=la, legal_first_name="Ada", legal_last_name="Lovelace", date_of_birth=DOB)
    open_case = make_episode(State.MONITORING, child=known)

    response = post_new_case(officer)

    html = response.content.decode()
    assert response.status_code == 200
    assert f"This child already has an open case, {open_case.reference}" in html
    assert reverse("cases:detail", kwargs={"pk": open_case.pk}) in html
    assert Episode.objects.count() == 1
    assert ChildPerson.objects.count() == 0


def test_a_likely_match_is_stored_never_merged(la: LocalAuthority, officer: User) -> None:
    known = ChildFactory(
        local_authority=la,
        legal_first_name="Augusta",
        legal_last_name="Lovelace",
        preferred_first_name="Ada",
        date_of_birth=DOB,
    )

    post_new_case(officer)

    new_child = Child.objects.exclude(pk=known.pk).get()
    match = PossibleMatch.objects.get()
    assert (match.child_id, match.candidate_id, match.status) == (new_child.pk, known.pk, MatchStatus.OPEN)
    assert "same date of birth" in match.reasons


def test_twins_are_different_children(la: LocalAuthority, officer: User) -> None:
    twin = ChildFactory(local_authority=la, legal_first_name="Byron", legal_last_name="Lovelace", date_of_birth=DOB)

    post_new_case(officer)

    assert Child.objects.exclude(pk=twin.pk).count() == 1
    assert not PossibleMatch.objects.exists()


def test_an_officer_may_assign_the_new_case_to_themselves(officer: User) -> None:
    post_new_case(officer, assign_to_me="on")
    assert Episode.objects.get().assigned_officer_id == officer.pk


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"legal_first_name": ""}, "Enter the child&#x27;s legal first name"),
        ({"upn": "Z801200001001"}, "UPN invalid (wrong check letter at character 1)"),
        ({"postcode": "nowhere"}, "Enter a real postcode, like SW1A 1AA"),
        ({"date_of_birth_year": TODAY.year + 1}, "Date of birth must be in the past"),
        ({"source": "school"}, "Select a valid choice"),
    ],
)
def test_new_case_form_errors(officer: User, overrides: dict[str, Any], message: str) -> None:
    response = post_new_case(officer, **overrides)

    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    assert message in response.content.decode()
    assert not Episode.objects.exists()


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.CSPA_DUTY_WORKER, Role.HEAD_OF_SERVICE])
def test_only_ehe_staff_open_cases(la: LocalAuthority, role: Role) -> None:
    assert post_new_case(make_user(role, la)).status_code == 403
    with pytest.raises(PermissionDenied):
        case_open(
            data=IntakeRecord(local_authority_id=la.pk, child=ADA, source=Source.PARENT, received_on=TODAY),
            actor=make_user(role, la),
        )


def test_the_service_refuses_a_school_source_and_a_known_open_case(la: LocalAuthority, officer: User) -> None:
    data = IntakeRecord(
        local_authority_id=officer.local_authority_id, child=ADA, source=Source.PARENT, received_on=TODAY
    )
    with pytest.raises(ValidationError):
        case_open(data=replace(data, source=Source.SCHOOL), actor=officer)
    case_open(data=data, actor=officer)
    with pytest.raises(ChildHasOpenCase):
        case_open(data=data, actor=officer)


# --- Likely matches ----------------------------------------------------------------------------


@pytest.fixture
def match(la: LocalAuthority) -> PossibleMatch:
    child = ChildFactory(local_authority=la, legal_first_name="Ada", legal_last_name="Lovelace", date_of_birth=DOB)
    candidate = ChildFactory(
        local_authority=la, legal_first_name="Augusta", legal_last_name="Lovelace", date_of_birth=DOB
    )
    make_episode(State.ADDRESS_VERIFICATION, child=child)
    make_episode(State.MONITORING, child=candidate)
    return PossibleMatch.objects.create(
        child=child, candidate=candidate, reasons=["same date of birth"], found_at=timezone.now()
    )


def resolve(user: User, match: PossibleMatch, decision: str, **kwargs: Any) -> Any:
    return client_for(user).post(
        reverse("cases:match_resolve", kwargs={"pk": match.pk}), {"decision": decision}, **kwargs
    )


def test_an_officer_confirms_a_different_child(officer: User, match: PossibleMatch) -> None:
    resolve(officer, match, "different")

    resolved = PossibleMatch.objects.get(pk=match.pk)
    assert (resolved.status, resolved.resolved_by) == (MatchStatus.DIFFERENT, officer)


def test_same_child_marks_the_match_and_points_to_the_merge_page_without_merging(
    officer: User, manager: User, match: PossibleMatch
) -> None:
    response = resolve(officer, match, "same", follow=True)

    assert PossibleMatch.objects.get(pk=match.pk).status == MatchStatus.SAME_CHILD
    assert not ChildMerge.objects.exists()
    assert Episode.objects.filter(child=match.child).count() == 1
    assert "An EHE manager will merge the two records" in response.content.decode()
    merge_page = client_for(manager).get(reverse("cases:merge_start")).content.decode()
    assert (
        reverse("cases:merge_confirm", kwargs={"keep": match.candidate_id, "duplicate": match.child_id}) in merge_page
    )


def test_a_manager_saying_same_child_goes_to_the_merge_confirm_page(manager: User, match: PossibleMatch) -> None:
    response = resolve(manager, match, "same")

    assert response.status_code == 302
    assert response["Location"] == reverse(
        "cases:merge_confirm", kwargs={"keep": match.candidate_id, "duplicate": match.child_id}
    )
    assert not ChildMerge.objects.exists()


def test_a_match_is_resolved_once(officer: User, match: PossibleMatch) -> None:
    possible_match_resolve(match_id=match.pk, same_child=False, actor=officer)
    with pytest.raises(ValidationError):
        possible_match_resolve(match_id=match.pk, same_child=True, actor=officer)


def test_another_las_officer_cannot_resolve(other_la: LocalAuthority, match: PossibleMatch) -> None:
    response = resolve(make_user(Role.EHE_OFFICER, other_la), match, "different")
    assert response.status_code == 404
    assert PossibleMatch.objects.get(pk=match.pk).status == MatchStatus.OPEN


# --- Merge and undo ----------------------------------------------------------------------------


@pytest.fixture
def pair(la: LocalAuthority, officer: User) -> dict[str, Any]:
    """Two records of one child, each with an address, a parent, an open case and history."""
    kept = ChildFactory(local_authority=la, legal_first_name="Ada", legal_last_name="Lovelace", date_of_birth=DOB)
    duplicate = ChildFactory(
        local_authority=la,
        legal_first_name="Augusta",
        legal_last_name="Lovelace",
        date_of_birth=DOB,
        upn="H801200001001",
    )
    kept_address = AddressFactory(child=kept, local_authority=la)
    duplicate_address = AddressFactory(child=duplicate, local_authority=la)
    duplicate_old = Address.objects.create(
        local_authority=la, child=duplicate, kind=AddressKind.PREVIOUS, line_1="1 Old Road", postcode="GU2 2BB"
    )
    mother = PersonFactory(local_authority=la)
    ChildPerson.objects.create(child=kept, person=mother, relationship=Relationship.MOTHER)
    ChildPerson.objects.create(child=duplicate, person=mother, relationship=Relationship.MOTHER)  # already linked
    father = PersonFactory(local_authority=la)
    father_link = ChildPerson.objects.create(child=duplicate, person=father, relationship=Relationship.FATHER)
    kept_open = make_episode(State.EDUCATION_ENQUIRY, child=kept)
    duplicate_closed = make_episode(State.CLOSED, child=duplicate)
    duplicate_open = make_episode(State.MONITORING, child=duplicate)
    Activity.objects.create(
        episode=duplicate_open,
        kind=ActivityKind.PHONE_CALL,
        occurred_at=timezone.now(),
        summary="Spoke to father",
        outcome=ActivityOutcome.PARENT_REACHED,
        recorded_by=officer,
        recorded_at=timezone.now(),
    )
    Escalation.objects.create(
        episode=duplicate_open, local_authority=la, rule="contacts_stale", raised_at=timezone.now()
    )
    match = PossibleMatch.objects.create(
        child=duplicate, candidate=kept, reasons=["same date of birth"], found_at=timezone.now()
    )
    return {
        "kept": kept,
        "duplicate": duplicate,
        "kept_address": kept_address,
        "duplicate_address": duplicate_address,
        "duplicate_old": duplicate_old,
        "father_link": father_link,
        "kept_open": kept_open,
        "duplicate_closed": duplicate_closed,
        "duplicate_open": duplicate_open,
        "match": match,
    }


def snapshot(pair: dict[str, Any]) -> dict[str, Any]:
    """Everything a merge may move, as it stands."""
    kept, duplicate = pair["kept"], pair["duplicate"]
    return {
        "episodes": sorted(Episode.objects.filter(child__in=[kept, duplicate]).values_list("pk", "child_id", "state")),
        "addresses": sorted(Address.objects.filter(child__in=[kept, duplicate]).values_list("pk", "child_id", "kind")),
        "carers": sorted(ChildPerson.objects.filter(child__in=[kept, duplicate]).values_list("pk", "child_id")),
        "former_upns": Child.objects.get(pk=kept.pk).former_upns,
        "match": PossibleMatch.objects.filter(pk=pair["match"].pk).values_list("status", flat=True).get(),
        "open_escalations": sorted(
            Escalation.objects.filter(episode__in=[pair["duplicate_open"]], resolved_at__isnull=True).values_list(
                "rule", flat=True
            )
        ),
        "closure": Episode.objects.filter(pk=pair["duplicate_open"].pk)
        .values_list("closure_reason", "state_before_merge", "merged_into", "closed_with_concerns")
        .get(),
    }


def test_merge_moves_everything_and_closes_the_duplicates_open_case(manager: User, pair: dict[str, Any]) -> None:
    kept, duplicate, kept_open, duplicate_open = (
        pair["kept"],
        pair["duplicate"],
        pair["kept_open"],
        pair["duplicate_open"],
    )

    merge = children_merge(keep_child_id=kept.pk, duplicate_child_id=duplicate.pk, actor=manager)

    closed = Episode.objects.get(pk=duplicate_open.pk)
    assert closed.state == State.CLOSED
    assert (closed.closure_reason, closed.state_before_merge, closed.merged_into_id) == (
        ClosureReason.DUPLICATE,
        State.MONITORING,
        kept_open.pk,
    )
    assert closed.child_id == kept.pk
    assert Episode.objects.get(pk=pair["duplicate_closed"].pk).child_id == kept.pk
    assert Episode.objects.get(pk=kept_open.pk).state == State.EDUCATION_ENQUIRY
    assert Activity.objects.get(summary="Spoke to father").episode.child_id == kept.pk
    assert Address.objects.get(pk=pair["duplicate_address"].pk).kind == AddressKind.ADDITIONAL
    assert Address.objects.get(pk=pair["duplicate_address"].pk).child_id == kept.pk
    assert Address.objects.get(pk=pair["duplicate_old"].pk).kind == AddressKind.PREVIOUS
    assert Address.objects.filter(child=kept, kind=AddressKind.CURRENT).get().pk == pair["kept_address"].pk
    assert ChildPerson.objects.get(pk=pair["father_link"].pk).child_id == kept.pk
    assert (
        ChildPerson.objects.filter(child=duplicate).count() == 1
    )  # the mother stays: already linked to the kept child
    assert Child.objects.get(pk=kept.pk).former_upns == ["H801200001001"]
    assert PossibleMatch.objects.get(pk=pair["match"].pk).status == MatchStatus.SAME_CHILD
    assert not Escalation.objects.filter(episode=duplicate_open, resolved_at__isnull=True).exists()
    log = TransitionLog.objects.get(episode=duplicate_open, transition="merge_close")
    assert (log.from_state, log.to_state, log.actor) == (State.MONITORING, State.CLOSED, manager)
    assert (merge.kept_child, merge.duplicate_child, merge.merged_by) == (kept, duplicate, manager)


def test_undo_puts_everything_back_and_restores_the_state(manager: User, pair: dict[str, Any]) -> None:
    before = snapshot(pair)
    merge = children_merge(keep_child_id=pair["kept"].pk, duplicate_child_id=pair["duplicate"].pk, actor=manager)
    assert snapshot(pair) != before

    children_unmerge(merge_id=merge.pk, actor=manager)

    assert snapshot(pair) == before
    restored = Episode.objects.get(pk=pair["duplicate_open"].pk)
    assert (restored.state, restored.closed_at) == (State.MONITORING, None)
    log = TransitionLog.objects.get(episode=restored, transition="unmerge")
    assert (log.from_state, log.to_state, log.actor) == (State.CLOSED, State.MONITORING, manager)
    undone = ChildMerge.objects.get(pk=merge.pk)
    assert (undone.undone_by, undone.is_undone) == (manager, True)
    with pytest.raises(ValidationError):
        children_unmerge(merge_id=merge.pk, actor=manager)


def test_merge_when_the_kept_child_has_no_open_case_moves_the_open_case(la: LocalAuthority, manager: User) -> None:
    kept = ChildFactory(local_authority=la)
    duplicate = ChildFactory(local_authority=la)
    kept_closed = make_episode(State.CLOSED, child=kept)
    duplicate_open = make_episode(State.REVIEW_DUE, child=duplicate)

    merge = children_merge(keep_child_id=kept.pk, duplicate_child_id=duplicate.pk, actor=manager)

    moved = Episode.objects.get(pk=duplicate_open.pk)
    assert (moved.child_id, moved.state) == (kept.pk, State.REVIEW_DUE)
    assert moved.version == duplicate_open.version + 1
    assert Episode.objects.get(pk=kept_closed.pk).child_id == kept.pk

    children_unmerge(merge_id=merge.pk, actor=manager)

    back = Episode.objects.get(pk=duplicate_open.pk)
    assert (back.child_id, back.state) == (duplicate.pk, State.REVIEW_DUE)


def test_merge_is_refused_while_the_duplicate_has_an_open_safeguarding_escalation(
    la: LocalAuthority, manager: User, pair: dict[str, Any]
) -> None:
    Escalation.objects.create(
        episode=pair["duplicate_open"], local_authority=la, rule="concern_ticked", raised_at=timezone.now()
    )
    before = snapshot(pair)

    with pytest.raises(ValidationError, match="open safeguarding escalation"):
        children_merge(keep_child_id=pair["kept"].pk, duplicate_child_id=pair["duplicate"].pk, actor=manager)

    assert snapshot(pair) == before
    assert not ChildMerge.objects.exists()


def test_merge_rules(
    la: LocalAuthority, other_la: LocalAuthority, manager: User, officer: User, pair: dict[str, Any]
) -> None:
    kept, duplicate = pair["kept"], pair["duplicate"]
    with pytest.raises(PermissionDenied):
        children_merge(keep_child_id=kept.pk, duplicate_child_id=duplicate.pk, actor=officer)
    with pytest.raises(PermissionDenied):
        children_merge(
            keep_child_id=kept.pk, duplicate_child_id=duplicate.pk, actor=make_user(Role.EHE_MANAGER, other_la)
        )
    with pytest.raises(ValidationError):
        children_merge(keep_child_id=kept.pk, duplicate_child_id=kept.pk, actor=manager)
    with pytest.raises(StaleVersion):
        children_merge(
            keep_child_id=kept.pk,
            duplicate_child_id=duplicate.pk,
            actor=manager,
            expected_versions={pair["duplicate_open"].pk: pair["duplicate_open"].version - 1},
        )
    children_merge(keep_child_id=kept.pk, duplicate_child_id=duplicate.pk, actor=manager)
    with pytest.raises(ValidationError, match="already been merged"):
        children_merge(keep_child_id=duplicate.pk, duplicate_child_id=kept.pk, actor=manager)


def test_merge_pages_find_confirm_merge_and_undo(manager: User, pair: dict[str, Any]) -> None:
    kept, duplicate = pair["kept"], pair["duplicate"]
    client = client_for(manager)

    found = client.post(
        reverse("cases:merge_start"),
        {"first": pair["kept_open"].reference.lower(), "second": pair["duplicate_open"].reference},
    )
    confirm_url = reverse("cases:merge_confirm", kwargs={"keep": kept.pk, "duplicate": duplicate.pk})
    assert found["Location"] == confirm_url

    confirm = client.get(confirm_url)
    html = confirm.content.decode()
    assert escape(kept.full_name) in html
    assert escape(duplicate.full_name) in html
    assert f"Its open case {pair['duplicate_open'].reference} will be closed" in html
    assert set(AccessLog.objects.filter(user=manager).values_list("child_id", flat=True)) == {kept.pk, duplicate.pk}
    versions = html.split('name="versions" value="')[1].split('"')[0]

    merged = client.post(confirm_url, {"versions": versions})

    merge = ChildMerge.objects.get()
    assert merged["Location"] == reverse("cases:detail", kwargs={"pk": pair["kept_open"].pk})
    case_page = client.get(merged["Location"]).content.decode()
    assert reverse("cases:merge_undo", kwargs={"pk": merge.pk}) in case_page

    undone = client.post(reverse("cases:merge_undo", kwargs={"pk": merge.pk}))

    assert undone["Location"] == reverse("cases:detail", kwargs={"pk": pair["duplicate_open"].pk})
    assert ChildMerge.objects.get().is_undone
    assert Episode.objects.get(pk=pair["duplicate_open"].pk).state == State.MONITORING


def test_the_confirm_page_refuses_a_stale_version(manager: User, officer: User, pair: dict[str, Any]) -> None:
    kept, duplicate = pair["kept"], pair["duplicate"]
    client = client_for(manager)
    confirm_url = reverse("cases:merge_confirm", kwargs={"keep": kept.pk, "duplicate": duplicate.pk})
    versions = client.get(confirm_url).content.decode().split('name="versions" value="')[1].split('"')[0]
    manager_two = make_user(Role.EHE_MANAGER, kept.local_authority, first_name="Other", last_name="Manager")
    client_for(manager_two).post(
        reverse("cases:assign", kwargs={"pk": pair["duplicate_open"].pk}),
        {"version": pair["duplicate_open"].version, "officer": officer.pk},
    )

    response = client.post(confirm_url, {"versions": versions})

    assert response.status_code == 409
    assert "This case was changed by Other Manager" in response.content.decode()
    assert not ChildMerge.objects.exists()


def _merge_untouched(pair: dict[str, Any]) -> bool:
    duplicate_open = Episode.objects.get(pk=pair["duplicate_open"].pk)
    return not ChildMerge.objects.exists() and duplicate_open.state == State.MONITORING


@pytest.mark.parametrize(
    "posted",
    [
        {},  # no versions field at all
        {"versions": "garbage"},
        {"versions": f"{OTHER_DIGITS[0]}:1"},
        {"versions": f"1:{OTHER_DIGITS[1]}"},
    ],
    ids=["missing", "malformed", "superscript-id", "arabic-indic-version"],
)
def test_the_confirm_page_refuses_a_post_without_the_versions_seen(
    manager: User, pair: dict[str, Any], posted: dict[str, str]
) -> None:
    url = reverse("cases:merge_confirm", kwargs={"keep": pair["kept"].pk, "duplicate": pair["duplicate"].pk})
    response = client_for(manager).post(url, posted)
    assert response.status_code == 409
    assert "This page is out of date. Reload it" in response.content.decode()
    assert _merge_untouched(pair)


def test_the_confirm_page_refuses_versions_that_leave_a_case_out(
    manager: User, officer: User, pair: dict[str, Any]
) -> None:
    """An empty or partial list is what a page loaded before a case was opened would send."""
    url = reverse("cases:merge_confirm", kwargs={"keep": pair["kept"].pk, "duplicate": pair["duplicate"].pk})
    client = client_for(manager)
    seen = client.get(url).content.decode().split('name="versions" value="')[1].split('"')[0]
    partial = ",".join(p for p in seen.split(",") if not p.startswith(f"{pair['duplicate_open'].pk}:"))
    for versions in ["", partial]:
        response = client.post(url, {"versions": versions})
        assert response.status_code == 409
        assert re.search(r"This case was changed by .+ at (\d\d:\d\d|an earlier time)", response.content.decode())
        assert _merge_untouched(pair)


def test_the_merge_service_refuses_a_case_missing_from_the_versions(manager: User, pair: dict[str, Any]) -> None:
    seen = {e.pk: e.version for e in Episode.objects.filter(child__in=[pair["kept"], pair["duplicate"]])}
    del seen[pair["duplicate_open"].pk]
    with pytest.raises(StaleVersion):
        children_merge(
            keep_child_id=pair["kept"].pk,
            duplicate_child_id=pair["duplicate"].pk,
            actor=manager,
            expected_versions=seen,
        )
    assert _merge_untouched(pair)


def test_merge_from_a_case_page_and_back_to_undo(manager: User, pair: dict[str, Any]) -> None:
    client = client_for(manager)
    start = client.get(reverse("cases:merge", kwargs={"pk": pair["kept_open"].pk})).content.decode()
    assert pair["kept_open"].reference in start

    merge = children_merge(keep_child_id=pair["kept"].pk, duplicate_child_id=pair["duplicate"].pk, actor=manager)
    response = client.get(reverse("cases:merge", kwargs={"pk": pair["duplicate_open"].pk}))

    assert response["Location"] == reverse("cases:merge_undo", kwargs={"pk": merge.pk})


def test_merge_start_explains_unknown_references(manager: User) -> None:
    response = client_for(manager).post(
        reverse("cases:merge_start"), {"first": "EHE-936-C999999", "second": "nonsense"}
    )

    html = response.content.decode()
    assert html.count("No case or notification of your local authority has that reference") == 4  # summary + field
    assert not ChildMerge.objects.exists()


def test_officers_cannot_merge(officer: User, pair: dict[str, Any]) -> None:
    url = reverse("cases:merge_confirm", kwargs={"keep": pair["kept"].pk, "duplicate": pair["duplicate"].pk})
    assert client_for(officer).post(url, {"versions": ""}).status_code == 403
    assert not ChildMerge.objects.exists()


def test_a_merge_can_be_redone_after_it_is_undone(manager: User, pair: dict[str, Any]) -> None:
    first = children_merge(keep_child_id=pair["kept"].pk, duplicate_child_id=pair["duplicate"].pk, actor=manager)
    children_unmerge(merge_id=first.pk, actor=manager)

    again = children_merge(keep_child_id=pair["kept"].pk, duplicate_child_id=pair["duplicate"].pk, actor=manager)

    assert again.pk != first.pk
    assert Episode.objects.get(pk=pair["duplicate_open"].pk).state == State.CLOSED
    assert TransitionLog.objects.filter(episode=pair["duplicate_open"], transition="merge_close").count() == 2


def test_undo_is_refused_when_the_duplicate_has_an_open_case_again(la: LocalAuthority, manager: User) -> None:
    kept = ChildFactory(local_authority=la)
    duplicate = ChildFactory(local_authority=la)
    make_episode(State.MONITORING, child=kept)
    make_episode(State.MONITORING, child=duplicate)
    merge = children_merge(keep_child_id=kept.pk, duplicate_child_id=duplicate.pk, actor=manager)
    make_episode(State.ADDRESS_VERIFICATION, child=duplicate)  # a school notified the old record since

    with pytest.raises(ValidationError, match="open case of its own"):
        children_unmerge(merge_id=merge.pk, actor=manager)
    assert not ChildMerge.objects.get(pk=merge.pk).is_undone


def test_nothing_moves_for_another_las_records(la: LocalAuthority, other_la: LocalAuthority, manager: User) -> None:
    mine = ChildFactory(local_authority=la)
    theirs = ChildFactory(local_authority=other_la)
    with pytest.raises(PermissionDenied):
        children_merge(keep_child_id=mine.pk, duplicate_child_id=theirs.pk, actor=manager)
    url = reverse("cases:merge_confirm", kwargs={"keep": mine.pk, "duplicate": theirs.pk})
    assert client_for(manager).get(url).status_code == 404


def test_matching_finds_the_kept_record_not_the_merged_away_one(manager: User, pair: dict[str, Any]) -> None:
    duplicate = pair["duplicate"]
    sought = Sought(
        local_authority_id=duplicate.local_authority_id,
        legal_first_name=duplicate.legal_first_name,
        legal_last_name=duplicate.legal_last_name,
        date_of_birth=duplicate.date_of_birth,
        upn=duplicate.upn,
    )
    assert child_match(sought).certain == duplicate

    merge = children_merge(keep_child_id=pair["kept"].pk, duplicate_child_id=duplicate.pk, actor=manager)
    assert child_match(sought).certain == pair["kept"]  # by the UPN the kept record now holds as former

    children_unmerge(merge_id=merge.pk, actor=manager)
    assert child_match(sought).certain == duplicate
