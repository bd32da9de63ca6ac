"""Writing and verifying the hash-chained audit trail.

``record`` and ``record_many`` append events inside the caller's transaction, holding a row
lock on the chain head so that concurrent writers form one chain. ``verify`` recomputes every
hash and checks each link and the head.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from tandem.audit.models import AuditChainHead, AuditEvent

GENESIS = "0" * 64


@dataclass(frozen=True)
class Entry:
    """One event to record. ``detail`` must never carry patient data (names, codes, text)."""

    action: str
    outcome: str
    patient_id: int | None = None
    categories: str = ""
    purpose: str = ""
    detail: str = ""


def _actor(user: Any) -> tuple[int | None, str]:
    if user is None or not getattr(user, "is_authenticated", False):
        return None, "system" if user is None else "anonymous"
    return int(user.pk), str(user.get_username())


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_hash(event: AuditEvent) -> str:
    """SHA-256 over the event's canonical content, including the previous event's hash."""
    parts = [
        _stamp(event.occurred_at),
        "" if event.actor_id is None else str(event.actor_id),
        event.actor_username,
        event.action,
        "" if event.patient_id is None else str(event.patient_id),
        event.categories,
        event.purpose,
        event.outcome,
        event.detail,
        event.prev_hash,
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def record(*, actor: Any, entry: Entry) -> AuditEvent:
    """Append one event to the chain (in the caller's transaction)."""
    return record_many(actor=actor, entries=[entry])[0]


def record_many(*, actor: Any, entries: Iterable[Entry]) -> list[AuditEvent]:
    """Append several events at once (a page of search results, a bulk write)."""
    items = list(entries)
    if not items:
        return []
    actor_id, username = _actor(actor)
    now = timezone.now()
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(singleton=1).first()
        if head is None:
            head = AuditChainHead.objects.create(singleton=1)
            head = AuditChainHead.objects.select_for_update().get(singleton=1)
        prev = head.last_hash
        events = []
        for item in items:
            event = AuditEvent(
                occurred_at=now,
                actor_id=actor_id,
                actor_username=username,
                action=item.action,
                patient_id=item.patient_id,
                categories=item.categories[:400],
                purpose=item.purpose,
                outcome=item.outcome,
                detail=item.detail[:400],
                prev_hash=prev,
            )
            event.hash = compute_hash(event)
            prev = event.hash
            events.append(event)
        created = AuditEvent.objects.bulk_create(events)
        last_id = created[-1].pk
        if last_id is None:  # a backend that does not return ids from bulk inserts
            last_id = AuditEvent.objects.get(hash=prev).pk
        AuditChainHead.objects.filter(singleton=1).update(
            last_event_id=last_id, last_hash=prev, count=head.count + len(events)
        )
    return created


@dataclass(frozen=True)
class Problem:
    event_id: int | None
    message: str


def verify(batch_size: int = 5000) -> tuple[int, list[Problem]]:
    """Walk the chain in id order; return (events checked, problems found)."""
    problems: list[Problem] = []
    prev_hash = GENESIS
    checked = 0
    last_id = 0
    for event in _events(batch_size):
        checked += 1
        if event.prev_hash != prev_hash:
            problems.append(
                Problem(event.pk, "link broken: an earlier event was deleted, inserted or edited")
            )
        if compute_hash(event) != event.hash:
            problems.append(
                Problem(event.pk, "content does not match its hash: the row was edited")
            )
        prev_hash = event.hash
        last_id = event.pk
    head = AuditChainHead.objects.filter(singleton=1).first()
    if head is not None:
        if head.last_hash != prev_hash or head.last_event_id != last_id:
            problems.append(
                Problem(
                    None,
                    "chain head does not match the newest event: events were deleted from the end",
                )
            )
        if head.count != checked:
            problems.append(
                Problem(None, f"chain head counts {head.count} events but {checked} remain")
            )
    elif checked:
        problems.append(Problem(None, "chain head is missing"))
    return checked, problems


def _events(batch_size: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        batch = list(AuditEvent.objects.filter(pk__gt=last).order_by("pk")[:batch_size])
        if not batch:
            return
        yield from batch
        last = batch[-1].pk
