"""Task pages (mounted at ``/tasks/``)."""

from django.urls import path

from tandem.tasks import views

urlpatterns = [
    path("", views.my_tasks, name="tasks"),
    path("home-panel/", views.home_panel, name="task-home-panel"),
    path("queues/<slug:key>/", views.queue, name="task-queue"),
    path("<int:pk>/", views.detail, name="task-detail"),
    path("<int:pk>/claim/", views.claim, name="task-claim"),
    path("<int:pk>/start/", views.start, name="task-start"),
    path("<int:pk>/reassign/", views.reassign, name="task-reassign"),
    path("<int:pk>/complete/", views.complete, name="task-complete"),
    path("<int:pk>/cancel/", views.cancel, name="task-cancel"),
]
