"""URL wiring only; each app keeps its own ``urls.py``."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("tandem.core.urls")),
    path("patients/", include("tandem.registry.urls")),
    path("admin/", admin.site.urls),
]
