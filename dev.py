#!/usr/bin/env python3
"""Set-up and entry point for a fresh machine with only Python >= 3.11.

    python3 dev.py demo     create .venv, install Tandem, serve a synthetic population
    python3 dev.py test     create .venv, install Tandem + test tools, run every test
                            (SQLite always; PostgreSQL when a server answers)
    python3 dev.py lint     ruff format --check, ruff check, mypy, migrations check
    python3 dev.py shell    a shell command inside the virtual environment: dev.py shell -- CMD

The virtual environment lives in ./.venv and is rebuilt when pyproject.toml changes.
Environment: TANDEM_EXTRAS (comma list, e.g. "spark") adds optional extras;
TANDEM_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/tandem) is the server
the PostgreSQL run uses; TANDEM_REQUIRE_POSTGRES=1 turns "no server" into a failure (CI).
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import venv
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/tandem"


def say(msg: str) -> None:
    print(f"dev.py: {msg}", flush=True)


def extras(with_dev: bool) -> list[str]:
    wanted = [e.strip() for e in os.environ.get("TANDEM_EXTRAS", "").split(",") if e.strip()]
    if with_dev:
        wanted.insert(0, "dev")
    return wanted


def ensure_venv(with_dev: bool) -> None:
    if sys.version_info < (3, 11):
        sys.exit("dev.py: Tandem needs Python >= 3.11")
    wanted = extras(with_dev)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = VENV / ".tandem-stamp"
    if stamp.exists():
        have_digest, _, have_extras = stamp.read_text().partition("|")
        # An environment with more extras than asked for is still good enough.
        if have_digest == digest and set(wanted) <= set(have_extras.split(",")):
            return
    if not PY.exists():
        say(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    spec = f".[{','.join(wanted)}]" if wanted else "."
    say(f"installing tandem{spec[1:]} (pinned dependencies)")
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "-e", spec], cwd=ROOT, check=True)
    stamp.write_text(f"{digest}|{','.join(sorted(wanted))}")


def postgres_answers(url: str) -> bool:
    parts = urlparse(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2):
            return True
    except OSError:
        return False


def run(cmd: list[str], env: dict[str, str] | None = None) -> int:
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def test(args: list[str]) -> int:
    """Every test on SQLite and the database tests on PostgreSQL, side by side.

    The two runs share no state (an in-memory SQLite database; a PostgreSQL test database; their
    own TANDEM_VAR_DIR), so on a 2-core machine running them at once takes about the time of
    the longer one. The PostgreSQL run's output goes to ``var/test-postgres.log`` and is printed
    after the SQLite run; ``TANDEM_TEST_SERIAL=1`` runs them one after the other instead.
    """
    ensure_venv(with_dev=True)
    base = dict(os.environ)
    base.pop("TANDEM_DATABASE_URL", None)
    pg_url = os.environ.get("TANDEM_TEST_POSTGRES_URL", DEFAULT_PG)
    pytest = [str(PY), "-m", "pytest", *args]
    sqlite_env = dict(base, TANDEM_TEST_DATABASE="sqlite", TANDEM_TEST_POSTGRES_URL=pg_url)
    pg_var = ROOT / "var" / "test-postgres"
    pg_env = dict(
        base,
        TANDEM_TEST_DATABASE="postgres",
        TANDEM_DATABASE_URL=pg_url,
        TANDEM_TEST_POSTGRES_URL=pg_url,
        TANDEM_VAR_DIR=str(pg_var),
    )
    pg_cmd = [*pytest, "-m", "database"]

    if not postgres_answers(pg_url):
        msg = f"no PostgreSQL server answers at {urlparse(pg_url).netloc}: PostgreSQL run skipped"
        if os.environ.get("TANDEM_REQUIRE_POSTGRES") == "1":
            say(msg + " (TANDEM_REQUIRE_POSTGRES=1 makes this a failure)")
            return 1
        print("\n=== Every test on SQLite (the embedded default) ===", flush=True)
        first = run(pytest, sqlite_env)
        say(msg)
        return first

    if os.environ.get("TANDEM_TEST_SERIAL") == "1":
        print("\n=== Run 1 of 2: every test on SQLite (the embedded default) ===", flush=True)
        first = run(pytest, sqlite_env)
        if first:
            return first
        print("\n=== Run 2 of 2: database tests on PostgreSQL ===", flush=True)
        return run(pg_cmd, pg_env)

    pg_var.mkdir(parents=True, exist_ok=True)
    log_path = ROOT / "var" / "test-postgres.log"
    print(
        "\n=== Two runs side by side: every test on SQLite (below), the database tests on "
        f"PostgreSQL (output in {log_path.relative_to(ROOT)}, printed after) ===",
        flush=True,
    )
    with log_path.open("wb") as log:
        pg = subprocess.Popen(pg_cmd, cwd=ROOT, env=pg_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            first = run(pytest, sqlite_env)
            second = pg.wait()
        except BaseException:
            pg.terminate()
            pg.wait()
            raise
    print("\n=== The database tests on PostgreSQL (ran beside the SQLite run) ===", flush=True)
    sys.stdout.write(log_path.read_text(errors="replace"))
    sys.stdout.flush()
    say(f"SQLite run exit code {first}, PostgreSQL run exit code {second}")
    return first or second


def lint() -> int:
    ensure_venv(with_dev=True)
    steps = [
        [str(BIN / "ruff"), "format", "--check", "."],
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "mypy"), "tandem"],
        [str(BIN / "tandem"), "makemigrations", "--check", "--dry-run"],
    ]
    for step in steps:
        print("$ " + " ".join(Path(step[0]).name if i == 0 else s for i, s in enumerate(step)))
        code = run(step)
        if code:
            return code
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "demo":
        ensure_venv(with_dev=False)
        return run([str(BIN / "tandem"), "demo", *rest])
    if command == "test":
        return test(rest)
    if command == "lint":
        return lint()
    if command == "shell":
        ensure_venv(with_dev=True)
        if rest and rest[0] == "--":
            rest = rest[1:]
        env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        return run(rest or [os.environ.get("SHELL", "sh")], env)
    print(f"dev.py: unknown command {command!r} (demo, test, lint, shell)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
