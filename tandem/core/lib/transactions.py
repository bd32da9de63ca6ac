"""One transaction per request that may write; none for a request that only reads.

SQLite lets one connection write at a time, and Tandem opens every write transaction with
``BEGIN IMMEDIATE`` (so that a transaction never has to upgrade a read lock to a write lock, which
fails at once with "database is locked" when another writer committed in between). Wrapping
*every* request in such a transaction (Django's ``ATOMIC_REQUESTS``) meant that a page which
only reads held the database's write lock for as long as it ran, and one slow page made every
sign-in wait, then fail.

So the request's transaction depends on the HTTP method:

- GET, HEAD, OPTIONS and TRACE (safe methods: they must not change state) run without one. Each
  read is its own statement-level snapshot — the consistency PostgreSQL gives inside a
  transaction at its default READ COMMITTED level anyway — and takes no write lock. The only
  writes such a request makes are small ones that open their own short transaction: the audit
  events of ``consent.gate`` (``audit.services.record_many`` is atomic by itself) and session
  saves. The gate writes its event *before* it hands data back, so if the event cannot be
  written the exception ends the request with an error and nothing is shown; a refusal's event
  is committed even if the refusal then leaves the view as an exception.
- Every other method (POST, PUT, PATCH, DELETE) runs its view in one transaction, exactly as
  ``ATOMIC_REQUESTS`` did: committed when the view returns a response, rolled back when it
  raises. On SQLite that transaction is ``BEGIN IMMEDIATE`` and waits (up to the connection's
  timeout) for the write lock.

A view that must not run in a transaction even for a write keeps using
``django.db.transaction.non_atomic_requests``. Async views are not supported (neither are they
by ``ATOMIC_REQUESTS``).

Work registered with :func:`before_commit` during such a view runs after the view has returned,
still inside its transaction, just before the commit: the audit trail appends the events of the
request's reads there (``audit.services.record_reads``), so that the row lock on the chain head
is held for that append and the commit, not from the first read to the end of the view (every
other request's audit event waited for it). If that work fails, the transaction rolls back and
the request fails: nothing it read is shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, transaction
from django.http import HttpRequest, HttpResponse

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

_local = threading.local()


def request_transaction() -> dict[str, Any] | None:
    """A dict that lives as long as this request's transaction (for work to do before its
    commit); None outside one (a page that only reads, a command, a job)."""
    state: dict[str, Any] | None = getattr(_local, "state", None)
    if state is None or not transaction.get_connection(DEFAULT_DB_ALIAS).in_atomic_block:
        return None
    return state


def before_commit(work: Callable[[], None]) -> bool:
    """Run ``work`` when this request's view has returned, inside its transaction, before the
    commit. False (nothing registered) outside a request's transaction: the caller does its
    work at once."""
    state = request_transaction()
    if state is None:
        return False
    state.setdefault("before_commit", []).append(work)
    return True


class RequestTransactionMiddleware:
    """Runs the view of a request that may write in one transaction (see the module docstring).

    Goes last in ``MIDDLEWARE``: its ``process_view`` calls the view itself, so every other
    middleware's ``process_view`` (CSRF above all) must already have run. An exception from a
    view it calls reaches Django's error handling without passing through other middlewares'
    ``process_exception`` hooks; Tandem uses none.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view: Callable[..., HttpResponse],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if request.method in SAFE_METHODS:
            return None  # Django calls the view, outside any transaction
        if DEFAULT_DB_ALIAS in getattr(view, "_non_atomic_requests", ()):
            return None
        with transaction.atomic(using=DEFAULT_DB_ALIAS):
            state: dict[str, Any] = {}
            _local.state = state
            try:
                response = view(request, *args, **kwargs)
                pending = state.setdefault("before_commit", [])
                while pending:  # registered by the view, in order (see before_commit)
                    pending.pop(0)()
            finally:
                _local.state = None
        if response is None:  # Django would call the view a second time
            raise ValueError(f"The view {view.__module__}.{view.__qualname__} returned None.")
        return response
