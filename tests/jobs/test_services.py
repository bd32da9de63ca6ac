"""The runner: steps in order, progress, failures without patient data, retries, one at a time."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from tandem.audit.models import AuditEvent
from tandem.jobs import queue, rules, services
from tandem.jobs.models import JobRun
from tests.jobs import steps

AS_OF = dt.date(2026, 12, 3)


def test_the_daily_refresh_stores_measures_then_cohorts_risk_and_worklists():
    assert [s.key for s in rules.DAILY_REFRESH.steps] == [
        "measures",
        "cohorts",
        "risk",
        "consents",
        "worklists",
    ]
    assert rules.DAILY_REFRESH.steps[0].function == "tandem.measures.jobs.store_all"


def test_it_runs_the_steps_in_order_with_their_counts_and_durations(team, pipeline):
    pipeline("first", "second")

    run = services.run_daily_refresh(by=None, as_of=AS_OF)

    run.refresh_from_db()
    assert steps.CALLS == [("first", AS_OF), ("second", AS_OF)]
    assert run.status == rules.SUCCEEDED and run.trigger == "system" and run.attempts == 1
    assert [(s["key"], s["status"], s["counts"]) for s in run.steps] == [
        ("first", "succeeded", {"rows": 3}),
        ("second", "succeeded", {"items": 2, "resolved": 1}),
    ]
    assert all(s["seconds"] >= 0 and s["started"] and s["finished"] for s in run.steps)
    assert run.steps[0]["log"] == ["counting", "counted 3"]
    assert run.started_at <= run.finished_at and run.error == ""
    assert AuditEvent.objects.filter(action="job-run", detail__contains=f"run={run.pk}").exists()


def test_it_reports_progress_while_it_runs(team, pipeline, monkeypatch):
    pipeline("first", "second")
    monkeypatch.setattr(rules, "PROGRESS_EVERY", 0)  # write every line
    heard: list[tuple[str, str, bool]] = []

    services.run_daily_refresh(by=None, as_of=AS_OF, on_progress=lambda *a: heard.append(a))

    assert steps.SEEN == ["Second: started"]  # the run as stored while the second step ran
    assert heard == [
        ("first", "First: started", True),
        ("first", "counting", False),
        ("first", "counted 3", False),
        ("first", heard[3][1], True),
        ("second", "Second: started", True),
        ("second", heard[5][1], True),
    ]
    assert heard[3][1].startswith("First: done in ") and heard[3][1].endswith("rows=3")


def test_a_failed_step_fails_the_run_with_an_error_free_of_patient_data(team, pipeline):
    pipeline("first", "leaky_failure", "never")

    run = services.run_daily_refresh(by=None, as_of=AS_OF)

    run.refresh_from_db()
    assert steps.CALLS == [("first", AS_OF), ("leaky_failure", AS_OF)]
    assert run.status == rules.FAILED and run.finished_at is not None
    assert [s["status"] for s in run.steps] == ["succeeded", "failed", "skipped"]
    assert run.error.startswith("Leaky Failure: ValueError at tests/jobs/steps.py:")
    stored = f"{run.error} {run.progress} {run.steps}"
    assert "Jones" not in stored and "Pat" not in stored and "born" not in stored


def test_a_step_that_is_not_installed_fails_naming_it(team, monkeypatch, pipeline):
    job = pipeline("first")
    missing = rules.Step("cohorts", "Cohorts rebuilt", "tandem.nowhere.jobs.rebuild")
    monkeypatch.setattr(rules, "DAILY_REFRESH", rules.Job(job.name, job.title, (missing,)))

    run = services.run_daily_refresh(by=None, as_of=AS_OF)

    assert run.status == rules.FAILED
    assert "tandem.nowhere.jobs.rebuild is not available" in run.error


def test_a_second_refresh_is_refused_while_one_runs(team, pipeline):
    pipeline("first")
    running = JobRun.objects.create(
        job="daily-refresh",
        status=rules.RUNNING,
        as_of=AS_OF,
        trigger="schedule",
        runner=f"{socket.gethostname()}:{os.getpid()}",  # alive: this very process
        heartbeat_at=timezone.now(),
    )

    with pytest.raises(services.JobBusy, match=f"is running: run #{running.pk}"):
        services.run_daily_refresh(by=None, as_of=AS_OF)
    with pytest.raises(services.JobBusy):
        queue.enqueue_daily_refresh(by=team.leo)

    assert steps.CALLS == [] and JobRun.objects.count() == 1 and OrmQ.objects.count() == 0


def test_enqueueing_twice_queues_one_refresh(team):
    first = queue.enqueue_daily_refresh(by=team.leo)

    with pytest.raises(services.JobBusy, match=f"is queued .*: run #{first.pk}"):
        queue.enqueue_daily_refresh(by=team.leo)

    assert JobRun.objects.get() == first and OrmQ.objects.count() == 1
    assert first.status == rules.QUEUED and first.triggered_by == team.leo and first.task_id
    assert first.max_attempts == 3
    assert AuditEvent.objects.filter(actor_id=team.leo.pk, action="job-enqueue").count() == 1


def test_the_queue_retries_a_failed_attempt_then_gives_up(team, pipeline, settings):
    pipeline("leaky_failure")
    run = queue.enqueue_daily_refresh(by=team.leo)

    for attempt in (1, 2):
        with pytest.raises(queue.AttemptFailed) as failed:
            queue.execute_run(run.pk)
        run.refresh_from_db()
        assert run.status == rules.RETRYING and run.attempts == attempt
        assert "Jones" not in str(failed.value) and f"attempt {attempt} of 3" in str(failed.value)
    with pytest.raises(queue.AttemptFailed):
        queue.execute_run(run.pk)

    run.refresh_from_db()
    assert run.status == rules.FAILED and run.attempts == 3
    assert [line.split(":")[0] for line in run.error.splitlines()] == [
        "attempt 1",
        "attempt 2",
        "attempt 3",
    ]
    assert queue.execute_run(run.pk) == f"nothing to do: run #{run.pk} is failed"


def test_a_retried_attempt_can_succeed(team, pipeline):
    pipeline("leaky_failure")
    run = queue.enqueue_daily_refresh(by=team.leo)
    with pytest.raises(queue.AttemptFailed):
        queue.execute_run(run.pk)
    pipeline("first")  # whatever failed is fixed before the queue's next attempt

    assert queue.execute_run(run.pk) == f"run #{run.pk} succeeded"

    run.refresh_from_db()
    assert run.status == rules.SUCCEEDED and run.attempts == 2
    assert run.error.startswith("attempt 1: Leaky Failure: ValueError")


def test_retrying_a_failed_run_queues_a_new_run_for_the_same_day(team, pipeline):
    pipeline("leaky_failure")
    failed = services.run_daily_refresh(by=None, as_of=AS_OF)

    again = queue.retry_run(by=team.leo, run=failed)

    assert again.status == rules.QUEUED and again.retry_of == failed and again.as_of == AS_OF
    assert again.trigger == "retry"
    with pytest.raises(services.NotRetryable):
        queue.retry_run(by=team.leo, run=again)


def test_running_now_takes_over_a_refresh_waiting_in_the_queue(team, pipeline):
    pipeline("first")
    waiting = queue.enqueue_daily_refresh(by=team.leo)

    run = services.run_daily_refresh(by=None, as_of=AS_OF)

    assert run.pk == waiting.pk and run.status == rules.SUCCEEDED and run.as_of == AS_OF
    assert queue.execute_run(waiting.pk) == f"nothing to do: run #{waiting.pk} is succeeded"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_run_whose_process_died_is_marked_interrupted(team, pipeline):
    pipeline("first")
    here = socket.gethostname()
    dead = JobRun.objects.create(
        job="daily-refresh",
        status=rules.RUNNING,
        as_of=AS_OF,
        trigger="system",
        attempts=1,
        runner=f"{here}:{_dead_pid()}",
        heartbeat_at=timezone.now(),
    )

    run = services.run_daily_refresh(by=None, as_of=AS_OF)  # not refused: the other one is dead

    dead.refresh_from_db()
    assert dead.status == rules.FAILED and "interrupted" in dead.error
    assert run.status == rules.SUCCEEDED


def test_a_queued_run_whose_worker_died_waits_for_the_queues_next_attempt(team, pipeline):
    pipeline("first")
    run = queue.enqueue_daily_refresh(by=team.leo)
    JobRun.objects.filter(pk=run.pk).update(
        status=rules.RUNNING, attempts=1, runner=f"{socket.gethostname()}:{_dead_pid()}"
    )

    assert services.expire_abandoned("daily-refresh") == 1
    run.refresh_from_db()
    assert run.status == rules.RETRYING

    assert queue.execute_run(run.pk) == f"run #{run.pk} succeeded"  # the queue hands it out
    run.refresh_from_db()
    assert run.attempts == 2


def test_the_schedule_is_created_once_and_follows_the_refresh_time(db, settings):
    settings.TANDEM_REFRESH_AT = "02:00"
    first = queue.ensure_schedule()
    assert queue.ensure_schedule().pk == first.pk
    local = timezone.localtime(first.next_run)
    assert (local.hour, local.minute) == (2, 0) and first.next_run > timezone.now()
    assert first.func == "tandem.jobs.queue.scheduled_refresh" and first.repeats == -1

    settings.TANDEM_REFRESH_AT = "05:30"
    moved = queue.ensure_schedule()

    assert moved.pk == first.pk
    assert timezone.localtime(moved.next_run).strftime("%H:%M") == "05:30"


def test_the_scheduled_task_queues_a_refresh_unless_one_is_active(db):
    assert queue.scheduled_refresh().startswith("queued run #")
    run = JobRun.objects.get()
    assert run.trigger == "schedule" and run.triggered_by is None

    assert queue.scheduled_refresh().startswith("skipped: a daily refresh is queued")
    assert JobRun.objects.count() == 1


def test_a_retry_the_queue_never_hands_out_does_not_block_the_job_for_good(team, pipeline):
    pipeline("first")
    run = queue.enqueue_daily_refresh(by=team.leo)
    long_ago = timezone.now() - dt.timedelta(hours=3)
    JobRun.objects.filter(pk=run.pk).update(
        status=rules.RETRYING, attempts=1, heartbeat_at=long_ago
    )

    again = services.run_daily_refresh(by=None, as_of=AS_OF)

    run.refresh_from_db()
    assert run.status == rules.FAILED and again.pk != run.pk and again.status == rules.SUCCEEDED
