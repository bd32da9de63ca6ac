"""Reading tasks through the gate: lists show what the reader may see, protected tasks hide
their title and patient, and the outsider sees nothing."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.consent import gate
from tandem.tasks import queries, services
from tests import builders as b
from tests.tasks.conftest import make_task

ALL = queries.Filters(status="all")


def titles(listing):
    return [r.title for r in listing.rows]


def test_my_tasks_are_mine_and_my_queues(team, pc_queue, cm_queue):
    make_task(team, title="Mine")
    make_task(team, title="Waiting for primary care", queue=pc_queue)
    make_task(team, by=team.bob, title="Bob's", owner=team.bob)
    make_task(team, by=team.bob, title="Care management's", queue=cm_queue)

    assert sorted(titles(queries.my_tasks(user=team.alice, filters=ALL))) == [
        "Mine",
        "Waiting for primary care",
    ]


def test_the_outsider_sees_no_task_anywhere(team, pc_queue):
    make_task(team, queue=pc_queue)
    make_task(team)

    assert queries.my_tasks(user=team.olive, filters=ALL).rows == []
    assert queries.queues_of(user=team.olive) == []
    assert queries.task_counts(user=team.olive) == {
        "open": 0,
        "overdue": 0,
        "due_today": 0,
        "queue_unclaimed": 0,
    }
    try:
        queries.queue_view(user=team.olive, key=pc_queue.key)
        raise AssertionError("the outsider opened a queue")
    except queries.NotFound:
        pass
    assert AuditEvent.objects.filter(actor_id=team.olive.pk, outcome="denied").exists()


def test_a_task_whose_patient_i_may_not_see_is_protected(team, pc_queue):
    stranger = b.patient(given_name="Quinn", family_name="Stranger")
    task = services.create_task(by=None, patient=stranger, title="Call Quinn", queue=pc_queue)

    row = queries.my_tasks(user=team.alice, filters=ALL).rows[0]

    assert row.task.pk == task.pk and not row.shown
    assert row.title == queries.PROTECTED_TITLE and row.patient is None
    assert "title" in row.task.get_deferred_fields()  # never loaded


def test_a_task_whose_label_i_may_not_see_is_protected(team, pc_queue):
    make_task(team, by=team.sam, title="Part 2 follow-up", queue=pc_queue)  # substance-use

    row = queries.my_tasks(user=team.alice, filters=ALL).rows[0]

    assert row.title == queries.PROTECTED_TITLE and row.patient is None


def test_a_shown_task_lists_its_patient_and_the_listing_is_audited(team):
    make_task(team)

    row = queries.my_tasks(user=team.alice, filters=ALL).rows[0]

    assert row.shown and row.patient.pk == team.pat.pk and row.may_act
    assert AuditEvent.objects.filter(
        action="list", actor_id=team.alice.pk, patient_id=team.pat.pk, detail="my tasks"
    ).exists()


def test_filters_and_overdue(team):
    today = timezone.localdate()
    make_task(team, title="Late", due=today - dt.timedelta(days=2), priority="urgent")
    make_task(team, title="Today", due=today)
    done = make_task(team, title="Done late", due=today - dt.timedelta(days=9))
    services.complete_task(by=team.alice, task=done, outcome="ok")

    late = queries.my_tasks(user=team.alice, filters=queries.Filters(overdue=True))
    assert titles(late) == ["Late"] and late.rows[0].overdue
    assert titles(queries.my_tasks(user=team.alice, filters=queries.Filters(due_today=True))) == [
        "Today"
    ]
    assert titles(queries.my_tasks(user=team.alice, filters=queries.Filters(status="done"))) == [
        "Done late"
    ]
    urgent = queries.Filters(priority="urgent")
    assert titles(queries.my_tasks(user=team.alice, filters=urgent)) == ["Late"]
    by_due = queries.my_tasks(user=team.alice, filters=queries.Filters(sort="due"))
    assert titles(by_due) == ["Late", "Today"]


def test_task_counts(team, pc_queue):
    today = timezone.localdate()
    make_task(team, due=today - dt.timedelta(days=1))
    make_task(team, due=today)
    make_task(team, queue=pc_queue, due=today - dt.timedelta(days=3))
    services.cancel_task(by=team.alice, task=make_task(team, due=today), reason="dup")

    assert queries.task_counts(user=team.alice) == {
        "open": 2,
        "overdue": 2,
        "due_today": 1,
        "queue_unclaimed": 1,
    }


def test_a_queue_lists_waiting_and_claimed_tasks_and_leaders_read_only(team, pc_queue):
    waiting = make_task(team, title="Waiting", queue=pc_queue)
    claimed = make_task(team, title="Claimed", queue=pc_queue)
    services.claim_task(by=team.alice, task=claimed)

    view = queries.queue_view(user=team.alice, key=pc_queue.key)
    listing = queries.queue_tasks(user=team.alice, view=view, filters=ALL)
    assert view.may_act and sorted(titles(listing)) == ["Claimed", "Waiting"]

    leader = queries.queue_view(user=team.leo, key=pc_queue.key)
    assert not leader.may_act and leader.purpose == "operations"
    rows = queries.queue_tasks(user=team.leo, view=leader, filters=ALL).rows
    assert {r.task.pk for r in rows} == {waiting.pk, claimed.pk}
    assert not any(r.may_act for r in rows)


def test_tasks_for_patient_goes_through_the_gate(team):
    make_task(team, title="Normal")
    make_task(team, by=team.sam, title="Part 2")  # substance-use: withheld from Alice

    seen = queries.tasks_for_patient(user=team.alice, patient_id=team.pat.pk)
    assert [t.title for t in seen.active] == ["Normal"] and seen.withheld == 1

    try:
        queries.tasks_for_patient(user=team.olive, patient_id=team.pat.pk)
        raise AssertionError("the outsider read a patient's tasks")
    except gate.AccessDenied:
        pass


def test_task_detail_for_the_holder_protected_or_not_found(team, pc_queue):
    task = make_task(team, by=team.sam, queue=pc_queue, title="Part 2 follow-up")

    detail = queries.task_detail(user=team.alice, pk=task.pk)
    assert not detail.shown and detail.task.title == queries.PROTECTED_TITLE
    assert detail.events == [] and detail.patient is None and detail.may_act

    for reader in (team.olive, team.bob):
        try:
            queries.task_detail(user=reader, pk=task.pk)
            raise AssertionError("a stranger opened the task")
        except queries.NotFound:
            pass

    mine = queries.task_detail(user=team.alice, pk=make_task(team).pk)
    assert mine.shown and mine.patient.pk == team.pat.pk and len(mine.events) == 1
