"""CMS2, CMS159 and CMS128: what changed from the 2025 to the 2026 logic, on every engine.

Each test gives one patient whose result differs between the 2025 version (CMS2v14, CMS159v13,
CMS128v13) and the 2026 version (CMS2v15, CMS159v14, CMS128v14) because of one change in the
published CQL, named in the test, and evaluates both versions on the same tables and the same
2026 period. Codes come from the 2026 expansions (``../shared/conformance/ecqm-2026/valuesets``);
only the codes a test uses are put in its small value sets, so the tests need no shared folder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from tandem.measures import evaluate
from tandem.measures import language as q
from tandem.measures.definitions import cms_behavioral as cms
from tandem.measures.lang_walk import valuesets_used
from tests.measures.conftest import make_tables

PERIOD = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

VALUESETS = {
    # CMS2
    "2.16.840.1.113883.3.600.1916": {(SCT, "10197000")},  # Encounter to Screen for Depression
    "2.16.840.1.113883.3.526.3.1566": {(RXNORM, "1000048")},  # Adult Depression Medications
    "2.16.840.1.113883.3.526.3.1007": {(SCT, "183932001")},  # Medical Reason
    "2.16.840.1.113883.3.67.1.101.1.128": {(SCT, "10875004")},  # Bipolar Disorder
    # CMS159
    "2.16.840.1.113883.3.67.1.101.3.2444": {(SCT, "14183003")},  # Major Depression incl. Rem.
    "2.16.840.1.113883.3.67.1.101.1.263": {(LOINC, "44261-6")},  # PHQ 9 and PHQ 9M Tools
    "2.16.840.1.113762.1.4.1080.5": {(CPT, "90791")},  # Contact or Office Visit
    "2.16.840.1.113883.3.464.1003.1165": {(SCT, "170935008")},  # Hospice Diagnosis
    "2.16.840.1.113883.3.526.3.1584": {(SCT, "385763009")},  # Hospice Care Ambulatory
    "2.16.840.1.113883.3.464.1003.101.12.1090": {(SCT, "305284002")},  # Palliative Care Enc.
    # CMS128
    "2.16.840.1.113883.3.464.1003.196.12.1213": {(RXNORM, "1000048")},  # Antidepressants
    "2.16.840.1.113883.3.464.1003.105.12.1007": {(SCT, "14183003")},  # Major Depression
    "2.16.840.1.113883.3.464.1003.101.12.1001": {(SCT, "185349003")},  # Office Visit
}


def valuesets(measure: q.Measure) -> dict[str, frozenset[tuple[str, str]]]:
    """The test's codes; every other value set the measure reads is empty."""
    used = valuesets_used(list(measure.outputs().values()))
    return {oid: frozenset(VALUESETS.get(oid, ())) for oid in used}


BUILDERS: dict[str, tuple[Callable[[], q.Measure], Callable[[], q.Measure]]] = {
    "CMS2": (cms.cms2, cms.cms2_2026),
    "CMS159": (cms.cms159, cms.cms159_2026),
    "CMS128": (cms.cms128, cms.cms128_2026),
}


