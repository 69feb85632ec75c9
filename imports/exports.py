"""Everything that leaves the service as a file: the register extract and the audit extracts,
through django-import-export resources, as CSV or XLSX.

Three rules hold for every export, and each lives in one place here:

- **Formula injection.** Every cell passes through :func:`neutralise_cell` in :func:`export_file`,
  the one function that turns a table into bytes: a text cell starting with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return gets a leading single quote, so a spreadsheet shows it as text
  instead of running it.
- **Confidential addresses** (a refuge, domestic abuse) are masked unless an EHE manager ticks
  "include confidential addresses"; that choice is logged as its own AccessLog action.
- **Every export is logged**: one AccessLog row per child in the file (see
  ``ehe_register.services.access.access_log_record_export``), written in the same transaction as
  the file is built, so the auditor's access log shows who exported whose record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import tablib
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from import_export import fields, resources

from ehe_register.models import AccessAction, AccessLog, Address, AddressKind, User
from ehe_register.models.reference import reason_code_labels
from ehe_register.roles import Role
from ehe_register.services.access import access_log_record_export
from ehe_register.validators import year_group, year_group_label
from workflows.models import Episode, TransitionLog
from workflows.selectors import episodes_for
from workflows.states import ACTIVE_STATES

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
MASKED = "Confidential address"
FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}


def neutralise_cell(value: Any) -> Any:
    """A cell as it is safe to open in a spreadsheet: text that a spreadsheet would read as a
    formula (leading ``=``, ``+``, ``-``, ``@``, tab or carriage return) gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def export_file(dataset: tablib.Dataset, file_format: str) -> bytes:
    """The dataset as CSV or XLSX bytes, every header and cell neutralised first."""
    if file_format not in FORMATS:
        raise ValueError(f"{file_format!r} is not an export format")
    safe = tablib.Dataset(headers=[neutralise_cell(h) for h in dataset.headers or []])
    for row in dataset:
        safe.append([neutralise_cell(_plain(cell)) for cell in row])
    if file_format == "csv":
        # A byte-order mark so that Excel reads names in every script as UTF-8.
        return ("\ufeff" + safe.export("csv")).encode("utf-8")
    return bytes(safe.export("xlsx"))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if value is None:
        return ""
    return value


# ---------------------------------------------------------------------------------------------
# The register extract


