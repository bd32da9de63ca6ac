"""What changed in CMS165v14, CMS122v14 and CMS138v14 (2026), on every engine.

Each test builds a small patient whose result differs between the 2025 and the 2026 logic and
evaluates it with both versions over a 2026 period (the 2025 version pinned, with the 2025
expansions). Codes come from the published expansions in the shared folder.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tandem.importers.fhir import load_fhir
from tandem.measures import definitions
from tandem.measures import valuesets as vs_module
from tests import shared
from tests.measures.conftest import make_tables

pytestmark = [shared.needs(shared.VALUESETS_2026), shared.needs(shared.VALUESETS)]

P2026 = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
CPT = "http://www.ama-assn.org/go/cpt"
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ALICE = "alice"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


@pytest.fixture(scope="module")
def valuesets() -> dict[int, Any]:
    return {year: vs_module.load(path) for year, path in shared.VALUESETS_BY_YEAR.items()}


def results(engine, valuesets, key: str, tables, version: str) -> dict[str, dict[str, int]]:
    """Alice's populations per group id for one version (evaluated with its year's expansions)."""
    year = definitions.find_version(version).year
    rows = definitions.evaluate(
        key,
        tables,
        P2026,
        version=version,
        engine=engine.name,
        connection=engine.connection,
        valuesets=valuesets[year],
    )
    return {g["id"]: g["populations"] for r in rows if r["id"] == ALICE for g in r["groups"]}


def pops(found: dict[str, dict[str, int]], group: str = "group-1") -> dict[str, int]:
    """One group's populations, 0 for those Alice is not in."""
    got = found.get(group, {})
    codes = (
        "initial-population",
        "denominator",
        "denominator-exclusion",
        "numerator",
        "denominator-exception",
    )
    return {c: got.get(c, 0) for c in codes}


def ts(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour)


def patient(birth: dt.date = dt.date(1960, 5, 1)) -> dict[str, Any]:
    return {"patient_id": ALICE, "birth_date": birth, "sex": "female"}


def visit(code: str = "99213", system: str = CPT, *, status: str = "finished", **kw: Any):
    start = kw.pop("start", ts(3, 2))
    return {
        "patient_id": ALICE,
        "status": status,
        "class_code": kw.pop("class_code", "AMB"),
        "system": system,
        "code": code,
        "start": start,
        "end": kw.pop("end", start + dt.timedelta(minutes=30)),
        **kw,
    }


def condition(code: str, system: str = ICD10, **kw: Any) -> dict[str, Any]:
    return {
        "patient_id": ALICE,
        "system": system,
        "code": code,
        "clinical_status": "active",
        "verification_status": kw.pop("verification_status", "confirmed"),
        "category": kw.pop("category", "problem-list-item"),
        "onset": kw.pop("onset", dt.datetime(2020, 1, 1)),
        **kw,
    }


# --- CMS165 ---------------------------------------------------------------------------


def blood_pressure(oid: str, when: dt.datetime, systolic: float, diastolic: float, **kw: Any):
    """A BP panel reading: the panel row and its two component rows."""
    base = {"observation_id": oid, "patient_id": ALICE, "status": "final", "system": LOINC}
    base.update(effective_start=when, effective_end=when, category="vital-signs", **kw)
    return [
        {**base, "code": "85354-9"},
        {**base, "code": "8480-6", "panel_system": LOINC, "panel_code": "85354-9",
         "value_num": systolic, "value_unit": "mm[Hg]", "value_type": "Quantity"},
        {**base, "code": "8462-4", "panel_system": LOINC, "panel_code": "85354-9",
         "value_num": diastolic, "value_unit": "mm[Hg]", "value_type": "Quantity"},
    ]  # fmt: skip


def hypertensive() -> dict[str, list[dict[str, Any]]]:
    """Rows of a hypertensive adult with an office visit and a controlled reading (128/78)."""
    return {
        "patients": [patient()],
        "encounters": [visit()],
        "conditions": [condition("I10")],
        "observations": blood_pressure("bp-1", ts(6, 1), 128, 78),
    }


