"""Writes about tasks and queues: plain keyword-only functions with an explicit actor.

Every change locks the task row, checks who may act and the task's state, bumps ``version``,
appends a :class:`TaskEvent` and records an audit event, all in the caller's transaction.
Referrals, screening alerts, huddles, worklist escalations and the chart's engagement prompt
create their tasks through :func:`create_task`.

Who may act on a task (``rules.may_act``): its owner, and the members of the queue that holds
it or that it was claimed from; the system (``by=None``). A site's leaders read the site's
queues but do not act. A refusal raises :class:`TaskForbidden`; a state that does not allow the
change (a done task claimed again, a stale form) raises :class:`TaskError` with a message to
show as it is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from tandem.audit import services as audit
from tandem.consent import rules as labels
from tandem.core.models import Sensitivity, Site
from tandem.tasks import queries, rules
from tandem.tasks.models import Queue, Task, TaskEvent


class TaskError(ValueError):
    """The task's state does not allow this change. ``code``: invalid, closed, claimed, stale."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TaskForbidden(PermissionError):
    """The actor may not act on this task (not its owner nor a member of its queue)."""


def _audit(by: Any, action: str, task: Task, detail: str = "") -> None:
    audit.record(
        actor=by,
        entry=audit.Entry(
            f"write:{action}",
            "written",
            task.patient_id,
            "tasks",
            "treatment" if task.patient_id else "",
            f"task={task.pk} {detail}".strip()[:400],
        ),
    )


def _event(task: Task, by: Any, action: str, **kw: str) -> TaskEvent:
    return TaskEvent.objects.create(task=task, by=by, action=action, **kw)


def _locked(task: Task, version: int | None) -> Task:
    """The task re-read under a row lock; a stale ``version`` (a form sent twice) is refused."""
    current = queries.locked_task(pk=task.pk)
    if version is not None and current.version != version:
        raise TaskError(
            "stale", "This task changed since you opened it; nothing was saved. Look again."
        )
    return current


def _check_may_act(by: Any, task: Task) -> None:
    if not rules.may_act(by, task):
        audit.record(
            actor=by,
            entry=audit.Entry(
                "write:task", "denied", task.patient_id, "tasks", "treatment", f"task={task.pk}"
            ),
        )
        raise TaskForbidden("Only the task's owner or a member of its queue may change it.")


def _check_open(task: Task, doing: str) -> None:
    if task.is_closed:
        raise TaskError(
            "closed", f"This task is {task.get_status_display().lower()}; it cannot be {doing}."
        )


def _save(task: Task, fields: list[str]) -> None:
    task.version += 1
    task.save(update_fields=[*fields, "version", "updated_at"])


def create_task(
    *,
    by: Any,
    patient: Any = None,
    title: str,
    queue: Queue | None = None,
    owner: Any = None,
    due: dt.date | None = None,
    priority: str = "normal",
    source: str = "manual",
    source_ref: str = "",
    detail: str = "",
    sensitivity: str | None = None,
) -> Task:
    """Create a task held by ``owner`` or ``queue`` (exactly one). Raises TaskError on bad input.

    ``sensitivity``: the label, when the caller knows it (a worklist item's own label; a
    neutral request that must reach primary care), raised if the holding queue's site protects
    more; otherwise ``consent.rules.label_task`` derives it from the creator's unit and the
    queue's site. Must run inside a transaction (later changes lock the row).
    """
    title = (title or "").strip()
    rules.check_new(title=title, queue=queue, owner=owner, priority=priority, source=source)
    if sensitivity is not None and sensitivity not in Sensitivity.values:
        raise TaskError("invalid", f"sensitivity: unknown label {sensitivity!r}")
    task = Task(
        patient=patient,
        title=title[:200],
        detail=detail,
        queue=queue,
        owner=owner,
        due=due,
        priority=priority,
        priority_rank=rules.PRIORITY_RANK[priority],
        source=source,
        source_ref=source_ref[:100],
        created_by=by,
        sensitivity=sensitivity or "",
    )
    if sensitivity is not None:
        _raise_label(task)
    task.save()
    _event(task, by, "created", field="holder", to_value=task.holder[:200])
    _audit(
        by,
        "create_task",
        task,
        f"holder={'user=' + str(owner.pk) if owner else 'queue=' + queue.key} "  # type: ignore[union-attr]
        f"source={source} ref={source_ref[:60]} priority={priority}",
    )
    return task


def claim_task(*, by: Any, task: Task, version: int | None = None) -> Task:
    """Take a queue task as its owner; it stays linked to its queue (``claimed_from``).

    Claiming a task one already owns is a no-op (a double click writes once).
    """
    task = _locked(task, version)
    if task.status == Task.Status.DONE:
        raise TaskError("closed", "This task is already done; a completed task cannot be claimed.")
    _check_open(task, "claimed")
    if task.owner_id is not None and task.owner_id == getattr(by, "pk", None):
        return task
    if task.queue_id is None:
        raise TaskError(
            "claimed",
            f"This task is already held by {task.owner.get_username()}.",  # type: ignore[union-attr]
        )
    _check_may_act(by, task)
    queue = task.queue
    task.owner, task.queue, task.claimed_from = by, None, queue
    task.status = Task.Status.IN_PROGRESS
    _save(task, ["owner", "queue", "claimed_from", "status"])
    _event(task, by, "claimed", field="holder", from_value=str(queue), to_value=by.get_username())
    _audit(by, "claim_task", task, f"from_queue={queue.key}")  # type: ignore[union-attr]
    return task


