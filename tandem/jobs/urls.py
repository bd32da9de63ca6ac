from django.urls import path

from tandem.jobs import views

urlpatterns = [
    path("", views.jobs_page, name="jobs"),
    path("run-now/", views.run_now, name="jobs-run-now"),
    path("<int:pk>/", views.job_detail, name="job-detail"),
    path("<int:pk>/row/", views.job_row, name="job-row"),
    path("<int:pk>/retry/", views.retry, name="job-retry"),
]
