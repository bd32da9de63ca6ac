"""The consent-directive pages (F26), mounted at ``patients/<int:patient_id>/consents/``."""

from django.urls import path

from tandem.consent import views

urlpatterns = [
    path("", views.directives, name="consent-directives"),
    path("new/", views.new, name="consent-new"),
    path("preview/", views.preview_form, name="consent-preview"),
    path("<int:directive_id>/", views.detail, name="consent-directive"),
    path("<int:directive_id>/history/", views.history, name="consent-history"),
    path("<int:directive_id>/preview/", views.preview_draft, name="consent-preview-draft"),
    path("<int:directive_id>/signed-form.pdf", views.signed_form, name="consent-signed-form"),
    path("<int:directive_id>/sign/", views.sign, name="consent-sign"),
    path("<int:directive_id>/revoke/", views.revoke, name="consent-revoke"),
    path(
        "<int:directive_id>/recipients/<int:recipient_id>/revoke/",
        views.revoke_recipient,
        name="consent-revoke-recipient",
    ),
]
