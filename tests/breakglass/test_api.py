"""``/api/emergency-access``: Olive declares with her token, Priya lists and reviews."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tandem.audit.models import AuditEvent
from tandem.breakglass.models import EmergencyAccess
from tests.api.conftest import bearer, is_problem, token_for

pytestmark = pytest.mark.django_db

URL = "/api/emergency-access"
REASON = "Found unconscious at the bus stop; need allergies and medications."
READ, WRITE = "emergency-access:read", "emergency-access:write"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def post(client, url, body, secret):
    return client.post(url, body, content_type="application/json", headers=bearer(secret))


def last(user, action):
    return AuditEvent.objects.filter(actor_id=user.pk, action=action).order_by("pk").last()


def test_olive_declares_and_then_reads_the_chart_by_api(client, team):
    secret = token_for(team.olive, WRITE, "patients:read")

    response = post(client, URL, {"patient_id": team.pat.pk, "reason": REASON}, secret)

    assert response.status_code == 201
    body = response.json()
    assert (body["patient_id"], body["user"], body["active"]) == (team.pat.pk, "olive", True)
    assert body["review_status"] == "unreviewed"
    chart = client.get(f"/api/patients/{team.pat.pk}", headers=bearer(secret))
    assert chart.status_code == 200


def test_a_declaration_without_a_reason_is_a_400_naming_it_and_audited(client, team):
    secret = token_for(team.olive, WRITE)

    body = is_problem(post(client, URL, {"patient_id": team.pat.pk, "reason": " "}, secret), 400)

    assert body["field"] == "reason"
    assert not EmergencyAccess.objects.exists()
    assert last(team.olive, "break-the-glass").outcome == "denied"


def test_an_unknown_patient_is_the_usual_404_and_misses_pause_the_lookup(client, team):
    secret = token_for(team.olive, WRITE)
    for pk in (900001, 900002, 900003):
        body = is_problem(post(client, URL, {"patient_id": pk, "reason": REASON}, secret), 404)
        assert body["type"] == "urn:tandem:problem:patient-not-found"

    paused = post(client, URL, {"patient_id": team.pat.pk, "reason": REASON}, secret)

    assert is_problem(paused, 429)["type"] == "urn:tandem:problem:lookup-paused"
    assert not EmergencyAccess.objects.exists()


def test_only_practitioners_declare(client, team):
    secret = token_for(team.leo, WRITE)
    body = is_problem(post(client, URL, {"patient_id": team.pat.pk, "reason": REASON}, secret), 403)
    assert body["type"] == "urn:tandem:problem:not-a-practitioner"


def test_a_care_team_member_needs_no_grant(client, team):
    secret = token_for(team.alice, WRITE)
    response = post(client, URL, {"patient_id": team.pat.pk, "reason": REASON}, secret)
    assert is_problem(response, 409)["type"] == "urn:tandem:problem:emergency-access-not-needed"


def test_the_wrong_scope_is_refused_and_audited(client, team):
    secret = token_for(team.olive, READ)
    response = post(client, URL, {"patient_id": team.pat.pk, "reason": REASON}, secret)
    assert is_problem(response, 403)["required_scope"] == WRITE
    assert last(team.olive, "api-scope").outcome == "denied"


def test_priya_lists_reads_and_reviews(client, team):
    olive = token_for(team.olive, WRITE, READ)
    grant_id = post(client, URL, {"patient_id": team.pat.pk, "reason": REASON}, olive).json()["id"]
    priya = token_for(team.priya, READ, WRITE)

    listing = client.get(URL, headers=bearer(priya)).json()
    detail = client.get(f"{URL}/{grant_id}", headers=bearer(priya)).json()
    refused = post(client, f"{URL}/{grant_id}/review", {"justified": False}, priya)
    reviewed = post(client, f"{URL}/{grant_id}/review", {"justified": True, "note": "OK"}, priya)
    again = post(client, f"{URL}/{grant_id}/review", {"justified": True}, priya)

    assert [g["id"] for g in listing["items"]] == [grant_id]
    assert detail["reason"] == REASON
    assert detail["events"][0]["action"] == "break-the-glass"  # then the alerts it raised
    assert {e["action"] for e in detail["events"][1:]} == {"write:create_task"}
    assert is_problem(refused, 400)["field"] == "note"
    assert reviewed.status_code == 200
    assert (reviewed.json()["review_status"], reviewed.json()["reviewer"]) == ("justified", "priya")
    assert is_problem(again, 409)["type"] == "urn:tandem:problem:emergency-access-reviewed"


def test_others_see_only_their_own_grants_and_no_detail(client, team):
    olive = token_for(team.olive, WRITE, READ)
    grant_id = post(client, URL, {"patient_id": team.pat.pk, "reason": REASON}, olive).json()["id"]
    alice = token_for(team.alice, READ, WRITE)

    assert [g["id"] for g in client.get(URL, headers=bearer(olive)).json()["items"]] == [grant_id]
    assert client.get(URL, headers=bearer(alice)).json()["items"] == []
    for secret in (olive, alice):
        detail = client.get(f"{URL}/{grant_id}", headers=bearer(secret))
        assert is_problem(detail, 404)["type"] == "urn:tandem:problem:emergency-access-not-found"
        review = post(client, f"{URL}/{grant_id}/review", {"justified": True}, secret)
        assert is_problem(review, 404)["type"] == "urn:tandem:problem:emergency-access-not-found"
    assert last(team.alice, "break-the-glass-review").outcome == "denied"
    assert EmergencyAccess.objects.get().review_status == "unreviewed"
