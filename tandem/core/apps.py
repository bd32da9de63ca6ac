from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tandem.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.core.signals import request_finished, request_started

        from tandem.core.lib import memo
        from tandem.core.lib.signin import stamp_sign_in

        user_logged_in.connect(stamp_sign_in, dispatch_uid="tandem-stamp-sign-in")
        # Facts read once per request (tandem.core.lib.memo): the scope is the request.
        request_started.connect(memo.start, dispatch_uid="tandem-memo-start")
        request_finished.connect(memo.end, dispatch_uid="tandem-memo-end")
