"""The job queue: django-q2 with its ORM broker (a table in the operational database).

- :func:`enqueue_daily_refresh` ("Run now") and :func:`retry_run` ("Retry") add a queued run and
  a django-q2 task that runs it (:func:`execute_run`) in a worker.
- The schedule (:func:`ensure_schedule`, called when a worker starts) enqueues the refresh every
  day at ``TANDEM_REFRESH_AT`` through :func:`scheduled_refresh`.
- A failed attempt raises :class:`AttemptFailed` (a one-line message, no patient data: django-q2
  stores and logs it), so django-q2 does not acknowledge the task and hands it out again
  ``Q_CLUSTER["retry"]`` seconds after the attempt started, up to ``max_attempts`` in all.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from tandem.audit import services as audit
from tandem.core.lib import schedules
from tandem.jobs import rules, services
from tandem.jobs.models import JobRun

SCHEDULE_NAME = "tandem: daily refresh"


class AttemptFailed(Exception):
    """An attempt of a queued run failed; its message names the run and the step, nothing more."""


def enqueue_daily_refresh(*, by: Any) -> JobRun:
    """Queue a refresh for today ("Run now"); :class:`services.JobBusy` if one is active, so a
    double click queues one refresh."""
    return enqueue(rules.DAILY_REFRESH, by=by, trigger="user" if by is not None else "system")


def retry_run(*, by: Any, run: JobRun) -> JobRun:
    """Queue a new run of a failed run's job, for the same day ("Retry")."""
    if run.status != rules.FAILED:
        raise services.NotRetryable(f"run #{run.pk} is {run.status}: only a failed run is retried")
    return enqueue(rules.JOBS[run.job], by=by, trigger="retry", as_of=run.as_of, retry_of=run)


def enqueue(
    job: rules.Job,
    *,
    by: Any,
    trigger: str,
    as_of: dt.date | None = None,
    retry_of: JobRun | None = None,
) -> JobRun:
    """A queued run and its task, committed together (or neither) in the caller's transaction."""
    services.expire_abandoned(job.name)
    with transaction.atomic():
        run = services.create_run(
            job,
            by=by,
            as_of=as_of or timezone.localdate(),
            status=rules.QUEUED,
            trigger=trigger,
            max_attempts=settings.Q_CLUSTER["max_attempts"],
            retry_of=retry_of,
        )
        run.task_id = async_task(
            "tandem.jobs.queue.execute_run",
            run.pk,
            task_name=f"{job.name}-{run.pk}",
            group=job.name,
        )
        run.save(update_fields=["task_id"])
        audit.record(
            actor=by,
            entry=audit.Entry(
                "job-enqueue",
                "written",
                None,
                "",
                "operations",
                f"job={job.name} run={run.pk} trigger={trigger} as_of={run.as_of.isoformat()}",
            ),
        )
    return run


def execute_run(run_id: int) -> str:
    """The task a worker runs: one attempt of a queued run (nothing if it is not waiting)."""
    run = JobRun.objects.filter(pk=run_id).first()
    if run is None:
        return f"run #{run_id} no longer exists"
    services.expire_abandoned(run.job)
    if not services.claim(run_id, from_status=(rules.QUEUED, rules.RETRYING)):
        run.refresh_from_db()
        return f"nothing to do: run #{run_id} is {run.status}"
    run.refresh_from_db()
    services.execute(run, rules.JOBS[run.job])
    if run.status != rules.SUCCEEDED:
        raise AttemptFailed(
            f"run #{run.pk} attempt {run.attempts} of {run.max_attempts} failed: "
            f"{run.error.splitlines()[-1] if run.error else 'no reason recorded'}"
        )
    return f"run #{run.pk} succeeded"


def scheduled_refresh() -> str:
    """The schedule's task: queue today's refresh, unless one is active (then say so)."""
    try:
        run = enqueue(rules.DAILY_REFRESH, by=None, trigger="schedule")
    except services.JobBusy as exc:
        return f"skipped: {exc}"
    return f"queued run #{run.pk}"


def next_refresh(now: dt.datetime | None = None) -> dt.datetime:
    """The next ``TANDEM_REFRESH_AT`` in ``TANDEM_TIME_ZONE`` after ``now``."""
    return schedules.next_at(settings.TANDEM_REFRESH_AT, now)


def ensure_schedule() -> Schedule:
    """The daily schedule, created once and moved when ``TANDEM_REFRESH_AT`` changed."""
    schedule: Schedule = schedules.ensure_daily(
        name=SCHEDULE_NAME,
        func="tandem.jobs.queue.scheduled_refresh",
        at=settings.TANDEM_REFRESH_AT,
    )
    return schedule
