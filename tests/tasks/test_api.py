"""The tasks API: auth and scopes, pagination, the gate, and errors as problem+json."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.test import Client

from tandem.audit.models import AuditEvent
from tandem.tasks.models import Task
from tests import builders as b
from tests.api.conftest import bearer, is_problem, token_for
from tests.tasks.conftest import make_task

JSON = "application/json"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def test_it_needs_credentials_and_the_right_scope(team):
    api = Client()
    is_problem(api.get("/api/tasks"), 401)
    wrong = token_for(team.alice, "patients:read")
    body = is_problem(api.get("/api/tasks", **_h(wrong)), 403)
    assert body["required_scope"] == "tasks:read"
    read_only = token_for(team.alice, "tasks:read")
    assert api.get("/api/tasks", **_h(read_only)).status_code == 200
    response = api.post("/api/tasks", {"title": "x"}, content_type=JSON, **_h(read_only))
    assert is_problem(response, 403)["required_scope"] == "tasks:write"
    assert AuditEvent.objects.filter(outcome="denied", actor_id=team.alice.pk).count() >= 2


def _h(secret):
    return {"HTTP_AUTHORIZATION": bearer(secret)["Authorization"]}


def test_it_lists_my_tasks_page_by_page(team, pc_queue):
    for i in range(7):
        make_task(team, title=f"Task {i}", due=dt.date(2030, 1, 1) + dt.timedelta(days=i))
    make_task(team, title="Waiting", queue=pc_queue, due=dt.date(2031, 1, 1))
    secret = token_for(team.alice, "tasks:read")

    first = Client().get("/api/tasks?page_size=5", **_h(secret)).json()
    second = Client().get(first["next"], **_h(secret)).json()

    assert first["count"] == 8 and first["pages"] == 2 and len(first["items"]) == 5
    assert [t["title"] for t in first["items"]][:2] == ["Task 0", "Task 1"]
    assert second["next"] is None and second["items"][-1]["queue"] == pc_queue.key
    item = first["items"][0]
    assert item["patient_id"] == team.pat.pk and not item["protected"] and item["version"] == 1


@pytest.mark.parametrize("query", ["status=bogus", "sort=title", "page_size=1000", "page=0"])
def test_tampered_list_parameters_are_a_400_problem(team, query):
    secret = token_for(team.alice, "tasks:read")
    is_problem(Client().get(f"/api/tasks?{query}", **_h(secret)), 400)


def test_a_protected_task_is_listed_without_title_or_patient(team, pc_queue):
    stranger = b.patient(given_name="Quinn", family_name="Stranger")
    make_task(team, by=None, patient=stranger, title="Call Quinn", queue=pc_queue)
    secret = token_for(team.alice, "tasks:read")

    item = Client().get("/api/tasks", **_h(secret)).json()["items"][0]

    assert item["protected"] and item["title"] == "Protected task"
    assert item["patient_id"] is None and item["detail"] is None


def test_get_a_task_or_the_same_404_for_unknown_and_foreign(team):
    task = make_task(team, detail="Ask about the lab")
    mine = token_for(team.alice, "tasks:read")
    olive = token_for(team.olive, "tasks:read")

    body = Client().get(f"/api/tasks/{task.pk}", **_h(mine)).json()
    assert body["title"] == task.title and body["detail"] == "Ask about the lab"
    foreign = is_problem(Client().get(f"/api/tasks/{task.pk}", **_h(olive)), 404)
    unknown = is_problem(Client().get("/api/tasks/999999", **_h(olive)), 404)
    assert foreign["detail"] == unknown["detail"]
    is_problem(Client().get(f"/api/tasks/{2**63}", **_h(olive)), 404)
    assert AuditEvent.objects.filter(actor_id=team.olive.pk, outcome="denied").exists()


def test_create_claim_and_complete(team, pc_queue):
    secret = token_for(team.alice, "tasks:read", "tasks:write")
    api = Client()

    created = api.post(
        "/api/tasks",
        {"title": "Call about labs", "patient_id": team.pat.pk, "queue": pc_queue.key},
        content_type=JSON,
        **_h(secret),
    )
    assert created.status_code == 201
    task_id = created.json()["id"]
    claimed = api.post(f"/api/tasks/{task_id}/claim", content_type=JSON, **_h(secret)).json()
    assert claimed["owner"] == "alice" and claimed["claimed_from"] == pc_queue.key
    done = api.post(
        f"/api/tasks/{task_id}/complete", {"outcome": "Reached"}, content_type=JSON, **_h(secret)
    )
    assert done.status_code == 200 and done.json()["status"] == "done"
    again = api.post(
        f"/api/tasks/{task_id}/complete", {"outcome": "Reached"}, content_type=JSON, **_h(secret)
    )
    assert is_problem(again, 409)["type"] == "urn:tandem:problem:task-closed"
    reclaim = api.post(f"/api/tasks/{task_id}/claim", content_type=JSON, **_h(secret))
    assert "cannot be claimed" in is_problem(reclaim, 409)["detail"]
    task = Task.objects.get(pk=task_id)
    assert task.created_by == team.alice and task.events.filter(action="completed").count() == 1


def test_create_refuses_bad_input_and_patients_i_may_not_see(team):
    secret = token_for(team.olive, "tasks:write")
    api = Client()

    def create(**body):
        return api.post("/api/tasks", body, content_type=JSON, **_h(secret))

    is_problem(create(title=""), 400)
    is_problem(create(title="x", priority="asap"), 400)
    is_problem(create(title="x", queue="nope"), 400)
    is_problem(create(title="x", owner="nobody"), 400)
    assert is_problem(create(title="x", patient_id=team.pat.pk), 404)["type"].endswith(
        "patient-not-found"
    )
    assert not Task.objects.exists()


def test_actions_by_a_stranger_are_404_and_by_a_reader_403(team, pc_queue):
    task = make_task(team, queue=pc_queue)
    olive = token_for(team.olive, "tasks:write")
    leo = token_for(team.leo, "tasks:write")

    is_problem(Client().post(f"/api/tasks/{task.pk}/claim", **_h(olive)), 404)
    is_problem(Client().post(f"/api/tasks/{task.pk}/claim", **_h(leo)), 403)
    assert Task.objects.get(pk=task.pk).owner is None
