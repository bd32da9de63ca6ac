"""Reads of tasks, through ``consent.gate``.

A task about a patient is *shown* to a reader when the gate lets them see that patient for
their purpose and the task's label (:func:`gate.listing_filter`, what holds whoever the
patient is; one patient's own page applies their consent directives too). Otherwise a list
shows it as "Protected task": status, priority, due date and holder only — no title, detail,
outcome or patient — and only to the people the task is assigned to (its owner, the members
of its queue) or the site leaders looking at the queue, so they know work is waiting and can
hand it to a colleague who may see it. Anyone else sees nothing of it: the outsider, who holds
no task and belongs to no queue, sees no task at all.

Titles, details and outcomes of protected tasks are never loaded: lists defer them and read
the title through a conditional annotation; patient names are read only for shown rows, and
the patients listed are audited (``gate.record_listing``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from tandem.consent import gate
from tandem.consent.models import Purpose
from tandem.core.queries import leader_site_ids, purpose_for, role_of
from tandem.registry.models import Patient
from tandem.tasks import rules
from tandem.tasks.models import Queue, Task, TaskEvent

PAGE_SIZE = 25
PROTECTED_TITLE = "Protected task"
DEFERRED = ("title", "detail", "outcome")


class NotFound(Exception):
    """No such task or queue that this reader may look at (answered as 404, audited)."""


@dataclass(frozen=True)
class Filters:
    """Validated list criteria (the view's form or the API's schema builds this)."""

    status: str = "active"
    priority: str = ""
    overdue: bool = False
    due_today: bool = False
    holder: str = ""  # "" both, "mine" held by the reader, "queue" waiting unclaimed in a queue
    sort: str = rules.DEFAULT_SORT
    page: int = 1
    page_size: int = PAGE_SIZE


@dataclass
class Row:
    """A task as a list shows it; ``title`` and ``patient`` are blank when it is protected."""

    task: Task
    shown: bool
    title: str
    patient: Any
    overdue: bool
    may_act: bool


@dataclass
class Listing:
    page: Page
    rows: list[Row]


@dataclass
class QueueView:
    queue: Queue
    may_act: bool  # members act; site leaders only read
    purpose: str


def locked_task(*, pk: int) -> Task:
    """The task row under a lock, for ``services`` (the write path; discloses nothing)."""
    return Task.objects.select_for_update(of=("self",)).select_related("owner", "queue").get(pk=pk)


def _purpose(user: Any) -> str:
    purpose = purpose_for(role_of(user))
    return purpose if purpose in (Purpose.TREATMENT, Purpose.OPERATIONS) else Purpose.TREATMENT


def _shown(user: Any, purpose: str) -> Case:
    visible = gate.visible_patients(user=user, purpose=purpose)
    allowed = Q(Exists(visible.filter(pk=OuterRef("patient_id"))))
    labels = gate.listing_filter(user=user, purpose=purpose, model=Task)
    if labels is not None:
        allowed &= labels
    return Case(
        When(Q(patient__isnull=True) | allowed, then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


def _filtered(tasks: QuerySet, filters: Filters, today: dt.date) -> QuerySet:
    if filters.status == "active":
        tasks = tasks.filter(status__in=rules.ACTIVE_STATUSES)
    elif filters.status != "all":
        tasks = tasks.filter(status=filters.status)
    if filters.priority:
        tasks = tasks.filter(priority=filters.priority)
    if filters.overdue:
        tasks = tasks.filter(due__lt=today, status__in=rules.ACTIVE_STATUSES)
    if filters.due_today:
        tasks = tasks.filter(due=today)
    if filters.holder == "queue":
        tasks = tasks.filter(queue__isnull=False)
    elif filters.holder == "mine":
        tasks = tasks.filter(owner__isnull=False)
    return tasks.order_by(*rules.SORTS[filters.sort])


def _listing(*, user: Any, tasks: QuerySet, filters: Filters, purpose: str, detail: str) -> Listing:
    today = timezone.localdate()
    tasks = (
        _filtered(tasks, filters, today)
        .defer(*DEFERRED)
        .select_related("owner", "queue", "claimed_from")
        .annotate(shown=_shown(user, purpose))
        .annotate(
            list_title=Case(
                When(shown=True, then="title"),
                default=Value(PROTECTED_TITLE),
                output_field=CharField(),
            )
        )
    )
    page = Paginator(tasks, filters.page_size).get_page(filters.page)
    items = list(page.object_list)
    patient_ids = {t.patient_id for t in items if t.shown and t.patient_id}
    patients = Patient.objects.in_bulk(patient_ids) if patient_ids else {}
    queue_ids = rules.member_queue_ids(user)
    rows = [
        Row(
            task=t,
            shown=t.shown,
            title=t.list_title,
            patient=patients.get(t.patient_id) if t.shown else None,
            overdue=rules.is_overdue(due=t.due, status=t.status, today=today),
            may_act=rules.may_act(user, t, queue_ids),
        )
        for t in items
    ]
    page.object_list = rows
    listed = [r.patient for r in rows if r.patient is not None]
    gate.record_listing(user=user, patients=listed, purpose=purpose, detail=detail)
    return Listing(page, rows)


def my_tasks(*, user: Any, filters: Filters, detail: str = "my tasks") -> Listing:
    """One page of the reader's tasks: those they own and those waiting in their queues."""
    mine = Task.objects.filter(Q(owner_id=user.pk) | Q(queue__members=user))
    return _listing(user=user, tasks=mine, filters=filters, purpose=_purpose(user), detail=detail)


