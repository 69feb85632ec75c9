"""The nightly full sweep in the beat schedule: ``workflows.escalations_sweep`` with ``full`` at
01:30 Europe/London every day. The sweep every EHE_SWEEP_MINUTES reads only what has come due
since the last one (``workflows.sweeps``, incremental); once a night every rule is checked
against every case, so that anything written outside the services' own evaluation (a fix in the
database, a changed bank-holiday calendar) is found within a day. Matched on its name, so running
this again is safe."""

from django.db import migrations
from django.utils import timezone

FULL_SWEEP = "EHE full sweep"


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    half_past_one, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="1", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Europe/London"
    )
    PeriodicTask.objects.update_or_create(
        name=FULL_SWEEP,
        defaults={
            "task": "workflows.escalations_sweep",
            "enabled": True,
            "args": "[]",
            "kwargs": '{"full": true}',
            "interval": None,
            "crontab": half_past_one,
        },
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unschedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=FULL_SWEEP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0010_sweep_marks"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
