"""Who may reach which URL. Add every new URL here: a URL missing from EXPECTED fails this test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.utils import timezone

from ehe_register.models import (
    ChildMerge,
    LegalHold,
    LocalAuthority,
    OffRollNotification,
    ReasonCode,
    RemovalStatus,
    Routing,
    SchoolContactRequest,
)
from ehe_register.roles import Role
from imports.models import ImportBatch
from tests.access_matrix import (
    ADMIN,
    ANONYMOUS,
    FORBIDDEN,
    LOGIN,
    METHOD,
    NOT_FOUND,
    OK,
    OTHER_LA,
    REDIRECT,
    matrix_mismatches,
    url_names,
)
from tests.factories import PersonFactory, make_episode, make_user
from workflows.models import AuditAction, AuditCase, AuditSample
from workflows.services.escalations import escalation_raise
from workflows.states import State

LA_STAFF = [
    Role.EHE_OFFICER,
    Role.CSPA_DUTY_WORKER,
    Role.CSPA_MANAGER,
    Role.EHE_MANAGER,
    Role.HEAD_OF_SERVICE,
    Role.AUDITOR,
]
# A school user at another school of the same LA: must never reach the first school's notifications.
OTHER_SCHOOL = "other_school_user"
EVERYONE = [ANONYMOUS, *[r.value for r in Role], OTHER_LA, OTHER_SCHOOL]
SIGNED_IN = [p for p in EVERYONE if p != ANONYMOUS]


# The oversight pages' readers.
READERS_OK = {"ehe_manager": OK, "head_of_service": OK, "auditor": OK}
READERS_METHOD = {"ehe_manager": METHOD, "head_of_service": METHOD, "auditor": METHOD}


def expect(default: str, **overrides: str) -> dict[str, str]:
    return {principal: overrides.get(principal, default) for principal in EVERYONE}


# Who works escalations (every LA role but the auditor, who reads).
ESCALATION_WORKERS = {
    role.value: OK
    for role in (Role.EHE_OFFICER, Role.CSPA_DUTY_WORKER, Role.CSPA_MANAGER, Role.EHE_MANAGER, Role.HEAD_OF_SERVICE)
}


EXPECTED: dict[str, dict[str, str]] = {
    "home": expect(OK, anonymous=LOGIN, administrator=REDIRECT),
    "healthz": expect(OK),
    "accessibility": expect(OK),
    "privacy": expect(OK),
    "accounts:sign_in": expect(REDIRECT, anonymous=OK),
    "accounts:sign_out": expect(METHOD),
    "accounts:signed_out": expect(OK),
    # Without an authenticator, the second step explains that setting one up needs a link.
    "accounts:two_factor": expect(OK, anonymous=LOGIN),
    # Enrolment: a link that is not the user's own is refused; no link in the session, no set-up.
    "accounts:enrol": expect(FORBIDDEN, anonymous=LOGIN),
    "accounts:enrol_set_up": expect(REDIRECT, anonymous=LOGIN),
    # Backup codes need a verified second factor (force_login gives none): sent to the second step.
    "accounts:backup_codes": expect(REDIRECT, anonymous=LOGIN),
    # A person's two-factor sign-in: administrators only.
    "accounts:staff_two_factor": expect(FORBIDDEN, anonymous=LOGIN, administrator=OK),
    "accounts:staff_enrolment_link": expect(FORBIDDEN, anonymous=LOGIN, administrator=METHOD),
    "accounts:staff_two_factor_reset": expect(FORBIDDEN, anonymous=LOGIN, administrator=OK),
    ADMIN: expect(REDIRECT, administrator=OK),
    # The school portal: school users only; a notification is visible only to its own school.
    "schools:notify": expect(FORBIDDEN, anonymous=LOGIN, school_user=OK, other_school_user=OK),
    # Without answers in progress, "check your answers" sends the user back to the form.
    "schools:check_answers": expect(FORBIDDEN, anonymous=LOGIN, school_user=REDIRECT, other_school_user=REDIRECT),
    "schools:notification_list": expect(FORBIDDEN, anonymous=LOGIN, school_user=OK, other_school_user=OK),
    "schools:notification_detail": expect(FORBIDDEN, anonymous=LOGIN, school_user=OK, other_school_user=NOT_FOUND),
    "schools:confirmation": expect(FORBIDDEN, anonymous=LOGIN, school_user=OK, other_school_user=NOT_FOUND),
    # --- casework: queues, case page, assignment, absence, new case, merge ---
    # Queues: every LA role; the front door's own queue is safeguarding, so the team queue is 403 to it.
    "cases:index": expect(
        REDIRECT, anonymous=LOGIN, school_user=FORBIDDEN, other_school_user=FORBIDDEN, administrator=FORBIDDEN
    ),
    "cases:queue": expect(
        FORBIDDEN, anonymous=LOGIN, ehe_officer=OK, ehe_manager=OK, head_of_service=OK, auditor=OK, other_la_officer=OK
    ),
    # The manager's dashboard (also the home page of EHE managers and heads of service).
    "cases:dashboard": expect(FORBIDDEN, anonymous=LOGIN, ehe_manager=OK, head_of_service=OK),
    "cases:bulk_assign": expect(FORBIDDEN, anonymous=LOGIN, ehe_manager=METHOD),
    "cases:match_resolve": expect(
        FORBIDDEN, anonymous=LOGIN, ehe_officer=METHOD, ehe_manager=METHOD, other_la_officer=METHOD
    ),
    # The case page: every LA role of the case's LA; another LA's officer gets 404, school users 403.
    "cases:detail": expect(FORBIDDEN, anonymous=LOGIN, other_la_officer=NOT_FOUND, **{r.value: OK for r in LA_STAFF}),
    "cases:assign": expect(FORBIDDEN, anonymous=LOGIN, ehe_officer=METHOD, ehe_manager=METHOD, other_la_officer=METHOD),
    # The child's contact flags (confidential address, interpreter, contact preferences): caseworkers only.
    "cases:child_details": expect(
        FORBIDDEN, anonymous=LOGIN, ehe_officer=OK, ehe_manager=OK, other_la_officer=NOT_FOUND
    ),
    "cases:absences": expect(FORBIDDEN, anonymous=LOGIN, ehe_officer=OK, ehe_manager=OK, other_la_officer=OK),
    "cases:absence_new": expect(FORBIDDEN, anonymous=LOGIN, ehe_officer=OK, ehe_manager=OK, other_la_officer=OK),
    "cases:new": expect(FORBIDDEN, anonymous=LOGIN, ehe_officer=OK, ehe_manager=OK, other_la_officer=OK),
    # Merging and undoing a merge: EHE managers only.
    "cases:merge_start": expect(FORBIDDEN, anonymous=LOGIN, ehe_manager=OK),
    "cases:merge": expect(FORBIDDEN, anonymous=LOGIN, ehe_manager=OK),
    "cases:merge_confirm": expect(FORBIDDEN, anonymous=LOGIN, ehe_manager=OK),
    "cases:merge_undo": expect(FORBIDDEN, anonymous=LOGIN, ehe_manager=OK),
    # --- casework: recording work and decisions ---
    # Recording contacts: caseworkers and the front door; another LA's officer gets 404.
    "cases:activity_new": expect(
        FORBIDDEN,
        anonymous=LOGIN,
        ehe_officer=OK,
        ehe_manager=OK,
        cspa_duty_worker=OK,
        cspa_manager=OK,
        other_la_officer=NOT_FOUND,
    ),
    "cases:address_check_new": expect(
        FORBIDDEN, anonymous=LOGIN, ehe_officer=OK, ehe_manager=OK, other_la_officer=NOT_FOUND
    ),
    "cases:school_request_new": expect(
        FORBIDDEN, anonymous=LOGIN, ehe_officer=OK, ehe_manager=OK, other_la_officer=NOT_FOUND
    ),
    # Decisions follow each transition's permission; checked here with "close" (caseworkers only).
    "cases:transition": expect(FORBIDDEN, anonymous=LOGIN, ehe_officer=OK, ehe_manager=OK, other_la_officer=NOT_FOUND),
    # A safeguarding concern can be raised by caseworkers, the front door and the head of service.
    "cases:concern_new": expect(
        FORBIDDEN,
        anonymous=LOGIN,
        ehe_officer=OK,
        ehe_manager=OK,
        cspa_duty_worker=OK,
        cspa_manager=OK,
        head_of_service=OK,
        other_la_officer=NOT_FOUND,
    ),
    # Escalations for you: the roles that own escalations, each seeing their own LA's only.
    "cases:escalations": expect(FORBIDDEN, anonymous=LOGIN, other_la_officer=OK, **ESCALATION_WORKERS),
    "cases:escalation": expect(FORBIDDEN, anonymous=LOGIN, other_la_officer=NOT_FOUND, **ESCALATION_WORKERS),
    "cases:escalation_acknowledge": expect(
        FORBIDDEN, anonymous=LOGIN, other_la_officer=METHOD, **{k: METHOD for k in ESCALATION_WORKERS}
    ),
    "cases:escalation_decide": expect(
        FORBIDDEN, anonymous=LOGIN, other_la_officer=METHOD, **{k: METHOD for k in ESCALATION_WORKERS}
    ),
    # The LA's requests to confirm contact details: only the school asked sees one.
    "schools:request_list": expect(FORBIDDEN, anonymous=LOGIN, school_user=OK, other_school_user=OK),
    "schools:request_answer": expect(FORBIDDEN, anonymous=LOGIN, school_user=OK, other_school_user=NOT_FOUND),
    # In-app notifications: everyone with an LA role or a school sees their own (never anyone else's).
    "notifications:list": expect(OK, anonymous=LOGIN, administrator=FORBIDDEN),
    "notifications:mark_read": expect(METHOD, anonymous=LOGIN, administrator=FORBIDDEN),
    # --- oversight: quality audit (EHE managers act; heads of service and auditors read) ---
    "audit:index": expect(FORBIDDEN, anonymous=LOGIN, **READERS_OK),
    "audit:results": expect(FORBIDDEN, anonymous=LOGIN, **READERS_OK),
    "audit:sample": expect(FORBIDDEN, anonymous=LOGIN, **READERS_OK),
    "audit:case": expect(FORBIDDEN, anonymous=LOGIN, **READERS_OK),
    "audit:draw": expect(FORBIDDEN, anonymous=LOGIN, ehe_manager=METHOD),
    "audit:action_new": expect(FORBIDDEN, anonymous=LOGIN, ehe_manager=METHOD),
    # An action's owner may be any member of the LA's staff: every LA role may post "done".
    "audit:action_done": expect(
        FORBIDDEN, anonymous=LOGIN, other_la_officer=METHOD, **{r.value: METHOD for r in LA_STAFF}
    ),
    # --- the auditor's views and exports: auditors, EHE managers and heads of service ---
    "auditor:access_log": expect(FORBIDDEN, anonymous=LOGIN, **READERS_OK),
    "auditor:history": expect(FORBIDDEN, anonymous=LOGIN, **READERS_OK),
    "exports:index": expect(FORBIDDEN, anonymous=LOGIN, **READERS_OK),
    "exports:register": expect(FORBIDDEN, anonymous=LOGIN, **READERS_METHOD),
    "exports:transitions": expect(FORBIDDEN, anonymous=LOGIN, **READERS_METHOD),
    "exports:dfe_return": expect(FORBIDDEN, anonymous=LOGIN, **READERS_OK),
    "notifications:open": expect(METHOD, anonymous=LOGIN, administrator=FORBIDDEN),
    # --- retention and subject access: EHE managers act; heads of service and auditors read what is due ---
    "cases:retention": expect(FORBIDDEN, anonymous=LOGIN, **READERS_OK),
    "cases:legal_holds": expect(FORBIDDEN, anonymous=LOGIN, ehe_manager=OK),
    "cases:legal_hold_lift": expect(FORBIDDEN, anonymous=LOGIN, ehe_manager=OK),
    "exports:subject_access_child": expect(FORBIDDEN, anonymous=LOGIN, ehe_manager=OK),
    "exports:subject_access_person": expect(FORBIDDEN, anonymous=LOGIN, ehe_manager=OK),
    # --- imports: EHE officers and managers; a batch of another LA is not found ---
    "imports:index": expect(FORBIDDEN, anonymous=LOGIN, ehe_officer=OK, ehe_manager=OK, other_la_officer=OK),
    "imports:template": expect(FORBIDDEN, anonymous=LOGIN, ehe_officer=OK, ehe_manager=OK, other_la_officer=OK),
    "imports:ctf": expect(FORBIDDEN, anonymous=LOGIN, ehe_officer=OK, ehe_manager=OK, other_la_officer=OK),
    "imports:legacy": expect(FORBIDDEN, anonymous=LOGIN, ehe_officer=OK, ehe_manager=OK, other_la_officer=OK),
    # The column step without an upload in the session sends the person back to the upload page.
    "imports:legacy_columns": expect(
        FORBIDDEN, anonymous=LOGIN, ehe_officer=REDIRECT, ehe_manager=REDIRECT, other_la_officer=REDIRECT
    ),
    # The schools list is shared by every LA: EHE managers only.
    "imports:gias": expect(FORBIDDEN, anonymous=LOGIN, ehe_manager=OK),
    "imports:batch": expect(FORBIDDEN, anonymous=LOGIN, ehe_officer=OK, ehe_manager=OK, other_la_officer=NOT_FOUND),
    "imports:confirm": expect(
        FORBIDDEN, anonymous=LOGIN, ehe_officer=METHOD, ehe_manager=METHOD, other_la_officer=METHOD
    ),
    "imports:progress": expect(FORBIDDEN, anonymous=LOGIN, ehe_officer=OK, ehe_manager=OK, other_la_officer=NOT_FOUND),
}


@pytest.fixture
def principals(la: LocalAuthority, other_la: LocalAuthority) -> dict[str, Any]:
    users: dict[str, Any] = {ANONYMOUS: None}
    for role in Role:
        users[role.value] = make_user(role, la)
    users[OTHER_LA] = make_user(Role.EHE_OFFICER, other_la)
    users[OTHER_SCHOOL] = make_user(Role.SCHOOL_USER, la)
    return users


@pytest.fixture
def url_kwargs(principals: dict[str, Any], la: LocalAuthority) -> dict[str, Callable[[], dict[str, Any]]]:
    """URL arguments for the URLs that need them: a notification sent by the school_user's school."""
    school_user = principals[Role.SCHOOL_USER.value]
    notification = OffRollNotification.objects.create(
        reference="EHE-936-900001",
        school=school_user.schools.get(),
        submitted_by=school_user,
        submitted_at=timezone.now(),
        snapshot={"legal_first_name": ["Ada"], "legal_last_name": ["Lovelace"]},
        residence_la=la,
        routing=Routing.THIS_DEPLOYMENT,
        legal_first_name="Ada",
        legal_last_name="Lovelace",
        date_of_birth=date(2014, 12, 10),
        notice_received_on=timezone.localdate(),
        removal_status=RemovalStatus.WAITING,
        reason_code=ReasonCode.PHILOSOPHICAL,
        safeguarding_concerns=False,
    )
    reference = {"reference": notification.reference}
    person = {"pk": principals[Role.EHE_OFFICER.value].pk}
    return {
        "accounts:enrol": lambda: {"token": "not-a-token-anyone-was-given"},
        "accounts:staff_two_factor": lambda: person,
        "accounts:staff_enrolment_link": lambda: person,
        "accounts:staff_two_factor_reset": lambda: person,
        "schools:notification_detail": lambda: reference,
        "schools:confirmation": lambda: reference,
        **_casework_kwargs(principals, la),
        **_actions_kwargs(principals, la),
        **_oversight_kwargs(principals, la),
        **_retention_kwargs(principals, la),
        **_imports_kwargs(principals, la),
    }


