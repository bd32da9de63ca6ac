"""The audit trail's part of the demo: a first anchor, so the viewer's status names one."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from tandem.audit import anchors, jobs


def seed_demo(*, personas: dict[str, Any]) -> None:
    """Record the first daily anchor (and the privacy officer's digest) once the day's seeds
    are committed, unless the anchor file holds one already. Idempotent."""
    path = jobs.anchor_file()
    try:
        if path.exists() and anchors.read_file(path):
            return
    except anchors.AnchorError:
        return  # an unreadable file: the viewer shows it, the demo does not touch it
    transaction.on_commit(jobs.record_anchor)
