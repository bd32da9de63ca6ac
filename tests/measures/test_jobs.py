"""The measures step of the daily refresh: which version and period each measure is stored for."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connections

from tandem.measures import definitions
from tandem.measures.jobs import refresh_plan, store_all
from tandem.measures.models import MeasureRun
from tests.jobs.conftest import shared_database  # noqa: F401 (a fixture)
from tests.personas import build_team

Y2025 = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
Y2026 = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def test_it_runs_each_measure_for_this_year_in_its_version_for_that_year():
    plan = {
        version.key: (version.id, period) for version, period in refresh_plan(dt.date(2026, 12, 3))
    }

    assert set(plan) == set(definitions.REGISTRY)
    assert plan["CMS122"] == ("CMS122v14", Y2026)
    assert plan["CMS2"] == ("CMS2v15", Y2026)
    assert plan["CMS347"] == ("CMS347v9", Y2026)
    # Tandem's and the HEDIS-style measures apply to any period: this calendar year.
    assert plan["SSD"] == ("SSDv1", Y2026)
    assert plan["TANDEM-PCENG"] == ("TANDEM-PCENGv1", Y2026)


def test_a_year_without_versions_runs_the_latest_implemented_version_over_its_own_year():
    plan = {
        version.key: (version.id, period) for version, period in refresh_plan(dt.date(2027, 3, 1))
    }

    assert plan["CMS122"] == ("CMS122v14", Y2026)  # never 2026 logic over a 2027 period
    assert plan["SSD"][1] == (dt.date(2027, 1, 1), dt.date(2027, 12, 31))


def test_in_a_year_with_implemented_versions_every_measure_runs_for_that_year():
    plan = refresh_plan(dt.date(2025, 6, 30))

    assert {period for _, period in plan} == {Y2025}
    assert dict((v.key, v.id) for v, _ in plan)["CMS165"] == "CMS165v13"


@pytest.mark.slow
def test_it_stores_every_measure_and_says_which_version_and_period_it_used(team):
    lines: list[str] = []

    counts = store_all(as_of=dt.date(2026, 12, 3), progress=lines.append)

    # Every measure, CMS ones included: their value sets ship with Tandem (no shared folder).
    assert counts["measures"] == len(definitions.REGISTRY) and counts["periods"] == 1
    assert counts["stored"] == counts["measures"] and counts["skipped"] == 0, lines
    runs = {run.measure: run for run in MeasureRun.objects.all()}
    assert set(runs) == set(definitions.REGISTRY)
    assert (runs["SSD"].version, runs["SSD"].period_start) == ("SSDv1", Y2026[0])
    assert (runs["CMS165"].version, runs["CMS165"].period_end) == ("CMS165v14", Y2026[1])
    assert (runs["CMS50"].version, runs["CMS50"].period_end) == ("CMS50v14", Y2026[1])
    assert any(
        line.startswith("SSD: SSDv1 over 2026-01-01..2026-12-31, ") and "stored as run" in line
        for line in lines
    )


@pytest.mark.slow
@pytest.mark.usefixtures("shared_database")  # on SQLite, a file other connections can open
def test_each_measure_is_committed_before_the_next_is_evaluated():
    """Regression: the step stored a whole period in one transaction, so on SQLite it held the
    write lock while it evaluated — web writes (and the queue's scheduler) waited 20 s and failed
    with "database is locked" during the demo's refresh."""
    build_team()
    seen: list[int] = []

    def progress(line: str) -> None:
        if line.endswith(" computed"):  # after a measure: what does another connection see?
            other = connections.create_connection("default")
            try:
                with other.cursor() as cursor:
                    cursor.execute("SELECT COUNT(*) FROM measures_measurerun")
                    seen.append(cursor.fetchone()[0])
            finally:
                other.close()

    store_all(as_of=dt.date(2026, 12, 3), progress=progress)

    assert seen[:3] == [1, 2, 3]
