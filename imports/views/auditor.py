"""The auditor's views (``/auditor/``): the access log filtered by who, whose record and when, and
the field history of a child, a parent or carer, an address or a case in plain words; both
downloadable as CSV or XLSX. Reading either is itself logged in the access log.

Readers: the auditor, the EHE manager and the head of service, of their own LA.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ehe_register.accounts.guards import role_required
from ehe_register.models import AccessAction
from ehe_register.services.access import access_log_record_export
from imports.exports import FORMATS, ExportResult, access_log_export, table_export
from imports.forms import AccessLogFilterForm
from workflows.audit_trail import (
    AUDIT_TRAIL_READERS,
    access_log_for,
    field_history,
    history_subject,
    related_records,
    staff_of,
)

READERS = tuple(sorted(AUDIT_TRAIL_READERS))
PER_PAGE = 50


def file_response(result: ExportResult) -> HttpResponse:
    response = HttpResponse(result.content, content_type=result.content_type)
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _format(request: HttpRequest) -> str | None:
    value = request.GET.get("format", "")
    return value if value in FORMATS else None


@role_required(*READERS)
@require_GET
def access_log(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    params = request.GET.copy()
    params.pop("format", None)
    params.pop("page", None)
    form = AccessLogFilterForm(params or None, people=staff_of(user))
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = {
            "user_id": data["person"].pk if data.get("person") else None,
            "child_id": data.get("child"),
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }
    rows = access_log_for(user, **filters)
    file_format = _format(request)
    if file_format and not form.errors:
        return file_response(
            access_log_export(user=user, rows=rows, file_format=file_format, path=request.get_full_path())
        )
    child_id = filters.get("child_id")
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    # Read the page before writing this read's own row, so that the row is not on the page it logs.
    page.object_list = list(page.object_list)
    # Reading the log is itself logged: against the child when the reader looked one up.
    access_log_record_export(
        user=user,
        local_authority_id=user.local_authority_id,
        child_ids=[child_id] if child_id and any(r.child_id == child_id for r in page.object_list) else [],
        action=AccessAction.VIEW,
        path=request.get_full_path(),
    )
    query = params.urlencode()
    context = {
        "form": form,
        "page": page,
        "query": query,
        "csv_url": f"?{query}&format=csv" if query else "?format=csv",
        "xlsx_url": f"?{query}&format=xlsx" if query else "?format=xlsx",
    }
    status = 400 if form.errors else 200
    return render(request, "auditors/access_log.html", context, status=status)


@role_required(*READERS)
@require_GET
def history(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    user: Any = request.user
    subject = history_subject(user, kind, pk)
    lines = field_history(subject)
    file_format = _format(request)
    if file_format:
        result = table_export(
            user=user,
            headers=["When", "By", "Record", "Change"],
            rows=([line.at, line.by, line.record, line.text] for line in lines),
            child_ids=subject.child_ids,
            file_format=file_format,
            filename=f"history-{kind}-{pk}",
            path=request.get_full_path(),
        )
        return file_response(result)
    access_log_record_export(
        user=user,
        local_authority_id=user.local_authority_id,
        child_ids=subject.child_ids,
        action=AccessAction.VIEW,
        path=request.get_full_path(),
    )
    context = {"subject": subject, "lines": lines, "related": related_records(subject)}
    return render(request, "auditors/history.html", context)
