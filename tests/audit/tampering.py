"""What someone with write access to the database does to the audit trail, for the tests.

The database refuses updates and deletes of audit rows with triggers; a table owner can drop or
disable them. ``lift_the_guard`` does exactly that (inside the test's transaction), to show that
the triggers are not the last line of defence: the hash chain and the anchors are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

from tandem.audit import services
from tandem.audit.models import AuditEvent

AUDIT_TABLES = ("audit_auditevent", "audit_auditchainhead")


def write_events(n: int = 5) -> list[AuditEvent]:
    for i in range(n):
        services.record(actor=None, entry=services.Entry("read", "shown", i + 1, "conditions"))
    return list(AuditEvent.objects.order_by("pk"))


def raw(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def lift_the_guard() -> None:
    """Drop (SQLite) or disable (PostgreSQL) the append-only triggers, as a table owner can."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in AUDIT_TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            return
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s)",
            list(AUDIT_TABLES),
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TRIGGER "{name}"')


def tamper(sql: str, params: list[Any] | None = None) -> None:
    """Run ``sql`` against the audit tables with the guard lifted."""
    lift_the_guard()
    raw(sql, params)


def move_head_to(event: AuditEvent | None, count: int) -> None:
    """Point the chain head at ``event`` (or the genesis), as a careful forger would."""
    last_id, last_hash = (0, services.GENESIS) if event is None else (event.pk, event.hash)
    tamper(
        "UPDATE audit_auditchainhead SET last_event_id = %s, last_hash = %s, count = %s",
        [last_id, last_hash, count],
    )


def rewrite_every_event(actor_username: str) -> str:
    """Rewrite every event's actor and recompute the whole chain and head consistently.

    Returns the new head hash. Without an anchor kept outside the database this is undetectable.
    """
    lift_the_guard()
    prev = services.GENESIS
    events = list(AuditEvent.objects.order_by("pk"))
    for event in events:
        event.actor_username = actor_username
        event.prev_hash = prev
        event.hash = services.compute_hash(event)
        raw(
            "UPDATE audit_auditevent SET actor_username = %s, prev_hash = %s, hash = %s "
            "WHERE id = %s",
            [event.actor_username, event.prev_hash, event.hash, event.pk],
        )
        prev = event.hash
    move_head_to(events[-1], len(events))
    return prev


@contextmanager
def guard_put_back() -> Iterator[None]:
    """Tamper inside this block; the append-only triggers are back as before after it.

    For tests whose database changes outlive the test's transaction (browser tests on a live
    server): lifting the guard there would otherwise leave the tables unguarded for later tests.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s)",
                list(AUDIT_TABLES),
            )
            statements = [sql for (sql,) in cursor.fetchall()]
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                for table in AUDIT_TABLES:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            else:
                for sql in statements:
                    name = re.match(r'CREATE TRIGGER (?:IF NOT EXISTS )?"?(\w+)', sql, re.I)[1]
                    cursor.execute(
                        "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = %s", [name]
                    )
                    if cursor.fetchone() is None:
                        cursor.execute(sql)
