"""Episode-based groups (``populationBasis`` "Encounter"): populations count episodes.

Alice has three visits in the period: one with a medication review (numerator), one with a
documented reason for no review (exception), one with both (the numerator wins over the
exception). Bob has two visits, one excluded (hospice on that day), the other reviewed twice
(counts once). Charlie's only visit is before the period; Dana is too young (patient-level IP).
"""

from __future__ import annotations

import datetime as dt

import pytest

from tandem.measures import evaluate
from tandem.measures import language as q
from tests.measures.conftest import PERIOD, make_tables

VISITS = q.table("encounters").status_in("finished").code_in("urn:oid:1.2.3")
VALUESETS = {"1.2.3": frozenset({("http://www.ama-assn.org/go/cpt", "99213")})}
REVIEW = q.table("procedures").where(lambda p: (p.code == "review") & (p.status == "completed"))
NOT_DONE = q.table("procedures").where(lambda p: (p.code == "review") & (p.status == "not-done"))
HOSPICE = q.table("encounters").where(lambda e: e.code == "hospice")

episodes = VISITS.where(lambda e: q.during(e.start, q.period_start, q.period_end))


def same_day(frame, column):
    return lambda e: frame.where(lambda p: p.col(column).date == e.start.date).exists()


MEASURE = q.Measure(
    id="TEST-EPISODES",
    title="Medication review per visit",
    groups=[
        q.Group(
            id="per-visit",
            basis="Encounter",
            episodes=episodes,
            populations={
                "initial-population": q.patient_age_on(q.period_start) >= 18,
                "denominator-exclusion": lambda e: q.any_of(hospice=same_day(HOSPICE, "start")(e)),
                "numerator": same_day(REVIEW, "performed_start"),
                "denominator-exception": same_day(NOT_DONE, "performed_start"),
            },
        )
    ],
    strata=[q.Stratifier("sex", q.patient.sex)],
)


def day(month, d):
    return dt.datetime(2025, month, d, 9)


def visit(pid, eid, when, code="99213"):
    row = {"patient_id": pid, "encounter_id": eid, "status": "finished", "start": when}
    return {**row, "end": when, "system": "http://www.ama-assn.org/go/cpt", "code": code}


def procedure(pid, pr_id, when, status="completed"):
    return {
        "patient_id": pid,
        "procedure_id": pr_id,
        "code": "review",
        "status": status,
        "performed_start": when,
    }


def episode_tables():
    return make_tables(
        patients=[
            {"patient_id": "alice", "birth_date": dt.date(1980, 1, 1), "sex": "female"},
            {"patient_id": "bob", "birth_date": dt.date(1970, 1, 1), "sex": "male"},
            {"patient_id": "charlie", "birth_date": dt.date(1960, 1, 1), "sex": "male"},
            {"patient_id": "dana", "birth_date": dt.date(2015, 1, 1), "sex": "female"},
        ],
        encounters=[
            visit("alice", "a1", day(2, 1)),
            visit("alice", "a2", day(3, 1)),
            visit("alice", "a3", day(4, 1)),
            visit("bob", "b1", day(5, 1)),
            visit("bob", "b2", day(6, 1)),
            {**visit("bob", "bh", day(5, 1)), "code": "hospice"},
            visit("charlie", "c1", dt.datetime(2024, 12, 31, 9)),
            visit("dana", "d1", day(2, 1)),
        ],
        procedures=[
            procedure("alice", "r1", day(2, 1)),
            procedure("alice", "n2", day(3, 1), status="not-done"),
            procedure("alice", "r3", day(4, 1)),
            procedure("alice", "n3", day(4, 1), status="not-done"),
            procedure("bob", "r4", day(5, 1)),
            procedure("bob", "r5", day(6, 1)),
            procedure("bob", "r6", day(6, 1)),
            procedure("dana", "r7", day(2, 1)),
        ],
    )


@pytest.fixture
def tables():
    return episode_tables()


def run(engine, tables):
    return evaluate(
        MEASURE, tables, VALUESETS, period=PERIOD, engine=engine.name, connection=engine.connection
    )


def test_each_population_counts_the_patients_episodes(engine, tables):
    result = run(engine, tables)
    pops = {p.patient_id: p.populations["per-visit"] for p in result.patients}
    assert pops["alice"] == {
        "initial-population": 3,
        "denominator": 3,
        "denominator-exclusion": 0,
        "denominator-exception": 1,  # a2 only: a3 is in the numerator
        "numerator": 2,
    }
    assert pops["bob"] == {
        "initial-population": 2,
        "denominator": 2,
        "denominator-exclusion": 1,  # b1: hospice that day, so not in the numerator
        "denominator-exception": 0,
        "numerator": 1,  # b2, reviewed twice, counts once
    }
    assert set(pops["charlie"].values()) == {0}
    assert set(pops["dana"].values()) == {0}


def test_summary_sums_episodes_and_rates_them(engine, tables):
    result = run(engine, tables)
    assert result.counts("per-visit") == {
        "initial-population": 5,
        "denominator": 5,
        "denominator-exclusion": 1,
        "denominator-exception": 1,
        "numerator": 3,
    }
    whole = result.summary[0]
    assert whole.rate == pytest.approx(3 / 3)
    assert result.counts("per-visit", "sex", "male")["numerator"] == 1


def test_exclusion_reasons_are_reported_per_patient(engine, tables):
    result = run(engine, tables)
    assert result.patient("bob").reasons["per-visit"]["denominator-exclusion"] == ["hospice"]
    assert result.patient("alice").reasons["per-visit"]["denominator-exclusion"] == []


def test_the_populations_table_has_counts(tables):
    result = evaluate(MEASURE, tables, VALUESETS, period=PERIOD, engine="memory")
    column = result.populations_table().column("per-visit|numerator")
    assert column.type == "int64"
    assert column.to_pylist() == [2, 1, 0, 0]


def test_an_episode_group_needs_episodes():
    with pytest.raises(TypeError, match="needs episodes"):
        q.Group(id="g", basis="Encounter", populations={})
    with pytest.raises(ValueError, match="needs a basis"):
        q.Group(id="g", populations={"initial-population": q.lit(True)}, episodes=VISITS)
    with pytest.raises(TypeError, match="boolean per episode"):
        q.Group(
            id="g", basis="Encounter", episodes=VISITS, populations={"numerator": lambda e: e.start}
        ).outputs()
