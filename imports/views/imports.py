"""Imports (``/imports/``): upload a file, see what it would do, confirm, watch it run.

EHE officers and managers of the LA; the schools list (GIAS) EHE managers only (each format's
``roles``, checked again on confirming). Every batch is read through ``batches_for``, which scopes
by the user's LA: another LA's batch is a 404. The pages show counts, row errors (row, column,
message) and a file's column headings, never a child's record, so nothing here is written to the
access log; the cases an import opens are read, and logged, on the case pages.

An existing register (``legacy``) has a step between upload and preview: when the LA's saved
choice of columns does not fit the file's headings (or the person asks to check it), the upload
is kept (``upload_keep``), named in the session, and ``legacy_columns`` asks which column holds
what, saves the answer for next time and then previews the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import tablib
from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ehe_register.accounts.guards import role_required
from ehe_register.models.reference import reason_code_choices
from imports.exports import FORMATS, export_file
from imports.formats import FORMATS as IMPORT_FORMATS
from imports.formats import BadFile, format_for, format_roles, may_import
from imports.formats.legacy import (
    LEGACY_FIELDS,
    column_mapping_get,
    column_mapping_save,
    mapping_check,
    mapping_suggest,
)
from imports.formats.tabular import read_headed
from imports.forms import ImportUploadForm
from imports.forms_mapping import ColumnMappingForm
from imports.models import BatchStatus, ImportBatch
from imports.services import (
    IMPORT_ROLES,
    AlreadyImported,
    batch_confirm,
    batch_preview,
    batch_progress,
    import_dir,
    upload_keep,
)

ERRORS_SHOWN = 200


def batches_for(user: Any) -> QuerySet[ImportBatch]:
    return ImportBatch.objects.filter(local_authority_id=user.local_authority_id).select_related("uploaded_by")


def _index_context(form: ImportUploadForm, user: Any) -> dict[str, Any]:
    fmt = format_for("notifications")
    batches = list(batches_for(user)[:20])
    for batch in batches:
        batch.kind_label = IMPORT_FORMATS[batch.kind].label if batch.kind in IMPORT_FORMATS else batch.kind  # type: ignore[attr-defined]
    return {
        "form": form,
        "format": fmt,
        "reasons": reason_code_choices(),
        "batches": batches,
        "other_imports": [format_for(kind) for kind in OTHER_KINDS if may_import(user, kind)],
    }


#: The kinds with an upload page of their own (``upload_page``), in the order the index lists them.
OTHER_KINDS = ("ctf", "legacy", "gias")
LEGACY_SESSION_KEY = "imports_legacy_upload"
_KEPT_NAME = re.compile(r"[0-9a-f]{64}\.(csv|xlsx)")


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


def _upload_form(fmt: Any, form_class: type[ImportUploadForm], *args: Any) -> ImportUploadForm:
    """The upload form for one kind of file: its endings in ``accept`` and in the messages."""
    form = form_class(*args)
    field = form.fields["file"]
    endings = " or ".join(e.lstrip(".").upper() for e in fmt.extensions)
    field.widget.attrs["accept"] = ",".join(fmt.extensions)
    field.error_messages["required"] = f"Select a {endings} file"
    return form


class LegacyUploadForm(ImportUploadForm):
    check_columns = forms.BooleanField(
        label="Let me check which column holds what before the preview",
        required=False,
        help_text="The columns saved last time are used when they fit this file's headings.",
    )


def upload_page(kind: str) -> Callable[[HttpRequest], HttpResponse]:
    """The upload page of ``kind`` (a CTF, an existing register, the schools list), open to the
    roles that may import it."""
    fmt: Any = format_for(kind)

    @role_required(*format_roles(fmt))
    @require_http_methods(["GET", "POST"])
    def view(request: HttpRequest) -> HttpResponse:
        user: Any = request.user
        form_class = LegacyUploadForm if kind == "legacy" else ImportUploadForm
        form = _upload_form(fmt, form_class, request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if kind == "legacy":
                    return _legacy_upload(request, upload, check=form.cleaned_data.get("check_columns", False))
                batch = batch_preview(user=user, kind=kind, file_name=upload.name, chunks=upload.chunks())
            except (BadFile, AlreadyImported) as refused:
                form.add_error("file", str(refused))
            else:
                return redirect("imports:batch", pk=batch.pk)
        context = {"form": form, "format": fmt, "fields": LEGACY_FIELDS if kind == "legacy" else None}
        return render(request, f"officers/imports/upload_{kind}.html", context, status=400 if form.errors else 200)

    view.__name__ = view.__qualname__ = f"import_{kind}"
    return view


def _legacy_upload(request: HttpRequest, upload: Any, *, check: bool) -> HttpResponse:
    """Keep the upload; preview it at once when the saved columns fit, else ask for the columns."""
    user: Any = request.user
    kept = upload_keep(kind="legacy", file_name=upload.name, chunks=upload.chunks())
    headings = _headings(kept)
    saved = column_mapping_get(local_authority=user.local_authority)
    if saved and not check and not mapping_check(saved, headings):
        batch = _legacy_preview(user, kept, upload.name)
        return redirect("imports:batch", pk=batch.pk)
    request.session[LEGACY_SESSION_KEY] = {"kept": kept.name, "file_name": Path(upload.name).name[:255]}
    return redirect("imports:legacy_columns")


def _headings(kept: Path) -> list[str]:
    with kept.open("rb") as stream:
        headings, rows = read_headed(stream, extension=kept.suffix)
        if next(rows, None) is None:  # BadFile("...no rows to import") from the reader itself
            raise BadFile("The file has headings but no rows to import.")
    return headings


def _legacy_preview(user: Any, kept: Path, file_name: str) -> ImportBatch:
    with kept.open("rb") as stream:
        chunks: Iterator[bytes] = iter(lambda: stream.read(1 << 20), b"")
        return batch_preview(user=user, kind="legacy", file_name=file_name, chunks=chunks)


@role_required(*format_roles(format_for("legacy")))
@require_http_methods(["GET", "POST"])
def legacy_columns(request: HttpRequest) -> HttpResponse:
    """Which column of the council's register holds what: suggested from the headings (or the
    saved choice), saved for next time, then the preview."""
    user: Any = request.user
    if request.method == "GET" and "batch" in request.GET:  # "choose the columns again" from a preview
        again = batches_for(user).filter(kind="legacy", status=BatchStatus.PREVIEWED, pk=_number(request.GET["batch"]))
        batch = get_object_or_404(again)
        request.session[LEGACY_SESSION_KEY] = {"kept": batch.stored_as, "file_name": batch.file_name}
        return redirect("imports:legacy_columns")
    upload = request.session.get(LEGACY_SESSION_KEY) or {}
    kept_name = str(upload.get("kept", ""))
    kept = import_dir() / kept_name
    if not _KEPT_NAME.fullmatch(kept_name) or not kept.is_file():
        messages.info(request, "Upload the register first.")
        return redirect("imports:legacy")
    file_name = str(upload.get("file_name", kept_name))
    try:
        headings = _headings(kept)
    except BadFile as bad:
        messages.error(request, str(bad))
        return redirect("imports:legacy")
    saved = column_mapping_get(local_authority=user.local_authority)
    form = ColumnMappingForm(request.POST or None, headings=headings, initial=mapping_suggest(headings, saved))
    if request.method == "POST" and form.is_valid():
        column_mapping_save(
            local_authority=user.local_authority, columns=form.columns(), actor=user, as_of=timezone.now()
        )
        try:
            batch = _legacy_preview(user, kept, file_name)
        except (BadFile, AlreadyImported) as refused:
            form.add_error(None, str(refused))
        else:
            del request.session[LEGACY_SESSION_KEY]
            return redirect("imports:batch", pk=batch.pk)
    context = {"form": form, "file_name": file_name, "headings": headings}
    return render(request, "officers/imports/columns.html", context, status=400 if form.errors else 200)


def _number(text: str) -> int:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else 0


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
            "may_confirm": may_import(user, batch.kind),
        },
    )


@role_required(*IMPORT_ROLES)
@require_POST
def batch_confirm_view(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    batch = get_object_or_404(batches_for(user), pk=pk)
    if not may_import(user, batch.kind):
        raise PermissionDenied
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
