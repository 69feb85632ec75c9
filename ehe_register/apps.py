from django.apps import AppConfig


class EheRegisterConfig(AppConfig):
    name = "ehe_register"
    verbose_name = "EHE register"
