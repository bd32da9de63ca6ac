from django.urls import path

from tandem.registry.cohorts import views

urlpatterns = [
    path("", views.index, name="cohorts"),
    path("<slug:key>/", views.cohort, name="cohort"),
    path("<slug:key>/export.csv", views.export, name="cohort-export"),
    path("<slug:key>/filters/", views.save_filter, name="cohort-save-filter"),
    path("<slug:key>/filters/<int:pk>/delete/", views.delete_filter, name="cohort-delete-filter"),
]
