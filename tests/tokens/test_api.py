"""Token management through the API (session only): list, create, revoke."""

from __future__ import annotations

from tandem.audit.models import AuditEvent
from tandem.tokens import rules
from tandem.tokens.models import AccessToken
from tests.api.conftest import bearer, is_problem


def post(client, **data):
    body = {"name": "Reporting", "scopes": ["patients:read", "worklists:read"], **data}
    return client.post("/api/tokens", body, content_type="application/json")


def test_a_signed_in_user_creates_a_token_and_sees_its_secret_once(client, team):
    client.force_login(team.alice)
    response = post(client, expires_in_days=10)
    assert response.status_code == 201
    body = response.json()
    secret = body["secret"]
    assert rules.is_well_formed(secret)
    assert body["token"]["scopes"] == ["patients:read", "worklists:read"]
    assert body["token"]["status"] == "active"
    listed = client.get("/api/tokens").json()
    assert listed["count"] == 1 and secret not in str(listed)
    client.logout()
    assert client.get("/api/me", headers=bearer(secret)).json()["username"] == "alice"


def test_it_refuses_unknown_scopes_and_lifetimes_beyond_a_year(client, team):
    client.force_login(team.alice)
    assert "unknown scope" in is_problem(post(client, scopes=["admin"]), 400)["detail"]
    is_problem(post(client, expires_in_days=400), 400)
    is_problem(post(client, name=""), 400)
    assert not AccessToken.objects.exists()


def test_a_user_revokes_their_own_token_once(client, team):
    client.force_login(team.alice)
    token_id = post(client).json()["token"]["id"]
    revoked = client.delete(f"/api/tokens/{token_id}")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    is_problem(client.delete(f"/api/tokens/{token_id}"), 409)
    assert AuditEvent.objects.filter(action="write:revoke_token").count() == 1


def test_another_users_token_is_a_404(client, team):
    client.force_login(team.bob)
    token_id = post(client).json()["token"]["id"]
    client.force_login(team.alice)
    is_problem(client.delete(f"/api/tokens/{token_id}"), 404)
    is_problem(client.delete(f"/api/tokens/{2**64}"), 404)
    assert AccessToken.objects.get().revoked_at is None
