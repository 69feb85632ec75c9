from django.db import migrations

ROLE_NAMES = [
    "school_user",
    "ehe_officer",
    "cspa_duty_worker",
    "cspa_manager",
    "ehe_manager",
    "head_of_service",
    "auditor",
    "administrator",
]


def create_role_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLE_NAMES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("ehe_register", "0002_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
