"""Measures: population scoring, several groups, strata, evidence and exclusion reasons."""

from __future__ import annotations

import datetime as dt

import pytest

from tandem.measures import evaluate, evaluate_dataset
from tandem.measures import language as q
from tests.measures.conftest import PERIOD, make_tables

VISIT_VS = "urn:oid:1.2.3"
VALUESETS = {"1.2.3": frozenset({("http://www.ama-assn.org/go/cpt", "99213")})}

VISITS = q.table("encounters").status_in("finished").code_in(VISIT_VS)
PHQ = q.table("observations").where(lambda o: (o.code == "44261-6") & (o.status == "final"))
BIPOLAR = q.table("conditions").where(lambda c: c.code.isin(["F31.9"]))
HOSPICE = q.table("encounters").where(lambda e: e.code == "hospice")

visit_in_period = VISITS.where(lambda e: q.during(e.start, q.period_start, q.period_end))
last_phq = PHQ.where(lambda o: q.during(o.effective_start, q.period_start, q.period_end)).last_by(
    lambda o: o.effective_start
)
age = q.patient_age_on(q.period_start)

MEASURE = q.Measure(
    id="TEST-PHQ",
    title="PHQ-9 under the threshold",
    parameters={"threshold": 10.0, "min_age": 12},
    groups=[
        q.Group(
            id="below-threshold",
            populations={
                "initial-population": visit_in_period.exists() & (age >= q.param("min_age")),
                "denominator-exclusion": q.any_of(
                    bipolar=BIPOLAR.exists(), hospice=HOSPICE.exists()
                ),
                "denominator-exception": last_phq.value_num.is_null(),
                "numerator": last_phq.value_num < q.param("threshold", "float"),
            },
            evidence={
                "numerator": {
                    "phq_id": last_phq.id,
                    "phq_value": last_phq.value_num,
                    "phq_date": last_phq.get(lambda o: o.effective_start.date),
                },
                "initial-population": {"visit": visit_in_period.first_by(lambda e: e.start).id},
            },
        ),
        q.Group(
            id="measured",
            populations={
                "initial-population": visit_in_period.exists() & (age >= q.param("min_age")),
                "denominator": q.patient.sex.is_not_null(),
                "numerator": last_phq.value_num.is_not_null(),
            },
        ),
    ],
    strata=[
        q.Stratifier("age", q.age_band(age, [(12, 17), (18, None)])),
        q.Stratifier("sex", q.patient.sex),
    ],
)


def person(pid, born, sex="female"):
    return {"patient_id": pid, "birth_date": born, "sex": sex}


def visit(pid, day=dt.datetime(2025, 4, 1), code="99213", eid=None):
    return {
        "patient_id": pid,
        "encounter_id": eid,
        "status": "finished",
        "system": "http://www.ama-assn.org/go/cpt",
        "code": code,
        "start": day,
        "end": day,
    }


def phq(pid, value, day=dt.datetime(2025, 5, 1), oid=None):
    return {
        "patient_id": pid,
        "observation_id": oid,
        "status": "final",
        "code": "44261-6",
        "effective_start": day,
        "value_num": value,
    }


@pytest.fixture
def tables():
    return make_tables(
        patients=[
            person("met", dt.date(1980, 1, 1)),
            person("not_met", dt.date(2010, 6, 1), sex="male"),
            person("excluded", dt.date(1980, 1, 1)),
            person("exception", dt.date(1980, 1, 1)),
            person("too_young", dt.date(2015, 1, 1)),
            person("no_visit", dt.date(1980, 1, 1)),
            person("no_sex", dt.date(1980, 1, 1), sex=None),
        ],
        encounters=[
            visit("met", eid="v-met"),
            visit("not_met"),
            visit("excluded"),
            visit("excluded", code="hospice"),
            visit("exception"),
            visit("too_young"),
            visit("no_visit", code="00000"),
            visit("no_sex"),
        ],
        observations=[
            phq("met", 14, dt.datetime(2025, 2, 1)),
            phq("met", 4, dt.datetime(2025, 6, 1), oid="phq-last"),
            phq("not_met", 12),
            phq("excluded", 3),
            phq("no_sex", 3),
        ],
        conditions=[{"patient_id": "excluded", "code": "F31.9"}],
    )


