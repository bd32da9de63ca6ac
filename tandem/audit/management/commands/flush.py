"""Django's ``flush``, which empties every table, made to work with the audit trail's guard.

The audit tables refuse DELETE and TRUNCATE (migration 0003). Emptying a whole database on
purpose is an operator's act — and how the test suite resets the database after each
transactional test — so this command lifts the guard for its own transaction only, empties the
tables, puts the triggers back exactly as they were and creates the chain head row again (a
fresh chain, as after ``migrate``). Outside that transaction the guard never sleeps. An anchor
recorded before reveals the emptied trail, like any other (ADR 0003).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management.commands import flush
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

AUDIT_TABLES = ("audit_auditevent", "audit_auditchainhead")


class Command(flush.Command):
    help = flush.Command.help + " The audit trail is emptied too and starts a fresh chain."

    def handle(self, **options: Any) -> None:
        database = options["database"]
        connection = connections[database]
        if options["interactive"]:  # ask before the guard is lifted and its tables locked
            answer = input(
                "You have requested a flush of the database.\n"
                "This will IRREVERSIBLY DESTROY all data currently in the "
                f'"{connection.settings_dict["NAME"]}" database, the audit trail included,\n'
                "and return each table to an empty state.\n"
                "Are you sure you want to do this?\n\n"
                "    Type 'yes' to continue, or 'no' to cancel: "
            )
            if answer != "yes":
                self.stdout.write("Flush cancelled.")
                return
            options["interactive"] = False
        if not set(AUDIT_TABLES) <= set(connection.introspection.table_names()):
            super().handle(**options)
            return
        from tandem.audit.models import AuditChainHead

        with transaction.atomic(using=database), _guard_lifted(connection):
            super().handle(**options)
            AuditChainHead.objects.using(database).get_or_create(singleton=1)


@contextmanager
def _guard_lifted(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Within the caller's transaction: the audit tables' triggers off, then back as they were."""
    enabled: list[tuple[str, str]] = []  # PostgreSQL: (table, trigger) disabled here
    dropped: list[tuple[str, str]] = []  # SQLite: (trigger, its CREATE statement)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
                "WHERE tgrelid = ANY(%s::regclass[]) AND NOT tgisinternal AND tgenabled <> 'D'",
                [list(AUDIT_TABLES)],
            )
            enabled = cursor.fetchall()
            for table, name in enabled:
                cursor.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{name}"')
        elif connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s)",
                list(AUDIT_TABLES),
            )
            dropped = cursor.fetchall()
            for name, _ in dropped:
                cursor.execute(f'DROP TRIGGER "{name}"')
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table, name in enabled:
                cursor.execute(f'ALTER TABLE {table} ENABLE TRIGGER "{name}"')
        elif connection.vendor == "sqlite":
            for _, sql in dropped:
                cursor.execute(sql)
