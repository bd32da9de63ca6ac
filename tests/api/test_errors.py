"""Every API error is RFC 9457 problem+json: 400, 401, 403, 404, 405, 429, 500."""

from __future__ import annotations

import pytest

from tandem import api
from tandem.audit.models import AuditEvent
from tandem.tokens.models import AccessToken
from tests.api.conftest import bearer, is_problem, token_for


@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/", "/api", "/api/patients/"])
def test_an_unknown_api_path_is_a_404_problem(client, db, path):
    body = is_problem(client.get(path), 404)
    assert body["type"] == "about:blank"
    assert body["title"] == "Not Found"


def test_a_wrong_method_is_a_405_problem_naming_the_allowed_ones(client, db):
    response = client.put("/api/me")
    body = is_problem(response, 405)
    assert response["Allow"] == "GET"
    assert "PUT" in body["detail"]


def test_invalid_parameters_are_a_400_problem_listing_each_error(client, team):
    secret = token_for(team.alice)
    response = client.get("/api/patients?birth_date=1980-13-45&page=x", headers=bearer(secret))
    body = is_problem(response, 400)
    assert body["type"] == "urn:tandem:problem:validation-error"
    where = {tuple(e["loc"]) for e in body["errors"]}
    assert where == {("query", "birth_date"), ("query", "page")}
    assert "1980-13-45" not in response.text  # what was sent is not echoed back


def test_a_malformed_json_body_is_a_400_problem(client, team):
    client.force_login(team.alice)
    response = client.post("/api/tokens", "{not json", content_type="application/json")
    body = is_problem(response, 400)
    assert body["type"] == "urn:tandem:problem:malformed-request"
    assert body["detail"] == "Cannot parse request body"


def test_too_many_requests_is_a_429_problem_with_retry_after(client, team, monkeypatch):
    monkeypatch.setattr(api, "REQUESTS_PER_MINUTE", 2)
    secret = token_for(team.alice)
    for _ in range(2):
        assert client.get("/api/me", headers=bearer(secret)).status_code == 200
    response = client.get("/api/me", headers=bearer(secret))
    body = is_problem(response, 429)
    assert body["type"] == "urn:tandem:problem:rate-limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    client.force_login(team.bob)  # counted per token or user: Bob is not limited by Alice
    assert client.get("/api/me").status_code == 200


def test_with_several_server_processes_each_allows_its_share_of_the_limit(
    client, team, monkeypatch
):
    """``tandem serve --workers 2``: the counts are per process, so each allows half."""
    monkeypatch.setattr(api, "REQUESTS_PER_MINUTE", 4)
    monkeypatch.setenv(api.SERVER_PROCESSES_ENV, "2")
    secret = token_for(team.alice)
    for _ in range(2):
        assert client.get("/api/me", headers=bearer(secret)).status_code == 200
    is_problem(client.get("/api/me", headers=bearer(secret)), 429)


def test_a_bug_is_a_500_problem_and_nothing_the_request_wrote_is_committed(
    client, team, monkeypatch
):
    def broken(token):
        raise RuntimeError("a bug")

    monkeypatch.setattr("tandem.tokens.api.token_out", broken)
    client.force_login(team.alice)
    before = AuditEvent.objects.count()
    response = client.post(
        "/api/tokens", {"name": "x", "scopes": ["patients:read"]}, content_type="application/json"
    )
    body = is_problem(response, 500)
    assert "a bug" not in body["detail"]
    # The token and its audit event were written before the bug: rolled back with the request.
    assert not AccessToken.objects.exists()
    assert AuditEvent.objects.count() == before
