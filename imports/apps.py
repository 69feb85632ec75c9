from django.apps import AppConfig


class ImportsConfig(AppConfig):
    """Imports and exports. When this app keeps imported batches and files that name children or
    parents, it registers each as a place personal data lives, here in ``ready``
    (``workflows.personal_data.place_register``), so that retention anonymises them and subject
    access exports them (see ``tests/workflows/test_personal_data_registry.py`` for the shape)."""

    name = "imports"
