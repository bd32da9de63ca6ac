"""The FHIR export claims QI-Core 4.1.1 / US Core 3.1.1 profiles and types survey totals as
integers (tandem/synth/fhir_profiles.py, fhir_clinical.py)."""

from __future__ import annotations

from tandem.synth import fhir_clinical as C
from tandem.synth.fhir_profiles import FHIR, QICORE, USCORE, profiles, with_profiles

LOINC = "http://loinc.org"


def _observation(code: str, category: str = "vital-signs", **extra) -> dict:
    return {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "category": [{"coding": [{"code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        **extra,
    }


def _row(**values) -> dict:
    row = {
        "observation_id": "o1",
        "patient_id": "p1",
        "status": "final",
        "category": "survey",
        "system": LOINC,
        "code": "44261-6",
        "display": None,
        "panel_code": None,
        "effective_start": "2025-03-01T15:00:00Z",
        "issued": None,
        "encounter_id": None,
        "value_num": None,
        "value_unit": None,
        "value_system": None,
        "value_code": None,
        "value_display": None,
        "value_bool": None,
    }
    return row | values


def test_a_patient_claims_qicore_and_us_core():
    claimed = profiles({"resourceType": "Patient", "id": "p1"})

    assert claimed == [QICORE + "qicore-patient", USCORE + "us-core-patient"]


def test_meta_profile_follows_the_id():
    res = with_profiles({"resourceType": "Encounter", "id": "e1", "status": "finished"})

    assert list(res) == ["resourceType", "id", "meta", "status"]
    assert res["meta"]["profile"][0] == QICORE + "qicore-encounter"


def test_a_blood_pressure_claims_the_vital_signs_profile_the_logic_retrieves():
    claimed = profiles(_observation("85354-9"))

    assert FHIR + "bp" in claimed and FHIR + "vitalsigns" in claimed
    assert QICORE + "qicore-observation" in claimed


def test_a_lab_result_claims_us_core_lab():
    assert USCORE + "us-core-observation-lab" in profiles(_observation("4548-4", "laboratory"))


def test_a_request_not_to_be_done_claims_only_the_negation_profile():
    request = {"resourceType": "ServiceRequest", "id": "s1", "doNotPerform": True}

    assert profiles(request) == [QICORE + "qicore-servicenotrequested"]
    assert profiles(request | {"doNotPerform": None}) == [QICORE + "qicore-servicerequest"]


def test_a_type_qicore_does_not_profile_claims_nothing():
    res = {"resourceType": "Appointment", "id": "a1"}

    assert with_profiles(res) == res


def test_a_phq9_total_is_an_integer():
    (res,) = C.observations([_row(value_num=12.0, value_unit="{score}")])

    assert res["valueInteger"] == 12 and "valueQuantity" not in res


def test_the_rows_value_type_decides():
    (res,) = C.observations([_row(value_num=12.0, value_unit="{score}", value_type="Quantity")])

    assert res["valueQuantity"]["value"] == 12.0


def test_a_measurement_stays_a_quantity():
    row = _row(code="4548-4", category="laboratory", value_num=9.5, value_unit="%")

    (res,) = C.observations([row])

    assert res["valueQuantity"] == {
        "value": 9.5,
        "unit": "%",
        "system": "http://unitsofmeasure.org",
        "code": "%",
    }


def test_a_task_keeps_every_request_it_is_based_on():
    base = {
        "task_id": "t1",
        "patient_id": "p1",
        "status": "completed",
        "intent": "order",
        "system": LOINC,
        "code": "11488-4",
        "display": "Consult note",
        "reason_system": None,
        "reason_code": None,
        "status_reason_system": None,
        "status_reason_code": None,
        "focus_id": None,
        "authored": "2025-03-01T15:00:00Z",
        "execution_start": "2025-03-01T15:00:00Z",
        "execution_end": "2025-03-01T15:15:00Z",
        "encounter_id": None,
    }

    (task,) = C.tasks([base | {"based_on_id": "s1"}, base | {"based_on_id": "s2"}])

    assert task["basedOn"] == [
        {"reference": "ServiceRequest/s1"},
        {"reference": "ServiceRequest/s2"},
    ]
    assert task["for"] == {"reference": "Patient/p1"}


def test_an_encounter_names_its_diagnosis_and_reason():
    encounter = {
        "encounter_id": "e1",
        "patient_id": "p1",
        "status": "finished",
        "class_code": "AMB",
        "system": "http://www.ama-assn.org/go/cpt",
        "code": "99213",
        "display": None,
        "practitioner_id": None,
        "start": "2025-03-01T15:00:00Z",
        "end": "2025-03-01T15:30:00Z",
        "site_id": "site-1",
        "discharge_disposition": None,
        "discharge_disposition_system": None,
    }
    link = {"encounter_id": "e1", "system": None, "code": None, "condition_id": "c1"}
    reasons = [
        link | {"kind": "diagnosis", "rank": 1},
        link | {"kind": "reason-reference", "rank": None},
    ]

    (res,) = C.encounters([encounter], reasons)

    assert res["diagnosis"] == [{"condition": {"reference": "Condition/c1"}, "rank": 1}]
    assert res["reasonReference"] == [{"reference": "Condition/c1"}]
