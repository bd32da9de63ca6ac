"""Break-the-glass pages (mounted at ``/emergency-access/``)."""

from django.urls import path

from tandem.breakglass import views

urlpatterns = [
    path("", views.declare, name="emergency-access"),
    path("reviews/", views.reviews, name="emergency-access-reviews"),
    path("reviews/<int:pk>/", views.review, name="emergency-access-review"),
]
