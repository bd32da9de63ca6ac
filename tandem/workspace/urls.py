from django.urls import path

from tandem.workspace import views

urlpatterns = [
    path("", views.home, name="home"),
]
