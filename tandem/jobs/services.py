"""Running jobs and keeping their history (JobRun). Each run start is an audit event.

A job (``rules.JOBS``) runs its steps in order in the process that claims the run: the worker
(a queued run, see ``queue.py``) or the caller (:func:`run_daily_refresh`, used by
``tandem jobs run`` and the demo). At most one run of a job is active at a time — a database
constraint — so a second refresh is **refused** while one runs (:class:`JobBusy`), never run
beside it; a synchronous run takes over a run that is still waiting in the queue.

A run whose process died (Ctrl-C, a killed worker) is found by :func:`expire_abandoned` — its
process is gone from this host, or it has shown no sign of life for longer than a job may
run — and is marked failed (or waits for the queue's next attempt).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from tandem.audit import services as audit
from tandem.core.lib.cli import UsageError
from tandem.jobs import rules
from tandem.jobs.models import JobRun

# Hears (step key, line, milestone): milestones are each step's start and end.
ProgressCallback = Callable[[str, str, bool], None]


class JobBusy(UsageError):
    """A run of the job is already active: the new one is refused (one line, no patient data)."""


class NotRetryable(UsageError):
    """Only a failed run can be retried."""


def run_daily_refresh(
    *, by: Any, as_of: dt.date | None = None, on_progress: ProgressCallback | None = None
) -> JobRun:
    """Run the daily refresh now, in this process, and return its (finished) run.

    Refused with :class:`JobBusy` while another refresh runs; a refresh waiting in the queue is
    taken over (run here, for ``as_of``). A failed step leaves the run ``failed`` with its error
    (no retry: the caller sees it at once). ``on_progress`` hears each progress line.
    """
    return run_now(rules.DAILY_REFRESH, by=by, as_of=as_of, on_progress=on_progress)


def run_now(
    job: rules.Job,
    *,
    by: Any,
    as_of: dt.date | None = None,
    on_progress: ProgressCallback | None = None,
) -> JobRun:
    as_of = as_of or timezone.localdate()
    expire_abandoned(job.name)
    run = _take_over_queued(job, as_of=as_of) or create_run(
        job, by=by, as_of=as_of, status=rules.RUNNING, trigger="system" if by is None else "user"
    )
    _record_start(by, run)
    return execute(run, job, on_progress=on_progress)


def _take_over_queued(job: rules.Job, *, as_of: dt.date) -> JobRun | None:
    waiting = JobRun.objects.filter(job=job.name, status=rules.QUEUED).first()
    if waiting is None or not claim(waiting.pk, from_status=(rules.QUEUED,)):
        return None
    JobRun.objects.filter(pk=waiting.pk).update(as_of=as_of, max_attempts=F("attempts"))
    return JobRun.objects.get(pk=waiting.pk)


def create_run(
    job: rules.Job,
    *,
    by: Any,
    as_of: dt.date,
    status: str,
    trigger: str,
    max_attempts: int = 1,
    retry_of: JobRun | None = None,
) -> JobRun:
    """A new run, or :class:`JobBusy` when one is active (the constraint decides, so two
    callers at the same moment cannot both start one)."""
    now = timezone.now()
    running = status == rules.RUNNING
    try:
        with transaction.atomic():
            return JobRun.objects.create(
                job=job.name,
                status=status,
                as_of=as_of,
                trigger=trigger,
                triggered_by=by if getattr(by, "is_authenticated", False) else None,
                retry_of=retry_of,
                attempts=1 if running else 0,
                max_attempts=max_attempts,
                queued_at=now,
                started_at=now if running else None,
                heartbeat_at=now if running else None,
                runner=_me() if running else "",
            )
    except IntegrityError:
        raise JobBusy(busy_message(job)) from None


def busy_message(job: rules.Job) -> str:
    active = JobRun.objects.filter(job=job.name, status__in=rules.ACTIVE).first()
    if active is None:  # finished meanwhile
        return f"another {job.title.lower()} was starting; try again"
    what = {
        rules.QUEUED: "is queued (waiting for a worker: `tandem serve` or `tandem jobs worker`)",
        rules.RUNNING: "is running",
        rules.RETRYING: "failed and waits for its next attempt",
    }[active.status]
    return f"a {job.title.lower()} {what}: run #{active.pk}"


def _record_start(by: Any, run: JobRun) -> None:
    audit.record(
        actor=by,
        entry=audit.Entry(
            "job-run",
            "written",
            None,
            "",
            "operations",
            f"job={run.job} run={run.pk} trigger={run.trigger} as_of={run.as_of.isoformat()}",
        ),
    )


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(run_id: int, *, from_status: tuple[str, ...]) -> bool:
    """Make this process the run's runner, for one more attempt, if it is in ``from_status``."""
    now = timezone.now()
    return bool(
        JobRun.objects.filter(pk=run_id, status__in=from_status).update(
            status=rules.RUNNING,
            attempts=F("attempts") + 1,
            started_at=now,
            finished_at=None,
            heartbeat_at=now,
            runner=_me(),
            progress="",
        )
    )


