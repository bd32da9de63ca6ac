"""The home page each role sees (Django test client, real database)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tests import builders as b


def login(client, user) -> None:
    client.force_login(user)


@pytest.mark.parametrize(
    ("persona", "role_label"),
    [("alice", "Primary care clinician"), ("bob", "Care manager"), ("charlie", "Psychiatrist")],
)
def test_clinicians_see_their_caseload(client, team, persona, role_label):
    login(client, getattr(team, persona))
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "My patients" in response.text
    assert "JONES, Pat" in response.text
    assert reverse("patient-summary", args=[team.pat.pk]) in response.text
    assert role_label in response.text  # the navigation names the role
    assert "Signed in as" in response.text


def test_the_caseload_listing_is_audited(client, team):
    login(client, team.bob)
    client.get(reverse("home"))
    event = AuditEvent.objects.get(actor_id=team.bob.pk, action="list")
    assert (event.patient_id, event.purpose, event.detail) == (team.pat.pk, "treatment", "caseload")


def test_the_caseload_leaves_out_ended_care_teams(client, team):
    old = b.patient(given_name="Former", family_name="Client")
    today = timezone.localdate()
    b.care_team_member(
        patient=old,
        practitioner=team.practitioner(team.bob),
        role="care-manager",
        start=today - dt.timedelta(days=100),
        end=today - dt.timedelta(days=1),
    )
    login(client, team.bob)
    assert "CLIENT, Former" not in client.get(reverse("home")).text


def test_the_caseload_is_paginated_and_htmx_gets_the_partial(client, team):
    bob = team.practitioner(team.bob)
    for i in range(26):
        b.care_team_member(
            patient=b.patient(given_name=f"P{i:02d}", family_name="Zed"), practitioner=bob
        )
    login(client, team.bob)
    page2 = client.get(reverse("home"), {"page": 2}, headers={"HX-Request": "true"})
    assert page2.status_code == 200
    assert "<html" not in page2.text
    assert "Page 2 of 2" in page2.text
    assert page2.text.count("ZED, P") == 2  # 27 patients: 25 on page 1, Pat is first


@pytest.mark.parametrize("persona", ["olive", "sam"])
def test_staff_without_patients_are_told_so(client, team, persona):
    login(client, getattr(team, persona))
    response = client.get(reverse("home"))
    assert "You have no patients assigned" in response.text
    assert "jones" not in response.text.lower()


def test_a_user_with_no_role_at_all_has_no_patients(client, team):
    login(client, b.user("nobody"))
    response = client.get(reverse("home"))
    assert "You have no patients assigned" in response.text
    assert "Staff" in response.text


def test_a_leader_sees_counts_per_site_and_no_patient(client, team):
    b.patient(home_site=team.cmhc)  # registered at the CMHC, no care team
    login(client, team.leo)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "Sites overview" in response.text
    sites = {s.name: s for s in response.context["sites"]}
    assert set(sites) == {"Riverside Family Medicine", "Northside CMHC"}
    assert (
        sites["Riverside Family Medicine"].patients,
        sites["Riverside Family Medicine"].with_care_team,
    ) == (1, 1)
    assert (sites["Northside CMHC"].patients, sites["Northside CMHC"].with_care_team) == (1, 0)
    assert "jones" not in response.text.lower() and "jordan" not in response.text.lower()
    assert 'role="search"' in response.text
    assert not AuditEvent.objects.filter(actor_id=team.leo.pk).exists()


def test_a_patient_sees_a_link_to_their_own_record(client, team):
    login(client, team.pat_user)
    response = client.get(reverse("home"))
    assert "Your health record" in response.text
    assert f'href="{reverse("portal-home")}"' in response.text  # the portal, not the staff chart
    assert AuditEvent.objects.filter(
        actor_id=team.pat_user.pk, patient_id=team.pat.pk, purpose="patient-access"
    ).exists()


def test_a_malformed_page_number_is_a_400_naming_the_field(client, team):
    login(client, team.bob)
    response = client.get(reverse("home"), {"page": "abc"})
    assert response.status_code == 400
    assert "Page" in response.text and "whole page number" in response.text


def panels_of(response) -> list[str]:
    return [panel["key"] for panel in response.context["panels"]]


@pytest.mark.parametrize(
    ("persona", "heading", "panels"),
    [
        ("alice", "My work", ["tasks", "worklists", "caseload"]),
        ("bob", "My work", ["worklists", "tasks", "caseload"]),
        ("charlie", "My work", ["tasks", "worklists", "caseload"]),
        ("sam", "My work", ["tasks", "worklists", "caseload"]),
        ("leo", "Sites overview", ["sites", "tasks", "worklists"]),
        ("pat_user", "Welcome", ["own-record"]),
    ],
)
def test_each_role_gets_its_home(client, team, persona, heading, panels):
    login(client, getattr(team, persona))
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert f'<h1 class="h2 mb-0">{heading}</h1>' in response.text
    assert panels_of(response) == panels


def test_the_home_shows_my_task_numbers_each_linking_to_its_list(client, team):
    from tandem.tasks import services

    services.create_task(by=team.bob, patient=team.pat, title="Call Pat", owner=team.bob)
    login(client, team.bob)
    response = client.get(reverse("home"))
    assert response.context["tasks"]["open"] == 1
    assert 'data-testid="home-tasks"' in response.text
    assert f'href="{reverse("tasks")}?holder=mine"' in response.text


def test_the_outsider_sees_no_patient_and_no_number_above_zero(client, team):
    from tandem.tasks import services

    services.create_task(by=team.bob, patient=team.pat, title="Call Pat", owner=team.bob)
    login(client, team.olive)
    response = client.get(reverse("home"))
    text = response.text.lower()
    assert "jones" not in text and "call pat" not in text
    assert set(response.context["tasks"].values()) == {0}
    assert response.context["worklists"] == {"rows": [], "total": 0}
    assert response.context["caseload"].paginator.count == 0
    assert "You have no patients assigned" in response.text
    assert "No open worklist items" in response.text  # outreach/_home_panel.html
    listed = AuditEvent.objects.filter(actor_id=team.olive.pk, patient_id__isnull=False)
    assert not listed.exists()


def test_the_home_takes_as_many_queries_for_many_patients_as_for_one(client, team):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    login(client, team.bob)
    with CaptureQueriesContext(connection) as one_patient:
        client.get(reverse("home"))
    bob = team.practitioner(team.bob)
    for i in range(20):
        b.care_team_member(
            patient=b.patient(given_name=f"P{i}", home_site=team.cmhc), practitioner=bob
        )
    with CaptureQueriesContext(connection) as many_patients:
        response = client.get(reverse("home"))

    assert response.context["caseload"].paginator.count == 21
    assert len(many_patients) == len(one_patient)
    assert len(many_patients) <= 40  # 33 today: session, role, three panels, the audit event


def test_htmx_asking_for_a_page_of_the_caseload_gets_only_the_list(client, team):
    login(client, team.alice)
    response = client.get(reverse("home"), headers={"HX-Request": "true"})
    assert "<html" not in response.text and "JONES, Pat" in response.text
    assert "data-keyboard-list" in response.text
