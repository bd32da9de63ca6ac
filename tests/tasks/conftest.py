"""Task fixtures: the personas' team queues, and a task builder with keyword overrides."""

from __future__ import annotations

from typing import Any

import pytest

from tandem.tasks import services
from tandem.tasks.models import Queue, Task


@pytest.fixture
def pc_queue(team) -> Queue:
    """Riverside's primary-care queue: Alice is a member."""
    queue = services.queue_for(site=team.pc_site, kind="primary-care")
    services.set_members(by=None, queue=queue, users=[team.alice])
    return queue


@pytest.fixture
def cm_queue(team) -> Queue:
    """Northside's care-management queue: Bob and Charlie are members."""
    queue = services.queue_for(site=team.cmhc, kind="care-management")
    services.set_members(by=None, queue=queue, users=[team.bob, team.charlie])
    return queue


def make_task(team, **kw: Any) -> Task:
    kw.setdefault("by", team.alice)
    kw.setdefault("patient", team.pat)
    kw.setdefault("title", "Call Pat about the HbA1c")
    if kw.get("queue") is None and kw.get("owner") is None:
        kw["owner"] = team.alice
    return services.create_task(**kw)
