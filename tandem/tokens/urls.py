from django.urls import path

from tandem.tokens import views

urlpatterns = [
    path("", views.tokens_page, name="api-tokens"),
    path("<int:token_id>/revoke/", views.revoke, name="api-token-revoke"),
]
