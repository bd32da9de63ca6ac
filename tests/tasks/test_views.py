"""The task pages: My tasks, a queue, a task with its htmx actions; bad input, refusals and
query counts (no N+1: the counts hold for 3 rows and for 25)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tandem.audit.models import AuditEvent
from tandem.tasks import services
from tandem.tasks.models import Task
from tests import builders as b
from tests.tasks.conftest import make_task

HTMX = {"HTTP_HX_REQUEST": "true"}
# Measured on SQLite: 24 (My tasks), 22 (a queue), 26 (a task) for 3 rows and for 25 — session,
# role, navigation, the gate and its audit events; none per row.
LIST_QUERIES = 24
DETAIL_QUERIES = 26


def post(client, name, task, **data):
    data.setdefault("version", task.version)
    return client.post(reverse(name, args=[task.pk]), data, **HTMX)


def test_pages_need_a_signed_in_user(client, db):
    for url in (reverse("tasks"), reverse("task-detail", args=[1])):
        assert client.get(url).status_code == 302


def test_my_tasks_lists_tasks_with_their_patient_and_overdue_marker(client, team, pc_queue):
    make_task(team, title="Call Pat about the HbA1c", due="2020-01-01")
    make_task(team, title="Waiting", queue=pc_queue)
    client.force_login(team.alice)

    page = client.get(reverse("tasks")).text

    assert "Call Pat about the HbA1c" in page and "JONES, Pat" in page and "Overdue" in page
    assert "data-keyboard-list" in page and "Unclaimed" in page
    assert pc_queue.name in page


def test_a_protected_task_shows_no_title_or_patient(client, team, pc_queue):
    stranger = b.patient(given_name="Quinn", family_name="Stranger")
    services.create_task(by=None, patient=stranger, title="Call Quinn now", queue=pc_queue)
    client.force_login(team.alice)

    page = client.get(reverse("tasks")).text

    assert "Protected task" in page and "Quinn" not in page and "STRANGER" not in page


@pytest.mark.parametrize(
    "query", ["status=bogus", "sort=title;drop", "priority=asap", "page=0", "holder=anyone"]
)
def test_tampered_filters_are_a_400_naming_the_field(client, team, query):
    client.force_login(team.alice)
    response = client.get(reverse("tasks") + "?" + query)
    assert response.status_code == 400


@pytest.mark.parametrize("rows", [3, 25])
def test_my_tasks_query_count_does_not_grow_with_rows(
    client, team, pc_queue, rows, django_assert_max_num_queries
):
    for i in range(rows):
        make_task(team, title=f"Task {i}", queue=pc_queue if i % 2 else None)
    client.force_login(team.alice)
    with django_assert_max_num_queries(LIST_QUERIES):
        assert client.get(reverse("tasks")).status_code == 200


@pytest.mark.parametrize("rows", [3, 25])
def test_queue_and_detail_query_counts(client, team, pc_queue, rows, django_assert_max_num_queries):
    tasks = [make_task(team, queue=pc_queue) for _ in range(rows)]
    client.force_login(team.alice)
    with django_assert_max_num_queries(LIST_QUERIES):
        assert client.get(reverse("task-queue", args=[pc_queue.key])).status_code == 200
    with django_assert_max_num_queries(DETAIL_QUERIES):
        assert client.get(reverse("task-detail", args=[tasks[0].pk])).status_code == 200


def test_unknown_and_foreign_tasks_and_queues_are_404_and_audited(client, team, pc_queue):
    task = make_task(team, queue=pc_queue)
    client.force_login(team.olive)

    assert client.get(reverse("task-detail", args=[task.pk])).status_code == 404
    assert client.get(reverse("task-detail", args=[2**63])).status_code == 404
    assert client.get(reverse("task-queue", args=[pc_queue.key])).status_code == 404
    assert client.get(reverse("task-queue", args=["nope"])).status_code == 404
    assert post(client, "task-claim", task).status_code == 404
    assert AuditEvent.objects.filter(actor_id=team.olive.pk, outcome="denied").count() >= 4
    assert Task.objects.get(pk=task.pk).owner is None


def test_a_leader_reads_a_queue_task_but_may_not_act(client, team, pc_queue):
    task = make_task(team, queue=pc_queue)
    client.force_login(team.leo)

    page = client.get(reverse("task-detail", args=[task.pk])).text
    assert "Read-only" in page and "Claim this task" not in page
    assert post(client, "task-claim", task).status_code == 403
    assert Task.objects.get(pk=task.pk).owner is None
    assert AuditEvent.objects.filter(actor_id=team.leo.pk, action="write:task").exists()


def test_claim_then_complete_with_htmx_and_a_double_click_writes_once(client, team, pc_queue):
    task = make_task(team, queue=pc_queue)
    client.force_login(team.alice)

    response = post(client, "task-claim", task)
    assert response.status_code == 200 and "You claimed the task" in response.text
    task.refresh_from_db()
    first = post(client, "task-complete", task, outcome="Booked for Tuesday")
    second = post(client, "task-complete", task, outcome="Booked for Tuesday")

    assert first.status_code == 200 and "Task completed" in first.text
    assert second.status_code == 200 and "changed since you opened it" in second.text
    task.refresh_from_db()
    assert task.status == "done" and task.events.filter(action="completed").count() == 1


def test_complete_without_an_outcome_is_a_400_naming_it(client, team):
    task = make_task(team)
    client.force_login(team.alice)

    response = post(client, "task-complete", task, outcome=" ")

    assert response.status_code == 400 and "Outcome" in response.text
    assert Task.objects.get(pk=task.pk).status == "open"


def test_reassign_and_cancel(client, team, pc_queue):
    task = make_task(team)
    client.force_login(team.alice)

    assert post(client, "task-reassign", task, to_queue="nope").status_code == 400
    assert post(client, "task-reassign", task).status_code == 400
    assert post(client, "task-reassign", task, to_queue=pc_queue.key).status_code == 200
    task.refresh_from_db()
    assert task.queue == pc_queue
    assert post(client, "task-cancel", task, reason="Duplicate").status_code == 200
    assert Task.objects.get(pk=task.pk).status == "cancelled"


def test_a_list_claim_without_htmx_returns_to_the_list(client, team, pc_queue):
    task = make_task(team, queue=pc_queue)
    client.force_login(team.alice)

    response = client.post(
        reverse("task-claim", args=[task.pk]),
        {"version": task.version, "next": reverse("tasks") + "?sort=priority"},
    )

    assert response.status_code == 302 and response["Location"] == "/tasks/?sort=priority"
    assert Task.objects.get(pk=task.pk).owner == team.alice


def test_the_home_panel_links_each_count(client, team):
    make_task(team, due="2020-01-01")
    client.force_login(team.alice)

    page = client.get(reverse("task-home-panel")).text

    assert "?holder=mine" in page and "?overdue=on" in page and "?due_today=on" in page
