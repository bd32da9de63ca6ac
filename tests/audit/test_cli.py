"""`tandem audit verify` and `tandem audit anchor`: the chain, its head, and anchors kept elsewhere.

Some tampering leaves a chain that is consistent in itself — rows cut from the end with the head
moved back, a whole table rewritten, an emptied table. Only the head hash recorded outside the
database earlier (an anchor) reveals it.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tandem.cli import main
from tests.audit.tampering import move_head_to, rewrite_every_event, tamper, write_events

ROOT = Path(__file__).resolve().parents[2]


def verify(capsys, *args: str) -> tuple[int, str]:
    code = main(["audit", "verify", *args])
    return code, capsys.readouterr().out


def usage_error(capsys, *args: str) -> str:
    """Run the command, require exit status 2 and one line on stderr; return that line."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse refuses before the command runs
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err
    return err


# --- the head and the count ------------------------------------------------------------------


@pytest.mark.django_db
def test_it_prints_the_event_count_and_the_full_head_hash(capsys):
    events = write_events(3)

    code, out = verify(capsys)

    assert code == 0
    assert out.splitlines()[0] == f"audit chain intact: 3 events, head {events[-1].hash}"


@pytest.mark.django_db
def test_the_command_reports_a_tampered_row(capsys):
    events = write_events()
    tamper("UPDATE audit_auditevent SET actor_username = 'mallory' WHERE id = %s", [events[3].pk])

    code, out = verify(capsys)

    assert code == 1
    assert f"TAMPERED event {events[3].pk}" in out
    assert "audit chain BROKEN" in out


@pytest.mark.django_db
def test_an_emptied_audit_trail_is_reported(capsys):
    write_events(3)
    tamper("DELETE FROM audit_auditevent")
    tamper("DELETE FROM audit_auditchainhead")

    code, out = verify(capsys)

    assert code == 1
    assert "chain head is missing" in out


# --- --expect HASH:COUNT ---------------------------------------------------------------------


@pytest.mark.django_db
def test_it_accepts_a_chain_that_extends_the_expected_head(capsys):
    events = write_events(3)
    expected = f"{events[-1].hash}:3"
    write_events(2)

    code, out = verify(capsys, "--expect", expected)

    assert code == 0, out
    assert "audit chain intact: 5 events" in out


@pytest.mark.django_db
def test_rows_cut_from_the_end_with_the_head_moved_back_are_caught_by_the_anchor(capsys):
    events = write_events(5)
    anchor = f"{events[-1].hash}:5"
    tamper("DELETE FROM audit_auditevent WHERE id > %s", [events[2].pk])
    move_head_to(events[2], 3)

    alone = verify(capsys)
    code, out = verify(capsys, "--expect", anchor)

    assert alone[0] == 0  # the chain by itself cannot tell
    assert code == 1
    assert "holds 3 events but the anchor given with --expect says it held 5" in out


@pytest.mark.django_db
def test_a_rewritten_chain_is_caught_by_the_anchor(capsys):
    events = write_events(4)
    anchor = f"{events[1].hash}:2"
    rewrite_every_event("mallory")

    alone = verify(capsys)
    code, out = verify(capsys, "--expect", anchor)

    assert alone[0] == 0
    assert code == 1
    assert f"TAMPERED event {events[1].pk}" in out
    assert "rewritten" in out


@pytest.mark.django_db
def test_an_emptied_table_with_a_reset_head_is_caught_by_the_anchor(capsys):
    events = write_events(3)
    tamper("DELETE FROM audit_auditevent")
    move_head_to(None, 0)

    alone = verify(capsys)
    code, out = verify(capsys, "--expect", f"{events[-1].hash}:3")

    assert alone == (0, f"audit chain intact: 0 events, head {'0' * 64}\n")
    assert code == 1
    assert "holds 0 events" in out


@pytest.mark.parametrize(
    "value",
    ["abc", "zz:3", "a" * 64, "a" * 64 + ":-1", "a" * 64 + ":three", "a" * 63 + ":3"],
)
def test_a_malformed_expectation_is_refused_in_one_line(capsys, value):
    err = usage_error(capsys, "audit", "verify", "--expect", value)

    assert "HASH:COUNT" in err


# --- anchor files ------------------------------------------------------------------------------


def anchor_lines(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()]


@pytest.mark.django_db
def test_anchor_appends_the_time_head_and_count_to_the_file(capsys, tmp_path):
    anchors = tmp_path / "anchors.txt"
    first = write_events(3)[-1]
    assert main(["audit", "anchor", "--append-to", str(anchors)]) == 0
    second = write_events(2)[-1]

    code = main(["audit", "anchor", "--append-to", str(anchors)])

    assert code == 0
    lines = anchor_lines(anchors)
    assert [line[1:] for line in lines] == [[first.hash, "3"], [second.hash, "5"]]
    assert all(dt.datetime.fromisoformat(line[0]).tzinfo is not None for line in lines)
    assert f"{second.hash} 5" in capsys.readouterr().out


