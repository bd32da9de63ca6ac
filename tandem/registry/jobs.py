"""The registry's steps of the daily refresh (``tandem.jobs`` runs them in order, after the
measures are stored): cohorts, then risk scores. Thin: each calls its service.

Each step is ``step(*, as_of, progress) -> dict[str, int]`` (counts for the job's history;
never patient data).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from tandem.core.lib import db
from tandem.registry import services
from tandem.registry.models import CohortMembership, RiskScore


def rebuild_cohorts(*, as_of: dt.date, progress: Callable[[str], None]) -> dict[str, int]:
    """Evaluate every registry cohort and replace its members: members per cohort."""
    progress("evaluating the registry cohorts")
    counts = services.rebuild_cohorts(as_of=as_of)
    db.analyze(CohortMembership)  # rewritten: the planner's statistics follow (core.lib.db)
    progress(f"stored {sum(counts.values())} memberships in {len(counts)} cohorts")
    return counts


def rebuild_risk(*, as_of: dt.date, progress: Callable[[str], None]) -> dict[str, int]:
    """Score every living patient: patients per tier."""
    progress("scoring risk")
    tiers = services.rebuild_risk(as_of=as_of)
    db.analyze(RiskScore)
    progress(f"scored {sum(tiers.values())} patients")
    return tiers
