from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "tandem.consent"
    label = "consent"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Give ``core``'s labelled rows their labeller: ``core`` imports no domain app."""
        from tandem.consent import rules
        from tandem.core.models import Labelled

        Labelled.label_with(rules.label_for)
