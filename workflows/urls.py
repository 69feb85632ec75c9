"""Casework URLs (namespace ``cases``): queues and the case page here; actions in urls_actions."""

from django.urls import include, path

from workflows.views import absences, case, dashboard, escalations, merge, new_case, queues, retention

app_name = "cases"

urlpatterns: list = [
    path("", queues.index, name="index"),
    path("dashboard/", dashboard.dashboard_page, name="dashboard"),
    path("queues/<slug:slug>/", queues.queue_page, name="queue"),
    path("bulk-assign/", queues.bulk_assign, name="bulk_assign"),
    path("matches/<int:pk>/resolve/", queues.match_resolve, name="match_resolve"),
    path("escalations/", escalations.escalation_list, name="escalations"),
    path("escalations/<int:pk>/", escalations.escalation_detail, name="escalation"),
    path("escalations/<int:pk>/acknowledge/", escalations.escalation_acknowledge, name="escalation_acknowledge"),
    path("escalations/<int:pk>/decide/", escalations.escalation_decide_view, name="escalation_decide"),
    path("<int:pk>/", case.case_detail, name="detail"),
    path("<int:pk>/assign/", case.case_assign, name="assign"),
    path("<int:pk>/child-details/", case.child_contact_details_edit, name="child_details"),
    path("absences/", absences.absence_list, name="absences"),
    path("absences/new/", absences.absence_new, name="absence_new"),
    path("new/", new_case.case_new, name="new"),
    path("merge/", merge.merge_start, name="merge_start"),
    path("<int:pk>/merge/", merge.merge_from_case, name="merge"),
    path("merge/<int:keep>/<int:duplicate>/", merge.merge_confirm, name="merge_confirm"),
    path("merges/<int:pk>/undo/", merge.merge_undo, name="merge_undo"),
    path("retention/", retention.retention_page, name="retention"),
    path("<int:pk>/legal-holds/", retention.legal_holds, name="legal_holds"),
    path("<int:pk>/legal-holds/<int:hold_pk>/lift/", retention.legal_hold_lift_view, name="legal_hold_lift"),
    path("", include("workflows.urls_actions")),
]
