"""The real django-q2 cluster on the ORM broker: ``tandem jobs worker`` and ``tandem serve``.

Each test starts the worker as a subprocess against the test database (on SQLite, a copy of it in
a file, since the in-memory test database is not shared with other processes), waits a bounded
time for what it must see, and kills the worker's whole process group on teardown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from django_q.models import Schedule, Task
from django_q.tasks import async_task

from tests.core.test_serve import free_port

ROOT = Path(__file__).resolve().parents[2]
WAIT = 90  # seconds: the cluster looks at schedules every 30 s


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TANDEM_", "DJANGO_"))}
    env.update(
        TANDEM_VAR_DIR=str(tmp_path / "var"),
        TANDEM_DATABASE_URL=database_url,
        TANDEM_SECRET_KEY=settings.SECRET_KEY,  # tasks are signed with it
        TANDEM_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


@contextmanager
def started(argv: list[str], env: dict[str, str], *, until: str) -> Iterator[subprocess.Popen]:
    """Run ``tandem ARGV`` in its own process group until a line containing ``until``; kill the
    group afterwards, whatever happened."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tandem", *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _read_until(process, until)
        # Keep reading what it prints: a full pipe would block its writes (a server stopping
        # while logging), and it could never exit.
        threading.Thread(target=process.stdout.read, daemon=True).start()  # type: ignore[union-attr]
        yield process
    finally:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _read_until(process: subprocess.Popen, text: str) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"never saw {text!r}; output:\n{''.join(lines)}")


def _eventually(check: Callable[[], object], what: str) -> object:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"not within {WAIT} s: {what}")


@pytest.mark.slow
def test_the_worker_runs_a_queued_task_and_a_due_schedule(shared_database, tmp_path):
    Schedule.objects.create(
        name="test: note",
        func="tests.jobs.steps.note",
        args="'on schedule'",
        schedule_type=Schedule.ONCE,
        next_run=timezone.now() - timezone.timedelta(minutes=1),
    )
    env = _env(shared_database, tmp_path)

    with started(["jobs", "worker"], env, until="Background jobs worker running"):
        task_id = async_task("tests.jobs.steps.note", "now")
        done = _eventually(
            lambda: Task.objects.filter(id=task_id, success=True).first(), "the queued task"
        )
        scheduled = _eventually(
            lambda: Task.objects.filter(group="test: note", success=True).first(),
            "the scheduled task",
        )

    assert done.result == "noted now"  # type: ignore[attr-defined]
    assert scheduled.result == "noted on schedule"  # type: ignore[attr-defined]
    refresh = Schedule.objects.get(name="tandem: daily refresh")  # made when the worker starts
    assert (
        refresh.func == "tandem.jobs.queue.scheduled_refresh" and refresh.next_run > timezone.now()
    )


def _workers_of(parent: int) -> list[int]:
    """Pids of `tandem jobs worker --parent PARENT` processes."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"worker" in argv and b"--parent" in argv and str(parent).encode() in argv:
            found.append(int(proc.name))
    return found


@pytest.mark.slow
def test_serve_runs_the_worker_beside_it_and_stops_it_on_ctrl_c(shared_database, tmp_path):
    env = _env(shared_database, tmp_path)
    argv = ["serve", "--port", str(free_port()), "--threads", "2"]

    with started(argv, env, until="Background jobs worker running") as serve:
        workers = _workers_of(serve.pid)  # the worker and its cluster (forks share its argv)
        assert len(workers) >= 4, workers  # worker, sentinel, pusher, monitor, worker pool
        task_id = async_task("tests.jobs.steps.note", "beside the server")
        _eventually(lambda: Task.objects.filter(id=task_id, success=True).exists(), "the task")

        # Ctrl-C reaches the server alone (the worker has a session of its own); it stops the
        # worker, then exits as it always has on Ctrl-C (waitress returns from run()).
        serve.send_signal(signal.SIGINT)
        assert serve.wait(30) == 0

    assert _eventually(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), "exit")
    assert _workers_of(serve.pid) == []
