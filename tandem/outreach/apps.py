from django.apps import AppConfig


class OutreachConfig(AppConfig):
    name = "tandem.outreach"
    label = "outreach"
    verbose_name = "Worklists and outreach"
    default_auto_field = "django.db.models.BigAutoField"
