from django.apps import AppConfig


class ClinicalConfig(AppConfig):
    name = "tandem.clinical"
    label = "clinical"
    default_auto_field = "django.db.models.BigAutoField"
