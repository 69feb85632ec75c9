"""The LA asks the child's last school what address and contacts it holds; the school answers in its
portal; the product compares and records the school's check. The school never sees the LA's address."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ehe_register.models import AddressCheck, CheckMethod, CheckOutcome, LocalAuthority, SchoolContactRequest, User
from ehe_register.roles import Role
from notifications.delivery import message_render
from notifications.models import Message
from tests.factories import AddressFactory, ChildFactory, PersonFactory, SchoolFactory, UserFactory, make_user
from workflows.models import Episode
from workflows.services.intake import episode_open
from workflows.services.school_requests import SchoolAnswer, school_contact_request_answer
from workflows.states import Source, State
from workflows.views.actions import case_url

pytestmark = pytest.mark.django_db

LA_LINE_1 = "12 Acacia Avenue"
LA_POSTCODE = "GU1 4AB"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def fresh(episode: Episode) -> Episode:
    return Episode.objects.get(pk=episode.pk)


class SchoolBrowser:
    """A school user's client that checks every page it is given for the LA's address."""

    def __init__(self, user: User) -> None:
        self.client = signed_in(user)

    def _clean(self, response: Any) -> Any:
        content = response.content.decode()
        for secret in (LA_LINE_1, LA_POSTCODE, LA_POSTCODE.replace(" ", "")):
            assert secret.casefold() not in content.casefold(), f"the school was shown {secret!r}"
        return response

    def get(self, url: str) -> Any:
        return self._clean(self.client.get(url))

    def post(self, url: str, data: dict[str, Any], **kwargs: Any) -> Any:
        response = self._clean(self.client.post(url, data, **kwargs))
        for _, redirected in getattr(response, "redirect_chain", []):
            assert redirected in (301, 302)
        return response


@pytest.fixture
def school(la: LocalAuthority) -> Any:
    return SchoolFactory(local_authority=la, name="Oakfield Academy")


@pytest.fixture
def school_user(school: Any) -> User:
    return UserFactory(local_authority=None, roles=[Role.SCHOOL_USER], schools=[school], first_name="Sam")


@pytest.fixture
def officer(la: LocalAuthority) -> User:
    return make_user(Role.EHE_OFFICER, la, first_name="Priya", last_name="Shah")


@pytest.fixture
def case(la: LocalAuthority, school: Any) -> Episode:
    """A new case opened by the school's own notification, waiting in address verification."""
    child = ChildFactory(local_authority=la, legal_first_name="Ada", legal_last_name="Lovelace")
    AddressFactory(child=child, line_1=LA_LINE_1, town="Guildford", postcode=LA_POSTCODE)
    parent = PersonFactory(local_authority=la, emergency_phone="07700900123")
    child.carer_links.create(person=parent, relationship="mother")
    episode = episode_open(
        child=child,
        source=Source.SCHOOL,
        received_on=timezone.localdate(),
        as_of=timezone.now() - timedelta(hours=3),
        opened_by_school=school,
    )
    assert episode.state == State.ADDRESS_VERIFICATION
    return fresh(episode)


def ask(officer: User, episode: Episode, school: Any) -> SchoolContactRequest:
    known = school.pk == episode.opened_by_school_id
    choice = {"school": school.pk} if known else {"school": "other", "other_urn": school.urn}
    response = signed_in(officer).post(
        reverse("cases:school_request_new", kwargs={"pk": episode.pk}), {"version": episode.version, **choice}
    )
    assert response.status_code == 302, response.content.decode()
    return SchoolContactRequest.objects.get(episode=episode, school=school, answered_at__isnull=True)


def answer_url(request: SchoolContactRequest) -> str:
    return reverse("schools:request_answer", kwargs={"pk": request.pk})


def answer(**overrides: str) -> dict[str, str]:
    return {
        "line_1": "12 acacia  avenue",
        "line_2": "",
        "town": "Guildford",
        "postcode": "gu14ab",
        "phone": "",
        **overrides,
    }


def test_the_school_sees_the_childs_name_and_date_of_birth_but_never_our_address(
    case: Episode, officer: User, school: Any, school_user: User
) -> None:
    request = ask(officer, case, school)
    browser = SchoolBrowser(school_user)

    listing = browser.get(reverse("schools:request_list")).content.decode()
    assert "Ada Lovelace" in listing
    assert "Waiting for your answer" in listing
    page = browser.get(answer_url(request)).content.decode()
    assert "Ada Lovelace" in page
    assert f"{case.child.date_of_birth:%-d %B %Y}" in page
    assert "Guildford" not in page  # nor any other part of our address
    assert case.reference not in page  # nor the case itself


