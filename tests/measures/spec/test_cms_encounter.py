"""CMS68 and CMS177, 2025 against 2026: each change between the versions, on every engine.

Each test gives one patient the data that a change decides and asserts the episode counts
of both versions. Value sets are small stand-ins under the measures' OIDs.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tandem.measures import evaluate
from tandem.measures.definitions import cms_encounter as m
from tests.measures.conftest import PERIOD, make_tables

CPT = "http://www.ama-assn.org/go/cpt"
SNOMED = "http://snomed.info/sct"
VISIT = (CPT, "99213")
MDD = (SNOMED, "370143000")
MEDICAL_REASON = (SNOMED, "183932001")
VALUESETS = {
    m.ENCOUNTER_TO_DOCUMENT_MEDS: frozenset({VISIT}),
    m.MEDICAL_REASON: frozenset({MEDICAL_REASON}),
    m.MDD_ACTIVE: frozenset({MDD}),
    **{oid: frozenset({VISIT}) for oid in m.MDD_ENCOUNTERS.values()},
}


def at(month, day, hour=9, minute=0):
    return dt.datetime(2025, month, day, hour, minute)


def visit(eid="e1", start=None, end=None):
    if start is None:
        start, end = at(5, 1, 9), at(5, 1, 10)
    return {
        "encounter_id": eid,
        "patient_id": "alice",
        "status": "finished",
        "system": VISIT[0],
        "code": VISIT[1],
        "start": start,
        "end": end,
    }


def procedure(code, status="completed", start=None, end=None, **extra):
    row = {"patient_id": "alice", "system": SNOMED, "code": code, "status": status}
    return {**row, "performed_start": start, "performed_end": end, **extra}


def counts(engine, measure, **rows):
    birth = rows.pop("birth_date", dt.date(1980, 1, 1))
    tables = make_tables(patients=[{"patient_id": "alice", "birth_date": birth}], **rows)
    result = evaluate(
        measure, tables, VALUESETS, period=PERIOD, engine=engine.name, connection=engine.connection
    )
    return result.patient("alice").populations["group-1"]


def both(engine, build_2025, build_2026, code, **rows):
    return (counts(engine, build_2025(), **rows)[code], counts(engine, build_2026(), **rows)[code])


# --- CMS68 -------------------------------------------------------------------------------

MEDS = m.MEDS_DOCUMENTED[1]


def test_cms68_counts_every_qualifying_encounter(engine):
    encounters = [
        visit("e1"),
        visit("e2", at(6, 1), at(6, 1, 10)),
        {**visit("e3", at(7, 1)), "end": None},
    ]
    pops = counts(engine, m.cms68_2025(), encounters=encounters)
    assert pops["initial-population"] == 2  # e3 has no end: not during the period
    assert pops["denominator"] == 2 and pops["numerator"] == 0


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # starts the same day before the encounter, ends inside it: 2025 yes (the end is
        # during the encounter), 2026 yes (starts during day of it, has an end)
        (at(5, 1, 7), at(5, 1, 9, 30), (1, 1)),
        # same day, ends after the encounter ends: 2025 no, 2026 yes
        (at(5, 1, 9, 30), at(5, 1, 11), (0, 1)),
        # the day before, ending inside the encounter: 2025 yes, 2026 no
        (at(4, 30, 23), at(5, 1, 9, 5), (1, 0)),
        # a Period without an end: neither (no end, and hasEnd() is false)
        (at(5, 1, 9, 30), None, (0, 0)),
    ],
)
def test_cms68_numerator_timing_changed(engine, start, end, expected):
    rows = {"encounters": [visit()], "procedures": [procedure(MEDS, start=start, end=end)]}
    assert both(engine, m.cms68_2025, m.cms68_2026, "numerator", **rows) == expected


def not_done(reason, recorded):
    system, code = reason
    return procedure(
        MEDS, status="not-done", reason_system=system, reason_code=code, recorded=recorded
    )


def test_cms68_exception_reason_changed_from_medical_reason_to_acute_crisis(engine):
    medical = {"encounters": [visit()], "procedures": [not_done(MEDICAL_REASON, at(5, 1, 9, 5))]}
    crisis = {
        "encounters": [visit()],
        "procedures": [not_done(m.ACUTE_HEALTH_CRISIS, at(5, 1, 9, 5))],
    }
    code = "denominator-exception"
    assert both(engine, m.cms68_2025, m.cms68_2026, code, **medical) == (1, 0)
    assert both(engine, m.cms68_2025, m.cms68_2026, code, **crisis) == (0, 1)


def test_cms68_exception_recorded_the_same_day_counts_in_2026_only(engine):
    later = {  # recorded after the encounter ended, the same day: "during day of" (2026)
        "encounters": [visit()],
        "procedures": [
            not_done(MEDICAL_REASON, at(5, 1, 15)),
            not_done(m.ACUTE_HEALTH_CRISIS, at(5, 1, 15)),
        ],
    }
    assert both(engine, m.cms68_2025, m.cms68_2026, "denominator-exception", **later) == (0, 1)


def test_cms68_documented_encounters_are_not_exceptions(engine):
    rows = {
        "encounters": [visit()],
        "procedures": [
            procedure(MEDS, start=at(5, 1, 9, 30), end=at(5, 1, 9, 30)),
            not_done(MEDICAL_REASON, at(5, 1, 9, 5)),
        ],
    }
    pops = counts(engine, m.cms68_2025(), **rows)
    assert pops["numerator"] == 1 and pops["denominator-exception"] == 0


# --- CMS177 ------------------------------------------------------------------------------

CHILD = dt.date(2014, 6, 1)  # 10 at the start of the period
SRA = m.SUICIDE_RISK_ASSESSMENT[1]


def condition(cid, category="encounter-diagnosis", encounter_id=None):
    row = {"condition_id": cid, "patient_id": "alice", "system": MDD[0], "code": MDD[1]}
    return {**row, "category": category, "encounter_id": encounter_id}


def reason(kind, eid="e1", condition_id=None, code=None):
    system = MDD[0] if code else None
    return {
        "encounter_id": eid,
        "patient_id": "alice",
        "kind": kind,
        "system": system,
        "code": code,
        "condition_id": condition_id,
    }


def with_reasons(*rows):
    return {"encounter_reasons": list(rows)}


def test_cms177_diagnosis_counts_in_2025_only(engine):
    rows = {
        "birth_date": CHILD,
        "encounters": [visit()],
        "conditions": [condition("c1", encounter_id="e1")],
        **with_reasons(reason("diagnosis", condition_id="c1")),
    }
    assert both(engine, m.cms177_2025, m.cms177_2026, "initial-population", **rows) == (1, 0)


def test_cms177_reason_reference_counts_in_2026_only(engine):
    rows = {
        "birth_date": CHILD,
        "encounters": [visit()],
        "conditions": [condition("c1", category="problem-list-item")],
        **with_reasons(reason("reason-reference", condition_id="c1")),
    }
    assert both(engine, m.cms177_2025, m.cms177_2026, "initial-population", **rows) == (0, 1)


def test_cms177_reason_code_counts_in_both_and_each_encounter_once(engine):
    rows = {
        "birth_date": CHILD,
        "encounters": [visit("e1"), visit("e2", at(6, 1), at(6, 1, 10))],
        **with_reasons(
            reason("reason-code", "e1", code=MDD[1]),
            reason("reason-code", "e2", code=MDD[1]),
            reason("reason-code", "e2", code=MDD[1]),
        ),
    }
    assert both(engine, m.cms177_2025, m.cms177_2026, "initial-population", **rows) == (2, 2)


def test_cms177_observation_assessment_counts_in_2026_only(engine):
    observation = {
        "patient_id": "alice",
        "system": SNOMED,
        "code": SRA,
        "status": "final",
        "effective_start": at(5, 1, 9, 30),
        "effective_end": at(5, 1, 9, 30),
    }
    rows = {
        "birth_date": CHILD,
        "encounters": [visit()],
        "conditions": [condition("c1", encounter_id="e1")],
        "observations": [observation],
        **with_reasons(reason("reason-code", code=MDD[1]), reason("diagnosis", condition_id="c1")),
    }
    assert both(engine, m.cms177_2025, m.cms177_2026, "numerator", **rows) == (0, 1)


def test_cms177_procedure_must_be_within_the_encounter(engine):
    inside = procedure(SRA, start=at(5, 1, 9, 10), end=at(5, 1, 9, 20))
    outside = procedure(SRA, start=at(5, 1, 8), end=at(5, 1, 9, 20))
    base = {
        "birth_date": CHILD,
        "encounters": [visit()],
        "conditions": [condition("c1", encounter_id="e1")],
        **with_reasons(reason("reason-code", code=MDD[1]), reason("diagnosis", condition_id="c1")),
    }
    assert both(engine, m.cms177_2025, m.cms177_2026, "numerator", procedures=[inside], **base) == (
        1,
        1,
    )
    assert both(
        engine, m.cms177_2025, m.cms177_2026, "numerator", procedures=[outside], **base
    ) == (0, 0)


def test_cms177_age_is_6_through_16_at_the_start_of_the_period(engine):
    base = {
        "encounters": [visit()],
        "conditions": [condition("c1", encounter_id="e1")],
        **with_reasons(reason("diagnosis", condition_id="c1")),
    }
    for born, expected in [
        (dt.date(2019, 1, 1), 1),  # 6 on 1 January
        (dt.date(2019, 1, 2), 0),  # 5
        (dt.date(2008, 1, 2), 1),  # 16
        (dt.date(2008, 1, 1), 0),  # 17
    ]:
        pops = counts(engine, m.cms177_2025(), birth_date=born, **base)
        assert pops["initial-population"] == expected, born
