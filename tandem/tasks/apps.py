from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tandem.tasks"
    label = "tasks"
    verbose_name = "Tasks and team queues"
    default_auto_field = "django.db.models.BigAutoField"
