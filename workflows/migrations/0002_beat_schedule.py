"""The beat schedule (django-celery-beat's database scheduler), written once at migrate time.

- ``workflows.escalations_sweep`` every EHE_SWEEP_MINUTES minutes (default 15);
- ``workflows.managers_digest`` at 07:30 Europe/London, Monday to Friday (the task itself skips
  bank holidays);
- ``notifications.messages_deliver_due`` every minute: the outbox claim that guarantees delivery
  (kept here with the other rows so that the whole schedule is written in one place).

Rows are matched on their names, so running this again (or editing a row in the admin) is safe;
to change the sweep interval later, edit the interval in the admin or re-run this migration.
"""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

SWEEP = "EHE escalation sweep"
DIGEST = "EHE managers' digest"
OUTBOX = "EHE outbox delivery"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")

    minutes = int(getattr(settings, "EHE_SWEEP_MINUTES", 15))
    every_sweep, _ = IntervalSchedule.objects.get_or_create(every=minutes, period="minutes")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    half_past_seven, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="7", day_of_week="1-5", day_of_month="*", month_of_year="*", timezone="Europe/London"
    )
    for name, task, fields in (
        (SWEEP, "workflows.escalations_sweep", {"interval": every_sweep, "crontab": None}),
        (DIGEST, "workflows.managers_digest", {"interval": None, "crontab": half_past_seven}),
        (OUTBOX, "notifications.messages_deliver_due", {"interval": every_minute, "crontab": None}),
    ):
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={"task": task, "enabled": True, "args": "[]", "kwargs": "{}", **fields},
        )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unschedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[SWEEP, DIGEST, OUTBOX]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
