"""Casework actions: recording work and decisions on a case (included by workflows.urls)."""

from django.urls import path

from workflows.views import actions

urlpatterns: list = [
    path("<int:pk>/activities/new/", actions.activity_new, name="activity_new"),
    path("<int:pk>/address-checks/new/", actions.address_check_new, name="address_check_new"),
    path("<int:pk>/school-requests/new/", actions.school_request_new, name="school_request_new"),
    path("<int:pk>/concerns/new/", actions.concern_new, name="concern_new"),
    path("<int:pk>/actions/<slug:name>/", actions.transition, name="transition"),
]
