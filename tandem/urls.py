"""URL wiring only; each app keeps its own ``urls.py``."""

from django.contrib import admin
from django.urls import include, path

from tandem import api

urlpatterns = [
    path("", include("tandem.core.urls")),  # sign-in, sign-out
    path("", include("tandem.workspace.urls")),  # home
    path("patients/", include("tandem.registry.urls")),
    path("patients/<int:patient_id>/consents/", include("tandem.consent.urls")),  # F26
    path("cohorts/", include("tandem.registry.cohorts.urls")),
    path("admin/", admin.site.urls),
    path("tokens/", include("tandem.tokens.urls")),
    path("tasks/", include("tandem.tasks.urls")),
    path("worklists/", include("tandem.outreach.urls")),
    path("jobs/", include("tandem.jobs.urls")),
    path("emergency-access/", include("tandem.breakglass.urls")),  # break-the-glass (F28)
    path("audit/", include("tandem.audit.urls")),  # the privacy officer's audit viewer
    path("me/", include("tandem.portal.urls")),  # the patient portal (F30)
    *api.urlpatterns(),  # /api/: the JSON API (tandem/api.py mounts each app's router)
]
