"""Frames: filters, value sets, computed columns and per-patient aggregations."""

from __future__ import annotations

import datetime as dt

import pytest

from tandem.measures import language as q
from tests.measures.conftest import make_tables

LOINC = "http://loinc.org"
VS_URL = "http://cts.nlm.nih.gov/fhir/ValueSet/2.16.1"
VALUESETS = {"2.16.1": frozenset({(LOINC, "44261-6"), (LOINC, "89204-2")})}


def t(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour)


def phq(pid: str, day: int, value: float | None, code: str = "44261-6", **extra):
    return {
        "patient_id": pid,
        "system": LOINC,
        "code": code,
        "effective_start": t(day),
        "value_num": value,
        "status": "final",
        **extra,
    }


OBS = q.table("observations")


def test_value_set_matches_system_and_code_and_resolves_a_url_by_its_oid(engine):
    tables = make_tables(
        observations=[
            phq("in", 1, 5),
            {"patient_id": "wrong_system", "system": "http://snomed.info/sct", "code": "44261-6"},
            {"patient_id": "no_system", "system": None, "code": "44261-6"},
            phq("other_code", 1, 5, code="1234-5"),
        ]
    )
    assert engine.run(OBS.code_in(VS_URL).exists(), tables, VALUESETS) == {
        "in": True,
        "wrong_system": False,
        "no_system": False,
        "other_code": False,
    }


def test_value_set_membership_is_exact_per_system_and_never_null(engine):
    """A code belongs to the set only with its own system (a set spanning two systems whose
    code lists overlap); a null code, system or row tests false, so ``~`` keeps it."""
    sct = "http://snomed.info/sct"
    valuesets = {
        "two-systems": frozenset({(LOINC, "1-1"), (sct, "2-2"), (sct, "1-1x")}),
        "empty": frozenset(),
    }
    tables = make_tables(
        observations=[
            {"patient_id": "loinc", "system": LOINC, "code": "1-1"},
            {"patient_id": "sct", "system": sct, "code": "2-2"},
            {"patient_id": "crossed", "system": LOINC, "code": "2-2"},
            {"patient_id": "null_code", "system": sct, "code": None},
            {"patient_id": "null_system", "system": None, "code": "2-2"},
        ]
    )
    member = OBS.code_in("two-systems").exists()
    outside = OBS.where(lambda o: ~o.code_in("two-systems")).exists()
    none = OBS.code_in("empty").exists()
    out = engine.run_many({"in": member, "out": outside, "none": none}, tables, valuesets)
    assert {pid: (v["in"], v["out"], v["none"]) for pid, v in out.items()} == {
        "loinc": (True, False, False),
        "sct": (True, False, False),
        "crossed": (False, True, False),
        "null_code": (False, True, False),
        "null_system": (False, True, False),
    }


def test_a_missing_value_set_is_an_error_naming_it(engine):
    tables = make_tables(observations=[phq("p1", 1, 5)])
    with pytest.raises(KeyError, match="9.9.9"):
        engine.run(OBS.code_in("9.9.9").exists(), tables, VALUESETS)


def test_where_keeps_only_true_rows_null_is_dropped(engine):
    tables = make_tables(observations=[phq("p1", 1, None), phq("p1", 2, 12), phq("p1", 3, 3)])
    high = OBS.where(lambda o: o.value_num > 9)
    not_high = OBS.where(lambda o: ~(o.value_num > 9))
    out = engine.run_many({"high": high.count(), "not_high": not_high.count()}, tables)["p1"]
    assert out == {"high": 1, "not_high": 1}


def test_status_shortcut_and_chained_filters(engine):
    tables = make_tables(
        observations=[phq("p1", 1, 12), phq("p1", 2, 14, status="cancelled"), phq("p1", 3, 2)]
    )
    frame = OBS.status_in("final", "amended").where(lambda o: o.value_num >= 10)
    assert engine.run(frame.count(), tables) == {"p1": 1}


def test_count_counts_distinct_resources_not_codings(engine):
    tables = make_tables(
        observations=[
            phq("p1", 1, 12, observation_id="o1"),
            phq("p1", 1, 12, observation_id="o1", code="89204-2"),
            phq("p1", 2, 3, observation_id="o2"),
        ]
    )
    assert engine.run(OBS.code_in("2.16.1").count(), tables, VALUESETS) == {"p1": 2}


def test_patients_without_rows_get_false_zero_and_null(engine):
    tables = make_tables(
        patients=[{"patient_id": "p1"}, {"patient_id": "p2"}], observations=[phq("p1", 1, 12)]
    )
    out = engine.run_many(
        {
            "exists": OBS.exists(),
            "count": OBS.count(),
            "sum": OBS.sum(lambda o: o.value_num),
            "min": OBS.min(lambda o: o.value_num),
            "last": OBS.last_by(lambda o: o.effective_start).value_num,
            "distinct": OBS.count_distinct(lambda o: o.effective_start.date),
        },
        tables,
    )
    assert out["p2"] == {
        "exists": False,
        "count": 0,
        "sum": 0,
        "min": None,
        "last": None,
        "distinct": 0,
    }
    assert out["p1"] == {
        "exists": True,
        "count": 1,
        "sum": 12.0,
        "min": 12.0,
        "last": 12.0,
        "distinct": 1,
    }


