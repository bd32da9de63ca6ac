"""Processes that run beside ``tandem serve``, registered by the apps that own them.

``core`` imports no domain app, yet ``tandem serve`` (in ``core``) must start the background-jobs
worker (``tandem.jobs``) so that the demo needs no second server. An app registers a companion in
its ``AppConfig.ready()``: a callable returning a context manager that starts its process on
entry and stops it on exit. ``tandem serve`` enters every registered companion once it has bound
its port, and leaves them (in reverse order) when it stops, Ctrl-C included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager

Companion = Callable[[], AbstractContextManager[object]]

_registered: dict[str, Companion] = {}


def register(name: str, companion: Companion) -> None:
    """Add (or replace) the companion called ``name``."""
    _registered[name] = companion


def registered() -> list[Companion]:
    return list(_registered.values())


@contextmanager
def running() -> Iterator[None]:
    """Start every companion; stop them all on the way out."""
    with ExitStack() as stack:
        for companion in registered():
            stack.enter_context(companion())
        yield
