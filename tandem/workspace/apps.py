from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The page shell, the role home pages and the demo: the top layer, which may import
    every app (``core`` imports none)."""

    name = "tandem.workspace"
    label = "workspace"
    default_auto_field = "django.db.models.BigAutoField"
