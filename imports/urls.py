"""Auditor's views (namespace ``auditor``, ``/auditor/``) and exports (namespace ``exports``, ``/exports/``)."""

from django.urls import path

from imports.views import auditor, exports, subject_access

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
