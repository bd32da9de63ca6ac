"""The measures step of the daily refresh: every measure computed and stored for the refresh period.

It stores through the same code as ``tandem measure run --all --store`` (``run.run_measures``).

**The period.** Each measure runs for the calendar year of ``as_of`` when it has an implemented
version for that year (Tandem's HEDIS-style and own measures apply to any period, so they always
do). A CMS eCQM with no implemented version for that year (a year before 2025 or after 2026, or
a version published but not written yet) runs in its **latest implemented** version over *that
version's own* performance period (CMS122v14 over 2026) — never one year's logic over another
year's period, which the versions code refuses anyway. Value sets: the expansions shipped with
Tandem for the period's year, overlaid by those loaded into the database. Each progress line names the version and period
every measure used, so the run's history records them.

Measures are run one performance period at a time (one extract of the analytic tables each),
and each measure's results are committed on their own (``run_measures(commit_each=True)``): the
step holds SQLite's write lock only while it stores a measure, never while it evaluates, so web
writes (and the queue's own) do not wait for the whole step. A failure leaves the measures
stored before it (each complete) and fails the step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from itertools import groupby

from tandem.measures import definitions, run, valuesets
from tandem.measures.definitions.versions import MeasureVersion, NoVersionForPeriod, fmt_period

Period = tuple[dt.date, dt.date]


def refresh_plan(as_of: dt.date) -> list[tuple[MeasureVersion, Period]]:
    """Each measure's version and period for a refresh on ``as_of`` (see the module's doc),
    grouped by period, latest period first."""
    year: Period = (dt.date(as_of.year, 1, 1), dt.date(as_of.year, 12, 31))
    plan: list[tuple[MeasureVersion, Period]] = []
    for info in definitions.REGISTRY.values():
        try:
            plan.append((info.select(year), year))
        except NoVersionForPeriod:
            latest = info.latest
            if latest.period is None:  # pragma: no cover - an any-period version is chosen above
                raise
            plan.append((latest, latest.period))
    plan.sort(key=lambda item: item[1], reverse=True)
    return plan


def _valuesets(year: int) -> valuesets.ValueSets:
    """The value sets for performance year ``year``, as ``tandem measure run`` uses them: the
    expansions shipped with Tandem, overlaid by those loaded into the database. A measure whose
    value sets are still missing is reported as skipped."""
    from tandem.terminology.queries import stored_expansions

    return valuesets.for_year(year, stored=stored_expansions(year))


def store_all(*, as_of: dt.date, progress: Callable[[str], None]) -> dict[str, int]:
    """Compute and store every measure for the refresh on ``as_of``; counts for the history."""
    plan = refresh_plan(as_of)
    counts = {"measures": len(plan), "stored": 0, "skipped": 0, "periods": 0}
    for period, items in groupby(plan, key=lambda item: item[1]):
        versions = [version for version, _ in items]
        counts["periods"] += 1
        progress(f"{len(versions)} measures for {fmt_period(period)}: extracting")
        outcomes = run.run_measures(
            by=None,
            keys=[v.id for v in versions],
            period=period,
            store=True,
            valuesets=_valuesets(period[0].year),
            advance=lambda key: progress(f"{key} computed"),
            commit_each=True,
        )
        for outcome in outcomes:
            if outcome.skipped:
                counts["skipped"] += 1
                progress(f"{outcome.measure} skipped: {outcome.skipped}")
            else:
                counts["stored"] += 1
                progress(
                    f"{outcome.measure}: {outcome.version} over {fmt_period(period)}, "
                    f"{outcome.patients} patients, stored as run {outcome.run_id}"
                )
    return counts
