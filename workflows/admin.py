"""Nothing of the workflow is in the Django admin: episodes, escalations and their logs are
about children, and are seen only in the service, where every view is scoped and logged
(see ``ehe_register/admin.py``)."""