def test_a_matching_answer_is_recorded_as_the_schools_confirmation(
    case: Episode, officer: User, school: Any, school_user: User
) -> None:
    request = ask(officer, case, school)
    browser = SchoolBrowser(school_user)

    response = browser.post(answer_url(request), answer(phone="07700 900123"), follow=True)

    content = response.content.decode()
    assert "Thank you. Your answer has been sent to the local authority." in content
    assert "Answered" in content
    request = SchoolContactRequest.objects.get(pk=request.pk)
    assert (request.answered_by, request.outcome, request.answered_postcode) == (
        school_user,
        CheckOutcome.CONFIRMED,
        "GU1 4AB",
    )
    check = request.address_check
    assert check is not None
    assert (check.method, check.outcome, check.school, check.episode_id) == (
        CheckMethod.SCHOOL,
        CheckOutcome.CONFIRMED,
        school,
        case.pk,
    )
    assert "Answered by Sam" in check.notes
    assert "a number we hold" in check.notes


def test_a_different_answer_is_recorded_as_could_not_confirm_naming_the_difference(
    case: Episode, officer: User, school: Any, school_user: User
) -> None:
    request = ask(officer, case, school)
    browser = SchoolBrowser(school_user)

    browser.post(answer_url(request), answer(line_1="7 Birch Close", postcode="GU2 7XH"), follow=True)
    # The school may see its own answer again, and still nothing of ours.
    assert "7 Birch Close" in browser.get(answer_url(request)).content.decode()

    check = AddressCheck.objects.get(episode=case, method=CheckMethod.SCHOOL)
    assert check.outcome == CheckOutcome.COULD_NOT_CONFIRM
    assert "postcode GU2 7XH (ours: GU1 4AB)" in check.notes
    assert "first line of the address '7 Birch Close' (ours: '12 Acacia Avenue')" in check.notes
    assert SchoolContactRequest.objects.get(pk=request.pk).outcome == CheckOutcome.COULD_NOT_CONFIRM
    assert fresh(case).state == State.ADDRESS_VERIFICATION


def test_a_different_postcode_alone_is_a_difference(
    case: Episode, officer: User, school: Any, school_user: User
) -> None:
    request = ask(officer, case, school)
    SchoolBrowser(school_user).post(answer_url(request), answer(postcode="GU1 4AC"))
    check = AddressCheck.objects.get(episode=case, method=CheckMethod.SCHOOL)
    assert check.outcome == CheckOutcome.COULD_NOT_CONFIRM
    assert "postcode GU1 4AC (ours: GU1 4AB)" in check.notes
    assert "first line" not in check.notes


def test_the_family_and_the_notifying_school_verify_a_new_case_and_it_moves_on(
    case: Episode, officer: User, school: Any, school_user: User
) -> None:
    family = {
        "version": case.version,
        "method": CheckMethod.FAMILY,
        "outcome": CheckOutcome.CONFIRMED,
        "checked_on_day": timezone.localdate().day,
        "checked_on_month": timezone.localdate().month,
        "checked_on_year": timezone.localdate().year,
    }
    response = signed_in(officer).post(reverse("cases:address_check_new", kwargs={"pk": case.pk}), family)
    assert response["Location"] == case_url(case.pk)
    assert fresh(case).state == State.ADDRESS_VERIFICATION

    request = ask(officer, fresh(case), school)
    SchoolBrowser(school_user).post(answer_url(request), answer())

    after = fresh(case)
    assert after.state == State.EDUCATION_ENQUIRY
    assert after.contacts_verified_at is not None


def test_the_school_counts_only_for_a_case_its_own_notification_opened(
    la: LocalAuthority, case: Episode, officer: User, school_user: User
) -> None:
    other_school = SchoolFactory(local_authority=la)
    UserFactory(local_authority=None, roles=[Role.SCHOOL_USER], schools=[other_school])
    other_user = other_school.users.get()
    family = {
        "version": case.version,
        "method": CheckMethod.FAMILY,
        "outcome": CheckOutcome.CONFIRMED,
        "checked_on_day": timezone.localdate().day,
        "checked_on_month": timezone.localdate().month,
        "checked_on_year": timezone.localdate().year,
    }
    signed_in(officer).post(reverse("cases:address_check_new", kwargs={"pk": case.pk}), family)
    request = ask(officer, fresh(case), other_school)
    SchoolBrowser(other_user).post(answer_url(request), answer())
    assert AddressCheck.objects.get(episode=case, method=CheckMethod.SCHOOL).outcome == CheckOutcome.CONFIRMED
    assert fresh(case).state == State.ADDRESS_VERIFICATION


