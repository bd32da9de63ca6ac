"""Date rules: ages, month/year arithmetic and day differences, identical on every engine."""

from __future__ import annotations

import datetime as dt

from tandem.measures import language as q
from tests.measures.conftest import make_tables

D = dt.date


def one_patient(birth: dt.date | None = None):
    return make_tables(patients=[{"patient_id": "p1", "birth_date": birth}])


def test_age_the_day_before_and_on_a_birthday(engine):
    tables = one_patient(D(2000, 6, 15))
    ages = engine.run_many(
        {
            "before": q.patient_age_on(q.date(2025, 6, 14)),
            "on": q.patient_age_on(q.date(2025, 6, 15)),
            "after": q.patient_age_on(q.date(2025, 6, 16)),
        },
        tables,
    )["p1"]
    assert ages == {"before": 24, "on": 25, "after": 25}


def test_age_on_29_february_birthday_completes_on_1_march_in_common_years(engine):
    tables = one_patient(D(2008, 2, 29))
    ages = engine.run_many(
        {
            "feb28": q.patient_age_on(q.date(2025, 2, 28)),
            "mar1": q.patient_age_on(q.date(2025, 3, 1)),
            "leap_feb29": q.patient_age_on(q.date(2024, 2, 29)),
            "leap_feb28": q.patient_age_on(q.date(2024, 2, 28)),
        },
        tables,
    )["p1"]
    assert ages == {"feb28": 16, "mar1": 17, "leap_feb29": 16, "leap_feb28": 15}


def test_age_on_a_timestamp_uses_its_day(engine):
    tables = one_patient(D(2000, 1, 1))
    on = q.lit(dt.datetime(2024, 12, 31, 23, 59, 59))
    assert engine.run(q.patient_age_on(on), tables) == {"p1": 24}


def test_age_of_unknown_birth_date_is_null(engine):
    assert engine.run(q.patient_age_on(q.period_start), one_patient(None)) == {"p1": None}


def test_age_at_start_of_period_parameter(engine):
    tables = one_patient(D(2013, 1, 1))
    assert engine.run(q.patient_age_on(q.period_start), tables) == {"p1": 12}


def test_jan_31_plus_one_month_clamps_to_end_of_february(engine):
    out = engine.run_many(
        {
            "common": q.date(2025, 1, 31).add_months(1),
            "leap": q.date(2024, 1, 31).add_months(1),
            "april": q.date(2025, 3, 31).add_months(1),
            "back": q.date(2025, 3, 31).add_months(-1),
            "across_year": q.date(2024, 11, 30).add_months(3),
            "plain": q.date(2025, 1, 15).add_months(1),
        },
        one_patient(),
    )["p1"]
    assert out == {
        "common": D(2025, 2, 28),
        "leap": D(2024, 2, 29),
        "april": D(2025, 4, 30),
        "back": D(2025, 2, 28),
        "across_year": D(2025, 2, 28),
        "plain": D(2025, 2, 15),
    }


def test_feb_29_plus_one_year_is_feb_28(engine):
    out = engine.run_many(
        {
            "plus1": q.date(2024, 2, 29).add_years(1),
            "plus4": q.date(2024, 2, 29).add_years(4),
            "minus1": q.date(2024, 2, 29).add_years(-1),
        },
        one_patient(),
    )["p1"]
    assert out == {"plus1": D(2025, 2, 28), "plus4": D(2028, 2, 29), "minus1": D(2023, 2, 28)}


def test_months_added_to_a_timestamp_keep_the_time_of_day(engine):
    ts = q.lit(dt.datetime(2025, 1, 31, 13, 45, 30, 250000))
    out = engine.run_many({"m": ts.add_months(1), "d": ts.add_days(1)}, one_patient())["p1"]
    assert out == {
        "m": dt.datetime(2025, 2, 28, 13, 45, 30, 250000),
        "d": dt.datetime(2025, 2, 1, 13, 45, 30, 250000),
    }


def test_add_days_crosses_month_and_year_ends_and_goes_backwards(engine):
    out = engine.run_many(
        {
            "year": q.date(2024, 12, 31).add_days(1),
            "leap": q.date(2024, 2, 28).add_days(1),
            "back": q.date(2025, 3, 1).add_days(-1),
            "expr": q.date(2025, 1, 1).add_days(q.lit(10) + 4),
        },
        one_patient(),
    )["p1"]
    assert out == {
        "year": D(2025, 1, 1),
        "leap": D(2024, 2, 29),
        "back": D(2025, 2, 28),
        "expr": D(2025, 1, 15),
    }


def test_days_until_counts_calendar_days_ignoring_time(engine):
    late = q.lit(dt.datetime(2025, 1, 1, 23, 59))
    early = q.lit(dt.datetime(2025, 1, 2, 0, 1))
    out = engine.run_many(
        {
            "overnight": late.days_until(early),
            "leap_year": q.date(2024, 1, 1).days_until(q.date(2025, 1, 1)),
            "negative": q.date(2025, 3, 1).days_until(q.date(2025, 2, 1)),
            "same": q.date(2025, 3, 1).days_until(q.lit(dt.datetime(2025, 3, 1, 12))),
        },
        one_patient(),
    )["p1"]
    assert out == {"overnight": 1, "leap_year": 366, "negative": -28, "same": 0}


def test_year_month_and_day_parts(engine):
    ts = q.lit(dt.datetime(2025, 7, 4, 9, 30))
    out = engine.run_many({"y": ts.year, "m": ts.month, "d": ts.day}, one_patient())["p1"]
    assert out == {"y": 2025, "m": 7, "d": 4}


def test_date_of_a_timestamp_drops_the_time(engine):
    ts = q.lit(dt.datetime(2025, 7, 4, 23, 59, 59))
    assert engine.run(ts.date, one_patient()) == {"p1": D(2025, 7, 4)}


def test_a_date_compares_with_a_timestamp_as_midnight(engine):
    ts = q.lit(dt.datetime(2025, 7, 4, 8, 0))
    out = engine.run_many(
        {
            "lt": q.date(2025, 7, 4) < ts,
            "eq": q.date(2025, 7, 4) == q.lit(dt.datetime(2025, 7, 4)),
            "gt": q.date(2025, 7, 5) > ts,
        },
        one_patient(),
    )["p1"]
    assert out == {"lt": True, "eq": True, "gt": True}


def test_period_parameters_give_the_measurement_period(engine):
    out = engine.run_many(
        {"start": q.period_start, "end": q.period_end},
        one_patient(),
        period=(D(2024, 3, 1), D(2025, 2, 28)),
    )["p1"]
    assert out == {"start": D(2024, 3, 1), "end": D(2025, 2, 28)}


def test_intake_period_boundaries_from_month_arithmetic(engine):
    # CMS128: May 1 of the year before the period .. April 30 of the period
    out = engine.run_many(
        {
            "intake_start": q.period_start.add_months(-8),
            "intake_end": q.period_start.add_months(4).add_days(-1),
        },
        one_patient(),
    )["p1"]
    assert out == {"intake_start": D(2024, 5, 1), "intake_end": D(2025, 4, 30)}