class RegisterResource(resources.ModelResource):
    """One row per open case of the LA: the child, the current address and the case."""

    case_reference = fields.Field(column_name="Case reference")
    child_id = fields.Field(column_name="Child record", attribute="child_id")
    legal_first_name = fields.Field(column_name="Legal first name", attribute="child__legal_first_name")
    legal_last_name = fields.Field(column_name="Legal surname", attribute="child__legal_last_name")
    preferred_name = fields.Field(column_name="Preferred name")
    date_of_birth = fields.Field(column_name="Date of birth", attribute="child__date_of_birth")
    sex = fields.Field(column_name="Sex")
    year = fields.Field(column_name="Year group")
    upn = fields.Field(column_name="UPN", attribute="child__upn")
    address = fields.Field(column_name="Address")
    postcode = fields.Field(column_name="Postcode")
    state = fields.Field(column_name="State")
    officer = fields.Field(column_name="Officer")
    received = fields.Field(column_name="Notification received", attribute="received_on")
    next_action = fields.Field(column_name="Next action due", attribute="next_action_due")
    review = fields.Field(column_name="Review due", attribute="review_due_on")
    reason = fields.Field(column_name="Reason for home education")
    sen = fields.Field(column_name="SEN status")
    social_care = fields.Field(column_name="Social care status")

    class Meta:
        model = Episode
        fields = (
            "case_reference",
            "child_id",
            "legal_first_name",
            "legal_last_name",
            "preferred_name",
            "date_of_birth",
            "sex",
            "year",
            "upn",
            "address",
            "postcode",
            "state",
            "officer",
            "received",
            "next_action",
            "review",
            "reason",
            "sen",
            "social_care",
        )
        export_order = fields

    def __init__(self, *, include_confidential: bool, today: date) -> None:
        super().__init__()
        self.include_confidential = include_confidential
        self.today = today
        self.reasons = reason_code_labels()

    def _address(self, episode: Episode) -> Address | None:
        current = getattr(episode.child, "current_addresses", [])
        return current[0] if current else None

    def _masked(self, episode: Episode) -> bool:
        return episode.child.confidential_address and not self.include_confidential

    def dehydrate_case_reference(self, episode: Episode) -> str:
        return episode.reference

    def dehydrate_preferred_name(self, episode: Episode) -> str:
        child = episode.child
        return " ".join(p for p in [child.preferred_first_name, child.preferred_last_name] if p)

    def dehydrate_sex(self, episode: Episode) -> str:
        return episode.child.get_sex_display()

    def dehydrate_year(self, episode: Episode) -> str:
        return year_group_label(year_group(episode.child.date_of_birth, self.today))

    def dehydrate_address(self, episode: Episode) -> str:
        if self._masked(episode):
            return MASKED
        address = self._address(episode)
        return ", ".join(p for p in [address.line_1, address.line_2, address.town] if p) if address else ""

    def dehydrate_postcode(self, episode: Episode) -> str:
        if self._masked(episode):
            return MASKED
        address = self._address(episode)
        return address.postcode if address else ""

    def dehydrate_state(self, episode: Episode) -> str:
        return episode.get_state_display()

    def dehydrate_officer(self, episode: Episode) -> str:
        return episode.assigned_officer.display_name if episode.assigned_officer else "Unassigned"

    def dehydrate_reason(self, episode: Episode) -> str:
        return self.reasons.get(episode.reason_code, episode.reason_code)

    def dehydrate_sen(self, episode: Episode) -> str:
        return episode.child.get_sen_status_display()

    def dehydrate_social_care(self, episode: Episode) -> str:
        return episode.child.get_social_care_status_display()


def register_queryset(user: Any) -> QuerySet[Episode]:
    """The open cases the user may see, with what the extract shows in a fixed number of queries."""
    current = Address.objects.filter(kind=AddressKind.CURRENT)
    return (
        episodes_for(user)
        .filter(state__in=ACTIVE_STATES)
        .select_related("assigned_officer")
        .prefetch_related(Prefetch("child__addresses", queryset=current, to_attr="current_addresses"))
        .order_by("child__legal_last_name", "child__legal_first_name", "pk")
    )


@dataclass(frozen=True)
class ExportResult:
    content: bytes
    content_type: str
    filename: str
    rows: int


def may_unmask(user: Any) -> bool:
    return bool(user.has_role(Role.EHE_MANAGER))


def register_export(*, user: User, file_format: str, include_confidential: bool, path: str) -> ExportResult:
    """The register extract for ``user``'s LA, logged per child (``export_unmasked`` when the EHE
    manager asked for confidential addresses). Only an EHE manager may unmask."""
    if include_confidential and not may_unmask(user):
        raise PermissionError("Only an EHE manager can include confidential addresses")
    today = timezone.localdate()
    with transaction.atomic():
        episodes = list(register_queryset(user))
        dataset = RegisterResource(include_confidential=include_confidential, today=today).export(episodes)
        action = AccessAction.EXPORT_UNMASKED if include_confidential else AccessAction.EXPORT
        _log(user, [e.child_id for e in episodes], action, path)
        return _result(dataset, file_format, f"register-{today.isoformat()}", len(episodes))


# ---------------------------------------------------------------------------------------------
# Audit extracts: the access log and the transition log


class AccessLogResource(resources.ModelResource):
    at = fields.Field(column_name="When", attribute="at")
    person = fields.Field(column_name="Who")
    action_label = fields.Field(column_name="What")
    child_record = fields.Field(column_name="Child record", attribute="child_id")
    child_name = fields.Field(column_name="Child")
    page = fields.Field(column_name="Page or file", attribute="path")

    class Meta:
        model = AccessLog
        fields = (
            "at",
            "person",
            "action_label",
            "child_record",
            "child_name",
            "page",
        )
        export_order = fields

    def dehydrate_person(self, row: AccessLog) -> str:
        return row.user.display_name

    def dehydrate_action_label(self, row: AccessLog) -> str:
        return row.get_action_display()

    def dehydrate_child_name(self, row: AccessLog) -> str:
        return row.child.full_name if row.child else ""