def execute(run: JobRun, job: rules.Job, *, on_progress: ProgressCallback | None = None) -> JobRun:
    """Run every step of ``job`` for ``run`` (already claimed by this process), in order.

    The first step that raises ends the run: it is marked failed with :func:`describe_error`,
    and the run becomes ``retrying`` when the queue will try again, else ``failed``. Ctrl-C
    marks it failed ("interrupted") and goes on up.
    """
    log = _RunLog(run, job, on_progress)
    try:
        for index, step in enumerate(job.steps):
            if not log.run_step(index, step):
                break
        else:
            log.finish(rules.SUCCEEDED)
    except BaseException:
        log.finish(rules.FAILED, error="interrupted before it finished")
        raise
    return run


class _RunLog:
    """Keeps ``run.steps`` and ``run.progress`` up to date, written at most once a second
    (and at each step's start and end)."""

    def __init__(self, run: JobRun, job: rules.Job, on_progress: ProgressCallback | None) -> None:
        self.run = run
        self.on_progress = on_progress
        self.written = 0.0
        self.current = 0
        run.steps = [
            {"key": s.key, "label": s.label, "status": rules.PENDING, "counts": {}, "log": []}
            for s in job.steps
        ]
        self.save()

    def save(self) -> None:
        self.written = time.monotonic()
        self.run.heartbeat_at = timezone.now()
        self.run.save(update_fields=["steps", "progress", "heartbeat_at", "status", "error"])

    def line(self, text: str) -> None:
        """The ``progress`` callback a step gets."""
        text = " ".join(str(text).split())[:200]
        entry = self.run.steps[self.current]
        entry["log"] = [*entry["log"], text][-rules.LOG_LINES :]
        self.run.progress = f"{entry['label']}: {text}"[:300]
        if self.on_progress:
            self.on_progress(entry["key"], text, False)
        if time.monotonic() - self.written >= rules.PROGRESS_EVERY:
            self.save()

    def run_step(self, index: int, step: rules.Step) -> bool:
        self.current = index
        entry = self.run.steps[index]
        entry.update(status=rules.RUNNING, started=timezone.now().isoformat())
        self.run.progress = f"{step.label}: started"
        self.save()
        self._tell(step, f"{step.label}: started")
        started = time.monotonic()
        try:
            function = import_string(step.function)
        except ImportError as exc:
            return self._fail(index, step, started, f"{step.function} is not available ({exc})")
        try:
            # In a caller's transaction (tests, a command), a savepoint keeps a failed step
            # from poisoning it; otherwise a step that is not atomic commits on its own.
            atomic = step.atomic or connection.in_atomic_block
            with transaction.atomic() if atomic else nullcontext():
                counts = function(as_of=self.run.as_of, progress=self.line)
        except Exception as exc:
            return self._fail(index, step, started, describe_error(exc))
        entry.update(
            status=rules.SUCCEEDED,
            counts={str(k): int(v) for k, v in (counts or {}).items()},
            **_ended(started),
        )
        self.save()
        shown = " ".join(f"{k}={v}" for k, v in entry["counts"].items())
        self._tell(step, f"{step.label}: done in {entry['seconds']:.1f} s  {shown}".rstrip())
        return True

    def _tell(self, step: rules.Step, line: str) -> None:
        if self.on_progress:
            self.on_progress(step.key, line, True)

    def _fail(self, index: int, step: rules.Step, started: float, error: str) -> bool:
        self.run.steps[index].update(status=rules.FAILED, error=error, **_ended(started))
        self._tell(step, f"{step.label}: FAILED: {error}")
        for later in self.run.steps[index + 1 :]:
            later["status"] = rules.SKIPPED
        self.finish(self._failed_status(), error=f"{step.label}: {error}")
        return False

    def _failed_status(self) -> str:
        retries_left = self.run.task_id and self.run.attempts < self.run.max_attempts
        return rules.RETRYING if retries_left else rules.FAILED

    def finish(self, status: str, *, error: str = "") -> None:
        run = self.run
        run.status = status
        if error:
            prefix = f"attempt {run.attempts}: " if run.max_attempts > 1 else ""
            run.error = "\n".join(filter(None, [run.error, prefix + error]))[-4000:]
        for entry in run.steps:
            if entry["status"] == rules.RUNNING:
                entry["status"] = rules.FAILED
        if status == rules.RETRYING:
            run.progress = f"attempt {run.attempts} of {run.max_attempts} failed; will retry"
        elif status in (rules.SUCCEEDED, rules.FAILED):
            run.finished_at = timezone.now()
            run.progress = "" if status == rules.SUCCEEDED else run.progress
        run.save(update_fields=["steps", "progress", "status", "error", "finished_at"])


