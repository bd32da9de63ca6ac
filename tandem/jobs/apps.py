from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "tandem.jobs"
    label = "jobs"
    verbose_name = "Background jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tandem.core.lib import companions
        from tandem.jobs import worker

        # `tandem serve` (and so `tandem demo`) runs the jobs worker beside the web server.
        companions.register("jobs-worker", worker.beside_server)
