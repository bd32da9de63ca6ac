"""``tandem synth`` run as a user runs it: every refusal is one line on stderr, exit status 2,
no traceback, no password, and nothing half-written (issue 9, item 6).

Each case runs the real command in a subprocess with its own ``TANDEM_VAR_DIR`` and
``TANDEM_DATABASE_URL``; the database cases use SQLite files made here and, where one answers,
the PostgreSQL server of the test run.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
PERIOD = ["--start", "2024-01-01", "--end", "2025-01-01"]
PASSWORD = "not-for-your-eyes-7"


def tandem(*args: str, cwd: Path, database: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    env |= {"TANDEM_VAR_DIR": str(cwd / "var"), "PYTHONPATH": str(ROOT)}
    if database is not None:
        env["TANDEM_DATABASE_URL"] = database
    return subprocess.run(
        [sys.executable, "-m", "tandem.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


def synth(*args: str, cwd: Path, database: str | None = None) -> subprocess.CompletedProcess[str]:
    return tandem("synth", "--no-progress", *args, cwd=cwd, database=database)


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one line of a refusal (exit status 2, no traceback)."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert PASSWORD not in result.stderr
    return lines[0]


def count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated SQLite database to copy."""
    folder = tmp_path_factory.mktemp("migrated")
    path = folder / "template.sqlite3"
    result = tandem("migrate", cwd=folder, database=f"sqlite:///{path}")
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture
def database(migrated: Path, tmp_path: Path) -> Path:
    path = tmp_path / "tandem.sqlite3"
    shutil.copy(migrated, path)
    return path


def _postgres() -> tuple[str, str, int]:
    """(user, host, port) of the PostgreSQL server the tests may use, or skip."""
    url = urlsplit(
        os.environ.get("TANDEM_TEST_POSTGRES_URL")
        or os.environ.get("TANDEM_DATABASE_URL", "").replace("sqlite", "")
        or "postgres://postgres@127.0.0.1:5432/postgres"
    )
    host, port = url.hostname or "127.0.0.1", url.port or 5432
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        pytest.skip(f"no PostgreSQL server at {host}:{port}")
    return url.username or "postgres", host, port


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_it_refuses_a_negative_seed(tmp_path: Path) -> None:
    line = refused(synth("--patients", "5", "--seed", "-1", "--out", "pq", cwd=tmp_path))
    assert "--seed" in line and "-1" in line


def test_it_refuses_a_seed_too_long_for_its_site_codes(tmp_path: Path) -> None:
    line = refused(synth("--patients", "5", "--seed", "1" + "0" * 25, "--out", "pq", cwd=tmp_path))
    assert "--seed" in line


def test_it_generates_a_period_of_one_day(tmp_path: Path) -> None:
    args = ["--patients", "50", "--seed", "1", "--start", "2025-01-01", "--end", "2025-01-02"]
    result = synth(*args, "--out", "pq", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "pq" / "observations.parquet").exists()


def test_it_generates_a_single_patient_as_fhir(tmp_path: Path) -> None:
    result = synth(
        "--patients", "1", "--seed", "1", *PERIOD, "--format", "fhir", "--out", "f", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "f" / "Patient.ndjson").read_text().count("\n") == 1


def test_it_refuses_a_period_before_1900(tmp_path: Path) -> None:
    args = ["--start", "0001-01-01", "--end", "0002-01-01", "--out", "pq"]
    line = refused(synth("--patients", "5", "--seed", "1", *args, cwd=tmp_path))
    assert "--start 0001-01-01" in line and "1900-01-01..2199-12-31" in line
    assert not (tmp_path / "pq").exists()


def test_it_refuses_a_period_after_2199(tmp_path: Path) -> None:
    args = ["--start", "9998-01-01", "--end", "9999-12-31", "--out", "pq"]
    line = refused(synth("--patients", "5", "--seed", "1", *args, cwd=tmp_path))
    assert "--end 9999-12-31" in line and "1900-01-01..2199-12-31" in line


