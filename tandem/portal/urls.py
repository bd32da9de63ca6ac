"""The patient portal at ``/me/``: no URL names the patient (it is always the signed-in one)."""

from django.urls import path

from tandem.portal import views

urlpatterns = [
    path("", views.home, name="portal-home"),
    path("record/", views.record, name="portal-record"),
    path("care-team/", views.team, name="portal-team"),
    path("questionnaires/", views.questionnaires, name="portal-questionnaires"),
    path("questionnaires/<slug:instrument>/", views.questionnaire, name="portal-questionnaire"),
    path("care-plan/", views.care_plan, name="portal-care-plan"),
    path("sharing/", views.sharing, name="portal-sharing"),
    path("sharing/new/", views.sharing_new, name="portal-sharing-new"),
    path("sharing/<int:directive_id>/", views.directive, name="portal-directive"),
    path("sharing/<int:directive_id>/sign/", views.directive_sign, name="portal-directive-sign"),
    path(
        "sharing/<int:directive_id>/stop/", views.directive_revoke, name="portal-directive-revoke"
    ),
    path(
        "sharing/<int:directive_id>/recipients/<int:recipient_id>/stop/",
        views.recipient_revoke,
        name="portal-recipient-revoke",
    ),
    path("access/", views.access, name="portal-access"),
]