def test_min_max_sum_ignore_nulls(engine):
    tables = make_tables(observations=[phq("p1", 1, 4), phq("p1", 2, None), phq("p1", 3, 10)])
    out = engine.run_many(
        {
            "min": OBS.min(lambda o: o.value_num),
            "max": OBS.max(lambda o: o.value_num),
            "sum": OBS.sum(lambda o: o.value_num),
            "latest": OBS.max(lambda o: o.effective_start.date),
        },
        tables,
    )["p1"]
    assert out == {"min": 4.0, "max": 10.0, "sum": 14.0, "latest": dt.date(2025, 3, 3)}


def test_two_visits_on_different_dates(engine):
    enc = q.table("encounters")
    tables = make_tables(
        encounters=[
            {"patient_id": "same_day", "start": t(1, 8)},
            {"patient_id": "same_day", "start": t(1, 15)},
            {"patient_id": "two_days", "start": t(1)},
            {"patient_id": "two_days", "start": t(9)},
        ]
    )
    two = enc.count_distinct(lambda e: e.start.date) >= 2
    assert engine.run(two, tables) == {"same_day": False, "two_days": True}


def test_first_and_last_by_date_read_any_column(engine):
    tables = make_tables(
        observations=[
            phq("p1", 5, 8, observation_id="b"),
            phq("p1", 2, 15, observation_id="a"),
            phq("p1", 9, 3, observation_id="c"),
        ]
    )
    first = OBS.first_by(lambda o: o.effective_start)
    last = OBS.last_by(lambda o: o.effective_start)
    out = engine.run_many(
        {
            "first_id": first.id,
            "first_value": first.value_num,
            "last_id": last.id,
            "last_date": last.get(lambda o: o.effective_start.date),
            "last_double": last.get(lambda o: o.value_num * 2),
        },
        tables,
    )["p1"]
    assert out == {
        "first_id": "a",
        "first_value": 15.0,
        "last_id": "c",
        "last_date": dt.date(2025, 3, 9),
        "last_double": 6.0,
    }


def test_first_and_last_skip_rows_without_a_sort_key(engine):
    tables = make_tables(
        observations=[
            phq("p1", 5, 8),
            {"patient_id": "p1", "effective_start": None, "value_num": 99.0},
        ]
    )
    out = engine.run_many(
        {
            "first": OBS.first_by(lambda o: o.effective_start).value_num,
            "last": OBS.last_by(lambda o: o.effective_start).value_num,
        },
        tables,
    )["p1"]
    assert out == {"first": 8.0, "last": 8.0}


def test_ties_break_on_id_then_code(engine):
    tables = make_tables(
        observations=[
            phq("p1", 5, 1, observation_id="x2"),
            phq("p1", 5, 2, observation_id="x1"),
            phq("p1", 5, 3, observation_id="x3", code="A"),
            phq("p1", 5, 4, observation_id="x3", code="B"),
        ]
    )
    out = engine.run_many(
        {
            "first": OBS.first_by(lambda o: o.effective_start).value_num,
            "last": OBS.last_by(lambda o: o.effective_start).value_num,
        },
        tables,
    )["p1"]
    assert out == {"first": 2.0, "last": 4.0}


def test_secondary_sort_keys(engine):
    tables = make_tables(
        observations=[
            phq("p1", 5, 7, observation_id="a", issued=dt.datetime(2025, 3, 6)),
            phq("p1", 5, 9, observation_id="b", issued=dt.datetime(2025, 3, 5)),
        ]
    )
    last = OBS.last_by(lambda o: o.effective_start.date, lambda o: o.issued)
    assert engine.run(last.value_num, tables) == {"p1": 7.0}


def test_with_columns_adds_computed_columns_usable_in_later_filters(engine):
    tables = make_tables(observations=[phq("p1", 1, 12), phq("p1", 2, 4)])
    scored = OBS.with_columns(
        positive=lambda o: o.value_num > 9, day=lambda o: o.effective_start.date
    )
    positives = scored.where(lambda o: o.positive)
    out = engine.run_many(
        {"n": positives.count(), "day": positives.first_by(lambda o: o.day).day}, tables
    )["p1"]
    assert out == {"n": 1, "day": dt.date(2025, 3, 1)}


def test_patient_columns_and_patient_level_values_in_filters(engine):
    tables = make_tables(
        patients=[{"patient_id": "p1", "birth_date": dt.date(2010, 3, 2)}],
        observations=[phq("p1", 1, 12), phq("p1", 3, 4)],
    )
    after_birthday = OBS.where(lambda o: o.effective_start.date.month == q.patient.birth_date.month)
    first_day = OBS.min(lambda o: o.effective_start.date)
    later = OBS.where(lambda o: o.effective_start.date > first_day)
    out = engine.run_many({"same_month": after_birthday.count(), "later": later.count()}, tables)[
        "p1"
    ]
    assert out == {"same_month": 2, "later": 1}


