"""Interval union day counting: cumulative medication duration (CMS128) and PDC."""

from __future__ import annotations

import datetime as dt

from tandem.measures import language as q
from tests.measures.conftest import make_tables

DISP = q.table("medication_dispenses").status_in("completed")


def fill(pid: str, day: dt.date, supply: int | None, **extra):
    return {
        "patient_id": pid,
        "status": "completed",
        "when_handed_over": dt.datetime.combine(day, dt.time(10)),
        "days_supply": supply,
        **extra,
    }


def supply_end(d):
    return d.when_handed_over.date.add_days(d.days_supply - 1)


def covered(within):
    return DISP.covered_days(lambda d: d.when_handed_over, supply_end, within=within)


def test_overlapping_fills_count_each_day_once(engine):
    tables = make_tables(
        medication_dispenses=[
            fill("p1", dt.date(2025, 1, 1), 30),  # Jan 1..30
            fill("p1", dt.date(2025, 1, 21), 30),  # Jan 21..Feb 19 (10 days overlap)
            fill("p1", dt.date(2025, 3, 1), 10),  # Mar 1..10 (after a gap)
        ]
    )
    assert engine.run(covered((q.period_start, q.period_end)), tables) == {"p1": 60}


def test_spans_are_clipped_to_the_window_both_ends_included(engine):
    tables = make_tables(
        medication_dispenses=[
            fill("p1", dt.date(2024, 12, 22), 20),
            fill("p1", dt.date(2025, 12, 25), 30),
        ]
    )
    # Dec 22..Jan 10 gives Jan 1..10 = 10 days; Dec 25..Jan 23 gives Dec 25..31 = 7 days
    assert engine.run(covered((q.period_start, q.period_end)), tables) == {"p1": 17}


def test_contained_and_adjacent_spans(engine):
    tables = make_tables(
        medication_dispenses=[
            fill("p1", dt.date(2025, 2, 1), 28),  # Feb 1..28
            fill("p1", dt.date(2025, 2, 5), 3),  # inside
            fill("p1", dt.date(2025, 3, 1), 1),  # adjacent: Mar 1
            fill("p1", dt.date(2025, 2, 1), 28),  # duplicate
        ]
    )
    assert engine.run(covered((q.period_start, q.period_end)), tables) == {"p1": 29}


def test_rows_without_an_end_are_ignored_and_no_rows_give_zero(engine):
    tables = make_tables(
        patients=[{"patient_id": "p1"}, {"patient_id": "p2"}],
        medication_dispenses=[
            fill("p1", dt.date(2025, 2, 1), None),
            fill("p1", dt.date(2025, 5, 1), 5),
        ],
    )
    assert engine.run(covered((q.period_start, q.period_end)), tables) == {"p1": 5, "p2": 0}


def test_cumulative_days_from_the_index_dispensing(engine):
    # CMS128: IPSD = first dispensing in the intake period; >= 84 days in [IPSD, IPSD + 114]
    intake = (q.period_start.add_months(-8), q.period_start.add_months(4).add_days(-1))
    ipsd = DISP.where(lambda d: q.during(d.when_handed_over, *intake)).min(
        lambda d: d.when_handed_over.date
    )
    days = covered((ipsd, ipsd.add_days(114)))
    tables = make_tables(
        patients=[{"patient_id": "adherent"}, {"patient_id": "lapsed"}, {"patient_id": "no_ipsd"}],
        medication_dispenses=[
            fill("adherent", dt.date(2025, 2, 1), 30),
            fill("adherent", dt.date(2025, 3, 1), 30),
            fill("adherent", dt.date(2025, 4, 5), 30),
            fill("lapsed", dt.date(2025, 2, 1), 30),
            fill("lapsed", dt.date(2025, 5, 20), 90),  # only partly inside [IPSD, IPSD+114]
            fill("no_ipsd", dt.date(2025, 6, 1), 90),
        ],
    )
    out = engine.run_many({"ipsd": ipsd, "days": days, "met": days >= 84}, tables)
    # Feb 1..Mar 30 (the second fill overlaps two days: 58) + Apr 5..May 4 (30) = 88
    assert out["adherent"] == {"ipsd": dt.date(2025, 2, 1), "days": 88, "met": True}
    # Feb 1..Mar 2 (30) + May 20..May 26 (IPSD+114 = May 26: 7) = 37
    assert out["lapsed"] == {"ipsd": dt.date(2025, 2, 1), "days": 37, "met": False}
    assert out["no_ipsd"] == {"ipsd": None, "days": None, "met": None}


def test_proportion_of_days_covered(engine):
    tables = make_tables(
        medication_dispenses=[
            fill("p1", dt.date(2025, 1, 1), 73),
            fill("p1", dt.date(2025, 2, 1), 30),
        ]
    )
    period_days = q.period_start.days_until(q.period_end) + 1
    pdc = covered((q.period_start, q.period_end)) / period_days
    assert engine.run(pdc, tables) == {"p1": 0.2}


def test_covered_days_per_outer_row(engine):
    # days of supply in the 30 days after each encounter
    enc = q.table("encounters")
    per_visit = enc.with_columns(
        days=lambda e: DISP.covered_days(
            lambda d: d.when_handed_over,
            supply_end,
            within=(e.start.date, e.start.date.add_days(29)),
        )
    )
    tables = make_tables(
        encounters=[
            {"patient_id": "p1", "start": dt.datetime(2025, 1, 1)},
            {"patient_id": "p1", "start": dt.datetime(2025, 6, 1)},
        ],
        medication_dispenses=[fill("p1", dt.date(2025, 1, 10), 10)],
    )
    assert engine.run(per_visit.sum(lambda e: e.days), tables) == {"p1": 10}


def test_spans_from_two_tables_count_overlapping_days_once(engine):
    # PDC from pharmacy dispensings and clinic injections (long-acting antipsychotic)
    inj = q.table("medication_administrations").where(lambda a: a.status == "completed")
    tables = make_tables(
        medication_dispenses=[fill("p1", dt.date(2025, 1, 1), 30)],  # Jan 1..30
        medication_administrations=[
            {
                "patient_id": "p1",
                "status": "completed",
                "effective_start": dt.datetime(2025, 1, 20, 10),  # 28-day injection: Jan 20..Feb 16
            }
        ],
    )
    days = q.covered_days(
        (DISP, lambda d: d.when_handed_over, supply_end),
        (inj, lambda a: a.effective_start, lambda a: a.effective_start.date.add_days(27)),
        within=(q.period_start, q.period_end),
    )
    assert engine.run(days, tables) == {"p1": 47}