def _casework_kwargs(principals: dict[str, Any], la: LocalAuthority) -> dict[str, Callable[[], dict[str, Any]]]:
    """A case in ``la``, a second child to compare it with, and a merge to undo."""
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la)
    other = make_episode(State.MONITORING, la=la)
    merged = make_episode(State.CLOSED, la=la)
    merge = ChildMerge.objects.create(
        local_authority=la,
        kept_child=other.child,
        duplicate_child=merged.child,
        moved={},
        merged_by=principals[Role.EHE_MANAGER.value],
        merged_at=timezone.now(),
    )
    case = {"pk": episode.pk}
    return {
        "cases:queue": lambda: {"slug": "team"},
        "cases:match_resolve": lambda: {"pk": 1},
        "cases:detail": lambda: case,
        "cases:assign": lambda: case,
        "cases:child_details": lambda: case,
        "cases:merge": lambda: case,
        "cases:merge_confirm": lambda: {"keep": episode.child_id, "duplicate": other.child_id},
        "cases:merge_undo": lambda: {"pk": merge.pk},
    }


def _actions_kwargs(principals: dict[str, Any], la: LocalAuthority) -> dict[str, Callable[[], dict[str, Any]]]:
    """A case in ``la`` that can be closed, and a request to the school_user's school about it."""
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    request = SchoolContactRequest.objects.create(
        episode=episode,
        school=principals[Role.SCHOOL_USER.value].schools.get(),
        requested_by=principals[Role.EHE_OFFICER.value],
        requested_at=timezone.now(),
    )
    case = {"pk": episode.pk}
    escalation, _ = escalation_raise(episode=episode, rule_name="concern_ticked", as_of=timezone.now())
    on_escalation = {"pk": escalation.pk}
    return {
        "cases:concern_new": lambda: case,
        "cases:escalation": lambda: on_escalation,
        "cases:escalation_acknowledge": lambda: on_escalation,
        "cases:escalation_decide": lambda: on_escalation,
        "notifications:open": lambda: {"pk": 1},
        "cases:activity_new": lambda: case,
        "cases:address_check_new": lambda: case,
        "cases:school_request_new": lambda: case,
        "cases:transition": lambda: {**case, "name": "close"},
        "schools:request_answer": lambda: {"pk": request.pk},
    }


