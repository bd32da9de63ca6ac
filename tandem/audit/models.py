"""The audit trail: one append-only, hash-chained row per access and per write.

Each row stores the SHA-256 of its own canonical content and of the row before it, so editing
or deleting any row breaks the chain; ``tandem audit verify`` walks it. ``AuditChainHead``
remembers the last row, so deleting the newest rows is detected too. Rows never carry patient
data beyond the patient's internal id.

Three layers keep rows from changing, none of them the last line of defence (that is the chain
and the anchors recorded outside the database, see ADR 0003):

- the model instances refuse ``save()`` of an existing row and ``delete()``;
- their QuerySets refuse ``update()``, ``delete()``, ``bulk_update()`` and upserts
  (``bulk_create(update_conflicts=True)``), and the private paths Django itself takes for them
  (``_update``, ``_raw_delete``);
- database triggers (migration 0003) refuse UPDATE and DELETE of events, DELETE (and on
  PostgreSQL TRUNCATE) of either table, and any UPDATE of the head that does not move it forward
  to an existing event.

The chain head changes only through ``AuditChainHead.objects.advance()``, which the append path
(``services.record_many``) calls while it holds the head's row lock.
"""

from __future__ import annotations

from typing import Any

from django.db import models


class AppendOnlyError(RuntimeError):
    """An attempt to change or delete audit rows."""


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AppendOnlyError("audit rows are append-only")


class AppendOnlyQuerySet(models.QuerySet):
    """Reads and inserts only: every bulk change or delete raises :class:`AppendOnlyError`."""

    def update(self, **kwargs: Any) -> int:
        return _refuse()

    def _update(self, values: Any) -> Any:  # Model.save() of an existing row takes this path
        return _refuse()

    def delete(self) -> tuple[int, dict[str, int]]:
        return _refuse()

    def _raw_delete(self, using: Any) -> int:  # the deletion collector's fast path
        return _refuse()

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        return _refuse()

    def bulk_create(  # type: ignore[override]
        self,
        objs: Any,
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Any = None,
        unique_fields: Any = None,
    ) -> Any:
        if update_conflicts:  # an upsert rewrites the conflicting rows
            _refuse()
        return super().bulk_create(
            objs,
            batch_size=batch_size,
            ignore_conflicts=ignore_conflicts,
            update_fields=update_fields,
            unique_fields=unique_fields,
        )


class ChainHeadQuerySet(AppendOnlyQuerySet):
    def advance(self, *, last_event_id: int, last_hash: str, count: int) -> int:
        """Move the head to the newest event (the append path only, holding the row lock)."""
        return models.QuerySet.update(
            self.filter(singleton=1), last_event_id=last_event_id, last_hash=last_hash, count=count
        )


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

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        # Django's own paths (Model.save of a stored row, deletion) use the refusing QuerySet too.
        base_manager_name = "objects"
        indexes = [models.Index(fields=["occurred_at"]), models.Index(fields=["actor_id"])]

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if self.pk is not None or not self._state.adding:
            _refuse()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        _refuse()


class AuditChainHead(models.Model):
    """A single row: the id and hash of the newest audit event (and the chain's lock)."""

    singleton = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_event_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    count = models.BigIntegerField(default=0)

    objects = ChainHeadQuerySet.as_manager()

    class Meta:
        base_manager_name = "objects"

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if not self._state.adding:
            _refuse()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        _refuse()