def reassign_task(
    *,
    by: Any,
    task: Task,
    to_user: Any = None,
    to_queue: Queue | None = None,
    note: str = "",
    version: int | None = None,
) -> Task:
    """Hand the task to a person or a queue (exactly one). A person's task stays linked to the
    queue it came from; a task handed to a queue is open again for its members to claim."""
    if (to_user is None) == (to_queue is None):
        raise TaskError("invalid", "to: give either a person or a queue to reassign to")
    task = _locked(task, version)
    _check_open(task, "reassigned")
    _check_may_act(by, task)
    before = task.holder
    if to_user is not None:
        if not getattr(to_user, "is_active", False):
            raise TaskError("invalid", "to: that person cannot sign in any more")
        task.claimed_from = task.queue or task.claimed_from
        task.owner, task.queue = to_user, None
    else:
        task.owner, task.queue, task.claimed_from = None, to_queue, None
        _raise_label(task)
    task.status = Task.Status.OPEN
    _save(task, ["owner", "queue", "claimed_from", "status", "sensitivity"])
    _event(
        task, by, "reassigned", field="holder", from_value=before, to_value=task.holder, note=note
    )
    target = f"user={to_user.pk}" if to_user is not None else f"queue={to_queue.key}"  # type: ignore[union-attr]
    _audit(by, "reassign_task", task, target)
    return task


def _raise_label(task: Task) -> None:
    """A queue of a protected site raises the task's unit label; nothing lowers it."""
    units = (Sensitivity.NORMAL, Sensitivity.MENTAL_HEALTH, Sensitivity.SUBSTANCE_USE)
    if task.sensitivity in units:
        task.sensitivity = labels.most_protected([task.sensitivity, labels.label_task_holder(task)])


def start_task(*, by: Any, task: Task, version: int | None = None) -> Task:
    """Mark one's own open task as in progress."""
    task = _locked(task, version)
    _check_open(task, "started")
    _check_may_act(by, task)
    if task.status == Task.Status.IN_PROGRESS:
        return task
    task.status = Task.Status.IN_PROGRESS
    _save(task, ["status"])
    _event(task, by, "started", field="status", from_value="open", to_value="in-progress")
    _audit(by, "start_task", task)
    return task


def complete_task(*, by: Any, task: Task, outcome: str, version: int | None = None) -> Task:
    """Close the task as done with its outcome (required). A queue task is claimed on the way."""
    outcome = (outcome or "").strip()
    if not outcome:
        raise TaskError("invalid", "outcome: say what was done (required to complete a task)")
    task = _locked(task, version)
    if task.status == Task.Status.DONE:
        raise TaskError("closed", "This task is already done.")
    _check_open(task, "completed")
    _check_may_act(by, task)
    before = task.status
    if task.queue_id is not None and by is not None:
        task.owner, task.claimed_from, task.queue = by, task.queue, None
    task.status, task.outcome, task.closed_at = Task.Status.DONE, outcome, timezone.now()
    _save(task, ["owner", "queue", "claimed_from", "status", "outcome", "closed_at"])
    _event(task, by, "completed", field="status", from_value=before, to_value="done", note=outcome)
    _audit(by, "complete_task", task)
    return task


def cancel_task(*, by: Any, task: Task, reason: str, version: int | None = None) -> Task:
    """Close the task as cancelled, with a reason (required)."""
    reason = (reason or "").strip()
    if not reason:
        raise TaskError("invalid", "reason: say why the task is cancelled (required)")
    task = _locked(task, version)
    _check_open(task, "cancelled")
    _check_may_act(by, task)
    before = task.status
    task.status, task.outcome, task.closed_at = Task.Status.CANCELLED, reason, timezone.now()
    _save(task, ["status", "outcome", "closed_at"])
    _event(
        task, by, "cancelled", field="status", from_value=before, to_value="cancelled", note=reason
    )
    _audit(by, "cancel_task", task)
    return task


def queue_for(*, site: Site | None, kind: str) -> Queue:
    """The queue of this kind at this site, created (with no members) the first time."""
    if kind not in Queue.Kind.values:
        raise TaskError("invalid", f"kind: unknown queue kind {kind!r}")
    label = Queue.Kind(kind).label
    key = f"{site.code}-{kind}" if site is not None else kind
    name = f"{site.name} – {label}" if site is not None else label
    if site is not None:
        # One queue per site and kind (a database constraint): found by those, whatever its
        # key (a queue made by hand or by an import may have another), never created twice.
        existing = Queue.objects.filter(site=site, kind=kind).first()
        if existing is not None:
            return existing
    queue, created = Queue.objects.get_or_create(
        key=key, defaults={"name": name, "kind": kind, "site": site}
    )
    if created:
        audit.record(
            actor=None,
            entry=audit.Entry("write:create_queue", "written", detail=f"queue={queue.key}"),
        )
    return queue


def supervisor_queue(*, site: Site | None) -> Queue:
    """Where escalations go: the site's supervisors queue (outreach protocol exhausted…)."""
    return queue_for(site=site, kind=Queue.Kind.SUPERVISORS)


def set_members(*, by: Any, queue: Queue, users: list[Any]) -> Queue:
    """Make ``users`` the queue's members (who may claim and act on its tasks). Setting the
    members it has already writes nothing."""
    if set(queue.members.values_list("pk", flat=True)) == {u.pk for u in users}:
        return queue
    queue.members.set(users)
    audit.record(
        actor=by,
        entry=audit.Entry(
            "write:set_queue_members",
            "written",
            detail=f"queue={queue.key} users={','.join(str(u.pk) for u in users)}"[:400],
        ),
    )
    return queue


def active_user(username: str) -> Any:
    """The active user with this name (for reassigning by name), or None."""
    return get_user_model().objects.filter(username=username, is_active=True).first()


def seed_demo(*, personas: dict[str, Any]) -> None:
    """Demo queues and tasks (see ``tandem.tasks.demo``)."""
    from tandem.tasks import demo

    demo.seed(personas=personas)