def at(y: int, m: int, d: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(y, m, d, hour)


def populations(engine: Any, key: str, tables: Mapping[str, Sequence[Mapping[str, Any]]]):
    """{year: populations of group-1 for patient "p"} for both versions of ``key``."""
    rows = {name: list(r) for name, r in tables.items()}
    rows.setdefault("patients", [{"patient_id": "p", "birth_date": dt.date(1970, 1, 1)}])
    out = {}
    for year, build in zip((2025, 2026), BUILDERS[key], strict=True):
        measure = build()
        result = evaluate(
            measure,
            make_tables(**rows),
            valuesets(measure),
            period=PERIOD,
            engine=engine.name,
            connection=engine.connection,
        )
        out[year] = result.patient("p").populations["group-1"]
    return out


# --- CMS2 ----------------------------------------------------------------------------------


def visit(day: dt.datetime, status: str = "finished", minutes: int = 30) -> dict[str, Any]:
    return {
        "patient_id": "p",
        "status": status,
        "system": SCT,
        "code": "10197000",
        "start": day,
        "end": day + dt.timedelta(minutes=minutes),
    }


def screening(day: dt.datetime, result: str = "428181000124104", status: str = "final"):
    """An adult depression screening (LOINC 73832-8); positive by default."""
    return {
        "patient_id": "p",
        "status": status,
        "category": "survey",
        "system": LOINC,
        "code": "73832-8",
        "effective_start": day,
        "effective_end": day,
        "value_system": SCT,
        "value_code": result,
        "value_type": "CodeableConcept",
    }


def antidepressant_order(authored: dt.datetime, intent: str = "order", days_supply: Any = 30):
    return {
        "patient_id": "p",
        "status": "active",
        "intent": intent,
        "system": RXNORM,
        "code": "1000048",
        "authored": authored,
        "days_supply": days_supply,
    }


def test_cms2_2026_counts_an_amended_screening(engine):
    # "Most Recent Adult Depression Screening": status final (2025) -> final, amended, corrected
    pops = populations(
        engine,
        "CMS2",
        {
            "encounters": [visit(at(2026, 3, 10))],
            "observations": [screening(at(2026, 3, 10), "428171000124102", status="amended")],
        },
    )
    assert pops[2025]["initial-population"] and pops[2026]["initial-population"]
    assert pops[2025]["numerator"] is False
    assert pops[2026]["numerator"] is True


def test_cms2_2026_wants_the_medication_to_overlap_after_the_visit(engine):
    # "Follow Up Intervention for Positive Adult Depression Screening" (2026): the request period
    # must overlap the visit and end after it; an order authored the next day no longer counts.
    pops = populations(
        engine,
        "CMS2",
        {
            "encounters": [visit(at(2026, 3, 10))],
            "observations": [screening(at(2026, 3, 10))],
            "medication_requests": [antidepressant_order(at(2026, 3, 11))],
        },
    )
    assert pops[2025]["numerator"] is True
    assert pops[2026]["numerator"] is False


def test_cms2_both_years_count_a_medication_started_at_the_visit(engine):
    pops = populations(
        engine,
        "CMS2",
        {
            "encounters": [visit(at(2026, 3, 10))],
            "observations": [screening(at(2026, 3, 10))],
            "medication_requests": [antidepressant_order(at(2026, 3, 10, 15))],
        },
    )
    assert pops[2025]["numerator"] is True and pops[2026]["numerator"] is True


def test_cms2_2026_needs_a_request_period_for_a_medication(engine):
    # medicationRequestPeriod() is null without a days supply (or an end): no overlap in 2026
    pops = populations(
        engine,
        "CMS2",
        {
            "encounters": [visit(at(2026, 3, 10))],
            "observations": [screening(at(2026, 3, 10))],
            "medication_requests": [antidepressant_order(at(2026, 3, 10, 15), days_supply=None)],
        },
    )
    assert pops[2025]["numerator"] is True
    assert pops[2026]["numerator"] is False


def test_cms2_2026_accepts_every_order_intent(engine):
    # AdultMed.intent = 'order' (2025) -> in {order, original-order, reflex-order, ...} (2026)
    pops = populations(
        engine,
        "CMS2",
        {
            "encounters": [visit(at(2026, 3, 10))],
            "observations": [screening(at(2026, 3, 10))],
            "medication_requests": [antidepressant_order(at(2026, 3, 10, 15), "original-order")],
        },
    )
    assert pops[2025]["numerator"] is False
    assert pops[2026]["numerator"] is True


def test_cms2_a_visit_not_finished_does_not_qualify_in_either_year(engine):
    # "Qualifying Encounter During Measurement Period": status = 'finished' in both years
    pops = populations(engine, "CMS2", {"encounters": [visit(at(2026, 3, 10), "arrived")]})
    assert pops[2025]["initial-population"] is False
    assert pops[2026]["initial-population"] is False


def test_cms2_2026_compares_the_not_done_issue_time_by_day(engine):
    # "… NoAdultScreen.issued during [day of] QualifyingEncounter.period"
    not_done = {
        "patient_id": "p",
        "status": "cancelled",
        "system": LOINC,
        "code": "73832-8",
        "issued": at(2026, 3, 10, 16),
        "reason_system": SCT,
        "reason_code": "183932001",
    }
    pops = populations(
        engine, "CMS2", {"encounters": [visit(at(2026, 3, 10))], "observations": [not_done]}
    )
    assert pops[2025]["denominator-exception"] is False
    assert pops[2026]["denominator-exception"] is True


def test_cms2_2026_wants_bipolar_disorder_to_start_a_day_before_the_visit(engine):
    # "… prevalenceInterval() starts before [day of] start of QualifyingEncounter.period"
    bipolar = {
        "patient_id": "p",
        "system": SCT,
        "code": "10875004",
        "category": "problem-list-item",
        "clinical_status": "active",
        "onset": at(2026, 3, 10, 8),
    }
    pops = populations(
        engine, "CMS2", {"encounters": [visit(at(2026, 3, 10))], "conditions": [bipolar]}
    )
    assert pops[2025]["denominator-exclusion"] is True
    assert pops[2026]["denominator-exclusion"] is False


# --- CMS159 --------------------------------------------------------------------------------
# Period 2026: denominator identification period 2024-11-01..2025-10-31; an index assessment
# on 2025-03-01 gives the measure assessment period 2025-12-31..2026-04-30.


def depression(**kw: Any) -> dict[str, Any]:
    row = {
        "patient_id": "p",
        "system": SCT,
        "code": "14183003",
        "category": "encounter-diagnosis",
        "clinical_status": "active",
        "verification_status": "confirmed",
        "onset": at(2025, 1, 1),
    }
    return {**row, **kw}


def phq9(day: dt.datetime, score: float, value_type: str | None = "integer") -> dict[str, Any]:
    return {
        "patient_id": "p",
        "status": "final",
        "category": "survey",
        "system": LOINC,
        "code": "44261-6",
        "effective_start": day,
        "effective_end": day,
        "value_num": score,
        "value_type": value_type,
    }


def cms159_tables(**overrides: Any) -> dict[str, list[dict[str, Any]]]:
    """A patient with depression, a visit and a PHQ-9 of 15 on 2025-03-01, 3 a year later."""
    tables = {
        "conditions": [depression()],
        "encounters": [
            {
                "patient_id": "p",
                "status": "finished",
                "system": CPT,
                "code": "90791",
                "start": at(2025, 3, 1),
                "end": at(2025, 3, 1, 10),
            }
        ],
        "observations": [phq9(at(2025, 3, 1), 15), phq9(at(2026, 3, 1), 3)],
    }
    for name, extra in overrides.items():
        tables[name] = tables.get(name, []) + extra
    return tables


def test_cms159_both_years_count_remission_on_integer_scores(engine):
    pops = populations(engine, "CMS159", cms159_tables())
    for year in (2025, 2026):
        assert pops[year]["initial-population"] is True
        assert pops[year]["numerator"] is True


def test_cms159_a_phq9_total_recorded_as_a_quantity_is_no_score(engine):
    # "DepressionAssessment.value > 9" compiles to "value as Integer": a Quantity is null
    tables = cms159_tables()
    tables["observations"] = [
        phq9(at(2025, 3, 1), 15, "Quantity"),
        phq9(at(2025, 2, 27), 12),
        phq9(at(2026, 3, 1), 3, "Quantity"),
    ]
    pops = populations(engine, "CMS159", tables)
    for year in (2025, 2026):
        assert pops[year]["initial-population"] is True  # the integer 12 is the index
        assert pops[year]["numerator"] is False  # the last score (a Quantity) is not < 5


def test_cms159_a_score_of_unknown_type_is_read_when_whole(engine):
    # rows written before observations.value_type existed (null type): a whole number is read
    tables = cms159_tables()
    tables["observations"] = [phq9(at(2025, 3, 1), 15, None), phq9(at(2026, 3, 1), 4.5, None)]
    pops = populations(engine, "CMS159", tables)
    for year in (2025, 2026):
        assert pops[year]["initial-population"] is True
        assert pops[year]["numerator"] is False  # 4.5 is no Integer


def test_cms159_2026_takes_an_unconfirmed_depression_diagnosis(engine):
    # "Depression Diagnoses": isConfirmedActiveDiagnosis (2025) -> isVerified (2026)
    tables = cms159_tables()
    tables["conditions"] = [depression(verification_status="unconfirmed")]
    pops = populations(engine, "CMS159", tables)
    assert pops[2025]["initial-population"] is False
    assert pops[2026]["initial-population"] is True


def test_cms159_2026_takes_a_resolved_depression_that_covered_the_visit(engine):
    tables = cms159_tables()
    tables["conditions"] = [depression(clinical_status="resolved", abatement=at(2025, 6, 1))]
    pops = populations(engine, "CMS159", tables)
    assert pops[2025]["initial-population"] is False
    assert pops[2026]["initial-population"] is True


def test_cms159_an_inactive_depression_without_abatement_covers_no_visit(engine):
    # prevalenceInterval() of an inactive condition without abatement has an unknown end
    tables = cms159_tables()
    tables["conditions"] = [depression(clinical_status="inactive")]
    pops = populations(engine, "CMS159", tables)
    assert pops[2025]["initial-population"] is False
    assert pops[2026]["initial-population"] is False


def test_cms159_2026_excludes_an_unconfirmed_hospice_diagnosis(engine):
    # hospice diagnosis: isConfirmedActiveDiagnosis (2025) -> isVerified (2026)
    hospice = depression(code="170935008", verification_status="provisional")
    pops = populations(engine, "CMS159", cms159_tables(conditions=[hospice]))
    assert pops[2025]["denominator-exclusion"] is False
    assert pops[2026]["denominator-exclusion"] is True


def test_cms159_2026_no_longer_tests_do_not_perform_on_a_hospice_order(engine):
    order = {
        "patient_id": "p",
        "status": "active",
        "intent": "order",
        "do_not_perform": True,
        "system": SCT,
        "code": "385763009",
        "authored": at(2025, 5, 1),
    }
    pops = populations(engine, "CMS159", cms159_tables(service_requests=[order]))
    assert pops[2025]["denominator-exclusion"] is False
    assert pops[2026]["denominator-exclusion"] is True


def test_cms159_a_palliative_encounter_must_be_finished_in_either_year(engine):
    palliative = {
        "patient_id": "p",
        "status": "in-progress",
        "system": SCT,
        "code": "305284002",
        "start": at(2025, 5, 1),
        "end": at(2025, 5, 2),
    }
    pops = populations(engine, "CMS159", cms159_tables(encounters=[palliative]))
    assert pops[2025]["denominator-exclusion"] is False
    assert pops[2026]["denominator-exclusion"] is False


# --- CMS128 --------------------------------------------------------------------------------
# Period 2026: intake period 2025-05-01..2026-04-30; IPSD 2025-06-01.


def cms128_tables(**overrides: Any) -> dict[str, list[dict[str, Any]]]:
    """Dispensings covering 240 days from 2025-06-01, depression and a visit on that day."""
    tables = {
        "medication_dispenses": [
            {
                "patient_id": "p",
                "status": "completed",
                "system": RXNORM,
                "code": "1000048",
                "when_handed_over": at(2025, 6, 1) + dt.timedelta(days=120 * i),
                "days_supply": 120,
            }
            for i in range(2)
        ],
        "conditions": [depression(onset=at(2025, 6, 1))],
        "encounters": [
            {
                "patient_id": "p",
                "status": "finished",
                "system": SCT,
                "code": "185349003",
                "start": at(2025, 6, 1),
                "end": at(2025, 6, 1, 10),
            }
        ],
    }
    for name, extra in overrides.items():
        tables[name] = tables.get(name, []) + extra
    return tables


def test_cms128_both_years_count_continuous_treatment(engine):
    pops = populations(engine, "CMS128", cms128_tables())
    for year in (2025, 2026):
        assert pops[year]["initial-population"] is True
        assert pops[year]["numerator"] is True


def test_cms128_2026_counts_a_dispense_of_a_referenced_medication(engine):
    # [MedicationDispense: "Antidepressant Medication"]: 2025 matches medicationCodeableConcept
    # only; 2026 also a medicationReference (the loader resolves the Medication's code)
    tables = cms128_tables()
    for row in tables["medication_dispenses"]:
        row["medication_ref"] = "doxepin"
    pops = populations(engine, "CMS128", tables)
    assert pops[2025]["initial-population"] is False
    assert pops[2026]["initial-population"] is True


def test_cms128_2026_wants_a_finished_visit(engine):
    # Status.isEncounterPerformed: finished, arrived, … (2025) -> finished (2026)
    tables = cms128_tables()
    tables["encounters"][0]["status"] = "arrived"
    pops = populations(engine, "CMS128", tables)
    assert pops[2025]["initial-population"] is True
    assert pops[2026]["initial-population"] is False


def test_cms128_2026_ignores_a_refuted_depression_diagnosis(engine):
    # "Has IPSD and Major Depression Diagnosis": [Condition] (2025) -> (… union …).verified()
    tables = cms128_tables()
    tables["conditions"] = [depression(onset=at(2025, 6, 1), verification_status="refuted")]
    pops = populations(engine, "CMS128", tables)
    assert pops[2025]["initial-population"] is True
    assert pops[2026]["initial-population"] is False


def test_cms128_2026_excludes_a_prior_antidepressant_of_any_order_intent(engine):
    # Status.isMedicationActive: intent 'order' (2025) -> any order intent (2026)
    prior = antidepressant_order(at(2025, 4, 1), "original-order", days_supply=90)
    pops = populations(engine, "CMS128", cms128_tables(medication_requests=[prior]))
    assert pops[2025]["denominator-exclusion"] is False
    assert pops[2026]["denominator-exclusion"] is True


def test_cms128_an_order_authored_the_day_before_the_first_fill_excludes(engine):
    # "ToDateInterval(medicationRequestPeriod()) overlaps Interval[IPSD - 105 days, IPSD)"
    prior = antidepressant_order(at(2025, 5, 31), days_supply=30)
    pops = populations(engine, "CMS128", cms128_tables(medication_requests=[prior]))
    assert pops[2025]["denominator-exclusion"] is True
    assert pops[2026]["denominator-exclusion"] is True


def test_cms128_an_order_authored_before_its_validity_period_starts_on_the_authored_day(engine):
    # medicationRequestPeriod(): Coalesce(bounds start, authoredOn, validity start)
    prior = {
        **antidepressant_order(at(2025, 5, 30)),
        "validity_start": at(2025, 6, 1),
        "validity_end": at(2025, 8, 1),
    }
    pops = populations(engine, "CMS128", cms128_tables(medication_requests=[prior]))
    assert pops[2025]["denominator-exclusion"] is True
    assert pops[2026]["denominator-exclusion"] is True


def test_cms128_a_dosage_bounds_start_wins_over_the_authored_day(engine):
    prior = {**antidepressant_order(at(2025, 5, 30)), "period_start": at(2025, 6, 1)}
    pops = populations(engine, "CMS128", cms128_tables(medication_requests=[prior]))
    assert pops[2025]["denominator-exclusion"] is False
    assert pops[2026]["denominator-exclusion"] is False


def test_cms128_an_order_without_a_days_supply_has_no_period_and_does_not_exclude(engine):
    # medicationRequestPeriod() is null without a days supply or a bounds end
    prior = antidepressant_order(at(2025, 5, 31), days_supply=None)
    pops = populations(engine, "CMS128", cms128_tables(medication_requests=[prior]))
    assert pops[2025]["denominator-exclusion"] is False
    assert pops[2026]["denominator-exclusion"] is False


def test_cms128_2026_takes_a_hospice_assessment_of_any_category(engine):
    # Hospice: isAssessmentPerformed required category survey (2025), not in 2026
    mds = {
        "patient_id": "p",
        "status": "final",
        "category": "exam",
        "system": LOINC,
        "code": "45755-6",
        "effective_start": at(2026, 2, 1),
        "value_system": SCT,
        "value_code": "373066001",
        "value_type": "CodeableConcept",
    }
    pops = populations(engine, "CMS128", cms128_tables(observations=[mds]))
    assert pops[2025]["denominator-exclusion"] is False
    assert pops[2026]["denominator-exclusion"] is True


@pytest.mark.parametrize("key", sorted(BUILDERS))
def test_both_versions_keep_the_measure_key(key):
    assert {build().id for build in BUILDERS[key]} == {key}
