from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

import pytest
from django.db import connection, connections

from tandem.jobs import rules
from tests.jobs import steps


@pytest.fixture
def pipeline(monkeypatch) -> Callable[..., rules.Job]:
    """Make the daily refresh the test-only steps named (``tests/jobs/steps.py``)."""
    steps.CALLS.clear()
    steps.SEEN.clear()

    def use(*names: str) -> rules.Job:
        job = steps.job(*names)
        monkeypatch.setattr(rules, "DAILY_REFRESH", job)
        monkeypatch.setitem(rules.JOBS, job.name, job)
        return job

    return use


@pytest.fixture
def shared_database(transactional_db, tmp_path) -> Iterator[str]:
    """A database URL that another process can open, holding the test database's tables."""
    if connection.vendor != "sqlite":
        db = connection.settings_dict
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        yield f"postgresql://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        return
    memory = connections["default"]
    memory_settings = connections.settings["default"]
    memory.ensure_connection()
    path = tmp_path / "tandem.sqlite3"
    with sqlite3.connect(path) as copy:
        memory.connection.backup(copy)
    connections.settings["default"] = {**memory_settings, "NAME": str(path)}
    connections["default"] = connections.create_connection("default")
    try:
        yield f"sqlite:///{path}"
    finally:
        connections["default"].close()
        connections.settings["default"] = memory_settings
        connections["default"] = memory