def _oversight_kwargs(principals: dict[str, Any], la: LocalAuthority) -> dict[str, Callable[[], dict[str, Any]]]:
    """An audit sample of ``la`` with one case and one action, and a child whose history to read."""
    episode = make_episode(State.MONITORING, la=la)
    manager = principals[Role.EHE_MANAGER.value]
    sample = AuditSample.objects.create(
        local_authority=la,
        month=timezone.localdate().replace(day=1),
        seed=7,
        size_per_officer=2,
        drawn_by=manager,
        drawn_at=timezone.now(),
    )
    audit_case = AuditCase.objects.create(sample=sample, episode=episode, officer=principals[Role.EHE_OFFICER.value])
    action = AuditAction.objects.create(
        audit_case=audit_case,
        local_authority=la,
        description="Record the visit",
        owner=manager,
        due_on=timezone.localdate(),
        created_by=manager,
        created_at=timezone.now(),
    )
    return {
        "audit:sample": lambda: {"pk": sample.pk},
        "audit:case": lambda: {"pk": audit_case.pk},
        "audit:action_new": lambda: {"pk": audit_case.pk},
        "audit:action_done": lambda: {"pk": action.pk},
        "auditor:history": lambda: {"kind": "child", "pk": episode.child_id},
    }


def _retention_kwargs(principals: dict[str, Any], la: LocalAuthority) -> dict[str, Callable[[], dict[str, Any]]]:
    """A closed case in ``la`` with a legal hold to lift and a parent to export."""
    episode = make_episode(State.CLOSED, la=la)
    hold = LegalHold.objects.create(
        local_authority=la,
        child=episode.child,
        reason="A claim",
        placed_by=principals[Role.EHE_MANAGER.value],
        placed_at=timezone.now(),
    )
    parent = PersonFactory(local_authority=la)
    parent.child_links.create(child=episode.child, relationship="mother")
    return {
        "cases:legal_holds": lambda: {"pk": episode.pk},
        "cases:legal_hold_lift": lambda: {"pk": episode.pk, "hold_pk": hold.pk},
        "exports:subject_access_child": lambda: {"pk": episode.child_id},
        "exports:subject_access_person": lambda: {"pk": parent.pk},
    }