def _ended(started: float) -> dict[str, Any]:
    return {
        "finished": timezone.now().isoformat(),
        "seconds": round(time.monotonic() - started, 2),
    }


def describe_error(exc: BaseException) -> str:
    """What went wrong, without patient data: the exception's type and the line of Tandem's
    code it came from. Its message is kept only for a :class:`UsageError` (one line that
    Tandem writes for people: a measure version missing, value sets not loaded)."""
    if isinstance(exc, UsageError):
        return " ".join(str(exc).split())[:300]
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if _ours(f.filename)] or frames
    where = ""
    if ours:
        frame = ours[-1]
        path = Path(frame.filename)
        shown = path.relative_to(ROOT).as_posix() if _ours(frame.filename) else path.name
        where = f" at {shown}:{frame.lineno} ({frame.name})"
    return f"{type(exc).__name__}{where}"


ROOT = Path(__file__).resolve().parents[2]  # the checkout: tandem/ and tests/


def _ours(filename: str) -> bool:
    """Whether ``filename`` is the project's code (not Django's, a library's or Python's)."""
    path = Path(filename).resolve()
    return path.is_relative_to(ROOT) and not any(
        part.startswith(".") or part == "site-packages" for part in path.relative_to(ROOT).parts
    )


def expire_abandoned(job_name: str) -> int:
    """Mark runs whose process is gone: ``retrying`` when the queue will hand the run out again
    (the queue's retry is counted as an attempt), else ``failed``. Returns how many."""
    stale_after = dt.timedelta(seconds=settings.TANDEM_JOBS_TIMEOUT + 300)
    now = timezone.now()
    expired = 0
    for run in JobRun.objects.filter(job=job_name, status=rules.RUNNING):
        silent = run.heartbeat_at is None or now - run.heartbeat_at > stale_after
        if not (silent or _gone(run.runner)):
            continue
        status = rules.RETRYING if run.task_id and run.attempts < run.max_attempts else rules.FAILED
        error = f"attempt {run.attempts}: interrupted: the process running it stopped"
        expired += JobRun.objects.filter(pk=run.pk, status=rules.RUNNING).update(
            status=status,
            error="\n".join(filter(None, [run.error, error])),
            finished_at=None if status == rules.RETRYING else now,
            progress="",
        )
    return expired + _expire_unretried(job_name, now)


def _expire_unretried(job_name: str, now: dt.datetime) -> int:
    """A run waiting to retry that the queue has not handed out long after it should have
    (``Q_CLUSTER["retry"]`` after the attempt started, plus 10 minutes: its task was lost or
    django-q2 gave up first) is failed, so that it cannot block the job for good."""
    overdue = now - dt.timedelta(seconds=settings.Q_CLUSTER["retry"] + 600)
    return JobRun.objects.filter(
        job=job_name, status=rules.RETRYING, heartbeat_at__lt=overdue
    ).update(status=rules.FAILED, finished_at=now, progress="")


def _gone(runner: str) -> bool:
    """Whether ``host:pid`` names a process on this host that no longer exists."""
    host, _, pid = runner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
