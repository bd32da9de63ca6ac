"""Writing and verifying the hash-chained audit trail.

``record`` and ``record_many`` append events inside the caller's transaction, holding a row
lock on the chain head so that concurrent writers form one chain; they (and ``record_reads``,
which keeps a writing request's read events until the end of its view) are the only code that
moves the head. ``verify`` recomputes every hash in one consistent snapshot and checks each
link, the head, and any anchors (the head recorded outside the database earlier; ``anchors``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from tandem.audit import anchors
from tandem.audit.anchors import Anchor
from tandem.audit.models import AuditChainHead, AuditEvent
from tandem.core.lib import transactions

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
    return _append([(_actor(actor), timezone.now(), item) for item in items])


def record_reads(*, actor: Any, entries: Iterable[Entry]) -> None:
    """Append the events of reads (the gate's shown / redacted / denied, listings).

    Inside a request that writes (its view runs in one transaction), they are appended when the
    view has returned, just before the commit (``core.lib.transactions.before_commit``), each
    with the time it was recorded: the chain head stays unlocked while the view works (every
    other request appends an event, and would wait). If the append fails the transaction rolls
    back and the request fails, so nothing read is shown unaudited. Elsewhere (a page that only
    reads, a command): at once, as :func:`record_many`.
    """
    items = [(_actor(actor), timezone.now(), item) for item in entries]
    if not items:
        return
    request = transactions.request_transaction()
    if request is None:
        _append(items)
        return
    waiting: list[tuple[tuple[int | None, str], dt.datetime, Entry]] | None
    waiting = request.get("audit_reads")
    if waiting is None:
        waiting = request["audit_reads"] = []

        def append_waiting() -> None:
            _append(waiting)

        transactions.before_commit(append_waiting)
    waiting.extend(items)


def _append(items: list[tuple[tuple[int | None, str], dt.datetime, Entry]]) -> list[AuditEvent]:
    """Append events to the chain under the head's row lock (in the caller's transaction)."""
    if not items:
        return []
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(singleton=1).first()
        if head is None:
            head = AuditChainHead.objects.create(singleton=1)
            head = AuditChainHead.objects.select_for_update().get(singleton=1)
        prev = head.last_hash
        events = []
        for (actor_id, username), now, item in items:
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
        AuditChainHead.objects.advance(
            last_event_id=last_id, last_hash=prev, count=head.count + len(events)
        )
    return created


@dataclass(frozen=True)
class Problem:
    event_id: int | None
    message: str


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found: events walked, the newest hash, problems, anchors checked."""

    checked: int
    head: str
    problems: list[Problem]
    anchors: int = 0

    @property
    def intact(self) -> bool:
        return not self.problems

    def anchor(self) -> Anchor:
        """This chain's head as an anchor to record outside the database."""
        return Anchor(self.head, self.checked, recorded_at=anchors.now())


def verify(*, expect: Sequence[Anchor] = (), chunk_size: int = 5000) -> Verification:
    """Walk the chain in id order, in one consistent snapshot; check links, head and anchors.

    The events and the head are read in one read-only snapshot (see ``_snapshot``), so events
    appended meanwhile by other connections are neither half-seen nor taken for tampering, and
    writers are never blocked. Events stream in chunks: memory stays flat however long the chain.
    An anchor holds when the event at position ``count`` has hash ``hash``.
    """
    problems: list[Problem] = []
    waiting: dict[int, list[Anchor]] = defaultdict(list)
    for anchor in expect:
        waiting[anchor.count].append(anchor)
    for anchor in waiting.pop(0, []):
        if anchor.hash != GENESIS:
            problems.append(Problem(None, f"the anchor {anchor.origin} is not a chain of 0 events"))
    prev_hash = GENESIS
    checked = 0
    last_id = 0
    with _snapshot():
        for event in AuditEvent.objects.order_by("pk").iterator(chunk_size=chunk_size):
            checked += 1
            if event.prev_hash != prev_hash:
                problems.append(
                    Problem(
                        event.pk, "link broken: an earlier event was deleted, inserted or edited"
                    )
                )
            if compute_hash(event) != event.hash:
                problems.append(
                    Problem(event.pk, "content does not match its hash: the row was edited")
                )
            for anchor in waiting.pop(checked, []):
                if anchor.hash != event.hash:
                    problems.append(Problem(event.pk, _rewritten(anchor)))
            prev_hash = event.hash
            last_id = event.pk
        head = AuditChainHead.objects.filter(singleton=1).first()
    problems += _head_problems(head, checked, last_id, prev_hash)
    for count in sorted(waiting):
        for anchor in waiting[count]:
            problems.append(Problem(None, _cut(anchor, checked)))
    return Verification(checked, prev_hash, problems, len(expect))


def _rewritten(anchor: Anchor) -> str:
    return (
        f"event {anchor.count} in chain order differs from the anchor {anchor.origin} "
        f"(hash {anchor.hash}): the chain up to here was rewritten"
    )


def _cut(anchor: Anchor, checked: int) -> str:
    return (
        f"the chain holds {checked} events but the anchor {anchor.origin} says it held "
        f"{anchor.count}: events were deleted from the end, or the table was emptied"
    )


def _head_problems(
    head: AuditChainHead | None, checked: int, last_id: int, last_hash: str
) -> list[Problem]:
    if head is None:
        return [
            Problem(None, "chain head is missing: the audit tables were emptied or tampered with")
        ]
    problems = []
    if head.last_hash != last_hash or head.last_event_id != last_id:
        problems.append(
            Problem(
                None, "chain head does not match the newest event: events were deleted from the end"
            )
        )
    if head.count != checked:
        problems.append(
            Problem(None, f"chain head counts {head.count} events but {checked} remain")
        )
    return problems


@contextmanager
def _snapshot() -> Iterator[None]:
    """One read-only transaction that sees the audit tables as of a single moment.

    PostgreSQL: REPEATABLE READ, READ ONLY — one snapshot for every statement, no locks beyond
    the ACCESS SHARE every read takes, so appenders never wait. SQLite: a DEFERRED transaction
    (Tandem's connections otherwise begin IMMEDIATE, which would take the write lock); in WAL
    mode its first read fixes a snapshot and writers go on committing beside it.

    Inside a caller's transaction there is nothing to open: the caller's isolation decides.
    """
    if connection.in_atomic_block:
        yield
        return
    connection.ensure_connection()  # connecting resets an SQLite connection's transaction_mode
    mode = getattr(connection, "transaction_mode", None)
    if connection.vendor == "sqlite":
        connection.transaction_mode = "DEFERRED"  # type: ignore[attr-defined]
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
    finally:
        if connection.vendor == "sqlite":
            connection.transaction_mode = mode  # type: ignore[attr-defined]
