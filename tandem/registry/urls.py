from django.urls import path

from tandem.registry import views

urlpatterns = [
    path("", views.search, name="patient-search"),
    path("<int:patient_id>/", views.summary, name="patient-summary"),
    path("<int:patient_id>/sections/", views.sections, name="patient-sections"),
    path("<int:patient_id>/sections/<slug:name>/", views.section, name="patient-section"),
    path(
        "<int:patient_id>/engagement/request/",
        views.engagement_request,
        name="patient-engagement-request",
    ),
]
