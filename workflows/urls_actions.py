"""Casework actions: recording work and decisions on a case (included by workflows.urls)."""

urlpatterns: list = []