def test_another_schools_user_cannot_see_or_answer_the_request(
    la: LocalAuthority, case: Episode, officer: User, school: Any, school_user: User
) -> None:
    request = ask(officer, case, school)
    stranger = SchoolBrowser(make_user(Role.SCHOOL_USER, la))
    assert stranger.get(answer_url(request)).status_code == 404
    assert stranger.post(answer_url(request), answer()).status_code == 404
    assert "Ada Lovelace" not in stranger.get(reverse("schools:request_list")).content.decode()
    assert SchoolContactRequest.objects.get(pk=request.pk).answered_at is None


def test_la_staff_do_not_use_the_school_portal(case: Episode, officer: User, school: Any, school_user: User) -> None:
    request = ask(officer, case, school)
    assert signed_in(officer).get(answer_url(request)).status_code == 403
    assert signed_in(officer).get(reverse("schools:request_list")).status_code == 403


def test_the_school_must_give_an_address_and_a_real_postcode(
    case: Episode, officer: User, school: Any, school_user: User
) -> None:
    request = ask(officer, case, school)
    content = (
        SchoolBrowser(school_user)
        .post(answer_url(request), answer(line_1="", postcode="nonsense", phone="12"))
        .content.decode()
    )
    assert "There is a problem" in content
    assert "Enter the first line of the address the school holds" in content
    assert "Enter a real postcode, like SW1A 1AA" in content
    assert "Enter a UK phone number" in content
    assert SchoolContactRequest.objects.get(pk=request.pk).answered_at is None


def test_a_request_is_answered_once(case: Episode, officer: User, school: Any, school_user: User) -> None:
    request = ask(officer, case, school)
    browser = SchoolBrowser(school_user)
    browser.post(answer_url(request), answer(line_1="7 Birch Close", postcode="GU2 7XH"))
    again = browser.post(answer_url(request), answer(line_1="Somewhere else"))
    assert again.status_code == 200
    assert "Your school's answer" in again.content.decode()
    assert AddressCheck.objects.filter(episode=case, method=CheckMethod.SCHOOL).count() == 1
    with pytest.raises(Exception, match="already been answered"):
        school_contact_request_answer(
            request_id=request.pk, actor=school_user, answer=SchoolAnswer("x", "", "", "GU1 1AA")
        )


def test_a_request_on_a_case_closed_since_is_no_longer_needed(
    case: Episode, officer: User, school: Any, school_user: User
) -> None:
    request = ask(officer, case, school)
    closing = fresh(case)
    response = signed_in(officer).post(
        reverse("cases:transition", kwargs={"pk": case.pk, "name": "close"}),
        {"version": closing.version, "closure_reason": "returned_to_school"},
    )
    assert response.status_code == 302
    browser = SchoolBrowser(school_user)
    assert "No longer needed" in browser.get(reverse("schools:request_list")).content.decode()
    content = browser.post(answer_url(request), answer()).content.decode()
    assert "The local authority no longer needs an answer to this request." in content
    assert SchoolContactRequest.objects.get(pk=request.pk).answered_at is None


@pytest.fixture
def manager_of(la: LocalAuthority) -> User:
    return make_user(Role.EHE_MANAGER, la)


def test_the_schools_messages_carry_no_child_details_and_render(
    case: Episode, officer: User, school: Any, school_user: User
) -> None:
    request = ask(officer, case, school)
    for message in Message.objects.filter(recipient_user=school_user, template="emails/school_request"):
        assert set(message.payload) == {"request_id", "path"}
        if message.channel == "email":
            email = message_render(message)
            text = email.subject + str(email.body) + str(email.alternatives[0][0])
            assert str(request.pk) in email.subject
            assert answer_url(request) in text
            for detail in ("Ada", "Lovelace", LA_LINE_1, LA_POSTCODE, case.reference):
                assert detail not in text


def test_when_the_officer_who_asked_has_left_the_check_is_recorded_for_the_team(
    la: LocalAuthority, case: Episode, officer: User, manager_of: User, school: Any, school_user: User
) -> None:
    request = ask(officer, case, school)
    User.objects.filter(pk=officer.pk).update(is_active=False)
    SchoolBrowser(school_user).post(answer_url(request), answer())
    check = AddressCheck.objects.get(episode=case, method=CheckMethod.SCHOOL)
    assert check.checked_by == manager_of
    assert "Answered by Sam" in check.notes