def _imports_kwargs(principals: dict[str, Any], la: LocalAuthority) -> dict[str, Callable[[], dict[str, Any]]]:
    """An import batch of ``la``, previewed."""
    batch = ImportBatch.objects.create(
        local_authority=la,
        kind="notifications",
        uploaded_by=principals[Role.EHE_OFFICER.value],
        uploaded_at=timezone.now(),
        file_name="notifications.csv",
        sha256="0" * 64,
        size_bytes=10,
        stored_as="missing.csv",
        rows_total=1,
        new_count=1,
    )
    on_batch = {"pk": batch.pk}
    return {
        "imports:template": lambda: {"kind": "notifications", "extension": "csv"},
        "imports:batch": lambda: on_batch,
        "imports:confirm": lambda: on_batch,
        "imports:progress": lambda: on_batch,
    }


@pytest.mark.django_db
def test_every_url_answers_every_principal_as_the_table_says(
    principals: dict[str, Any], url_kwargs: dict[str, Callable[[], dict[str, Any]]]
) -> None:
    assert matrix_mismatches(EXPECTED, principals, url_kwargs=url_kwargs) == []


def test_every_url_is_in_the_table() -> None:
    assert url_names() == set(EXPECTED)


@pytest.mark.django_db
def test_the_matrix_catches_an_unguarded_view(
    principals: dict[str, Any], url_kwargs: dict[str, Callable[[], dict[str, Any]]], settings: Any
) -> None:
    urlconf = "tests.urls_with_unguarded_view"
    settings.ROOT_URLCONF = urlconf
    missing = matrix_mismatches(EXPECTED, principals, url_kwargs=url_kwargs, urlconf=urlconf)
    assert missing == ["leaky: not in the access table"]

    # Declared as it should be (staff only), the unguarded view is caught answering everyone.
    table = {**EXPECTED, "leaky": expect(FORBIDDEN, anonymous=LOGIN, **{r.value: OK for r in LA_STAFF})}
    problems = matrix_mismatches(table, principals, url_kwargs=url_kwargs, urlconf=urlconf)
    assert "leaky as anonymous: expected login, got ok" in problems
    assert "leaky as school_user: expected forbidden, got ok" in problems
