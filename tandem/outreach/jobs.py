"""The outreach step of the daily refresh (``tandem.jobs`` runs it after cohorts and risk)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from tandem.core.lib import db
from tandem.outreach import services
from tandem.outreach.models import ItemEvent, WorklistItem


def rebuild_worklists(*, as_of: dt.date, progress: Callable[[str], None]) -> dict[str, int]:
    """Rebuild every worklist as of ``as_of``: open, keep, auto-resolve; stamp risk."""
    progress("Rebuilding worklists")
    counts = services.rebuild_worklists(as_of=as_of, progress=progress)
    # The lists were rewritten: refresh the planner's statistics before the first page reads them.
    db.analyze(WorklistItem, ItemEvent)
    return counts