def test_cms165_2026_counts_a_reading_whose_own_encounter_is_inpatient_class_outside_a_stay(
    engine, valuesets
):
    # The reading names an encounter of class IMP that is not a performed Encounter Inpatient
    # or ED visit it falls in: 2025 drops it (own class), 2026 keeps it (the union's new half).
    rows = hypertensive()
    rows["encounters"].append(visit(class_code="IMP", encounter_id="enc-imp", start=ts(6, 1, 8)))
    rows["observations"] = blood_pressure("bp-1", ts(6, 1), 128, 78, encounter_id="enc-imp")
    tables = make_tables(**rows)
    assert pops(results(engine, valuesets, "CMS165", tables, "CMS165v13"))["numerator"] == 0
    assert pops(results(engine, valuesets, "CMS165", tables, "CMS165v14"))["numerator"] == 1


@pytest.mark.parametrize(
    ("code", "system", "klass"),
    [("183452005", SCT, "IMP"), ("99283", CPT, "EMER")],  # Encounter Inpatient; ED visit
)
def test_cms165_2026_still_drops_a_reading_taken_during_a_stay(
    engine, valuesets, code, system, klass
):
    stay = visit(code, system, class_code=klass, encounter_id="stay", start=ts(6, 1, 0))
    stay["end"] = ts(6, 3)
    rows = hypertensive()
    rows["encounters"].append(stay)
    rows["observations"] = blood_pressure("bp-1", ts(6, 2), 128, 78, encounter_id="stay")
    rows["observations"] += blood_pressure("bp-0", ts(5, 1), 150, 95)
    tables = make_tables(**rows)
    for version in ("CMS165v13", "CMS165v14"):  # the 5/1 reading, 150/95, is the last one
        assert pops(results(engine, valuesets, "CMS165", tables, version))["numerator"] == 0


def test_cms165_2026_reads_only_verified_diagnoses(engine, valuesets):
    for kind in ({"verification_status": "refuted"}, {"verification_status": "entered-in-error"}):
        tables = make_tables(**{**hypertensive(), "conditions": [condition("I10", **kind)]})
        v13 = results(engine, valuesets, "CMS165", tables, "CMS165v13")
        v14 = results(engine, valuesets, "CMS165", tables, "CMS165v14")
        assert pops(v13)["initial-population"] == 1, kind
        assert pops(v14)["initial-population"] == 0, kind


def test_cms165_2026_counts_only_finished_outpatient_encounters(engine, valuesets):
    tables = make_tables(**{**hypertensive(), "encounters": [visit(status="arrived")]})
    assert pops(results(engine, valuesets, "CMS165", tables, "CMS165v13"))["initial-population"]
    assert not pops(results(engine, valuesets, "CMS165", tables, "CMS165v14"))["initial-population"]


def test_cms165_2026_no_longer_counts_the_cerner_clinic_code(engine, valuesets):
    cerner = "https://fhir.cerner.com/24e03c9a-e2fd-45f4-8243-e38cc7e8418d/codeSet/71"
    tables = make_tables(**{**hypertensive(), "encounters": [visit("22282402", cerner)]})
    assert pops(results(engine, valuesets, "CMS165", tables, "CMS165v13"))["initial-population"]
    assert not pops(results(engine, valuesets, "CMS165", tables, "CMS165v14"))["initial-population"]


# --- medications given as references (FHIR input) -------------------------------------


def fhir_tables(tmp_path: Path, *resources: dict[str, Any]):
    """Analytic tables from FHIR resources, loaded the way Tandem loads any FHIR input."""
    path = tmp_path / "bundle.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in resources) + "\n")
    return load_fhir(path).tables