def test_it_refuses_an_empty_output_path(tmp_path: Path) -> None:
    line = refused(synth("--patients", "5", "--seed", "1", *PERIOD, "--out", "", cwd=tmp_path))
    assert "--out" in line
    assert not list(tmp_path.glob("*.parquet"))


def test_it_refuses_a_sqlite_database_in_a_missing_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/missing/tandem.sqlite3"
    args = ["--patients", "5", "--seed", "1", *PERIOD, "--format", "db"]
    line = refused(synth(*args, cwd=tmp_path, database=url))
    assert f"{tmp_path}/missing" in line and "does not exist" in line
    assert not (tmp_path / "missing").exists()


def test_it_refuses_a_sqlite_database_not_yet_created(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    args = ["--patients", "5", "--seed", "1", *PERIOD, "--format", "db"]
    line = refused(synth(*args, cwd=tmp_path, database=f"sqlite:///{path}"))
    assert str(path) in line and "tandem migrate" in line
    assert not path.exists()


def test_it_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite3"
    sqlite3.connect(path).close()
    args = ["--patients", "5", "--seed", "1", *PERIOD, "--format", "db"]
    line = refused(synth(*args, cwd=tmp_path, database=f"sqlite:///{path}"))
    assert str(path) in line and "tandem migrate" in line
    assert count(path, "sqlite_master") == 0


def test_it_refuses_an_unreachable_postgresql_without_showing_the_password(
    tmp_path: Path,
) -> None:
    url = f"postgres://tandem:{PASSWORD}@127.0.0.1:{_closed_port()}/tandem"
    args = ["--patients", "5", "--seed", "1", *PERIOD, "--format", "db"]
    line = refused(synth(*args, cwd=tmp_path, database=url))
    assert "cannot connect to PostgreSQL at 127.0.0.1:" in line


def test_it_refuses_a_missing_postgresql_database(tmp_path: Path) -> None:
    user, host, port = _postgres()
    name = f"echo_no_such_database_{uuid.uuid4().hex[:8]}"
    url = f"postgres://{user}:{PASSWORD}@{host}:{port}/{name}"
    args = ["--patients", "5", "--seed", "1", *PERIOD, "--format", "db"]
    line = refused(synth(*args, cwd=tmp_path, database=url))
    assert name in line and "does not exist" in line


def test_it_refuses_a_populated_database_unless_asked_to_append(
    database: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{database}"
    args = ["--patients", "30", *PERIOD, "--format", "db"]
    assert synth(*args, "--seed", "1", cwd=tmp_path, database=url).returncode == 0

    line = refused(synth(*args, "--seed", "2", cwd=tmp_path, database=url))
    assert line.endswith(
        "the database already holds 30 patients; pass --append to add another population"
    )
    assert count(database, "registry_patient") == 30

    appended = synth(*args, "--seed", "2", "--append", cwd=tmp_path, database=url)
    assert appended.returncode == 0, appended.stderr
    assert count(database, "registry_patient") == 60


def test_it_refuses_append_outside_the_database(tmp_path: Path) -> None:
    line = refused(
        synth("--patients", "5", "--seed", "1", *PERIOD, "--out", "pq", "--append", cwd=tmp_path)
    )
    assert "--append" in line and "--format db" in line


def test_a_write_that_fails_midway_leaves_nothing_behind(database: Path, tmp_path: Path) -> None:
    with sqlite3.connect(database) as db:  # the disk "fills up" at the first observation
        db.execute(
            "CREATE TRIGGER full_disk BEFORE INSERT ON clinical_observation "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    args = ["--patients", "30", "--seed", "3", *PERIOD, "--format", "db"]
    line = refused(synth(*args, cwd=tmp_path, database=f"sqlite:///{database}"))
    assert "nothing was written" in line and "disk is full" in line
    for table in ("registry_patient", "core_site", "clinical_encounter", "audit_auditevent"):
        assert count(database, table) == 0, table
