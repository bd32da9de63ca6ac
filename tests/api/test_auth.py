"""Who may call the API: a signed-in session or a personal access token with the right scope.

Every refused token and every missing scope is answered with problem+json and leaves an audit
event with outcome ``denied`` (the response is returned inside the request's transaction, so
the event is committed with it).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.tokens import rules, services
from tandem.tokens.models import AccessToken
from tests.api.conftest import bearer, is_problem, token_for

SEARCH = "/api/patients?name=jones"


def denied(actor_id=None, action="api-auth"):
    return AuditEvent.objects.filter(action=action, outcome="denied", actor_id=actor_id)


def test_it_lets_a_signed_in_user_in_with_the_session(client, team):
    client.force_login(team.alice)
    response = client.get("/api/me")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice"
    assert body["authenticated_by"] == "session"
    assert body["role"] == {"key": "pcp", "label": "Primary care clinician"}
    assert body["purpose"] == "treatment"
    assert body["token"] is None
    assert "patients:read" in body["scopes"]


def test_it_lets_a_token_act_as_its_user(client, team):
    secret = token_for(team.alice, "patients:read", "tasks:read")
    response = client.get("/api/me", headers=bearer(secret))
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice"
    assert body["authenticated_by"] == "token"
    assert body["scopes"] == ["patients:read", "tasks:read"]
    assert body["token"]["prefix"] == secret[:12] + "…"
    found = client.get(SEARCH, headers=bearer(secret)).json()
    assert [p["family_name"] for p in found["items"]] == ["Jones"]


def test_me_names_a_leaders_site_roles(client, team):
    client.force_login(team.leo)
    body = client.get("/api/me").json()
    assert body["role"]["key"] == "leader"
    assert body["purpose"] == "operations"
    assert {"site": "Riverside Family Medicine", "role": "leader"} in body["site_roles"]


def test_it_records_when_a_token_was_last_used(client, team):
    secret = token_for(team.alice)
    assert AccessToken.objects.get().last_used_at is None
    client.get(SEARCH, headers=bearer(secret))
    assert AccessToken.objects.get().last_used_at is not None


def test_it_refuses_a_request_without_credentials(client, db):
    body = is_problem(client.get(SEARCH), 401)
    assert body["type"] == "urn:tandem:problem:authentication-required"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer tnd_short",
        "Bearer not-a-token-at-all",
        "Bearer ",
        "Basic YWxpY2U6c2VjcmV0",
        "tnd_" + "a" * 48,  # no scheme
    ],
)
def test_it_refuses_a_malformed_token_and_audits_it(client, db, header):
    response = client.get(SEARCH, headers={"Authorization": header})
    body = is_problem(response, 401)
    assert body["type"] == "urn:tandem:problem:invalid-token"
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert denied().filter(detail="malformed").count() == 1


def test_it_refuses_an_unknown_token_and_audits_it(client, team):
    secret = token_for(team.alice)
    forged = secret[:-1] + ("b" if secret[-1] == "a" else "a")  # right prefix, wrong secret
    body = is_problem(client.get(SEARCH, headers=bearer(forged)), 401)
    assert body["type"] == "urn:tandem:problem:invalid-token"
    assert denied().get().detail.startswith("unknown prefix=")


def test_it_refuses_an_expired_token_and_audits_it(client, team):
    secret = token_for(team.alice, days=1)
    AccessToken.objects.update(
        created_at=timezone.now() - dt.timedelta(days=3),
        expires_at=timezone.now() - dt.timedelta(days=2),
    )
    body = is_problem(client.get(SEARCH, headers=bearer(secret)), 401)
    assert body["type"] == "urn:tandem:problem:token-expired"
    token = AccessToken.objects.get()
    assert denied(team.alice.pk).get().detail == f"expired token={token.pk}"


def test_it_refuses_a_revoked_token_and_audits_it(client, team):
    secret = token_for(team.alice)
    services.revoke_token(by=team.alice, token=AccessToken.objects.get())
    body = is_problem(client.get(SEARCH, headers=bearer(secret)), 401)
    assert body["type"] == "urn:tandem:problem:token-revoked"
    assert denied(team.alice.pk).get().detail.startswith("revoked")


def test_it_refuses_a_token_whose_user_can_no_longer_sign_in(client, team):
    secret = token_for(team.alice)
    team.alice.is_active = False
    team.alice.save()
    is_problem(client.get(SEARCH, headers=bearer(secret)), 401)
    assert denied(team.alice.pk).get().detail.startswith("inactive")


def test_a_bad_token_is_refused_even_alongside_a_valid_session(client, team):
    client.force_login(team.alice)
    is_problem(client.get(SEARCH, headers=bearer("tnd_" + "x" * 48)), 401)


def test_it_refuses_a_token_without_the_endpoints_scope_and_audits_it(client, team):
    secret = token_for(team.alice, "tasks:read")
    response = client.get(SEARCH, headers=bearer(secret))
    body = is_problem(response, 403)
    assert body["type"] == "urn:tandem:problem:insufficient-scope"
    assert body["required_scope"] == "patients:read"
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    event = denied(team.alice.pk, action="api-scope").get()
    assert "lacks scope patients:read" in event.detail
    assert not AuditEvent.objects.filter(action="list").exists()  # nothing was searched


def test_a_token_may_not_manage_tokens(client, team):
    secret = token_for(team.alice, *rules.SCOPES)
    body = is_problem(client.get("/api/tokens", headers=bearer(secret)), 403)
    assert body["type"] == "urn:tandem:problem:session-required"
    is_problem(
        client.post(
            "/api/tokens",
            {"name": "more", "scopes": ["patients:read"]},
            content_type="application/json",
            headers=bearer(secret),
        ),
        403,
    )
    assert AccessToken.objects.count() == 1
    assert denied(team.alice.pk, action="api-scope").count() == 2


def test_a_session_needs_the_csrf_token_for_unsafe_methods(team):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(team.alice)
    data = {"name": "script", "scopes": ["patients:read"]}
    refused = browser.post("/api/tokens", data, content_type="application/json")
    assert is_problem(refused, 403)["type"] == "urn:tandem:problem:csrf-failed"
    browser.get("/api/docs")  # sets the CSRF cookie, as the docs page does for Swagger UI
    csrf = browser.cookies["csrftoken"].value
    accepted = browser.post(
        "/api/tokens", data, content_type="application/json", headers={"X-CSRFToken": csrf}
    )
    assert accepted.status_code == 201


def test_a_token_needs_no_csrf_token(team):
    client = Client(enforce_csrf_checks=True)
    secret = token_for(team.alice)
    assert client.get(SEARCH, headers=bearer(secret)).status_code == 200


def test_api_responses_are_never_stored_by_caches(client, team):
    secret = token_for(team.alice)
    response = client.get(SEARCH, headers=bearer(secret))
    assert "no-store" in response["Cache-Control"]
