from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tandem.tokens"
    label = "tokens"
    verbose_name = "API access tokens"
    default_auto_field = "django.db.models.BigAutoField"
