"""The task life cycle: create, claim, reassign, complete, cancel — each change with history
and an audit event, and the states that refuse a change."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from tandem.audit.models import AuditEvent
from tandem.core.models import Sensitivity
from tandem.tasks import services
from tandem.tasks.models import Queue, Task
from tests.tasks.conftest import make_task


def actions(task):
    return list(task.events.values_list("action", flat=True))


def test_it_creates_a_task_for_a_queue_with_history_and_audit(team, pc_queue):
    task = make_task(team, queue=pc_queue, due=dt.date(2026, 1, 5), priority="high")

    assert task.status == "open" and task.owner is None and task.queue == pc_queue
    assert task.priority_rank == 1 and task.version == 1
    assert actions(task) == ["created"]
    event = AuditEvent.objects.filter(action="write:create_task").get()
    assert event.actor_id == team.alice.pk and event.patient_id == team.pat.pk
    assert f"task={task.pk}" in event.detail and "Call Pat" not in event.detail


def test_it_refuses_a_task_with_both_or_neither_holder(team, pc_queue):
    with pytest.raises(services.TaskError, match="owner"):
        make_task(team, queue=pc_queue, owner=team.alice)
    with pytest.raises(services.TaskError, match="owner"):
        services.create_task(by=team.alice, title="x")
    assert not Task.objects.exists()


def test_the_database_keeps_owner_xor_queue(team, pc_queue):
    task = make_task(team, queue=pc_queue)
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.filter(pk=task.pk).update(owner=team.alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.filter(pk=task.pk).update(queue=None)


def test_a_done_task_needs_an_outcome_in_the_database_too(team):
    task = make_task(team)
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.filter(pk=task.pk).update(status="done", outcome="")


@pytest.mark.parametrize(
    "bad", [{"title": "  "}, {"priority": "asap"}, {"source": "email"}, {"sensitivity": "secret"}]
)
def test_it_refuses_bad_input_naming_the_field(team, bad):
    with pytest.raises(services.TaskError) as error:
        make_task(team, **bad)
    assert next(iter(bad)) in str(error.value)


def test_claiming_makes_the_member_the_owner_and_keeps_the_queue_link(team, pc_queue):
    task = make_task(team, queue=pc_queue)

    task = services.claim_task(by=team.alice, task=task, version=1)

    assert task.owner == team.alice and task.queue is None and task.claimed_from == pc_queue
    assert task.status == "in-progress" and task.version == 2
    assert actions(task) == ["created", "claimed"]
    assert AuditEvent.objects.filter(action="write:claim_task").count() == 1


def test_claiming_twice_writes_once(team, pc_queue):
    task = make_task(team, queue=pc_queue)
    services.claim_task(by=team.alice, task=task)

    again = services.claim_task(by=team.alice, task=task)

    assert again.version == 2 and actions(again) == ["created", "claimed"]


def test_a_stale_form_writes_nothing(team, pc_queue):
    task = make_task(team, queue=pc_queue)
    services.claim_task(by=team.alice, task=task, version=1)

    with pytest.raises(services.TaskError) as error:
        services.complete_task(by=team.alice, task=task, outcome="done", version=1)

    assert error.value.code == "stale"
    assert Task.objects.get(pk=task.pk).status == "in-progress"


def test_only_members_may_claim_and_a_refusal_is_audited(team, pc_queue):
    task = make_task(team, queue=pc_queue)

    for outsider in (team.olive, team.leo, team.bob):
        with pytest.raises(services.TaskForbidden):
            services.claim_task(by=outsider, task=task)

    assert Task.objects.get(pk=task.pk).queue == pc_queue
    assert AuditEvent.objects.filter(action="write:task", outcome="denied").count() == 3


def test_a_task_claimed_by_one_member_cannot_be_claimed_by_another(team, cm_queue):
    task = make_task(team, by=team.bob, queue=cm_queue)
    services.claim_task(by=team.bob, task=task)

    with pytest.raises(services.TaskError, match="already held by bob"):
        services.claim_task(by=team.charlie, task=task)


def test_a_completed_task_cannot_be_claimed_again(team, pc_queue):
    task = make_task(team, queue=pc_queue)
    services.complete_task(by=team.alice, task=task, outcome="Booked for Tuesday")

    with pytest.raises(
        services.TaskError, match="already done; a completed task cannot be claimed"
    ):
        services.claim_task(by=team.alice, task=task)
    with pytest.raises(services.TaskError, match="already done"):
        services.complete_task(by=team.alice, task=task, outcome="again")
    assert Task.objects.get(pk=task.pk).events.filter(action="completed").count() == 1


def test_completing_needs_an_outcome(team):
    task = make_task(team)
    with pytest.raises(services.TaskError, match="outcome"):
        services.complete_task(by=team.alice, task=task, outcome="  ")
    assert Task.objects.get(pk=task.pk).status == "open"


def test_completing_a_queue_task_claims_it_on_the_way(team, pc_queue):
    task = make_task(team, queue=pc_queue)

    task = services.complete_task(by=team.alice, task=task, outcome="Appointment booked")

    assert task.status == "done" and task.owner == team.alice and task.claimed_from == pc_queue
    assert task.closed_at is not None and task.outcome == "Appointment booked"
    event = task.events.get(action="completed")
    assert (event.from_value, event.to_value, event.note) == ("open", "done", "Appointment booked")


def test_reassigning_to_a_person_keeps_the_team_and_to_a_queue_opens_it(team, pc_queue, cm_queue):
    task = make_task(team, queue=pc_queue)
    services.claim_task(by=team.alice, task=task)

    task = services.reassign_task(by=team.alice, task=task, to_user=team.bob, note="BH follows")
    assert task.owner == team.bob and task.claimed_from == pc_queue and task.status == "open"

    task = services.reassign_task(by=team.bob, task=task, to_queue=cm_queue)
    assert task.owner is None and task.queue == cm_queue and task.claimed_from is None
    history = list(task.events.filter(action="reassigned").values_list("from_value", "to_value"))
    assert history == [("alice", "bob"), ("bob", str(cm_queue))]
    assert AuditEvent.objects.filter(action="write:reassign_task").count() == 2


def test_reassigning_needs_exactly_one_target(team, pc_queue):
    task = make_task(team)
    with pytest.raises(services.TaskError, match="to:"):
        services.reassign_task(by=team.alice, task=task)
    with pytest.raises(services.TaskError, match="to:"):
        services.reassign_task(by=team.alice, task=task, to_user=team.bob, to_queue=pc_queue)


def test_a_teammate_may_take_over_a_claimed_task(team, cm_queue):
    task = make_task(team, by=team.bob, queue=cm_queue)
    services.claim_task(by=team.bob, task=task)

    task = services.reassign_task(by=team.charlie, task=task, to_user=team.charlie)

    assert task.owner == team.charlie


def test_cancelling_needs_a_reason_and_closes_the_task(team):
    task = make_task(team)
    with pytest.raises(services.TaskError, match="reason"):
        services.cancel_task(by=team.alice, task=task, reason="")

    task = services.cancel_task(by=team.alice, task=task, reason="Duplicate")

    assert task.status == "cancelled" and task.outcome == "Duplicate"
    with pytest.raises(services.TaskError, match="cancelled; it cannot be reassigned"):
        services.reassign_task(by=team.alice, task=task, to_user=team.bob)


def test_start_marks_an_open_task_in_progress(team):
    task = services.start_task(by=team.alice, task=make_task(team))
    assert task.status == "in-progress" and actions(task) == ["created", "started"]


def test_the_system_may_act(team, pc_queue):
    task = services.create_task(by=None, patient=team.pat, title="Escalated", queue=pc_queue)
    task = services.reassign_task(by=None, task=task, to_user=team.alice)
    assert task.created_by is None and task.owner == team.alice


def test_queue_for_gets_or_creates_one_queue_per_site_and_kind(team):
    first = services.queue_for(site=team.pc_site, kind="primary-care")
    again = services.queue_for(site=team.pc_site, kind="primary-care")
    supervisors = services.supervisor_queue(site=team.pc_site)

    assert first == again and first.key == "riverside-primary-care"
    assert supervisors.kind == "supervisors" and supervisors.key == "riverside-supervisors"
    assert Queue.objects.count() == 2
    with pytest.raises(services.TaskError, match="kind"):
        services.queue_for(site=team.pc_site, kind="billing")


def test_queue_for_finds_the_sites_queue_of_that_kind_whatever_its_key(team):
    # A queue made by hand (or by an import) under another key: looking it up by key crashed
    # on the one-queue-per-site-and-kind constraint (a 500 on "request a PC appointment").
    own = Queue.objects.create(
        key="riverside-pc-team", name="PC team", kind="primary-care", site=team.pc_site
    )

    assert services.queue_for(site=team.pc_site, kind="primary-care") == own
    assert Queue.objects.count() == 1


# --- labels: a task can reveal a relationship ------------------------------------------------


def test_a_task_takes_its_creators_unit_label(team):
    assert make_task(team, by=team.alice).sensitivity == Sensitivity.NORMAL
    assert make_task(team, by=team.charlie).sensitivity == Sensitivity.MENTAL_HEALTH
    assert make_task(team, by=team.sam).sensitivity == Sensitivity.SUBSTANCE_USE
    assert make_task(team, by=None).sensitivity == Sensitivity.NORMAL
    assert make_task(team, by=team.sam, patient=None).sensitivity == Sensitivity.NORMAL


def test_a_given_label_wins(team):
    task = make_task(team, by=team.charlie, sensitivity=Sensitivity.NORMAL)
    assert task.sensitivity == Sensitivity.NORMAL


def test_a_protected_sites_queue_raises_the_label_and_nothing_lowers_it(team):
    part2_queue = services.queue_for(site=team.sud_site, kind="care-management")
    task = make_task(team, by=team.alice, queue=part2_queue)
    assert task.sensitivity == Sensitivity.SUBSTANCE_USE

    other = make_task(team, by=team.alice)
    other = services.reassign_task(by=team.alice, task=other, to_queue=part2_queue)
    assert other.sensitivity == Sensitivity.SUBSTANCE_USE
    pc_queue = services.queue_for(site=team.pc_site, kind="primary-care")
    other = services.reassign_task(by=None, task=other, to_queue=pc_queue)
    assert other.sensitivity == Sensitivity.SUBSTANCE_USE


def test_a_given_label_is_raised_by_a_protected_sites_queue(team):
    part2_queue = services.queue_for(site=team.sud_site, kind="supervisors")
    task = make_task(team, queue=part2_queue, sensitivity=Sensitivity.MENTAL_HEALTH)
    assert task.sensitivity == Sensitivity.SUBSTANCE_USE
