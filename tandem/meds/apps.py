from django.apps import AppConfig


class MedsConfig(AppConfig):
    name = "tandem.meds"
    label = "meds"
    default_auto_field = "django.db.models.BigAutoField"
