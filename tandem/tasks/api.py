"""API router for tasks (``/api/tasks``): my tasks, one task, create, claim, complete.

Thin handlers over ``tasks.queries`` (the consent gate) and ``tasks.services``. Reads need a
token with ``tasks:read``, writes ``tasks:write`` (a signed-in session may call both). A task
the caller may not look at and one that does not exist are the same audited 404; an action
the caller may not take is 403; a change the task's state refuses (a done task claimed, a
stale ``version``) is 409; bad input 400 naming the field — all ``application/problem+json``.
A task whose patient or label the caller may not see is listed as ``"Protected task"`` with
``patient_id`` and ``detail`` null (``protected: true``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from tandem.api import (
    ApiProblem,
    Page,
    PageQuery,
    audit_detail,
    caller,
    not_found_patient,
    page_of,
    record_read,
    requires,
)
from tandem.consent import redisclosure
from tandem.core.forms import MAX_ID
from tandem.tasks import queries, rules, services
from tandem.tasks.models import Queue, Task

router = Router()

NO_NUL = r"^[^\x00]*$"


class TaskOut(Schema):
    id: int
    title: str
    protected: bool = Field(description="True when you may not see its patient or subject")
    patient_id: int | None
    detail: str | None
    status: str
    priority: str
    due: dt.date | None
    overdue: bool
    owner: str | None = Field(description="User name of the person holding it")
    queue: str | None = Field(description="Key of the queue holding it (unclaimed)")
    claimed_from: str | None = Field(description="Key of the queue it was claimed from")
    source: str
    source_ref: str
    outcome: str | None
    version: int = Field(description="Send it back with an action to refuse a stale change")
    created_at: dt.datetime
    updated_at: dt.datetime
    redisclosure_notice: str | None = Field(
        None, description="The 42 CFR 2.32 notice when the task is Part 2 data you may see"
    )


class TaskPage(Page[TaskOut]):
    redisclosure_notice: str | None = Field(
        None, description="The 42 CFR 2.32 notice when a listed task is Part 2 data"
    )


class ListQuery(PageQuery):
    status: str = Field("active", pattern="^(active|all|open|in-progress|done|cancelled)$")
    priority: str = Field("", pattern="^(|low|normal|high|urgent)$")
    overdue: bool = False
    due_today: bool = False
    holder: str = Field("", pattern="^(|mine|queue)$")
    sort: str = Field(rules.DEFAULT_SORT, pattern="^(due|-due|priority|created|-created)$")


class TaskIn(Schema):
    title: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    patient_id: int | None = Field(None, ge=1, le=MAX_ID)
    queue: str | None = Field(None, max_length=60, description="Queue key (or give owner)")
    owner: str | None = Field(None, max_length=150, description="User name; default: you")
    due: dt.date | None = None
    priority: str = Field("normal", pattern="^(low|normal|high|urgent)$")
    detail: str = Field("", max_length=4000, pattern=NO_NUL)


class VersionIn(Schema):
    version: int | None = Field(None, ge=1, description="The version you saw (optional)")


class CompleteIn(VersionIn):
    outcome: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)


def _out(task: Task, *, shown: bool, title: str | None = None) -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "id": task.pk,
        "title": (title or task.title) if shown else queries.PROTECTED_TITLE,
        "protected": not shown,
        "patient_id": task.patient_id if shown else None,
        "detail": task.detail if shown and title is None else None,
        "status": task.status,
        "priority": task.priority,
        "due": task.due,
        "overdue": rules.is_overdue(due=task.due, status=task.status, today=today),
        "owner": task.owner.get_username() if task.owner else None,
        "queue": task.queue.key if task.queue else None,
        "claimed_from": task.claimed_from.key if task.claimed_from else None,
        "source": task.source,
        "source_ref": task.source_ref if shown else "",
        "outcome": task.outcome if shown and title is None else None,
        "version": task.version,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "redisclosure_notice": redisclosure.for_rows([task] if shown else []) or None,
    }


def _not_found() -> ApiProblem:
    return ApiProblem(404, "task-not-found", "No task with this id that you may see.")


def _detail(request: HttpRequest, task_id: int) -> queries.TaskDetail:
    if task_id > MAX_ID:
        raise _not_found()
    try:
        return queries.task_detail(user=caller(request).user, pk=task_id)
    except queries.NotFound:
        raise _not_found() from None


def _refused(error: Exception) -> ApiProblem:
    if isinstance(error, services.TaskForbidden):
        return ApiProblem(403, "task-forbidden", str(error))
    assert isinstance(error, services.TaskError)
    if error.code == "invalid":
        return ApiProblem(400, "validation-error", error.message)
    return ApiProblem(409, f"task-{error.code}", error.message)


@router.get("", response=TaskPage, auth=requires("tasks:read"), summary="My tasks")
def my_tasks(request: HttpRequest, q: Query[ListQuery]) -> dict[str, Any]:
    """Tasks you hold and tasks waiting in your team queues (default: open or in progress,
    soonest due first). Each listed patient is audited."""
    filters = queries.Filters(
        status=q.status,
        priority=q.priority,
        overdue=q.overdue,
        due_today=q.due_today,
        holder=q.holder,
        sort=q.sort,
        page=q.page,
        page_size=q.page_size,
    )
    listing = queries.my_tasks(
        user=caller(request).user, filters=filters, detail=audit_detail(request, "my tasks")
    )
    items = [_out(r.task, shown=r.shown, title=r.title) for r in listing.rows]
    if not any(r.patient is not None for r in listing.rows):
        record_read(request, "my tasks listed no patient")
    notice = redisclosure.for_rows([r.task for r in listing.rows if r.shown]) or None
    return {**page_of(request, listing.page, items), "redisclosure_notice": notice}


@router.get("/{int:task_id}", response=TaskOut, auth=requires("tasks:read"), summary="A task")
def get_task(request: HttpRequest, task_id: int) -> dict[str, Any]:
    found = _detail(request, task_id)
    if found.task.patient_id is None:
        record_read(request, f"task {task_id}")
    return _out(found.task, shown=found.shown)


@router.post("", response={201: TaskOut}, auth=requires("tasks:write"), summary="Create a task")
def create_task(request: HttpRequest, body: TaskIn) -> Status:
    """A manual task for a person (default: you) or a team queue, optionally about a patient
    you may see (else 404, audited)."""
    user = caller(request).user
    patient = None
    if body.patient_id is not None:
        patient = queries.patient_for_task(user=user, patient_id=body.patient_id)
        if patient is None:
            raise not_found_patient()
    queue = owner = None
    if body.queue and body.owner:
        raise ApiProblem(400, "validation-error", "owner: give a queue or an owner, not both")
    if body.queue:
        queue = Queue.objects.filter(key=body.queue).first()
        if queue is None:
            raise ApiProblem(400, "validation-error", "queue: no queue with this key")
    else:
        owner = services.active_user(body.owner) if body.owner else user
        if owner is None:
            raise ApiProblem(400, "validation-error", "owner: no active user with this name")
    try:
        task = services.create_task(
            by=user,
            patient=patient,
            title=body.title,
            queue=queue,
            owner=owner,
            due=body.due,
            priority=body.priority,
            detail=body.detail,
        )
    except services.TaskError as error:
        raise _refused(error) from None
    return Status(201, _out(task, shown=True))


@router.post(
    "/{int:task_id}/claim", response=TaskOut, auth=requires("tasks:write"), summary="Claim"
)
def claim(
    request: HttpRequest, task_id: int, version: int | None = Query(None, ge=1)
) -> dict[str, Any]:
    """Take a task waiting in one of your queues (no body; ``?version=`` refuses a stale
    claim); claiming your own task again changes nothing."""
    found = _detail(request, task_id)
    try:
        task = services.claim_task(by=caller(request).user, task=found.task, version=version)
    except (services.TaskError, services.TaskForbidden) as error:
        raise _refused(error) from None
    return _out(task, shown=found.shown)


@router.post(
    "/{int:task_id}/complete", response=TaskOut, auth=requires("tasks:write"), summary="Complete"
)
def complete(request: HttpRequest, task_id: int, body: CompleteIn) -> dict[str, Any]:
    """Close the task as done with its outcome (required)."""
    found = _detail(request, task_id)
    try:
        task = services.complete_task(
            by=caller(request).user, task=found.task, outcome=body.outcome, version=body.version
        )
    except (services.TaskError, services.TaskForbidden) as error:
        raise _refused(error) from None
    return _out(task, shown=found.shown)
