"""Quality audit URLs (namespace ``audit``, under ``/audit/``)."""

from django.urls import path

from workflows.views import audit

app_name = "audit"

urlpatterns = [
    path("", audit.audit_index, name="index"),
    path("draw/", audit.audit_draw, name="draw"),
    path("results/", audit.audit_results_page, name="results"),
    path("samples/<int:pk>/", audit.audit_sample, name="sample"),
    path("cases/<int:pk>/", audit.audit_case, name="case"),
    path("cases/<int:pk>/actions/", audit.audit_action_new, name="action_new"),
    path("actions/<int:pk>/done/", audit.audit_action_done, name="action_done"),
]
