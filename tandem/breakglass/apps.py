from django.apps import AppConfig


class BreakglassConfig(AppConfig):
    name = "tandem.breakglass"
    label = "breakglass"
    verbose_name = "Break-the-glass emergency access"
    default_auto_field = "django.db.models.BigAutoField"