@pytest.mark.django_db
def test_verify_checks_every_recorded_anchor(capsys, tmp_path):
    anchors = tmp_path / "anchors.txt"
    write_events(2)
    main(["audit", "anchor", "--append-to", str(anchors)])
    write_events(2)
    main(["audit", "anchor", "--append-to", str(anchors)])
    assert verify(capsys, "--anchor-file", str(anchors))[0] == 0

    rewrite_every_event("mallory")
    code, out = verify(capsys, "--anchor-file", str(anchors))

    assert code == 1
    assert f"{anchors} line 1" in out and f"{anchors} line 2" in out


@pytest.mark.django_db
def test_anchor_refuses_to_record_a_broken_chain(capsys, tmp_path):
    anchors = tmp_path / "anchors.txt"
    write_events(3)
    main(["audit", "anchor", "--append-to", str(anchors)])
    events = write_events(1)
    tamper("UPDATE audit_auditevent SET outcome = 'denied' WHERE id = %s", [events[0].pk])
    before = anchors.read_text()

    code = main(["audit", "anchor", "--append-to", str(anchors)])

    assert code == 1
    assert anchors.read_text() == before
    assert "no anchor recorded" in capsys.readouterr().out


@pytest.mark.django_db
def test_anchor_refuses_when_an_earlier_anchor_no_longer_holds(capsys, tmp_path):
    anchors = tmp_path / "anchors.txt"
    events = write_events(3)
    main(["audit", "anchor", "--append-to", str(anchors)])
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[-1].pk])
    move_head_to(events[1], 2)
    before = anchors.read_text()

    code = main(["audit", "anchor", "--append-to", str(anchors)])

    assert code == 1
    assert anchors.read_text() == before


@pytest.mark.django_db
def test_a_malformed_anchor_file_is_refused_naming_the_line(capsys, tmp_path):
    anchors = tmp_path / "anchors.txt"
    anchors.write_text(
        f"# anchors of the test clinic\n2026-12-01T02:00:00Z {'a' * 64} 3\nnonsense\n"
    )

    err = usage_error(capsys, "audit", "verify", "--anchor-file", str(anchors))

    assert f"{anchors} line 3" in err


@pytest.mark.django_db
def test_anchor_into_a_missing_directory_is_refused_in_one_line(capsys, tmp_path):
    write_events(1)

    err = usage_error(capsys, "audit", "anchor", "--append-to", str(tmp_path / "no" / "a.txt"))

    assert "cannot append to the anchor file" in err


def test_a_missing_anchor_file_is_refused(capsys, tmp_path):
    err = usage_error(capsys, "audit", "verify", "--anchor-file", str(tmp_path / "nope.txt"))

    assert "nope.txt" in err


# --- databases that cannot be verified -----------------------------------------------------------


def tandem(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tandem", *args],
        env={"PATH": os.environ.get("PATH", "/usr/bin"), **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_verify_on_an_unmigrated_database_says_so_in_one_line(tmp_path):
    import sqlite3

    other = sqlite3.connect(tmp_path / "tandem.sqlite3")  # a database, but not Tandem's
    other.execute("CREATE TABLE notes (x)")
    other.close()

    err = one_line(tandem("audit", "verify", TANDEM_VAR_DIR=str(tmp_path)))

    assert "has no audit tables" in err
    assert "tandem migrate" in err


def test_verify_where_there_is_no_database_says_so_without_creating_one(tmp_path):
    err = one_line(tandem("audit", "verify", TANDEM_VAR_DIR=str(tmp_path)))

    assert "tandem migrate" in err
    assert not (tmp_path / "tandem.sqlite3").exists()


def test_verify_on_an_unreachable_postgres_says_so_without_the_password(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgres://tandem:s3cret-pw@127.0.0.1:{port}/tandem"

    err = one_line(tandem("audit", "verify", TANDEM_VAR_DIR=str(tmp_path), TANDEM_DATABASE_URL=url))

    assert f"cannot connect to PostgreSQL at 127.0.0.1:{port}" in err
    assert "s3cret-pw" not in err


def postgres_url() -> str:
    return os.environ.get("TANDEM_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/tandem")


def postgres_answers() -> bool:
    parts = urlparse(postgres_url())
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not postgres_answers(), reason="no PostgreSQL server answers")
def test_verify_on_a_missing_postgres_database_says_so_in_one_line(tmp_path):
    parts = urlparse(postgres_url())
    url = parts._replace(path="/tandem_no_such_database").geturl()

    err = one_line(tandem("audit", "verify", TANDEM_VAR_DIR=str(tmp_path), TANDEM_DATABASE_URL=url))

    assert "cannot connect to PostgreSQL" in err
    assert "tandem_no_such_database" in err