def fhir_patient(birth: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": ALICE, "birthDate": birth, "gender": "female"}


def fhir_encounter(eid: str, system: str, code: str, start: str, end: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"coding": [{"system": system, "code": code}]}],
        "subject": {"reference": f"Patient/{ALICE}"},
        "period": {"start": start, "end": end},
    }


def fhir_medication_request(rid: str, medication_id: str, authored: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": f"Medication/{medication_id}"},
        "subject": {"reference": f"Patient/{ALICE}"},
        "authoredOn": authored,
        "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "unit": "d"}},
    }


def fhir_medication(mid: str, code: str) -> dict[str, Any]:
    return {
        "resourceType": "Medication",
        "id": mid,
        "code": {"coding": [{"system": RXNORM, "code": code}]},
    }


def fhir_condition(cid: str, system: str, code: str, onset: str) -> dict[str, Any]:
    category = "http://terminology.hl7.org/CodeSystem/condition-category"
    return {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "category": [{"coding": [{"system": category, "code": "problem-list-item"}]}],
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{ALICE}"},
        "onsetDateTime": onset,
    }


def fhir_smoking_status(oid: str, value_code: str, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey"}]}],
        "code": {"coding": [{"system": LOINC, "code": "72166-2"}]},
        "subject": {"reference": f"Patient/{ALICE}"},
        "effectiveDateTime": when,
        "valueCodeableConcept": {"coding": [{"system": SCT, "code": value_code}]},
    }


def test_cms138_2026_counts_cessation_medication_given_as_a_reference(engine, valuesets, tmp_path):
    tables = fhir_tables(
        tmp_path,
        fhir_patient("1980-02-01"),
        fhir_encounter("v1", CPT, "99213", "2026-03-02T10:00:00Z", "2026-03-02T10:30:00Z"),
        fhir_encounter("v2", CPT, "99213", "2026-04-02T10:00:00Z", "2026-04-02T10:30:00Z"),
        fhir_smoking_status("s1", "77176002", "2026-04-02T10:10:00Z"),
        fhir_medication("varenicline", "198029"),
        fhir_medication_request("rx1", "varenicline", "2026-04-02"),
    )
    v13 = pops(results(engine, valuesets, "CMS138", tables, "CMS138v13"), "group-2")
    v14 = pops(results(engine, valuesets, "CMS138", tables, "CMS138v14"), "group-2")
    assert (v14["denominator"], v14["numerator"]) == (1, 1)
    assert (v13["denominator"], v13["numerator"]) == (1, 0)  # 2025: CodeableConcept only


def test_cms165_2026_excludes_dementia_medication_given_as_a_reference(engine, valuesets, tmp_path):
    # 70 years old, frailty (a pressure-ulcer diagnosis in Frailty Diagnosis) and advanced illness by way of a dementia
    # medication whose code is on the Medication the request references.
    tables = fhir_tables(
        tmp_path,
        fhir_patient("1956-02-01"),
        fhir_encounter("v1", CPT, "99213", "2026-03-02T10:00:00Z", "2026-03-02T10:30:00Z"),
        fhir_condition("htn", ICD10, "I10", "2020-01-01"),
        fhir_condition("frail", ICD10, "L89.000", "2026-02-01"),
        fhir_medication("donepezil", "310436"),
        fhir_medication_request("rx1", "donepezil", "2026-02-01"),
    )
    v13 = pops(results(engine, valuesets, "CMS165", tables, "CMS165v13"))
    v14 = pops(results(engine, valuesets, "CMS165", tables, "CMS165v14"))
    assert (v14["initial-population"], v14["denominator-exclusion"]) == (1, 1)
    assert (v13["initial-population"], v13["denominator-exclusion"]) == (1, 0)


# --- CMS122 ---------------------------------------------------------------------------


