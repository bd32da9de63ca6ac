"""`tandem audit verify` reads the events and the chain head in one consistent snapshot.

While the application serves, other connections keep appending events. If verify read the events
first and the head a moment later, an event committed in between would make an intact chain look
cut ("chain head counts 6 events but 5 remain"). Each story here lets a real writer, on its own
connection, commit an event exactly in that moment: just before verify reads the head.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection, transaction

ROOT = Path(__file__).resolve().parents[2]


def append_from_another_connection() -> None:
    """Commit one event from a new connection (another thread), and wait for it."""
    from tandem.audit import services

    errors: list[BaseException] = []

    def work() -> None:
        try:
            with transaction.atomic():
                services.record(actor=None, entry=services.Entry("read", "shown", 99, "notes"))
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    writer = threading.Thread(target=work)
    writer.start()
    writer.join()
    if errors:
        raise errors[0]


@contextmanager
def a_writer_commits_just_before_verify_reads_the_head() -> Iterator[list[bool]]:
    """While active, the first read of the chain head waits for another connection's append."""
    struck: list[bool] = []

    def hook(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if not struck and "audit_auditchainhead" in sql and sql.lstrip().startswith("SELECT"):
            struck.append(True)
            append_from_another_connection()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(hook):
        yield struck


def verify_while_a_writer_appends() -> tuple[int, str]:
    """Write 5 events, run `tandem audit verify` with a writer striking mid-read, then verify again."""
    from tandem.audit.models import AuditEvent
    from tandem.cli import main
    from tests.audit.tampering import write_events

    write_events(5)
    out = []
    with a_writer_commits_just_before_verify_reads_the_head() as struck:
        code = main(["audit", "verify"])
    assert struck, "the writer never struck: verify did not read the chain head"
    assert AuditEvent.objects.count() == 6, "the writer's event was not committed"
    out.append(f"during={code}")
    out.append(f"after={main(['audit', 'verify'])}")
    return code, " ".join(out)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's in-memory test database locks whole tables; see the SQLite file story below",
)
def test_an_event_appended_while_verify_reads_is_not_taken_for_tampering(capsys):
    code, _ = verify_while_a_writer_appends()

    out = capsys.readouterr().out
    assert code == 0, out
    assert "audit chain intact: 5 events" in out  # the snapshot taken before the writer struck
    assert "audit chain intact: 6 events" in out  # and the next run sees the new event


def run_the_story_on_a_sqlite_file() -> int:
    """Entry point for the subprocess below: a WAL-mode SQLite file, as `tandem serve` uses."""
    from django.core.management import call_command

    from tandem.cli import setup_django

    setup_django()
    call_command("migrate", "audit", verbosity=0)  # the audit tables are all the story needs
    code, summary = verify_while_a_writer_appends()
    print(summary)
    return code


def test_an_event_appended_while_verify_reads_a_sqlite_file_is_not_taken_for_tampering(tmp_path):
    script = (
        "import sys\n"
        "from tests.audit.test_snapshot import run_the_story_on_a_sqlite_file\n"
        "sys.exit(run_the_story_on_a_sqlite_file())\n"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin"),
        "TANDEM_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "tandem.settings",
    }

    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit chain intact: 5 events" in result.stdout
    assert "during=0 after=0" in result.stdout
