"""Casework URLs (namespace ``cases``): queues and the case page here; actions in urls_actions."""

from django.urls import include, path

app_name = "cases"

urlpatterns: list = [
    path("", include("workflows.urls_actions")),
]
