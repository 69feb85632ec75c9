"""Retention in the beat schedule: ``workflows.retention_apply`` at 02:00 Europe/London on the
first day of every month, when nobody is working cases. Matched on its name, so running this
again is safe."""

from django.db import migrations
from django.utils import timezone

RETENTION = "EHE retention"


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    monthly, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="2", day_of_week="*", day_of_month="1", month_of_year="*", timezone="Europe/London"
    )
    PeriodicTask.objects.update_or_create(
        name=RETENTION,
        defaults={
            "task": "workflows.retention_apply",
            "enabled": True,
            "args": "[]",
            "kwargs": "{}",
            "interval": None,
            "crontab": monthly,
        },
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unschedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=RETENTION).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0007_episode_history_append_only"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
