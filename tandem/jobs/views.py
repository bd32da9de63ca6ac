"""The jobs page (leaders only): the history of runs, a running one's progress, Run now, Retry.

Anyone else gets 403, and the refusal is an audit event. "Run now" and "Retry" are plain POST
forms answered with a redirect (they work without JavaScript); a double click queues one run,
since a second active run is refused by the database. A running (or queued) run's row asks for
itself again every 2 seconds (htmx) until it has finished.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from tandem.consent import gate
from tandem.core.queries import leader_site_ids
from tandem.jobs import queries, queue, rules, services
from tandem.jobs.models import JobRun

View = Callable[..., HttpResponse]
WAITING_HINT_AFTER = 60  # seconds a run may wait in the queue before the page says why


def leaders_only(view: View) -> View:
    """403 (audited) unless the user has a leader or quality role at a site."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not leader_site_ids(request.user):
            gate.deny(
                user=request.user,
                patient_id=None,
                purpose="operations",
                detail="jobs page: needs a leader or quality role",
            )
            return render(request, "403.html", status=403)
        return view(request, *args, **kwargs)

    return login_required(guarded)


@require_GET
@leaders_only
def jobs_page(request: HttpRequest) -> HttpResponse:
    runs = queries.history()
    context = {
        "rows": [present(run) for run in runs],
        "busy": any(run.active for run in runs),
        "next_refresh": queries.local(queue.next_refresh()),
        "refresh_at": queue.next_refresh().strftime("%H:%M"),
        "breadcrumbs": [("Jobs", None)],
    }
    return render(request, "jobs/jobs.html", context)


@require_GET
@leaders_only
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = queries.run(pk=pk)
    if run is None:
        return render(request, "404.html", status=404)
    context = {
        "row": present(run),
        "breadcrumbs": [("Jobs", reverse("jobs")), (f"Run #{run.pk}", None)],
    }
    return render(request, "jobs/detail.html", context)


@require_GET
@leaders_only
def job_row(request: HttpRequest, pk: int) -> HttpResponse:
    """One row of the history (what a running row polls for)."""
    run = queries.run(pk=pk)
    if run is None:
        return render(request, "404.html", status=404)
    return render(request, "jobs/_run_row.html", {"row": present(run)})


@require_POST
@leaders_only
def run_now(request: HttpRequest) -> HttpResponse:
    try:
        run = queue.enqueue_daily_refresh(by=request.user)
    except services.JobBusy as exc:
        messages.warning(request, f"Not queued: {exc}.")
    else:
        messages.success(request, f"Daily refresh queued as run #{run.pk}.")
    return redirect("jobs")


@require_POST
@leaders_only
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    failed = queries.run(pk=pk)
    if failed is None:
        return render(request, "404.html", status=404)
    try:
        run = queue.retry_run(by=request.user, run=failed)
    except (services.JobBusy, services.NotRetryable) as exc:
        messages.warning(request, f"Not retried: {exc}.")
    else:
        messages.success(request, f"Run #{failed.pk} retried as run #{run.pk}.")
    return redirect("jobs")


def present(run: JobRun) -> dict[str, Any]:
    """What a row shows: text for every state (never colour alone), durations, counts."""
    waited = (timezone.now() - run.queued_at).total_seconds()
    return {
        "run": run,
        "title": rules.JOBS[run.job].title if run.job in rules.JOBS else run.job,
        "status_class": STATUS_CLASS.get(run.status, "text-bg-secondary"),
        "trigger": _trigger(run),
        "queued": queries.local(run.queued_at),
        "duration": _duration(run.seconds),
        "steps": [_step(step) for step in run.steps],
        "error": run.error.splitlines()[-1] if run.error else "",
        "waiting_hint": run.status == rules.QUEUED and waited > WAITING_HINT_AFTER,
        "retryable": run.status == rules.FAILED,
    }


STATUS_CLASS = {
    rules.QUEUED: "text-bg-secondary",
    rules.RUNNING: "text-bg-primary",
    rules.RETRYING: "text-bg-warning",
    rules.SUCCEEDED: "text-bg-success",
    rules.FAILED: "text-bg-danger",
}
STEP_STATUS = {
    rules.PENDING: "waiting",
    rules.RUNNING: "running",
    rules.SUCCEEDED: "done",
    rules.FAILED: "failed",
    rules.SKIPPED: "not run",
}


def _trigger(run: JobRun) -> str:
    label = rules.TRIGGERS.get(run.trigger, run.trigger)
    if run.triggered_by is not None:
        label += f" by {run.triggered_by.get_username()}"
    if run.retry_of_id:
        label += f" (of run #{run.retry_of_id})"
    return label


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _step(step: dict[str, Any]) -> dict[str, Any]:
    return {
        "label": step.get("label", step.get("key", "")),
        "status": STEP_STATUS.get(step.get("status", ""), step.get("status", "")),
        "duration": _duration(step.get("seconds")),
        "counts": ", ".join(f"{k} {v:,}" for k, v in step.get("counts", {}).items()),
        "last": (step.get("log") or [""])[-1],
        "log": step.get("log", []),
        "error": step.get("error", ""),
    }