def diabetic(encounters: list[dict[str, Any]], **kw: Any):
    rows = {
        "patients": [patient()],
        "encounters": encounters,
        "conditions": [condition("E11.9", category=kw.pop("category", "encounter-diagnosis"))],
    }
    rows.update(kw)
    return make_tables(**rows)


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (CPT, "97802"),  # medical nutrition therapy, a direct code
        ("http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "G0270"),
        (SCT, "11816003"),  # Nutrition Services value set
    ],
)
def test_cms122_2026_counts_nutrition_therapy_encounters(engine, valuesets, system, code):
    tables = diabetic([visit(code, system)])
    assert not pops(results(engine, valuesets, "CMS122", tables, "CMS122v13"))["initial-population"]
    assert pops(results(engine, valuesets, "CMS122", tables, "CMS122v14"))["initial-population"]


def test_cms122_2026_no_longer_counts_virtual_encounters(engine, valuesets):
    tables = diabetic([visit("98970")])
    assert pops(results(engine, valuesets, "CMS122", tables, "CMS122v13"))["initial-population"]
    assert not pops(results(engine, valuesets, "CMS122", tables, "CMS122v14"))["initial-population"]


def test_cms122_2026_reads_diabetes_from_encounter_diagnoses_only(engine, valuesets):
    on_problem_list = diabetic([visit()], category="problem-list-item")
    assert pops(results(engine, valuesets, "CMS122", on_problem_list, "CMS122v13"))[
        "initial-population"
    ]
    assert not pops(results(engine, valuesets, "CMS122", on_problem_list, "CMS122v14"))[
        "initial-population"
    ]
    diagnosed = diabetic([visit()])
    assert pops(results(engine, valuesets, "CMS122", diagnosed, "CMS122v14"))["initial-population"]


def test_cms122_reads_a_glycemic_value_as_quantity_only(engine, valuesets):
    # "value as Quantity": a valueInteger of 10 is neither a result > 9% nor "no result".
    lab = {
        "patient_id": ALICE,
        "status": "final",
        "category": "laboratory",
        "system": LOINC,
        "code": "4548-4",
        "effective_start": ts(5, 1),
        "effective_end": ts(5, 1),
        "value_num": 10.0,
    }
    as_quantity = diabetic([visit()], observations=[{**lab, "value_type": "Quantity"}])
    as_integer = diabetic([visit()], observations=[{**lab, "value_type": "integer"}])
    for version in ("CMS122v13", "CMS122v14"):
        assert pops(results(engine, valuesets, "CMS122", as_quantity, version))["numerator"] == 1
        assert pops(results(engine, valuesets, "CMS122", as_integer, version))["numerator"] == 0


# --- CMS138 ---------------------------------------------------------------------------


def screened(value_code: str, *, code: str = "72166-2", status: str = "final", **kw: Any):
    return {
        "patient_id": ALICE,
        "status": status,
        "category": kw.pop("category", "social-history"),
        "system": LOINC,
        "code": code,
        "effective_start": ts(4, 2),
        "effective_end": ts(4, 2),
        "value_system": SCT,
        "value_code": value_code,
        "value_type": "CodeableConcept",
        **kw,
    }


def tobacco(observations, **extra: Any):
    rows = {
        "patients": [patient(dt.date(1980, 2, 1))],
        "encounters": [visit(start=ts(3, 2)), visit(start=ts(4, 2))],
        "observations": observations,
    }
    rows.update(extra)
    return make_tables(**rows)


def test_cms138_2026_screens_with_the_smoking_status_observation(engine, valuesets):
    # 68535-4 (in Tobacco Use Screening, category survey) no longer counts; 72166-2 does.
    survey = tobacco([screened("77176002", code="68535-4", category="survey")])
    assert pops(results(engine, valuesets, "CMS138", survey, "CMS138v13"))["numerator"] == 1
    assert pops(results(engine, valuesets, "CMS138", survey, "CMS138v14"))["numerator"] == 0
    status = tobacco([screened("8392000")])
    assert pops(results(engine, valuesets, "CMS138", status, "CMS138v14"))["numerator"] == 1


