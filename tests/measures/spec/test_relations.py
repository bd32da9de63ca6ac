"""Time relations between events at day precision: boundaries and "same day does not count"."""

from __future__ import annotations

import datetime as dt

from tandem.measures import language as q
from tests.measures.conftest import make_tables

ANCHOR = dt.datetime(2025, 6, 15, 9, 0)


def observations_at(*days: tuple[str, dt.datetime]):
    return make_tables(
        observations=[
            {"patient_id": pid, "effective_start": when, "code": "X"} for pid, when in days
        ]
    )


def flag(engine, tables, relation):
    obs = q.table("observations")
    return engine.run(obs.where(lambda o: relation(o.effective_start)).exists(), tables)


def test_14_days_or_less_on_or_before_includes_both_ends(engine):
    tables = observations_at(
        ("day14", dt.datetime(2025, 6, 1, 23, 0)),
        ("day15", dt.datetime(2025, 5, 31, 23, 59)),
        ("same_day_later", dt.datetime(2025, 6, 15, 18, 0)),
        ("next_day", dt.datetime(2025, 6, 16, 0, 0)),
    )
    out = flag(engine, tables, lambda x: q.days_or_less_before(x, ANCHOR, 14))
    assert out == {"day14": True, "day15": False, "same_day_later": True, "next_day": False}


def test_within_2_days_after_counts_the_same_day_unless_excluded(engine):
    tables = observations_at(
        ("same_day", dt.datetime(2025, 6, 15, 8, 0)),
        ("day2", dt.datetime(2025, 6, 17, 23, 0)),
        ("day3", dt.datetime(2025, 6, 18, 0, 0)),
        ("day_before", dt.datetime(2025, 6, 14, 12, 0)),
    )
    inclusive = flag(engine, tables, lambda x: q.within_days_after(x, ANCHOR, 2))
    assert inclusive == {"same_day": True, "day2": True, "day3": False, "day_before": False}
    exclusive = flag(engine, tables, lambda x: q.within_days_after(x, ANCHOR, 2, same_day=False))
    assert exclusive == {"same_day": False, "day2": True, "day3": False, "day_before": False}


def test_within_60_days_of_is_symmetric_and_inclusive(engine):
    tables = observations_at(
        ("minus60", dt.datetime(2025, 4, 16)),
        ("minus61", dt.datetime(2025, 4, 15)),
        ("plus60", dt.datetime(2025, 8, 14, 23, 0)),
        ("plus61", dt.datetime(2025, 8, 15)),
    )
    out = flag(engine, tables, lambda x: q.within_days_of(x, ANCHOR, 60))
    assert out == {"minus60": True, "minus61": False, "plus60": True, "plus61": False}


def test_during_the_period_includes_its_last_day(engine):
    tables = observations_at(
        ("first", dt.datetime(2025, 1, 1, 0, 0)),
        ("last", dt.datetime(2025, 12, 31, 23, 59, 59)),
        ("before", dt.datetime(2024, 12, 31, 23, 59)),
        ("after", dt.datetime(2026, 1, 1)),
    )
    out = flag(engine, tables, lambda x: q.during(x, q.period_start, q.period_end))
    assert out == {"first": True, "last": True, "before": False, "after": False}


def test_before_same_day_does_not_count_with_a_plain_comparison(engine):
    tables = observations_at(
        ("earlier_same_day", dt.datetime(2025, 6, 15, 1, 0)),
        ("day_before", dt.datetime(2025, 6, 14, 23, 0)),
    )
    out = flag(engine, tables, lambda x: x.date < q.lit(ANCHOR).date)
    assert out == {"earlier_same_day": False, "day_before": True}


def test_intervals_overlap_with_open_ends(engine):
    cond = q.table("conditions")
    tables = make_tables(
        conditions=[
            {"patient_id": "ongoing", "onset": dt.datetime(2024, 1, 1), "abatement": None},
            {
                "patient_id": "ended_before",
                "onset": dt.datetime(2024, 1, 1),
                "abatement": dt.datetime(2024, 12, 31),
            },
            {
                "patient_id": "touches_start",
                "onset": dt.datetime(2024, 1, 1),
                "abatement": dt.datetime(2025, 1, 1, 8),
            },
            {"patient_id": "no_onset", "onset": None, "abatement": dt.datetime(2025, 3, 1)},
            {"patient_id": "starts_after", "onset": dt.datetime(2026, 1, 1), "abatement": None},
            {
                "patient_id": "starts_on_last_day",
                "onset": dt.datetime(2025, 12, 31, 22),
                "abatement": None,
            },
        ]
    )
    has = cond.where(
        lambda c: q.overlaps(c.onset, c.abatement, q.period_start, q.period_end)
    ).exists()
    assert engine.run(has, tables) == {
        "ongoing": True,
        "ended_before": False,
        "touches_start": True,
        "no_onset": True,
        "starts_after": False,
        "starts_on_last_day": True,
    }


def test_datetime_precision_relations_compare_times_of_day(engine):
    enc_start, enc_end = dt.datetime(2025, 6, 15, 9, 0), dt.datetime(2025, 6, 15, 10, 0)
    tables = observations_at(
        ("inside", dt.datetime(2025, 6, 15, 9, 30)),
        ("same_day_after", dt.datetime(2025, 6, 15, 11, 0)),
        ("at_end", enc_end),
    )
    during = flag(engine, tables, lambda x: q.during_at(x, q.lit(enc_start), q.lit(enc_end)))
    assert during == {"inside": True, "same_day_after": False, "at_end": True}
    by_day = flag(engine, tables, lambda x: q.during(x, q.lit(enc_start), q.lit(enc_end)))
    assert by_day == {"inside": True, "same_day_after": True, "at_end": True}
    overlap = flag(
        engine,
        tables,
        lambda x: q.overlaps_at(x, x.add_days(0), q.lit(enc_start), q.lit(enc_end)),
    )
    assert overlap == {"inside": True, "same_day_after": False, "at_end": True}
    open_end = flag(
        engine,
        tables,
        lambda x: q.overlaps_at(x, q.null("timestamp"), q.lit(enc_start), q.lit(enc_end)),
    )
    assert open_end == {"inside": True, "same_day_after": False, "at_end": True}
