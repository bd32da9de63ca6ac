from django.apps import AppConfig


class TerminologyConfig(AppConfig):
    name = "tandem.terminology"
    label = "terminology"
    default_auto_field = "django.db.models.BigAutoField"
