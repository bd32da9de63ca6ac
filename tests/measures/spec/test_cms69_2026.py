"""What changed in CMS69v14 (BMI screening and follow-up, 2026), on every engine.

Each patient is evaluated with both versions over a 2026 period (the 2025 version pinned, with
the 2025 expansions); see ``test_cms_chronic_2026`` for the helpers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests import shared
from tests.measures.conftest import make_tables
from tests.measures.spec.test_cms_chronic_2026 import (
    ALICE,
    CPT,
    ICD10,
    LOINC,
    SCT,
    condition,
    fhir_encounter,
    fhir_medication,
    fhir_patient,
    fhir_tables,
    patient,
    pops,
    results,
    ts,
    valuesets,  # noqa: F401 - the module-scoped fixture
    visit,
)

pytestmark = [shared.needs(shared.VALUESETS_2026), shared.needs(shared.VALUESETS)]

FOLLOW_UP = "304549008"  # SNOMED, in Follow Up for Above and Below Normal BMI, both years


def bmi(value: float, **kw: Any) -> dict[str, Any]:
    return {
        "patient_id": ALICE,
        "status": "final",
        "category": "vital-signs",
        "system": LOINC,
        "code": "39156-5",
        "effective_start": ts(3, 2, 10),
        "effective_end": ts(3, 2, 10),
        "value_num": value,
        "value_unit": "kg/m2",
        "value_type": "Quantity",
        **kw,
    }


def follow_up_order(**kw: Any) -> dict[str, Any]:
    return {
        "patient_id": ALICE,
        "status": "active",
        "intent": "order",
        "system": SCT,
        "code": FOLLOW_UP,
        "authored": ts(3, 2, 11),
        **kw,
    }


def follow_up_done(**kw: Any) -> dict[str, Any]:
    return {
        "patient_id": ALICE,
        "status": "completed",
        "system": SCT,
        "code": FOLLOW_UP,
        "performed_start": ts(3, 2, 11),
        "performed_end": ts(3, 2, 11),
        **kw,
    }


def adult(**rows: Any):
    tables = {"patients": [patient()], "encounters": [visit(start=ts(3, 2, 9))]}
    tables.update(rows)
    return make_tables(**tables)


def both(engine, valuesets, tables) -> tuple[dict[str, int], dict[str, int]]:  # noqa: F811
    return (
        pops(results(engine, valuesets, "CMS69", tables, "CMS69v13")),
        pops(results(engine, valuesets, "CMS69", tables, "CMS69v14")),
    )


def test_cms69_2026_excludes_a_pregnancy_status_observation(engine, valuesets):  # noqa: F811
    status = {
        "patient_id": ALICE,
        "status": "final",
        "category": "social-history",
        "system": LOINC,
        "code": "82810-3",
        "effective_start": ts(2, 1),
        "effective_end": ts(2, 1),
        "value_system": SCT,
        "value_code": "77386006",
        "value_type": "CodeableConcept",
    }
    v13, v14 = both(engine, valuesets, adult(observations=[bmi(31), status]))
    assert (v13["denominator-exclusion"], v14["denominator-exclusion"]) == (0, 1)


def test_cms69_2026_pregnancy_diagnosis_need_not_be_active(engine, valuesets):  # noqa: F811
    ended = condition(
        "77386006",
        SCT,
        clinical_status="resolved",
        category="encounter-diagnosis",
        onset=dt.datetime(2025, 9, 1),
        abatement=dt.datetime(2026, 3, 1),
    )
    v13, v14 = both(engine, valuesets, adult(observations=[bmi(31)], conditions=[ended]))
    assert (v13["denominator-exclusion"], v14["denominator-exclusion"]) == (0, 1)


def test_cms69_2026_high_bmi_order_may_rest_on_an_encounter_diagnosis(engine, valuesets):  # noqa: F811
    obese = condition("E66.9", category="encounter-diagnosis", onset=ts(3, 2, 9))
    tables = adult(observations=[bmi(31)], conditions=[obese], service_requests=[follow_up_order()])
    v13, v14 = both(engine, valuesets, tables)
    assert (v13["numerator"], v14["numerator"]) == (0, 1)


def test_cms69_2026_low_bmi_order_may_rest_on_a_problem_list_item(engine, valuesets):  # noqa: F811
    underweight = condition("R63.6", onset=ts(3, 2, 9))  # problem-list-item
    tables = adult(
        observations=[bmi(17)], conditions=[underweight], service_requests=[follow_up_order()]
    )
    v13, v14 = both(engine, valuesets, tables)
    assert (v13["numerator"], v14["numerator"]) == (0, 1)


def test_cms69_2026_high_bmi_procedure_needs_a_problem_list_or_concern(engine, valuesets):  # noqa: F811
    obese = condition("E66.9", category="encounter-diagnosis", onset=ts(1, 5))
    tables = adult(observations=[bmi(31)], conditions=[obese], procedures=[follow_up_done()])
    v13, v14 = both(engine, valuesets, tables)
    assert (v13["numerator"], v14["numerator"]) == (1, 0)
    listed = adult(
        observations=[bmi(31)],
        conditions=[{**obese, "category": "problem-list-item"}],
        procedures=[follow_up_done()],
    )
    assert both(engine, valuesets, listed)[1]["numerator"] == 1


def test_cms69_2026_low_bmi_procedure_concern_need_not_be_active(engine, valuesets):  # noqa: F811
    concern = condition(
        "R63.6", category="health-concern", clinical_status="inactive", onset=ts(1, 5)
    )
    tables = adult(observations=[bmi(17)], conditions=[concern], procedures=[follow_up_done()])
    v13, v14 = both(engine, valuesets, tables)
    assert (v13["numerator"], v14["numerator"]) == (0, 1)


def test_cms69_2026_counts_a_bmi_medication_given_as_a_reference(engine, valuesets, tmp_path):  # noqa: F811
    request = {
        "resourceType": "MedicationRequest",
        "id": "rx1",
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": "Medication/phentermine"},
        "subject": {"reference": f"Patient/{ALICE}"},
        "authoredOn": "2026-03-02T11:00:00Z",
        "reasonCode": [{"coding": [{"system": ICD10, "code": "E66.9"}]}],
    }
    observation = {
        "resourceType": "Observation",
        "id": "bmi1",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": "39156-5"}]},
        "subject": {"reference": f"Patient/{ALICE}"},
        "effectiveDateTime": "2026-03-02T10:00:00Z",
        "valueQuantity": {"value": 31, "unit": "kg/m2"},
    }
    tables = fhir_tables(
        tmp_path,
        fhir_patient("1960-05-01"),
        fhir_encounter("v1", CPT, "99213", "2026-03-02T09:00:00Z", "2026-03-02T09:30:00Z"),
        observation,
        fhir_medication("phentermine", "1112982"),
        request,
    )
    v13, v14 = both(engine, valuesets, tables)
    assert (v14["initial-population"], v14["numerator"]) == (1, 1)
    assert (v13["initial-population"], v13["numerator"]) == (1, 0)  # 2025: CodeableConcept only
