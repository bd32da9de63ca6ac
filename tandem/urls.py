"""URL wiring only; each app keeps its own ``urls.py``."""

from django.contrib import admin
from django.urls import include, path

from tandem import api

urlpatterns = [
    path("", include("tandem.core.urls")),
    path("patients/", include("tandem.registry.urls")),
    path("admin/", admin.site.urls),
    path("tokens/", include("tandem.tokens.urls")),
    *api.urlpatterns(),  # /api/: the JSON API (tandem/api.py mounts each app's router)
]
