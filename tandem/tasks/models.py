"""Tasks: the unit of work everything else hangs on (worklist escalations, referrals, alerts,
huddles, the chart's engagement prompt, manual to-dos).

A task is held by exactly one holder: a person (``owner``) or a team queue (``queue``) — a
database check keeps it so. Claiming a queue task makes the claimer its owner; the queue it was
claimed from stays linked as ``claimed_from`` so the team still sees it on its queue page.

A task about a patient can reveal a relationship (a task created in a Part 2 program says the
person is its patient), so ``Task`` is :class:`~tandem.core.models.Labelled`; the label is given
by the creator or derived by ``tandem.consent.rules.label_task`` (the creator's unit). Tasks are
read only through ``tandem.tasks.queries`` (the consent gate); written only through
``tandem.tasks.services``, each change with a :class:`TaskEvent` and an audit event.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from tandem.core.models import Labelled, Site, sensitivity_check


class Queue(models.Model):
    """A team's shared inbox of tasks at a site (the primary-care team at Riverside…)."""

    class Kind(models.TextChoices):
        PRIMARY_CARE = "primary-care", "Primary care team"
        BEHAVIORAL_HEALTH = "behavioral-health", "Behavioral health team"
        CARE_MANAGEMENT = "care-management", "Care management team"
        SUPERVISORS = "supervisors", "Supervisors"
        PRIVACY_OFFICE = "privacy-office", "Privacy office"

    key = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="task_queues"
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="task_queues", blank=True
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "kind"], name="queue_one_per_site_and_kind"),
        ]

    def __str__(self) -> str:
        return self.name


class Task(Labelled):
    """One piece of work, for a person or a team queue, optionally about a patient."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in-progress", "In progress"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    class Source(models.TextChoices):
        WORKLIST_ITEM = "worklist-item", "Worklist item"
        ALERT = "alert", "Alert"
        REFERRAL = "referral", "Referral"
        HUDDLE = "huddle", "Huddle"
        ENGAGEMENT = "engagement", "Primary-care engagement"
        MANUAL = "manual", "Manual"

    CLOSED = frozenset({Status.DONE, Status.CANCELLED})
    PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}

    patient = models.ForeignKey(
        "registry.Patient", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    title = models.CharField(max_length=200)
    detail = models.TextField(blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_tasks",
    )
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    claimed_from = models.ForeignKey(
        Queue,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claimed_tasks",
        help_text="The queue a person's task came from; it stays on that queue's page.",
    )
    due = models.DateField(null=True, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    priority_rank = models.PositiveSmallIntegerField(
        default=2, help_text="0 urgent … 3 low, kept in step with priority, for sorting."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    outcome = models.TextField(blank=True, default="")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.MANUAL)
    source_ref = models.CharField(max_length=100, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="created_tasks",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(
        default=1, help_text="Bumped by every change; forms send it back to refuse stale posts."
    )

    class Meta:
        indexes = [
            models.Index(fields=["owner", "status"]),
            models.Index(fields=["queue", "status"]),
            models.Index(fields=["claimed_from", "status"]),
            models.Index(fields=["patient", "status"]),
            models.Index(fields=["source", "source_ref"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(owner__isnull=False) & models.Q(queue__isnull=True))
                | (models.Q(owner__isnull=True) & models.Q(queue__isnull=False)),
                name="task_owner_xor_queue",
            ),
            models.CheckConstraint(
                condition=models.Q(claimed_from__isnull=True) | models.Q(owner__isnull=False),
                name="task_claimed_has_owner",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "in-progress", "done", "cancelled"]),
                name="task_status_known",
            ),
            models.CheckConstraint(
                condition=models.Q(priority__in=["low", "normal", "high", "urgent"]),
                name="task_priority_known",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="done") | ~models.Q(outcome=""),
                name="task_done_has_outcome",
            ),
            sensitivity_check("task"),
        ]

    @property
    def is_closed(self) -> bool:
        return self.status in self.CLOSED

    def is_overdue(self, today: dt.date) -> bool:
        """Due before today and still open or in progress."""
        return self.due is not None and self.due < today and not self.is_closed

    @property
    def holder(self) -> str:
        return self.owner.get_username() if self.owner is not None else str(self.queue)

    def __str__(self) -> str:
        return f"Task {self.pk}"


class TaskEvent(models.Model):
    """One change in a task's history: who, when, what changed (from → to) and a note."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=20)
    field = models.CharField(max_length=20, blank=True, default="")
    from_value = models.CharField(max_length=200, blank=True, default="")
    to_value = models.CharField(max_length=200, blank=True, default="")
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["task", "at"])]

    def __str__(self) -> str:
        return f"{self.action} on task {self.task_id}"
