"""Sign-in, sign-out and the home page each role sees (Django test client, real database)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tandem.audit.models import AuditEvent
from tests import builders as b

PASSWORD = "correct horse battery"


def login(client, user) -> None:
    client.force_login(user)  # skips Argon2: sign-in itself is tested in tests/core


def test_the_login_page_says_it_is_tandem_and_where_demo_logins_are(client, db, settings):
    settings.TANDEM_ENV = "development"
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "Sign in to Tandem" in response.text
    assert "tandem demo" in response.text


def test_the_login_page_hides_the_demo_hint_in_production(client, db, settings):
    settings.TANDEM_ENV = "production"
    assert "tandem demo" not in client.get(reverse("login")).text


def test_it_logs_in_with_the_right_password(client, team):
    response = client.post(reverse("login"), {"username": "bob", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert client.get(reverse("home")).context["user"].username == "bob"


def test_it_refuses_a_wrong_password(client, team):
    response = client.post(reverse("login"), {"username": "bob", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text
    assert not response.context["user"].is_authenticated


def test_it_sends_anonymous_visitors_to_the_login_page(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_logout_is_a_post_with_csrf(client, team):
    login(client, team.bob)
    home = client.get(reverse("home")).text
    assert 'action="/logout/"' in home and "csrfmiddlewaretoken" in home
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.parametrize(
    ("persona", "role_label"),
    [("alice", "Primary care clinician"), ("bob", "Care manager"), ("charlie", "Psychiatrist")],
)
def test_clinicians_see_their_caseload(client, team, persona, role_label):
    login(client, getattr(team, persona))
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "My patients" in response.text
    assert "Jones, Pat" in response.text
    assert reverse("patient-summary", args=[team.pat.pk]) in response.text
    assert role_label in response.text  # the navigation names the role
    assert "Signed in as" in response.text


def test_the_caseload_listing_is_audited(client, team):
    login(client, team.bob)
    client.get(reverse("home"))
    event = AuditEvent.objects.get(actor_id=team.bob.pk, action="list")
    assert (event.patient_id, event.purpose, event.detail) == (team.pat.pk, "treatment", "caseload")


def test_the_caseload_leaves_out_ended_care_teams(client, team):
    import datetime as dt

    from django.utils import timezone

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
    assert "Client, Former" not in client.get(reverse("home")).text


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
    assert page2.text.count("Zed, P") == 2  # 27 patients: 25 on page 1, Pat is first


@pytest.mark.parametrize("persona", ["olive", "sam"])
def test_staff_without_patients_are_told_so(client, team, persona):
    login(client, getattr(team, persona))
    response = client.get(reverse("home"))
    assert "You have no patients assigned" in response.text
    assert "Jones" not in response.text


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
    assert "Jones" not in response.text and "Jordan" not in response.text
    assert 'role="search"' in response.text
    assert not AuditEvent.objects.filter(actor_id=team.leo.pk).exists()


def test_a_patient_sees_a_link_to_their_own_record(client, team):
    login(client, team.pat_user)
    response = client.get(reverse("home"))
    assert "Your health record" in response.text
    assert reverse("patient-summary", args=[team.pat.pk]) in response.text
    assert AuditEvent.objects.filter(
        actor_id=team.pat_user.pk, patient_id=team.pat.pk, purpose="patient-access"
    ).exists()


def test_a_malformed_page_number_is_a_400_naming_the_field(client, team):
    login(client, team.bob)
    response = client.get(reverse("home"), {"page": "abc"})
    assert response.status_code == 400
    assert "Page" in response.text and "whole page number" in response.text
