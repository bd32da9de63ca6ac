from django.urls import path

from tandem.registry import views

urlpatterns = [
    path("", views.search, name="patient-search"),
    path("<int:patient_id>/", views.summary, name="patient-summary"),
]
