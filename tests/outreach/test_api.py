"""The worklist API: scopes, pagination, idempotency, refusals as problem+json."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.outreach import services
from tandem.outreach.models import ContactAttempt, WorklistItem
from tests.api.conftest import bearer, is_problem, token_for
from tests.outreach import builders as ob

pytestmark = pytest.mark.usefixtures("_fresh_rate_limits")


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def item(team):
    patient = ob.disengaged_smi(team)
    services.rebuild_worklists(as_of=timezone.localdate())
    return WorklistItem.objects.get(patient=patient, worklist="smi-disengaged")


def test_a_token_lists_the_worklists_and_a_worklists_items(client, team, item):
    headers = bearer(token_for(team.bob, "worklists:read"))

    lists = client.get("/api/worklists", headers=headers)
    items = client.get("/api/worklists/smi-disengaged/items?page_size=10", headers=headers)

    assert lists.status_code == 200
    smi = next(w for w in lists.json() if w["key"] == "smi-disengaged")
    assert smi["counts"] == {"new": 1}
    body = items.json()
    assert body["count"] == 1 and body["items"][0]["id"] == item.pk
    assert body["items"][0]["reason"] == item.reason


def test_the_wrong_scope_is_a_403_problem_and_audited(client, team, item):
    response = client.get("/api/worklists", headers=bearer(token_for(team.bob, "patients:read")))

    assert is_problem(response, 403)["type"].endswith("insufficient-scope")
    assert AuditEvent.objects.filter(action="api-scope", outcome="denied").exists()


def test_an_item_the_reader_may_not_see_is_the_same_404_as_none(client, team, item):
    alice = bearer(token_for(team.alice, "worklists:read"))

    hidden = client.get(f"/api/worklists/items/{item.pk}", headers=alice)
    missing = client.get(f"/api/worklists/items/{item.pk + 100}", headers=alice)

    assert is_problem(hidden, 404)["type"] == is_problem(missing, 404)["type"]
    assert hidden.json()["type"].endswith("item-not-found")


def test_the_outsider_is_refused_the_lists(client, team, item):
    response = client.get("/api/worklists", headers=bearer(token_for(team.olive, "worklists:read")))

    is_problem(response, 403)
    assert AuditEvent.objects.filter(actor_id=team.olive.pk, outcome="denied").exists()


def test_logging_an_attempt_is_idempotent_by_key_and_needs_the_write_scope(client, team, item):
    reader = bearer(token_for(team.bob, "worklists:read"))
    writer = bearer(token_for(team.bob, "worklists:read", "worklists:write"))
    body = {"channel": "phone", "outcome": "no-answer", "idempotency_key": "k-1"}
    url = f"/api/worklists/items/{item.pk}/attempts"

    refused = client.post(url, body, content_type="application/json", headers=reader)
    first = client.post(url, body, content_type="application/json", headers=writer)
    second = client.post(url, body, content_type="application/json", headers=writer)

    is_problem(refused, 403)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert ContactAttempt.objects.count() == 1
    detail = client.get(f"/api/worklists/items/{item.pk}", headers=reader).json()
    assert detail["state"] == "in-outreach" and len(detail["attempts"]) == 1
    assert detail["protocol"]["counted"] == 1


def test_a_future_attempt_and_a_bad_channel_are_400_problems(client, team, item):
    writer = bearer(token_for(team.bob, "worklists:read", "worklists:write"))
    url = f"/api/worklists/items/{item.pk}/attempts"
    future = (timezone.now() + dt.timedelta(days=1)).isoformat()

    late = client.post(
        url,
        {"channel": "phone", "outcome": "reached", "attempted_at": future},
        content_type="application/json",
        headers=writer,
    )
    bad = client.post(
        url,
        {"channel": "fax", "outcome": "reached"},
        content_type="application/json",
        headers=writer,
    )

    assert is_problem(late, 400)["field"] == "attempted_at"
    assert is_problem(bad, 400)["type"].endswith("validation-error")
    assert ContactAttempt.objects.count() == 0


def test_claim_through_the_api(client, team, item):
    writer = bearer(token_for(team.bob, "worklists:read", "worklists:write"))

    response = client.post(f"/api/worklists/items/{item.pk}/claim", headers=writer)

    assert response.status_code == 200 and response.json()["state"] == "claimed"


def test_tampered_filters_and_an_unknown_worklist(client, team, item):
    headers = bearer(token_for(team.bob, "worklists:read"))

    assert is_problem(
        client.get("/api/worklists/smi-disengaged/items?state=x", headers=headers), 400
    )
    assert is_problem(
        client.get("/api/worklists/smi-disengaged/items?page_size=1000", headers=headers), 400
    )
    assert is_problem(client.get("/api/worklists/nope/items", headers=headers), 404)