def queues_of(*, user: Any) -> list[QueueView]:
    """The queues the reader belongs to, then those they may read as a leader of the site."""
    member = list(Queue.objects.filter(members=user).select_related("site"))
    ids = {q.pk for q in member}
    led = Queue.objects.filter(site_id__in=leader_site_ids(user)).exclude(pk__in=ids)
    return [QueueView(q, True, _purpose(user)) for q in member] + [
        QueueView(q, False, Purpose.OPERATIONS) for q in led.select_related("site")
    ]


def queue_view(*, user: Any, key: str) -> QueueView:
    """The queue with this key if the reader is a member or leads its site; else NotFound."""
    queue = Queue.objects.select_related("site").filter(key=key).first()
    if queue is not None and queue.members.filter(pk=user.pk).exists():
        return QueueView(queue, True, _purpose(user))
    if queue is not None and queue.site_id in leader_site_ids(user):
        return QueueView(queue, False, Purpose.OPERATIONS)
    gate.deny(user=user, patient_id=None, purpose="", detail=f"task queue {key[:60]}")
    raise NotFound(key)


def queue_tasks(*, user: Any, view: QueueView, filters: Filters) -> Listing:
    """One page of a queue's tasks: waiting in it, or claimed from it by a member."""
    tasks = Task.objects.filter(Q(queue=view.queue) | Q(claimed_from=view.queue))
    return _listing(
        user=user,
        tasks=tasks,
        filters=filters,
        purpose=view.purpose,
        detail=f"task queue {view.queue.key}",
    )


def task_counts(*, user: Any) -> dict[str, int]:
    """The home page's numbers (each links to its list): tasks the reader owns that are open
    or in progress, overdue and due today among those and their queues' waiting tasks, and
    the tasks waiting unclaimed in their queues. Counts only: no patient data."""
    today = timezone.localdate()
    scope = Q(owner_id=user.pk) | Q(queue__members=user)
    counts = Task.objects.filter(scope, status__in=rules.ACTIVE_STATUSES).aggregate(
        open=Count("pk", filter=Q(owner_id=user.pk), distinct=True),
        overdue=Count("pk", filter=Q(due__lt=today), distinct=True),
        due_today=Count("pk", filter=Q(due=today), distinct=True),
        queue_unclaimed=Count("pk", filter=Q(queue__isnull=False), distinct=True),
    )
    return {key: int(value or 0) for key, value in counts.items()}


@dataclass
class PatientTasks:
    """A patient's tasks as the chart shows them, and how many were withheld."""

    active: list[Task] = field(default_factory=list)
    closed: list[Task] = field(default_factory=list)
    withheld: int = 0
    reasons: list[str] = field(default_factory=list)


TASKS_REQUEST = gate.Request(
    "tasks", order_by=("-created_at", "-pk"), limit=50, select_related=("owner", "queue")
)


def patient_tasks(disclosure: gate.Disclosure) -> PatientTasks:
    """Split a disclosure that asked for :data:`TASKS_REQUEST` (the chart's own gate read)."""
    tasks = disclosure.data.get("tasks", [])
    withheld = disclosure.withheld("tasks")
    return PatientTasks(
        active=[t for t in tasks if not t.is_closed],
        closed=[t for t in tasks if t.is_closed][:10],
        withheld=sum(r.count for r in withheld),
        reasons=sorted({r.reason for r in withheld}),
    )


