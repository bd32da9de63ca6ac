from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tandem.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from tandem.core.lib.signin import stamp_sign_in

        user_logged_in.connect(stamp_sign_in, dispatch_uid="tandem-stamp-sign-in")
