"""Facts read once per request rather than once per use: who the reader is, their sites and
programs, the current worklists.

A page asks the same questions many times — the role of the user for the navigation, for the
view and for the purpose of each gate read; the reader's practitioner, site roles and programs
for each gate decision. :func:`remember` keeps the answer for the rest of the request, so each
is read from the database once.

The scope is the request: it opens when Django signals ``request_started`` and closes on
``request_finished`` (connected in ``core.apps``), per thread (each server thread serves one
request at a time). Outside a request — commands, background jobs, tests calling functions
directly — nothing is kept and every call reads afresh, exactly as without this module.

Only facts about staff and configuration go here (no patient data: a patient's care team or
consent directives are read by each gate decision). A request that changes one of these facts
(an administrator's edit) redirects, and the next request reads it afresh; a request that must
see its own change calls :func:`forget`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

_local = threading.local()


def start(**_: Any) -> None:
    """Open the request's scope (``request_started``)."""
    _local.cache = {}


def end(**_: Any) -> None:
    """Close the request's scope (``request_finished``): nothing is kept past it."""
    _local.cache = None


def active() -> bool:
    return getattr(_local, "cache", None) is not None


def remember(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` once per request for ``key``; every call outside a request computes."""
    cache: dict[Hashable, Any] | None = getattr(_local, "cache", None)
    if cache is None:
        return compute()
    if key in cache:
        return cache[key]  # type: ignore[no-any-return]
    value = cache[key] = compute()
    return value


def forget() -> None:
    """Drop what this request has kept (after it changed staff facts it reads again)."""
    cache: dict[Hashable, Any] | None = getattr(_local, "cache", None)
    if cache is not None:
        cache.clear()
