"""One-line answers when a command's database cannot be used: unreachable, missing or unmigrated.

A command that needs tables calls :func:`require_tables` before its work; instead of a
traceback the person at the keyboard reads, for example::

    tandem: error: cannot connect to PostgreSQL at db.example:5432 (database "tandem"): …
    tandem: error: the SQLite database /srv/var/tandem.sqlite3 has no audit tables; run `tandem migrate`

Messages name the database by host, port and name or by path, never with its password.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import DEFAULT_DB_ALIAS, Error, connections

from tandem.core.lib.cli import UsageError


def describe(using: str = DEFAULT_DB_ALIAS) -> str:
    """The database as a person names it, e.g. ``the database "tandem" on PostgreSQL at h:5432``."""
    conn = connections[using]
    name = conn.settings_dict["NAME"]
    if conn.vendor == "sqlite":
        return f"the SQLite database {name}"
    return f'the database "{name}" on {_server(using)}'


def _server(using: str) -> str:
    conn = connections[using]
    settings = conn.settings_dict
    if conn.vendor == "sqlite":
        return f"the SQLite database {settings['NAME']}"
    host = settings.get("HOST") or "localhost"
    port = settings.get("PORT") or (5432 if conn.vendor == "postgresql" else "default port")
    return f"{conn.display_name} at {host}:{port}"


def require_tables(*tables: str, kind: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Raise :class:`UsageError` unless the database answers and holds ``tables``.

    ``kind`` names the tables in the message ("audit"). An SQLite file that does not exist is
    reported as such, not created empty by the attempt to open it.
    """
    conn = connections[using]
    name = str(conn.settings_dict["NAME"])
    if conn.vendor == "sqlite" and not _in_memory(name) and not Path(name).exists():
        raise UsageError(f"there is no database at {name}; run `tandem migrate`")
    try:
        conn.ensure_connection()
        present = set(conn.introspection.table_names())
    except Error as exc:
        where = _server(using)
        if conn.vendor != "sqlite":
            where += f' (database "{name}")'
        raise UsageError(f"cannot connect to {where}: {reason(exc, using)}") from None
    if any(table not in present for table in tables):
        raise UsageError(f"{describe(using)} has no {kind} tables; run `tandem migrate`")


def _in_memory(name: str) -> bool:
    return name == ":memory:" or "mode=memory" in name


def reason(exc: Exception, using: str = DEFAULT_DB_ALIAS) -> str:
    """The driver's first line, without the password should a driver ever echo it."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = lines[0] if lines else type(exc).__name__
    reason = reason.removeprefix("connection failed: ")
    password = connections[using].settings_dict.get("PASSWORD")
    if password:
        reason = reason.replace(str(password), "***")
    return reason


def analyze(*models: Any, using: str = DEFAULT_DB_ALIAS) -> None:
    """Refresh the planner's statistics of these models' tables (PostgreSQL; elsewhere nothing).

    For a step that rewrites a large share of a table (the daily refresh's worklists, cohorts
    and risk scores): until the statistics are refreshed the planner estimates from the old
    contents — a table it believes empty is read through the wrong index, tens of
    milliseconds per page at 100,000 patients. Autovacuum analyzes eventually (when it is on);
    this makes it part of the step. Allowed inside a transaction: the step's own rows count.
    """
    conn = connections[using]
    if conn.vendor != "postgresql":
        return
    with conn.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {conn.ops.quote_name(model._meta.db_table)}")
