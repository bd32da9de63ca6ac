"""Task pages: My tasks, a team queue, one task with its actions. Parse → call → render.

Actions (claim, start, reassign, complete, cancel) are POST forms that carry the task's
``version``: htmx swaps the task panel in place; without htmx the browser is redirected back
(post/redirect/get). A second submission of the same form finds the version stale and writes
nothing. A task or queue the reader may not look at is a 404 (audited); an action they may not
take, 403 (audited); a malformed filter or a missing outcome, 400 naming the field.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from tandem.consent import redisclosure
from tandem.core.forms import MAX_ID
from tandem.core.views import HtmxHttpRequest, bad_request
from tandem.tasks import forms, queries, services
from tandem.tasks.models import Queue, Task


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "404.html", status=404)


def _list_context(request: HttpRequest, form: forms.ListForm, listing: queries.Listing) -> dict:  # type: ignore[type-arg]
    return {
        "form": form,
        "listing": listing,
        "page": listing.page,
        "query": _query_without_page(request),
        "next_url": request.get_full_path(),
        "redisclosure": redisclosure.for_rows([r.task for r in listing.rows if r.shown]),
        "filtered": any(
            request.GET.get(name) for name in ("priority", "overdue", "due_today", "holder")
        )
        or request.GET.get("status", "active") not in ("", "active"),
    }


@require_GET
@login_required
def my_tasks(request: HtmxHttpRequest) -> HttpResponse:
    """My tasks: the tasks I own and those waiting in my queues; my queues beside them."""
    form = forms.ListForm(request.GET)
    if not form.is_valid():
        return bad_request(request, form.problems())
    listing = queries.my_tasks(user=request.user, filters=form.filters())
    context = _list_context(request, form, listing)
    if request.htmx:
        return render(request, "tasks/_list.html", context)
    context["queues"] = queries.queues_of(user=request.user)
    context["counts"] = queries.task_counts(user=request.user)
    return render(request, "tasks/my_tasks.html", context)


@require_GET
@login_required
def queue(request: HtmxHttpRequest, key: str) -> HttpResponse:
    """A team queue: its waiting tasks and those its members claimed from it."""
    form = forms.ListForm(request.GET)
    if not form.is_valid():
        return bad_request(request, form.problems())
    try:
        view = queries.queue_view(user=request.user, key=key)
    except queries.NotFound:
        return _not_found(request)
    listing = queries.queue_tasks(user=request.user, view=view, filters=form.filters())
    context = _list_context(request, form, listing) | {"queue_view": view, "queue": view.queue}
    context["breadcrumbs"] = [("My tasks", reverse("tasks")), (view.queue.name, None)]
    template = "tasks/_list.html" if request.htmx else "tasks/queue.html"
    return render(request, template, context)


def _detail(request: HttpRequest, pk: int) -> queries.TaskDetail | None:
    if pk > MAX_ID:
        return None
    try:
        return queries.task_detail(user=request.user, pk=pk)
    except queries.NotFound:
        return None


@require_GET
@login_required
def detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One task: details, history and the actions the reader may take."""
    found = _detail(request, pk)
    if found is None:
        return _not_found(request)
    return render(request, "tasks/detail.html", _detail_context(found))


def _detail_context(found: queries.TaskDetail, **extra: Any) -> dict[str, Any]:
    trail: list[tuple[str, str | None]] = [("My tasks", reverse("tasks"))]
    queue = found.task.queue or found.task.claimed_from
    if queue is not None:
        trail.append((queue.name, reverse("task-queue", args=[queue.key])))
    trail.append((f"Task {found.task.pk}", None))
    notice = redisclosure.for_rows([found.task] if found.shown else [])
    return {
        "detail": found,
        "task": found.task,
        "breadcrumbs": trail,
        "redisclosure": notice,
        **extra,
    }


def _panel(
    request: HtmxHttpRequest, pk: int, *, status: int = 200, problems: Any = None
) -> HttpResponse:
    found = _detail(request, pk)
    if found is None:
        return _not_found(request)
    context = _detail_context(found, problems=problems)
    if request.htmx:
        return render(request, "tasks/_task.html", context, status=status)
    if status == 400:
        return render(request, "tasks/detail.html", context, status=400)
    return redirect("task-detail", pk=pk)


def _act(request: HtmxHttpRequest, pk: int, form: forms.ActionForm, action: Any) -> HttpResponse:
    """Validate ``form``, run ``action(task, data)``; answer with the panel or a redirect."""
    found = _detail(request, pk)
    if found is None:
        return _not_found(request)
    if not form.is_valid():
        return _panel(request, pk, status=400, problems=form.problems())
    data = form.cleaned_data
    try:
        action(found.task, data)
    except services.TaskForbidden as refused:
        return render(request, "403.html", {"message": str(refused)}, status=403)
    except services.TaskError as error:
        if error.code == "invalid":
            return _panel(request, pk, status=400, problems=[("Task", error.message)])
        messages.warning(request, error.message)
        return _after(request, pk)
    return _after(request, pk)


def _after(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    next_url = request.POST.get("next", "")
    if (
        not request.htmx
        and next_url
        and url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return redirect(next_url)
    return _panel(request, pk)


@require_POST
@login_required
def claim(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def action(task: Task, data: dict) -> None:  # type: ignore[type-arg]
        services.claim_task(by=request.user, task=task, version=data["version"])
        messages.success(request, "You claimed the task.")

    return _act(request, pk, forms.ActionForm(request.POST), action)


@require_POST
@login_required
def start(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def action(task: Task, data: dict) -> None:  # type: ignore[type-arg]
        services.start_task(by=request.user, task=task, version=data["version"])

    return _act(request, pk, forms.ActionForm(request.POST), action)


@require_POST
@login_required
def complete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def action(task: Task, data: dict) -> None:  # type: ignore[type-arg]
        services.complete_task(
            by=request.user, task=task, outcome=data["outcome"], version=data["version"]
        )
        messages.success(request, "Task completed.")

    return _act(request, pk, forms.CompleteForm(request.POST), action)


@require_POST
@login_required
def cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def action(task: Task, data: dict) -> None:  # type: ignore[type-arg]
        services.cancel_task(
            by=request.user, task=task, reason=data["reason"], version=data["version"]
        )
        messages.success(request, "Task cancelled.")

    return _act(request, pk, forms.CancelForm(request.POST), action)


@require_POST
@login_required
def reassign(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def action(task: Task, data: dict) -> None:  # type: ignore[type-arg]
        to_queue = to_user = None
        if data["to_queue"]:
            to_queue = Queue.objects.filter(key=data["to_queue"]).first()
            if to_queue is None:
                raise services.TaskError("invalid", "Team queue: no such queue.")
        else:
            to_user = services.active_user(data["to_user"])
            if to_user is None:
                raise services.TaskError("invalid", "Person: no active user with that name.")
        services.reassign_task(
            by=request.user,
            task=task,
            to_user=to_user,
            to_queue=to_queue,
            note=data["note"],
            version=data["version"],
        )
        messages.success(request, f"Task handed to {to_user or to_queue}.")

    return _act(request, pk, forms.ReassignForm(request.POST), action)


@require_GET
@login_required
def home_panel(request: HtmxHttpRequest) -> HttpResponse:
    """The home page's task numbers, each linking to its list (for htmx or an include)."""
    counts = queries.task_counts(user=request.user)
    return render(request, "tasks/_home_panel.html", {"task_counts": counts})
