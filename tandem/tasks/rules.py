"""Task rules as data and small functions: priorities, sort keys, who may act, who may look.

- **Act** (claim, reassign, start, complete, cancel): the task's owner; the members of the
  queue that holds it, or that it was claimed from (a teammate can take over); the system.
- **Look at a queue**: its members, and the leaders (operations role) of the queue's site —
  read-only: they see the queue's work to run the clinic but change nothing.
- **Overdue**: due before today and neither done nor cancelled.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

PRIORITY_RANK: dict[str, int] = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
STATUSES = ("open", "in-progress", "done", "cancelled")
ACTIVE_STATUSES = ("open", "in-progress")
SOURCES = ("worklist-item", "alert", "referral", "huddle", "engagement", "manual")

# Requests whose requester is not named on the task: a primary-care engagement request comes from
# a behavioral-health user, and naming that person (a Part 2 counselor, say) to the primary-care
# queue would disclose the patient's treatment there (42 CFR Part 2). The audit trail keeps the
# real actor; the task's history shows this instead to everyone but the requester.
REQUESTER_SHOWN_AS: dict[str, str] = {"engagement": "Care coordination request"}
# Sort keys a list accepts (anything else is refused with 400): key -> ORM ordering.
SORTS: dict[str, tuple[str, ...]] = {
    "due": ("due", "priority_rank", "pk"),
    "-due": ("-due", "priority_rank", "pk"),
    "priority": ("priority_rank", "due", "pk"),
    "created": ("created_at", "pk"),
    "-created": ("-created_at", "-pk"),
}
DEFAULT_SORT = "due"
# Status filter values: the task statuses, "active" (open or in progress, the default) and "all".
STATUS_FILTERS = ("active", "all", *STATUSES)


def check_new(*, title: str, queue: Any, owner: Any, priority: str, source: str) -> None:
    """Refuse a new task that would break a rule, naming the field."""
    from tandem.tasks.services import TaskError

    if not title:
        raise TaskError("invalid", "title: a task needs a title")
    if (queue is None) == (owner is None):
        raise TaskError("invalid", "owner: give either a person or a queue (exactly one)")
    if priority not in PRIORITY_RANK:
        raise TaskError("invalid", f"priority: one of {', '.join(PRIORITY_RANK)}")
    if source not in SOURCES:
        raise TaskError("invalid", f"source: one of {', '.join(SOURCES)}")


def member_queue_ids(user: Any) -> set[int]:
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    return set(user.task_queues.values_list("pk", flat=True))


def may_act(user: Any, task: Any, queue_ids: set[int] | None = None) -> bool:
    """Whether ``user`` may change ``task`` (``None`` is the system, which may)."""
    if user is None:
        return True
    if not getattr(user, "is_authenticated", False):
        return False
    if task.owner_id is not None and task.owner_id == user.pk:
        return True
    queue_ids = member_queue_ids(user) if queue_ids is None else queue_ids
    return bool({task.queue_id, task.claimed_from_id} & queue_ids)


def is_overdue(*, due: dt.date | None, status: str, today: dt.date) -> bool:
    return due is not None and due < today and status in ACTIVE_STATUSES
