"""The demo's queues and tasks: every status and priority, some overdue, on visible patients."""

from __future__ import annotations

from tandem.tasks import queries, services
from tandem.tasks.models import Queue, Task


def personas(team):
    return {
        "pcp": team.alice,
        "care-manager": team.bob,
        "psychiatrist": team.charlie,
        "leader": team.leo,
        "outsider": team.olive,
    }


def test_the_demo_seeds_queues_and_a_spread_of_tasks_once(team):
    services.seed_demo(personas=personas(team))
    count = Task.objects.count()
    services.seed_demo(personas=personas(team))

    assert Task.objects.count() == count > 15
    assert set(Task.objects.values_list("status", flat=True)) == {
        "open",
        "in-progress",
        "done",
        "cancelled",
    }
    assert set(Task.objects.values_list("priority", flat=True)) == {
        "low",
        "normal",
        "high",
        "urgent",
    }
    pc = Queue.objects.get(key="riverside-primary-care")
    assert list(pc.members.all()) == [team.alice]
    assert team.leo in Queue.objects.get(key="riverside-supervisors").members.all()
    assert queries.task_counts(user=team.alice)["overdue"] > 0
    for user in (team.alice, team.bob, team.charlie):
        rows = queries.my_tasks(user=user, filters=queries.Filters(status="all")).rows
        assert rows and all(r.shown for r in rows)
    assert queries.my_tasks(user=team.olive, filters=queries.Filters(status="all")).rows == []
