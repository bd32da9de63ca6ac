"""The worker: a django-q2 cluster, run on its own (``tandem jobs worker``) or beside the web
server (``tandem serve`` and ``tandem demo`` start it as a child process: no second server).

Why a child process and not a thread in the web server: django-q2's cluster forks its workers
and installs signal handlers, which only the main thread of a process may do; a child process
also keeps a long refresh (CPU-heavy measure evaluation) off the web server's Python
interpreter. The child runs in its own session, so Ctrl-C reaches only ``tandem serve``, which
then stops it in order: SIGTERM (the cluster finishes or abandons its task), and after
:data:`STOP_GRACE` seconds SIGKILL to the whole group. A refresh cut short that way is marked
interrupted, and the queue hands it out again (``services.expire_abandoned``). The child also
watches its parent and stops when the parent is gone (``--parent``).

SQLite: the cluster's own writes are short (claiming a task, saving its result, moving the
schedule every 30 s); its reads (looking for tasks once a second) never block writers in WAL
mode. The write lock is held for long only by the refresh's own transactions (see ADR 0006).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, connections, transaction

from tandem.core.lib.cli import UsageError
from tandem.core.lib.db import require_tables

logger = logging.getLogger(__name__)
STOP_GRACE = 10.0  # seconds `tandem serve` waits for the worker to stop before killing it
EXPIRY_LOCK_TIMEOUT = 5  # seconds the exit path waits for a lock on the run rows
TABLES = ("django_q_ormq", "django_q_schedule", "jobs_jobrun")


def check_database() -> None:
    """:class:`UsageError` (one line) unless the database holds the queue and history tables."""
    require_tables(*TABLES, kind="background-job")


def run_cluster(*, parent: int | None = None) -> int:
    """Run the django-q2 cluster until SIGTERM/SIGINT (or until ``parent`` exits)."""
    from django_q.cluster import Cluster

    from tandem.audit import jobs as audit_jobs
    from tandem.jobs import queue, rules, services

    check_database()
    queue.ensure_schedule()
    audit_jobs.ensure_schedule()  # the daily audit anchor (tandem.audit.jobs)
    for name in rules.JOBS:
        services.expire_abandoned(name)
    connections.close_all()  # the cluster forks: no connection may be shared with children
    cluster = Cluster()
    cluster.start()
    print(
        f"Background jobs worker running ({settings.Q_CLUSTER['workers']} worker process(es); "
        f"daily refresh at {settings.TANDEM_REFRESH_AT} {settings.TIME_ZONE})",
        flush=True,
    )
    while cluster.sentinel is not None and cluster.sentinel.is_alive():
        if parent is not None and os.getppid() != parent:
            cluster.stop()  # the server that started us is gone
            break
        time.sleep(0.5)
    return 0


@contextmanager
def beside_server() -> Iterator[None]:
    """The ``tandem serve`` companion: the worker as a child process while the server runs."""
    if not settings.TANDEM_JOBS_IN_SERVE:
        yield
        return
    try:
        check_database()
    except UsageError as exc:
        print(f"Background jobs are not running: {exc}", file=sys.stderr, flush=True)
        yield
        return
    child = subprocess.Popen(
        [sys.executable, "-m", "tandem", "jobs", "worker", "--parent", str(os.getpid())],
        start_new_session=True,
    )
    try:
        yield
    finally:
        stop(child)


def stop(child: subprocess.Popen[bytes]) -> None:
    """Ask the worker to stop; kill its process group if it has not after :data:`STOP_GRACE`."""
    from tandem.jobs import rules, services

    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    _reap_group(child.pid)
    _expire_abandoned_runs(services, rules)


def _expire_abandoned_runs(services: Any, rules: Any) -> None:
    """Mark the runs the stopped worker abandoned — without ever holding up the server's exit:
    a row another session has locked (PostgreSQL) or the database's write lock (SQLite, whose
    usual busy timeout is 20 s) makes this give up after :data:`EXPIRY_LOCK_TIMEOUT` (the next
    worker start expires the runs instead)."""
    try:
        if connection.vendor == "sqlite":  # before BEGIN IMMEDIATE, which waits for the lock
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {EXPIRY_LOCK_TIMEOUT * 1000}")
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = '{EXPIRY_LOCK_TIMEOUT}s'")
            for name in rules.JOBS:
                services.expire_abandoned(name)
    except OperationalError:
        logger.warning("abandoned job runs not marked on exit (a row was locked); next start will")


def _reap_group(group: int) -> None:
    """Kill what is left of the worker's process group (its cluster's children)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)