def test_cms138_2026_takes_only_final_smoking_status(engine, valuesets):
    tables = tobacco([screened("8392000", status="amended", category="survey")])
    assert pops(results(engine, valuesets, "CMS138", tables, "CMS138v13"))["numerator"] == 1
    assert pops(results(engine, valuesets, "CMS138", tables, "CMS138v14"))["numerator"] == 0


def test_cms138_2026_user_population_follows_the_latest_smoking_status(engine, valuesets):
    tables = tobacco(
        [screened("8392000", effective_start=ts(2, 1), effective_end=ts(2, 1)),
         screened("77176002")]
    )  # fmt: skip
    found = results(engine, valuesets, "CMS138", tables, "CMS138v14")
    assert pops(found, "group-2")["denominator"] == 1
    assert pops(found, "group-2")["numerator"] == 0
    assert pops(found, "group-3")["numerator"] == 0


def order(**kw: Any) -> dict[str, Any]:
    return {
        "request_id": "rx1",
        "patient_id": ALICE,
        "status": "completed",
        "intent": kw.pop("intent", "order"),
        "system": RXNORM,
        "code": "198029",
        "authored": ts(4, 2),
        **kw,
    }


def test_cms138_2026_ignores_an_order_whose_fulfilment_was_rejected(engine, valuesets):
    rejected = {
        "patient_id": ALICE,
        "status": "rejected",
        "intent": "order",
        "system": "http://hl7.org/fhir/CodeSystem/task-code",
        "code": "fulfill",
        "focus_id": "rx1",
    }
    tables = tobacco([screened("77176002")], medication_requests=[order()], tasks=[rejected])
    assert (
        pops(results(engine, valuesets, "CMS138", tables, "CMS138v14"), "group-2")["numerator"] == 0
    )
    accepted = tobacco(
        [screened("77176002")],
        medication_requests=[order()],
        tasks=[{**rejected, "status": "accepted"}],
    )
    assert (
        pops(results(engine, valuesets, "CMS138", accepted, "CMS138v14"), "group-2")["numerator"]
        == 1
    )


def test_cms138_2026_accepts_every_order_intent(engine, valuesets):
    tables = tobacco([screened("77176002")], medication_requests=[order(intent="original-order")])
    assert (
        pops(results(engine, valuesets, "CMS138", tables, "CMS138v14"), "group-2")["numerator"] == 1
    )


def test_cms138_2026_counseling_diagnosis_must_be_verified(engine, valuesets):
    refuted = condition("Z71.6", onset=ts(4, 2), verification_status="refuted")
    tables = tobacco([screened("77176002", category="survey")], conditions=[refuted])
    v13 = results(engine, valuesets, "CMS138", tables, "CMS138v13")
    v14 = results(engine, valuesets, "CMS138", tables, "CMS138v14")
    assert pops(v13, "group-2")["numerator"] == 1
    assert pops(v14, "group-2")["numerator"] == 0


def test_cms138_2026_age_and_visits_rule_is_unchanged(engine, valuesets):
    # 12 on the first day of the period, two finished qualifying visits: in both versions.
    twelve = tobacco([screened("8392000")], patients=[patient(dt.date(2014, 1, 1))])
    for version in ("CMS138v13", "CMS138v14"):
        assert pops(results(engine, valuesets, "CMS138", twelve, version))["initial-population"]
    eleven = tobacco([screened("8392000")], patients=[patient(dt.date(2014, 1, 2))])
    assert not pops(results(engine, valuesets, "CMS138", eleven, "CMS138v14"))["initial-population"]


def test_cms138_2026_counts_only_finished_visits(engine, valuesets):
    tables = tobacco(
        [screened("8392000")],
        encounters=[visit(start=ts(3, 2)), visit(start=ts(4, 2), status="in-progress")],
    )
    assert pops(results(engine, valuesets, "CMS138", tables, "CMS138v13"))["initial-population"]
    assert not pops(results(engine, valuesets, "CMS138", tables, "CMS138v14"))["initial-population"]
