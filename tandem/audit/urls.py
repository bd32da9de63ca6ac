from django.urls import path

from tandem.audit import views

urlpatterns = [
    path("", views.audit_log, name="audit-log"),
    path("export/<slug:fmt>/", views.audit_export, name="audit-export"),
    path("disclosures/", views.disclosures_index, name="audit-disclosures-index"),
    path("disclosures/<int:patient_id>/", views.disclosures, name="audit-disclosures"),
]
