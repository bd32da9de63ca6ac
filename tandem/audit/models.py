"""The audit trail: one append-only, hash-chained row per access and per write.

Each row stores the SHA-256 of its own canonical content and of the row before it, so editing
or deleting any row breaks the chain; ``tandem audit verify`` walks it. ``AuditChainHead``
remembers the last row, so deleting the newest rows is detected too. Rows never carry patient
data beyond the patient's internal id.
"""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    class Outcome(models.TextChoices):
        SHOWN = "shown", "Shown"
        REDACTED = "redacted", "Shown with redactions"
        DENIED = "denied", "Denied"
        WRITTEN = "written", "Written"

    occurred_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, help_text="auth user id; null = system")
    actor_username = models.CharField(max_length=150)
    action = models.CharField(max_length=40, help_text="read, search, write:<service>, …")
    patient_id = models.BigIntegerField(null=True, db_index=True)
    categories = models.CharField(max_length=400, blank=True, default="")
    purpose = models.CharField(max_length=20, blank=True, default="")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    detail = models.CharField(max_length=400, blank=True, default="")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        indexes = [models.Index(fields=["occurred_at"]), models.Index(fields=["actor_id"])]

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if self.pk is not None:
            raise RuntimeError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("audit events are append-only")


class AuditChainHead(models.Model):
    """A single row: the id and hash of the newest audit event (and the chain's lock)."""

    singleton = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_event_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    count = models.BigIntegerField(default=0)
