"""The Celery app. Tasks take ids, never model instances, and are safe to run twice."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ehe_register.settings")

app = Celery("ehe_register")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
