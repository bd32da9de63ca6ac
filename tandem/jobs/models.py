"""The history of job runs (what a leader sees on the jobs page). No patient data is stored here:
steps hold counts, durations and progress lines; errors name an exception's type and place."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tandem.jobs import rules


class JobRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = rules.QUEUED, "Queued"
        RUNNING = rules.RUNNING, "Running"
        RETRYING = rules.RETRYING, "Waiting to retry"
        SUCCEEDED = rules.SUCCEEDED, "Succeeded"
        FAILED = rules.FAILED, "Failed"

    job = models.CharField(max_length=60, help_text="The job's name, e.g. daily-refresh.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    as_of = models.DateField(help_text="The day the run is for.")
    trigger = models.CharField(max_length=12, choices=list(rules.TRIGGERS.items()))
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=1)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the attempt running it."
    )
    runner = models.CharField(
        max_length=120, blank=True, help_text="host:pid of the process running the attempt."
    )
    task_id = models.CharField(max_length=40, blank=True, help_text="django-q2 task id, if queued.")
    steps = models.JSONField(
        default=list,
        help_text="One entry per step: key, label, status, started, finished, seconds, counts, "
        "log (progress lines), error.",
    )
    progress = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True, help_text="Why it failed; never patient data.")

    class Meta:
        ordering = ["-queued_at", "-pk"]
        indexes = [models.Index(fields=["job", "-queued_at"])]
        constraints = [
            # Two refreshes never run side by side: a second one is refused (a double click on
            # "Run now" enqueues once). Enforced by the database, on SQLite and PostgreSQL.
            models.UniqueConstraint(
                fields=["job"],
                condition=models.Q(status__in=rules.ACTIVE),
                name="jobs_one_active_run_per_job",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job} #{self.pk} ({self.status})"

    @property
    def active(self) -> bool:
        return self.status in rules.ACTIVE

    @property
    def seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()
