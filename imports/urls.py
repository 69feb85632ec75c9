"""Auditor's views (namespace ``auditor``, ``/auditor/``), exports (namespace ``exports``, ``/exports/``)
and imports (namespace ``imports``, ``/imports/``)."""

from django.urls import path

from imports.views import auditor, exports, imports, subject_access

auditor_patterns = (
    [
        path("access-log/", auditor.access_log, name="access_log"),
        path("history/<slug:kind>/<int:pk>/", auditor.history, name="history"),
    ],
    "auditor",
)

export_patterns = (
    [
        path("", exports.export_index, name="index"),
        path("register/", exports.register_download, name="register"),
        path("transitions/", exports.transitions_download, name="transitions"),
        path("dfe-return/", exports.dfe_return, name="dfe_return"),
        path("subject-access/children/<int:pk>/", subject_access.child_export, name="subject_access_child"),
        path("subject-access/people/<int:pk>/", subject_access.person_export, name="subject_access_person"),
    ],
    "exports",
)

import_patterns = (
    [
        path("", imports.import_index, name="index"),
        path("ctf/", imports.upload_page("ctf"), name="ctf"),
        path("gias/", imports.upload_page("gias"), name="gias"),
        path("legacy/", imports.upload_page("legacy"), name="legacy"),
        path("legacy/columns/", imports.legacy_columns, name="legacy_columns"),
        path("<slug:kind>/template.<slug:extension>", imports.import_template, name="template"),
        path("batches/<int:pk>/", imports.batch_detail, name="batch"),
        path("batches/<int:pk>/confirm/", imports.batch_confirm_view, name="confirm"),
        path("batches/<int:pk>/progress.json", imports.batch_progress_json, name="progress"),
    ],
    "imports",
)