def test_parameters_bind_thresholds(engine):
    tables = make_tables(observations=[phq("p1", 1, 12), phq("p1", 2, 4)])
    above = OBS.where(lambda o: o.value_num > q.param("cut", "float")).count()
    assert engine.run(above, tables, parameters={"cut": 9.0}) == {"p1": 1}
    assert engine.run(above, tables, parameters={"cut": 3.0}) == {"p1": 2}


def test_coded_values_reasons_and_single_codes(engine):
    snomed = "http://snomed.info/sct"
    valuesets = {
        "positive": frozenset({(snomed, "428181000124104")}),
        "declined": frozenset({(snomed, "720834000")}),
    }
    tables = make_tables(
        observations=[
            {
                "patient_id": "pos",
                "system": LOINC,
                "code": "73832-8",
                "value_system": snomed,
                "value_code": "428181000124104",
            },
            {
                "patient_id": "declined",
                "system": LOINC,
                "code": "73832-8",
                "status": "cancelled",
                "reason_system": snomed,
                "reason_code": "720834000",
            },
        ]
    )
    out = engine.run_many(
        {
            "positive": OBS.where(lambda o: o.value_in("positive")).exists(),
            "declined": OBS.where(
                lambda o: o.reason_in("declined") & (o.status == "cancelled")
            ).exists(),
            "adult_tool": OBS.where(lambda o: o.has_code(LOINC, "73832-8")).exists(),
        },
        tables,
        valuesets,
    )
    assert out["pos"] == {"positive": True, "declined": False, "adult_tool": True}
    assert out["declined"] == {"positive": False, "declined": True, "adult_tool": True}


def test_min_and_max_of_text_use_code_point_order(engine):
    tables = make_tables(
        observations=[
            {"patient_id": "p1", "value_code": "b"},
            {"patient_id": "p1", "value_code": "B"},
            {"patient_id": "p1", "value_code": "a"},
        ]
    )
    out = engine.run_many(
        {"min": OBS.min(lambda o: o.value_code), "max": OBS.max(lambda o: o.value_code)}, tables
    )["p1"]
    assert out == {"min": "B", "max": "b"}


def test_dimension_tables_are_read_by_relating_them_to_the_patient_or_a_row(engine):
    tables = make_tables(
        patients=[{"patient_id": "p1", "site_id": "s1"}, {"patient_id": "p2", "site_id": None}],
        sites=[
            {"site_id": "s1", "integration_go_live": dt.date(2024, 7, 1)},
            {"site_id": "s2", "integration_go_live": dt.date(2025, 1, 1)},
        ],
        practitioners=[
            {"practitioner_id": "dr-a", "discipline": "psychiatry"},
            {"practitioner_id": "dr-b", "discipline": "family-medicine"},
        ],
        encounters=[
            {"patient_id": "p1", "practitioner_id": "dr-a"},
            {"patient_id": "p1", "practitioner_id": "dr-b"},
            {"patient_id": "p2", "practitioner_id": "dr-b"},
        ],
    )
    sites, prac = q.table("sites"), q.table("practitioners")
    go_live = sites.where(lambda s: s.site_id == q.patient.site_id).max(
        lambda s: s.integration_go_live
    )
    mh = q.table("encounters").where(
        lambda e: prac.where(
            lambda p: (p.practitioner_id == e.practitioner_id) & (p.discipline == "psychiatry")
        ).exists()
    )
    out = engine.run_many(
        {"go_live": go_live, "mh_visits": mh.count(), "sites": sites.count()}, tables
    )
    assert out["p1"] == {"go_live": dt.date(2024, 7, 1), "mh_visits": 1, "sites": 2}
    assert out["p2"] == {"go_live": None, "mh_visits": 0, "sites": 2}


def test_first_and_last_can_sort_null_keys_first_or_last(engine):
    tables = make_tables(
        observations=[
            {"patient_id": "p1", "observation_id": "num-low", "value_num": 120.0},
            {"patient_id": "p1", "observation_id": "num-high", "value_num": 150.0},
            {"patient_id": "p1", "observation_id": "text-b", "value_num": None},
            {"patient_id": "p1", "observation_id": "text-a", "value_num": None},
        ]
    )

    def by_value(**kw):
        return {
            "first": OBS.first_by(lambda o: o.value_num, **kw).id,
            "last": OBS.last_by(lambda o: o.value_num, **kw).id,
        }

    out = engine.run_many(
        {
            **{f"skip_{k}": v for k, v in by_value().items()},
            **{f"nf_{k}": v for k, v in by_value(nulls="first").items()},
            **{f"nl_{k}": v for k, v in by_value(nulls="last").items()},
        },
        tables,
    )["p1"]
    assert out == {
        "skip_first": "num-low",
        "skip_last": "num-high",
        "nf_first": "text-a",  # CQL ascending sort: nulls first, ties by id
        "nf_last": "num-high",
        "nl_first": "num-low",
        "nl_last": "text-b",
    }