class TransitionLogResource(resources.ModelResource):
    at = fields.Field(column_name="When", attribute="at")
    case_reference = fields.Field(column_name="Case reference")
    child_record = fields.Field(column_name="Child record", attribute="episode__child_id")
    transition = fields.Field(column_name="Transition", attribute="transition")
    from_state = fields.Field(column_name="From")
    to_state = fields.Field(column_name="To")
    actor = fields.Field(column_name="By", attribute="actor_name")
    reason = fields.Field(column_name="Reason", attribute="reason")

    class Meta:
        model = TransitionLog
        fields = (
            "at",
            "case_reference",
            "child_record",
            "transition",
            "from_state",
            "to_state",
            "actor",
            "reason",
        )
        export_order = fields

    def dehydrate_case_reference(self, row: TransitionLog) -> str:
        return row.episode.reference

    def dehydrate_from_state(self, row: TransitionLog) -> str:
        return row.get_from_state_display()

    def dehydrate_to_state(self, row: TransitionLog) -> str:
        return row.get_to_state_display()


def access_log_export(*, user: User, rows: QuerySet[AccessLog], file_format: str, path: str) -> ExportResult:
    """The (filtered) access log as a file; logged per child whose access it lists."""
    with transaction.atomic():
        listed = list(rows.select_related("user", "child"))
        dataset = AccessLogResource().export(listed)
        _log(user, [r.child_id for r in listed if r.child_id], AccessAction.EXPORT, path)
        return _result(dataset, file_format, f"access-log-{timezone.localdate().isoformat()}", len(listed))


def transition_log_queryset(user: Any) -> QuerySet[TransitionLog]:
    return (
        TransitionLog.objects.filter(episode__in=episodes_for(user).values("pk"))
        .select_related("episode__local_authority")
        .order_by("-at", "-id")
    )


def transition_log_export(
    *, user: User, file_format: str, path: str, date_from: date | None = None, date_to: date | None = None
) -> ExportResult:
    """Every transition of the user's LA's cases (optionally between two dates) as a file; logged per child."""
    rows = transition_log_queryset(user)
    if date_from:
        rows = rows.filter(at__date__gte=date_from)
    if date_to:
        rows = rows.filter(at__date__lte=date_to)
    with transaction.atomic():
        listed = list(rows)
        dataset = TransitionLogResource().export(listed)
        _log(user, [r.episode.child_id for r in listed], AccessAction.EXPORT, path)
        return _result(dataset, file_format, f"transition-log-{timezone.localdate().isoformat()}", len(listed))


def table_export(
    *,
    user: User,
    headers: list[str],
    rows: Iterable[list[Any]],
    child_ids: Iterable[int],
    file_format: str,
    filename: str,
    path: str,
) -> ExportResult:
    """Any other table leaving the service (the field history, the DfE return): neutralised and logged."""
    dataset = tablib.Dataset(headers=headers)
    for row in rows:
        dataset.append(row)
    with transaction.atomic():
        _log(user, child_ids, AccessAction.EXPORT, path)
        return _result(dataset, file_format, filename, len(dataset))


def _log(user: User, child_ids: Iterable[int], action: AccessAction, path: str) -> None:
    assert user.local_authority_id is not None
    access_log_record_export(
        user=user, local_authority_id=user.local_authority_id, child_ids=child_ids, action=action, path=path
    )


def _result(dataset: tablib.Dataset, file_format: str, stem: str, rows: int) -> ExportResult:
    content_type, extension = FORMATS[file_format]
    return ExportResult(
        content=export_file(dataset, file_format), content_type=content_type, filename=f"{stem}.{extension}", rows=rows
    )