def tasks_for_patient(*, user: Any, patient_id: int) -> PatientTasks:
    """The patient's tasks the reader may see (raises gate.AccessDenied), audited by the gate."""
    disclosure = gate.read(
        user=user,
        patient_id=patient_id,
        purpose=_purpose(user),
        requests=[TASKS_REQUEST],
        detail="patient tasks",
    )
    return patient_tasks(disclosure)


@dataclass
class TaskDetail:
    task: Task
    shown: bool  # False: protected (status, due, holder only)
    patient: Any
    events: list[TaskEvent]
    may_act: bool
    overdue: bool
    reassign_queues: list[Queue]


def _involved(user: Any, task: Task, queue_ids: set[int]) -> bool:
    return rules.may_act(user, task, queue_ids) or task.created_by_id == user.pk


def task_detail(*, user: Any, pk: int) -> TaskDetail:
    """One task for its page. NotFound (audited) unless the reader holds it, is in its queue,
    created it or leads the queue's site; protected (no title, patient or history) when the
    gate does not let the reader see the patient or the label."""
    task = Task.objects.select_related("owner", "queue", "claimed_from").filter(pk=pk).first()
    queue_ids = rules.member_queue_ids(user)
    leads = task is not None and _leads(user, task)
    if task is None or not (_involved(user, task, queue_ids) or leads):
        gate.deny(
            user=user,
            patient_id=task.patient_id if task else None,
            purpose="",
            detail=f"task {pk}",
        )
        raise NotFound(pk)
    purpose = _purpose(user) if _involved(user, task, queue_ids) else Purpose.OPERATIONS
    shown, patient = _disclose(user, task, purpose)
    if not shown:  # this copy is for display only; services re-read the row they change
        task.title, task.detail, task.outcome = PROTECTED_TITLE, "", ""
    may_act = rules.may_act(user, task, queue_ids)
    return TaskDetail(
        task=task,
        shown=shown,
        patient=patient,
        events=_history(user, task) if shown else [],
        may_act=may_act,
        overdue=task.is_overdue(timezone.localdate()),
        reassign_queues=list(Queue.objects.select_related("site")) if may_act else [],
    )


def _history(user: Any, task: Task) -> list[TaskEvent]:
    """The task's events; the requester of a ``REQUESTER_SHOWN_AS`` source is shown as that
    text (``event.shown_by``) to everyone but the requester."""
    events = list(task.events.select_related("by"))
    shown_as = rules.REQUESTER_SHOWN_AS.get(task.source)
    for event in events:
        requested = event.by_id is not None and event.by_id == task.created_by_id
        if shown_as and requested and event.by_id != user.pk:
            event.shown_by = shown_as  # type: ignore[attr-defined]
    return events


def _leads(user: Any, task: Task) -> bool:
    sites = set(leader_site_ids(user))
    queues = [q for q in (task.queue, task.claimed_from) if q is not None]
    return any(q.site_id in sites for q in queues)


def _disclose(user: Any, task: Task, purpose: str) -> tuple[bool, Any]:
    if task.patient_id is None:
        return True, None
    try:
        disclosure = gate.read(
            user=user,
            patient_id=task.patient_id,
            purpose=purpose,
            requests=[gate.Request("tasks", where=Q(pk=task.pk))],
            detail=f"task {task.pk}",
        )
    except gate.AccessDenied:
        return False, None
    if not disclosure.data["tasks"]:
        return False, None
    return True, disclosure.patient


def patient_for_task(*, user: Any, patient_id: int) -> Any:
    """The patient a new task is about, if the reader may see them for treatment (else None;
    the refusal is audited by the gate)."""
    try:
        return gate.read(
            user=user,
            patient_id=patient_id,
            purpose=_purpose(user),
            requests=[],
            action="read",
            detail="new task",
        ).patient
    except gate.AccessDenied:
        return None


def demo_seeded() -> bool:
    """Whether the demo's tasks exist already (system use; reads no patient data)."""
    return Task.objects.filter(source_ref__startswith="demo:").exists()


def demo_patients(*, user: Any, limit: int) -> list[Any]:
    """Some patients ``user`` may see for treatment, for the demo's tasks (system use)."""
    patients = gate.visible_patients(user=user, purpose=Purpose.TREATMENT)
    return list(patients.filter(deceased_date__isnull=True).order_by("pk")[:limit])