def run(engine, tables, **kw):
    return evaluate(
        MEASURE,
        tables,
        VALUESETS,
        period=PERIOD,
        engine=engine.name,
        connection=engine.connection,
        **kw,
    )


def test_populations_follow_proportion_scoring(engine, tables):
    result = run(engine, tables)
    pops = {p.patient_id: p.populations["below-threshold"] for p in result.patients}
    assert pops["met"] == {
        "initial-population": True,
        "denominator": True,
        "denominator-exclusion": False,
        "denominator-exception": False,
        "numerator": True,
    }
    assert pops["not_met"]["numerator"] is False and pops["not_met"]["denominator"] is True
    # excluded: the criterion for the numerator holds (PHQ 3) but exclusion wins
    assert (
        pops["excluded"]["denominator-exclusion"] is True and pops["excluded"]["numerator"] is False
    )
    assert pops["exception"]["denominator-exception"] is True
    assert pops["too_young"]["initial-population"] is False
    assert pops["too_young"]["denominator"] is False
    assert pops["no_visit"]["initial-population"] is False


def test_evidence_names_the_deciding_events_and_exclusion_reasons(engine, tables):
    result = run(engine, tables)
    met = result.patient("met")
    assert met.evidence["below-threshold"]["numerator"] == {
        "phq_id": "phq-last",
        "phq_value": 4.0,
        "phq_date": dt.date(2025, 6, 1),
    }
    assert met.evidence["below-threshold"]["initial-population"] == {"visit": "v-met"}
    assert result.patient("excluded").reasons["below-threshold"]["denominator-exclusion"] == [
        "bipolar",
        "hospice",
    ]
    assert met.reasons["below-threshold"]["denominator-exclusion"] == []


def test_a_second_group_has_its_own_denominator(engine, tables):
    result = run(engine, tables)
    assert result.counts("measured") == {"initial-population": 5, "denominator": 4, "numerator": 3}
    assert result.patient("no_sex").populations["measured"]["denominator"] is False


def test_summary_counts_and_rate_per_group_and_stratum(engine, tables):
    result = run(engine, tables)
    assert result.counts("below-threshold") == {
        "initial-population": 5,
        "denominator": 5,
        "denominator-exclusion": 1,
        "denominator-exception": 1,
        "numerator": 2,
    }
    overall = next(
        r for r in result.summary if r.group == "below-threshold" and r.stratifier is None
    )
    assert overall.rate == pytest.approx(2 / 3)
    teen = result.counts("below-threshold", "age", "12-17")
    assert teen["initial-population"] == 1 and teen["numerator"] == 0
    assert result.patient("not_met").strata == {"age": "12-17", "sex": "male"}


def test_parameters_override_the_measure_defaults(engine, tables):
    result = run(engine, tables, parameters={"threshold": 13.0})
    assert result.patient("not_met").populations["below-threshold"]["numerator"] is True


def test_a_dataset_lists_values_for_the_population(engine, tables):
    rows = evaluate_dataset(
        {"last_phq": last_phq.value_num, "age": age},
        tables,
        VALUESETS,
        population=visit_in_period.exists(),
        period=PERIOD,
        engine=engine.name,
        connection=engine.connection,
    )
    assert [r["patient_id"] for r in rows] == [
        "exception",
        "excluded",
        "met",
        "no_sex",
        "not_met",
        "too_young",
    ]
    assert rows[2] == {"patient_id": "met", "last_phq": 4.0, "age": 45}


def test_a_group_needs_an_initial_population_and_known_codes():
    with pytest.raises(ValueError, match="initial-population"):
        q.Group(id="g", populations={"numerator": q.lit(True)})
    with pytest.raises(ValueError, match="unknown population"):
        q.Group(id="g", populations={"initial-population": q.lit(True), "numer": q.lit(True)})


def test_missing_parameters_are_reported_by_name(tables):
    with pytest.raises(KeyError, match="period_start"):
        evaluate_dataset({"x": q.period_start}, tables, {}, engine="memory")


def test_frame_evidence_gives_id_code_and_date_of_the_latest_row(engine, tables):
    ev = PHQ.evidence("phq")
    first = PHQ.evidence("phq", last=False)
    out = engine.run_many({**ev, "first_id": first["phq_id"]}, tables)["met"]
    assert out == {
        "phq_id": "phq-last",
        "phq_code": "44261-6",
        "phq_date": dt.datetime(2025, 6, 1),
        "first_id": "obs-1",
    }
