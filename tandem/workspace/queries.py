"""What the home pages show, composed from the apps' own queries (each through the gate).

One function per panel: ``panel(*, user, page) -> data`` (``page``: the requested page of a
paginated panel); the home page renders ``workspace/_panel_<key>.html`` with it as ``data``.
A panel may return ``None`` to be left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tandem.core.queries import leader_site_ids
from tandem.jobs import rules as job_rules
from tandem.jobs.models import JobRun
from tandem.outreach import queries as outreach_queries
from tandem.registry import queries as registry
from tandem.tasks import queries as task_queries

Panel = Callable[..., Any]


def caseload(*, user: Any, page: int) -> Any:
    """One page of my patients (treatment), audited by the registry's query."""
    return registry.caseload(user=user, page=page)


def sites(*, user: Any, page: int) -> Any:
    """Counts per site the user leads: numbers only, no patient row."""
    return registry.site_overview(user=user, site_ids=leader_site_ids(user))


def own_record(*, user: Any, page: int) -> Any:
    """The signed-in patient's own record (patient access), audited; None when not linked."""
    return {"own": registry.own_record(user=user)}


def tasks(*, user: Any, page: int) -> Any:
    """My tasks and my queues in counts (no patient data)."""
    return task_queries.task_counts(user=user)


HOME_WORKLISTS = 8  # rows on the home panel; the worklists page has them all


def worklists(*, user: Any, page: int) -> Any:
    """The worklists with open items I may see (open, mine, overdue, time-critical), the most
    pressing first: time-critical, then with overdue items, then mine, then the most open."""
    rows = outreach_queries.worklist_summary(user=user)
    rows.sort(key=lambda w: (not w["time_critical"], -w["overdue"], -w["mine"], -w["open"]))
    return {"rows": rows[:HOME_WORKLISTS], "total": len(rows)}


PANELS: dict[str, Panel] = {
    "caseload": caseload,
    "sites": sites,
    "own-record": own_record,
    "tasks": tasks,
    "worklists": worklists,
}


def daily_refresh_succeeded() -> bool:
    """Whether any daily refresh has succeeded (job history: no patient data, no gate)."""
    return JobRun.objects.filter(
        job=job_rules.DAILY_REFRESH.name, status=job_rules.SUCCEEDED
    ).exists()
