"""Imports (``/imports/``): upload a file, see what it would do, confirm, watch it run.

EHE officers and managers of the LA. Every batch is read through ``batches_for``, which scopes by
the user's LA: another LA's batch is a 404. The pages show counts and row errors (row, column,
message), never a child's record, so nothing here is written to the access log; the cases an
import opens are read, and logged, on the case pages.
"""

from __future__ import annotations

from typing import Any

import tablib
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ehe_register.accounts.guards import role_required
from ehe_register.models.reference import reason_code_choices
from imports.exports import FORMATS, export_file
from imports.formats import FORMATS as IMPORT_FORMATS
from imports.formats import BadFile, format_for
from imports.forms import ImportUploadForm
from imports.models import ImportBatch
from imports.services import IMPORT_ROLES, AlreadyImported, batch_confirm, batch_preview, batch_progress

ERRORS_SHOWN = 200


def batches_for(user: Any) -> QuerySet[ImportBatch]:
    return ImportBatch.objects.filter(local_authority_id=user.local_authority_id).select_related("uploaded_by")


def _index_context(form: ImportUploadForm, user: Any) -> dict[str, Any]:
    fmt = format_for("notifications")
    return {
        "form": form,
        "format": fmt,
        "reasons": reason_code_choices(),
        "batches": batches_for(user)[:20],
    }


@role_required(*IMPORT_ROLES)
@require_http_methods(["GET", "POST"])
def import_index(request: HttpRequest) -> HttpResponse:
    """Upload a file of off-roll notifications; the documented columns; earlier imports."""
    user: Any = request.user
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch = batch_preview(user=user, kind="notifications", file_name=upload.name, chunks=upload.chunks())
        except BadFile as bad:
            form.add_error("file", str(bad))
        except AlreadyImported as known:
            form.add_error("file", str(known))
        else:
            return redirect("imports:batch", pk=batch.pk)
    status = 400 if form.errors else 200
    return render(request, "officers/imports/index.html", _index_context(form, user), status=status)


@role_required(*IMPORT_ROLES)
@require_GET
def import_template(request: HttpRequest, kind: str, extension: str) -> HttpResponse:
    """The file to start from: the headings and one example row."""
    if kind not in IMPORT_FORMATS or extension not in FORMATS:
        raise Http404
    fmt: Any = format_for(kind)
    if not fmt.template_available:
        raise Http404
    headings, example = fmt.template_rows()
    dataset = tablib.Dataset(example, headers=headings)
    content_type, ending = FORMATS[extension]
    response = HttpResponse(export_file(dataset, extension), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{kind}-template.{ending}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@role_required(*IMPORT_ROLES)
@require_GET
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The preview before confirming, the progress bar while it runs, the result after."""
    user: Any = request.user
    batch = get_object_or_404(batches_for(user), pk=pk)
    errors = list(batch.row_errors.all()[:ERRORS_SHOWN])
    return render(
        request,
        "officers/imports/batch.html",
        {
            "batch": batch,
            "format": format_for(batch.kind),
            "errors": errors,
            "errors_not_shown": max(batch.error_count - len(errors), 0),
            "progress": batch_progress(batch),
        },
    )


@role_required(*IMPORT_ROLES)
@require_POST
def batch_confirm_view(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    batch = get_object_or_404(batches_for(user), pk=pk)
    try:
        batch = batch_confirm(batch_id=batch.pk, user=user)
    except AlreadyImported as known:
        messages.error(request, str(known))
    return redirect("imports:batch", pk=batch.pk)


@role_required(*IMPORT_ROLES)
@require_GET
def batch_progress_json(request: HttpRequest, pk: int) -> JsonResponse:
    """The progress bar's figures, polled by static/js/import-progress.mjs."""
    user: Any = request.user
    batch = get_object_or_404(batches_for(user), pk=pk)
    return JsonResponse(batch_progress(batch))
