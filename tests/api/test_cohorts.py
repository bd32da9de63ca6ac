"""Cohorts through the API: scope cohorts:read, the gate decides, every member listed audited."""

from __future__ import annotations

from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.registry import services
from tests import builders as b
from tests.api.conftest import bearer, is_problem, token_for

TODAY = timezone.localdate()


def on_cohort(cohort: str, *patients) -> None:
    services.rebuild_cohorts(as_of=TODAY, members={cohort: [p.pk for p in patients]})


def registered(team, n: int) -> list:
    return [
        b.patient(home_site=team.pc_site, mrn_site=team.pc_site, family_name=f"Zed{i:03d}")
        for i in range(n)
    ]


def test_it_lists_cohorts_with_the_count_the_caller_may_see(client, team):
    on_cohort("diabetes", *registered(team, 3), b.patient())
    headers = bearer(token_for(team.leo, "cohorts:read"))

    body = client.get("/api/cohorts", headers=headers).json()

    by_key = {c["key"]: c for c in body}
    assert by_key["diabetes"]["count"] == 3
    assert by_key["diabetes"]["members"] == "/api/cohorts/diabetes/members"
    assert by_key["smi"]["count"] == 0


def test_it_pages_a_cohorts_members_and_audits_each_one(client, team):
    on_cohort("diabetes", *registered(team, 7))
    headers = bearer(token_for(team.leo, "cohorts:read"))

    first = client.get("/api/cohorts/diabetes/members?sort=name&page_size=5", headers=headers)
    body = first.json()

    assert first.status_code == 200
    assert (body["count"], body["pages"], len(body["items"])) == (7, 2, 5)
    assert body["items"][0]["family_name"] == "Zed000"
    assert body["items"][0]["url"] == f"/api/patients/{body['items'][0]['id']}"
    assert body["next"] == "/api/cohorts/diabetes/members?sort=name&page_size=5&page=2"
    second = client.get(body["next"], headers=headers).json()
    assert [m["family_name"] for m in second["items"]] == ["Zed005", "Zed006"]
    events = AuditEvent.objects.filter(action="list", actor_id=team.leo.pk)
    assert events.count() == 7
    assert all("api cohort diabetes token=" in e.detail for e in events)


def test_a_token_without_the_cohorts_scope_is_refused(client, team):
    headers = bearer(token_for(team.leo, "patients:read"))

    body = is_problem(client.get("/api/cohorts", headers=headers), 403)

    assert body["required_scope"] == "cohorts:read"


def test_an_unknown_cohort_is_a_404_problem(client, team):
    headers = bearer(token_for(team.leo, "cohorts:read"))

    body = is_problem(client.get("/api/cohorts/astrology/members", headers=headers), 404)

    assert body["type"] == "urn:tandem:problem:cohort-not-found"


def test_a_tampered_sort_or_filter_is_a_400_problem_naming_it(client, team):
    headers = bearer(token_for(team.leo, "cohorts:read"))

    sort = is_problem(client.get("/api/cohorts/diabetes/members?sort=ssn", headers=headers), 400)
    site = is_problem(client.get("/api/cohorts/diabetes/members?site=x", headers=headers), 400)

    assert sort["detail"].startswith("Sort:")
    assert site["detail"].startswith("Site:")


def test_the_outsider_lists_no_member(client, team):
    on_cohort("diabetes", *registered(team, 2), team.pat)
    headers = bearer(token_for(team.olive, "cohorts:read"))

    body = client.get("/api/cohorts/diabetes/members", headers=headers).json()

    assert body["count"] == 0
    assert not AuditEvent.objects.filter(action="list").exists()
