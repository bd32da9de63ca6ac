"""Null logic, comparisons, arithmetic and conditional values."""

from __future__ import annotations

import datetime as dt

import pytest

from tandem.measures import language as q
from tests.measures.conftest import make_tables

P = q.patient


def people():
    return make_tables(
        patients=[
            {
                "patient_id": "known",
                "sex": "female",
                "birth_date": dt.date(1990, 5, 1),
                "site_id": "s1",
            },
            {"patient_id": "unknown", "sex": None, "birth_date": None, "site_id": None},
        ]
    )


def test_comparisons_with_null_are_null_and_not_of_null_is_null(engine):
    out = engine.run_many(
        {"eq": P.sex == "female", "ne": P.sex != "female", "not": ~(P.sex == "female")}, people()
    )
    assert out["known"] == {"eq": True, "ne": False, "not": False}
    assert out["unknown"] == {"eq": None, "ne": None, "not": None}


def test_and_or_are_three_valued(engine):
    unknown = P.sex == "female"  # null for "unknown"
    out = engine.run_many(
        {
            "false_and_null": q.lit(False) & unknown,
            "true_and_null": q.lit(True) & unknown,
            "true_or_null": q.lit(True) | unknown,
            "false_or_null": q.lit(False) | unknown,
        },
        people(),
    )["unknown"]
    assert out == {
        "false_and_null": False,
        "true_and_null": None,
        "true_or_null": True,
        "false_or_null": None,
    }


def test_is_null_isin_and_if_null(engine):
    out = engine.run_many(
        {
            "null": P.sex.is_null(),
            "in": P.sex.isin(["female", "other"]),
            "default": P.sex.if_null("unknown"),
        },
        people(),
    )
    assert out["known"] == {"null": False, "in": True, "default": "female"}
    assert out["unknown"] == {"null": True, "in": None, "default": "unknown"}


def test_when_takes_the_otherwise_branch_for_null_conditions(engine):
    label = q.when(P.sex == "female", "F", "not F")
    assert engine.run(label, people()) == {"known": "F", "unknown": "not F"}


def test_greatest_and_least_are_null_if_either_is_null(engine):
    out = engine.run_many(
        {
            "g": q.greatest(P.birth_date, q.date(2000, 1, 1)),
            "l": q.least(P.birth_date, q.date(2000, 1, 1)),
        },
        people(),
    )
    assert out["known"] == {"g": dt.date(2000, 1, 1), "l": dt.date(1990, 5, 1)}
    assert out["unknown"] == {"g": None, "l": None}


def test_arithmetic_and_division_by_zero_is_null(engine):
    out = engine.run_many(
        {
            "int": q.lit(7) - 2 * 3,
            "div": q.lit(7) / 2,
            "zero": q.lit(1) / 0,
            "neg": -q.lit(3),
            "mixed": q.lit(1) + 0.5,
        },
        people(),
    )["known"]
    assert out == {"int": 1, "div": 3.5, "zero": None, "neg": -3, "mixed": 1.5}


def test_adding_a_null_number_of_days_gives_null(engine):
    days = q.when(P.sex == "female", q.null("int"), q.lit(1))
    out = engine.run_many(
        {"d": q.date(2025, 1, 1).add_days(days), "m": q.date(2025, 1, 1).add_months(days)}, people()
    )
    assert out["known"] == {"d": None, "m": None}
    assert out["unknown"] == {"d": dt.date(2025, 1, 2), "m": dt.date(2025, 2, 1)}


def test_age_bands_label_patients(engine):
    tables = make_tables(
        patients=[
            {"patient_id": "child", "birth_date": dt.date(2015, 1, 1)},
            {"patient_id": "teen", "birth_date": dt.date(2010, 1, 1)},
            {"patient_id": "adult", "birth_date": dt.date(2007, 1, 1)},
        ]
    )
    band = q.age_band(q.patient_age_on(q.period_start), [(12, 17), (18, None)])
    assert engine.run(band, tables) == {"child": None, "teen": "12-17", "adult": "18+"}


def test_python_boolean_operators_are_refused():
    with pytest.raises(TypeError, match="& | ~"):
        bool(P.sex == "female")


def test_mismatched_types_are_refused_when_building():
    with pytest.raises(TypeError):
        _ = P.sex + 1
    with pytest.raises(TypeError):
        _ = P.birth_date > 3
    with pytest.raises(AttributeError, match="no column"):
        _ = q.table("encounters").where(lambda e: e.nonsense == 1)


def test_strings_order_by_code_point_on_every_engine(engine):
    out = engine.run_many(
        {
            "upper_first": q.lit("Z") < q.lit("a"),
            "digits_first": q.lit("9") < q.lit("A"),
            "prefix": q.lit("ab") < q.lit("abc"),
        },
        people(),
    )["known"]
    assert out == {"upper_first": True, "digits_first": True, "prefix": True}


def test_floor_ceil_and_trunc_give_whole_numbers(engine):
    out = engine.run_many(
        {
            "floor": q.floor(q.lit(2.7)),
            "floor_neg": q.floor(q.lit(-2.5)),
            "ceil": q.ceil(q.lit(2.1)),
            "ceil_neg": q.ceil(q.lit(-2.5)),
            "trunc": q.trunc(q.lit(-2.7)),
            "to_int": (q.lit(90.0) / 4).to_int(),
            "days": q.date(2025, 1, 1).add_days(q.trunc(q.lit(10) / 3)),
        },
        people(),
    )["known"]
    assert out == {
        "floor": 2,
        "floor_neg": -3,
        "ceil": 3,
        "ceil_neg": -2,
        "trunc": -2,
        "to_int": 22,
        "days": dt.date(2025, 1, 4),
    }


def test_rounding_of_column_values(engine):
    tables = make_tables(
        medication_dispenses=[
            {"patient_id": "p1", "quantity": 45.0, "dose_quantity": 2.0, "frequency_per_day": 4.0}
        ]
    )
    disp = q.table("medication_dispenses")
    days = disp.max(lambda d: q.ceil(d.quantity / (d.dose_quantity * d.frequency_per_day)))
    assert engine.run(days, tables) == {"p1": 6}
