"""The daily integrity check in the beat schedule: ``workflows.integrity_check`` at 07:00
Europe/London every day (cases wait at weekends too), after the night's sweeps and before the
managers' digest. Matched on its name, so running this again is safe."""

from django.db import migrations
from django.utils import timezone

INTEGRITY = "EHE integrity check"


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    seven, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="7", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Europe/London"
    )
    PeriodicTask.objects.update_or_create(
        name=INTEGRITY,
        defaults={
            "task": "workflows.integrity_check",
            "enabled": True,
            "args": "[]",
            "kwargs": "{}",
            "interval": None,
            "crontab": seven,
        },
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unschedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=INTEGRITY).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0002_beat_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
