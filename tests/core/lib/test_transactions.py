"""A request that only reads takes no write lock, so a long read never keeps anyone from
signing in; a request that writes is still one transaction.

The concurrent stories run two requests in two threads against a database file: the in-memory
SQLite test database is shared by every thread and shows no locking. On PostgreSQL they run on
the test database as it is.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.http import HttpResponse
from django.test import Client, RequestFactory

from tandem.audit.models import AuditEvent
from tandem.core.lib.transactions import RequestTransactionMiddleware
from tests import builders as b
from tests.personas import build_team

PASSWORD = "correct horse battery"
WAIT = 10  # seconds a thread waits for the other before the test gives up


@pytest.fixture
def database_file(transactional_db, tmp_path) -> Iterator[None]:
    """On SQLite, the test database copied to a file that each thread opens on its own
    connection, with a 2-second busy timeout (so a lock shows as an error, not a long wait)."""
    if connection.vendor != "sqlite":
        yield
        return
    memory = connections["default"]
    memory_settings = connections.settings["default"]
    memory.ensure_connection()
    path = tmp_path / "tandem.sqlite3"
    with sqlite3.connect(path) as copy:
        memory.connection.backup(copy)
    options = {**memory_settings["OPTIONS"], "timeout": 2}
    connections.settings["default"] = {**memory_settings, "NAME": str(path), "OPTIONS": options}
    connections["default"] = connections.create_connection("default")
    try:
        yield
    finally:
        connections["default"].close()
        connections.settings["default"] = memory_settings
        connections["default"] = memory


@contextmanager
def a_slow_read(started: threading.Event, may_finish: threading.Event) -> Iterator[None]:
    """Hold this thread's first counting query over patients open until ``may_finish``.

    On SQLite a progress handler pauses the statement while it runs (its read snapshot open);
    on PostgreSQL the pause comes right after the statement.
    """

    def pause() -> int:
        if not started.is_set():
            started.set()
            may_finish.wait(WAIT)
        return 0  # go on

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if started.is_set() or "COUNT(" not in sql or "registry_patient" not in sql:
            return execute(sql, params, many, context)
        if connection.vendor == "sqlite":
            raw = context["connection"].connection
            raw.set_progress_handler(pause, 100)
            try:
                return execute(sql, params, many, context)
            finally:
                raw.set_progress_handler(None, 100)
        result = execute(sql, params, many, context)
        pause()
        return result

    with connection.execute_wrapper(wrapper):
        yield


def in_a_thread(work: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = work()
        except Exception as exc:  # reported by the test
            out["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def the_leader_opens_the_overview_slowly(leader, started, may_finish):
    def work() -> HttpResponse:
        client = Client()
        client.force_login(leader)
        with a_slow_read(started, may_finish):
            return client.get("/")

    return in_a_thread(work)


def test_a_long_read_does_not_keep_anyone_from_signing_in(database_file):
    team = build_team()
    started, may_finish = threading.Event(), threading.Event()
    thread, overview = the_leader_opens_the_overview_slowly(team.leo, started, may_finish)
    try:
        assert started.wait(WAIT), overview
        sign_in = Client().post("/login/", {"username": "alice", "password": PASSWORD})
        assert not overview, "the overview was still reading while Alice signed in"
    finally:
        may_finish.set()
        thread.join(WAIT)

    assert sign_in.status_code == 302 and sign_in.url == "/"
    assert "error" not in overview, overview
    assert overview["result"].status_code == 200
    assert "Sites overview" in overview["result"].text


def test_a_long_read_does_not_hold_up_an_audited_read(database_file):
    team = build_team()
    started, may_finish = threading.Event(), threading.Event()
    thread, overview = the_leader_opens_the_overview_slowly(team.leo, started, may_finish)
    try:
        assert started.wait(WAIT), overview
        client = Client()
        client.force_login(team.alice)
        summary = client.get(f"/patients/{team.pat.pk}/")
    finally:
        may_finish.set()
        thread.join(WAIT)

    assert summary.status_code == 200 and "Pat Jones" in summary.text
    assert AuditEvent.objects.filter(actor_id=team.alice.pk, patient_id=team.pat.pk).exists()
    assert overview["result"].status_code == 200


def test_when_the_audit_cannot_be_written_nothing_is_shown(database_file):
    if connection.vendor != "sqlite":
        pytest.skip("needs SQLite's single write lock (PostgreSQL would wait without limit)")
    team = build_team()
    client = Client(raise_request_exception=False)
    client.force_login(team.alice)
    locked, may_unlock = threading.Event(), threading.Event()

    def a_long_write() -> None:
        with transaction.atomic():  # BEGIN IMMEDIATE: holds the write lock until the end
            get_user_model().objects.filter(pk=team.olive.pk).update(first_name="Busy")
            locked.set()
            may_unlock.wait(WAIT)

    thread, writer = in_a_thread(a_long_write)
    try:
        assert locked.wait(WAIT), writer
        summary = client.get(f"/patients/{team.pat.pk}/")
    finally:
        may_unlock.set()
        thread.join(WAIT)

    assert summary.status_code == 500
    assert "Jones" not in summary.text
    assert not AuditEvent.objects.filter(actor_id=team.alice.pk).exists()


def test_a_request_that_writes_is_one_transaction_rolled_back_on_error(db):
    middleware = RequestTransactionMiddleware(lambda request: HttpResponse())
    users = get_user_model().objects

    def writes_then_fails(request):
        b.user("half-done")
        raise RuntimeError("the view failed after writing")

    with pytest.raises(RuntimeError):
        middleware.process_view(RequestFactory().post("/"), writes_then_fails, (), {})
    assert not users.filter(username="half-done").exists()

    def writes(request):
        b.user("done")
        return HttpResponse(status=201)

    response = middleware.process_view(RequestFactory().post("/"), writes, (), {})
    assert response is not None and response.status_code == 201
    assert users.filter(username="done").exists()


@pytest.mark.parametrize("method", ["get", "head", "options"])
def test_a_request_that_only_reads_is_left_to_django_without_a_transaction(method):
    middleware = RequestTransactionMiddleware(lambda request: HttpResponse())
    request = getattr(RequestFactory(), method)("/")

    assert middleware.process_view(request, lambda request: HttpResponse(), (), {}) is None


def test_a_writing_requests_read_events_wait_for_the_end_of_its_view(db):
    """The chain head is not locked while a writing view works: the gate's read events are
    appended once the view has returned, in order, in its transaction (issue 10: every other
    request's audit event waited for the lock)."""
    from tandem.audit import services as audit
    from tandem.consent import gate

    team = build_team()
    middleware = RequestTransactionMiddleware(lambda request: HttpResponse())
    seen_inside: list[int] = []

    def reads_then_writes(request):
        gate.read(user=team.alice, patient_id=team.pat.pk, purpose="treatment", requests=[])
        gate.deny(user=team.alice, patient_id=None, purpose="treatment", detail="second")
        seen_inside.append(AuditEvent.objects.count())  # nothing appended yet
        audit.record(actor=team.alice, entry=audit.Entry("write:thing", "written"))
        return HttpResponse(status=201)

    before = AuditEvent.objects.count()
    response = middleware.process_view(RequestFactory().post("/"), reads_then_writes, (), {})

    assert response is not None and response.status_code == 201
    assert seen_inside == [before]
    events = list(AuditEvent.objects.order_by("pk"))[before:]
    assert [(e.action, e.outcome) for e in events] == [
        ("write:thing", "written"),  # a write's event is appended at once
        ("read", "shown"),
        ("read", "denied"),
    ]
    assert events[1].occurred_at <= events[2].occurred_at  # each keeps the time it was read
    assert audit.verify().intact


def test_a_writing_view_that_fails_appends_none_of_its_read_events(db):
    from tandem.consent import gate

    team = build_team()
    middleware = RequestTransactionMiddleware(lambda request: HttpResponse())

    def reads_then_fails(request):
        gate.read(user=team.alice, patient_id=team.pat.pk, purpose="treatment", requests=[])
        raise RuntimeError("the view failed")

    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError):
        middleware.process_view(RequestFactory().post("/"), reads_then_fails, (), {})

    assert AuditEvent.objects.count() == before  # rolled back with the view, as before
    # The next request starts clean: its events are its own.
    middleware.process_view(
        RequestFactory().post("/"),
        lambda request: (
            gate.deny(user=team.alice, patient_id=None, purpose="treatment", detail="next")
            or HttpResponse()
        ),
        (),
        {},
    )
    assert list(AuditEvent.objects.values_list("detail", flat=True))[before:] == ["next"]
