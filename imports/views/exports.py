"""Exports (``/exports/``): the register extract and the audit extracts, and the DfE termly return.

The register extract and the transition log: EHE managers, heads of service and auditors of the
LA; only an EHE manager may include confidential addresses. The DfE return: EHE managers and heads
of service (who send it) and auditors. Every file written is logged (``imports.exports``).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from ehe_register.accounts.guards import role_required
from ehe_register.models import AccessAction, LocalAuthority
from ehe_register.roles import Role
from ehe_register.services.access import access_log_record_export
from imports.exports import may_unmask, register_export, table_export, transition_log_export
from imports.forms import RegisterExportForm, ReturnForm, TransitionLogExportForm, default_return_dates
from imports.returns import CENSUS_COLUMNS, census_counts, census_rows, collection_rows, counts_day, period_counts
from imports.views.auditor import file_response

EXPORT_ROLES = (Role.AUDITOR, Role.EHE_MANAGER, Role.HEAD_OF_SERVICE)


def _index_context(
    user: Any, register_form: RegisterExportForm, transitions_form: TransitionLogExportForm
) -> dict[str, Any]:
    return {"register_form": register_form, "transitions_form": transitions_form, "may_unmask": may_unmask(user)}


@role_required(*EXPORT_ROLES)
@require_GET
def export_index(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    context = _index_context(
        user,
        RegisterExportForm(may_unmask=may_unmask(user), prefix="register"),
        TransitionLogExportForm(prefix="transitions"),
    )
    return render(request, "exports/index.html", context)


@role_required(*EXPORT_ROLES)
@require_http_methods(["POST"])
def register_download(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = RegisterExportForm(request.POST, may_unmask=may_unmask(user), prefix="register")
    if form.is_valid():
        result = register_export(
            user=user,
            file_format=form.cleaned_data["file_format"],
            include_confidential=bool(form.cleaned_data.get("include_confidential")),
            path=request.path,
        )
        return file_response(result)
    context = _index_context(user, form, TransitionLogExportForm(prefix="transitions"))
    return render(request, "exports/index.html", context, status=400)


@role_required(*EXPORT_ROLES)
@require_http_methods(["POST"])
def transitions_download(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = TransitionLogExportForm(request.POST, prefix="transitions")
    if form.is_valid():
        data = form.cleaned_data
        result = transition_log_export(
            user=user,
            file_format=data["file_format"],
            path=request.path,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )
        return file_response(result)
    context = _index_context(user, RegisterExportForm(may_unmask=may_unmask(user), prefix="register"), form)
    return render(request, "exports/index.html", context, status=400)


@role_required(*EXPORT_ROLES)
@require_GET
def dfe_return(request: HttpRequest) -> HttpResponse:
    """The return's figures on a page; ``?download=collection`` or ``?download=census`` for the files."""
    user: Any = request.user
    params = request.GET.copy()
    download = params.pop("download", [""])[0]
    form = ReturnForm(params) if params else _bound_with_defaults()
    if not form.is_valid():
        return render(request, "exports/dfe_return.html", {"form": form}, status=400)
    data = form.cleaned_data
    la = LocalAuthority.objects.get(pk=user.local_authority_id)
    census = census_counts(la, data["census_date"])
    period = period_counts(la, data["period_from"], data["period_to"])
    path = request.get_full_path()
    if download in ("collection", "census"):
        if download == "collection":
            headers, rows = ["Measure", "Breakdown", "Count"], collection_rows(census, period)
            name = f"ehe-return-{la.dfe_code}-{data['census_date'].isoformat()}"
        else:
            headers, rows = CENSUS_COLUMNS, census_rows(la, census)
            name = f"ehe_census-{la.dfe_code}-{data['census_date'].isoformat()}"
        result = table_export(
            user=user,
            headers=headers,
            rows=rows,
            child_ids=census.child_ids,
            file_format="csv",
            filename=name,
            path=path,
        )
        return file_response(result)
    access_log_record_export(user=user, local_authority_id=la.pk, child_ids=[], action=AccessAction.VIEW, path=path)
    query = params.urlencode()
    context = {
        "form": form,
        "la": la,
        "census": census,
        "period": period,
        "census_day": counts_day(census.census_date),
        "period_label": f"{counts_day(period.starts)} to {counts_day(period.ends)}",
        "census_rows": census_rows(la, census),
        # A list, not the Counter: a template looks ``items`` up as a key first, and a Counter has every key.
        "starts_by_school_type": sorted(period.starts_by_school_type.items()),
        "collection_url": f"?{query}&download=collection",
        "census_url": f"?{query}&download=census",
    }
    return render(request, "exports/dfe_return.html", context)


def _bound_with_defaults() -> ReturnForm:
    defaults = default_return_dates(timezone.localdate())
    data = {}
    for name, value in defaults.items():
        data[f"{name}_day"], data[f"{name}_month"], data[f"{name}_year"] = (
            str(value.day),
            str(value.month),
            str(value.year),
        )
    return ReturnForm(data)
