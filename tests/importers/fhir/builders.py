"""Valid FHIR R4 resources of every type the loader reads, with keyword overrides.

``observation(code=DROP)`` leaves the element out; any other keyword replaces it. Each
builder gives the smallest resource that loads (the elements a Tandem row needs), plus the
elements the loader reads, so that a test changes one thing.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson

DROP = object()

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
ALICE = {"reference": "Patient/alice"}


def concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _build(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    res = {**base, **over}
    return copy.deepcopy({k: v for k, v in res.items() if v is not DROP})  # nothing shared


def patient(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Patient",
            "id": "alice",
            "gender": "female",
            "birthDate": "1980-02-29",
            "name": [{"family": "Smith", "given": ["Alice"]}],
            "generalPractitioner": [{"reference": "Practitioner/pr-1"}],
            "managingOrganization": {"reference": "Organization/org-1"},
        },
        over,
    )


def encounter(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Encounter",
            "id": "enc-1",
            "status": "finished",
            "class": {"code": "AMB"},
            "type": [concept("http://www.ama-assn.org/go/cpt", "99213")],
            "subject": ALICE,
            "period": {"start": "2025-02-03T09:00:00Z", "end": "2025-02-03T09:30:00Z"},
            "participant": [{"individual": {"reference": "Practitioner/pr-1"}}],
            "serviceProvider": {"reference": "Organization/org-1"},
            "diagnosis": [{"condition": {"reference": "Condition/cond-1"}, "rank": 1}],
        },
        over,
    )


def condition(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Condition",
            "id": "cond-1",
            "subject": ALICE,
            "code": concept(ICD10, "F32.1"),
            "clinicalStatus": concept(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "active"
            ),
            "category": [
                concept(
                    "http://terminology.hl7.org/CodeSystem/condition-category",
                    "problem-list-item",
                )
            ],
            "onsetDateTime": "2024-12-01",
            "recordedDate": "2024-12-02T09:00:00Z",
        },
        over,
    )


def observation(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Observation",
            "id": "obs-1",
            "status": "final",
            "category": [
                concept("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory")
            ],
            "code": concept(LOINC, "4548-4"),
            "subject": ALICE,
            "encounter": {"reference": "Encounter/enc-1"},
            "effectiveDateTime": "2025-02-03T09:20:00Z",
            "issued": "2025-02-03T12:00:00Z",
            "valueQuantity": {"value": 7.1, "unit": "%"},
        },
        over,
    )


def medication_request(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "MedicationRequest",
            "id": "rx-1",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": concept(RXNORM, "314154"),
            "subject": ALICE,
            "authoredOn": "2025-02-03",
            "requester": {"reference": "Practitioner/pr-1"},
            "dosageInstruction": [
                {
                    "doseAndRate": [{"doseQuantity": {"value": 1}}],
                    "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                }
            ],
            "dispenseRequest": {
                "validityPeriod": {"start": "2025-02-03", "end": "2025-08-03"},
                "numberOfRepeatsAllowed": 2,
                "quantity": {"value": 60},
                "expectedSupplyDuration": {"value": 30, "code": "d"},
            },
        },
        over,
    )


def medication_dispense(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "MedicationDispense",
            "id": "disp-1",
            "status": "completed",
            "medicationCodeableConcept": concept(RXNORM, "314154"),
            "subject": ALICE,
            "authorizingPrescription": [{"reference": "MedicationRequest/rx-1"}],
            "whenHandedOver": "2025-02-05T12:00:00Z",
            "daysSupply": {"value": 30, "code": "d"},
            "quantity": {"value": 60},
        },
        over,
    )


def medication_administration(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "MedicationAdministration",
            "id": "adm-1",
            "status": "completed",
            "medicationCodeableConcept": concept(RXNORM, "314154"),
            "subject": ALICE,
            "effectiveDateTime": "2025-02-05T12:05:00Z",
        },
        over,
    )


def service_request(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "ServiceRequest",
            "id": "sr-1",
            "status": "completed",
            "intent": "order",
            "code": concept(SNOMED, "306226009"),
            "subject": ALICE,
            "authoredOn": "2025-02-03",
        },
        over,
    )


def procedure(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Procedure",
            "id": "proc-1",
            "status": "completed",
            "code": concept(SNOMED, "428191000124101"),
            "subject": ALICE,
            "performedDateTime": "2025-02-03T09:10:00Z",
        },
        over,
    )


def device_request(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "DeviceRequest",
            "id": "dev-1",
            "status": "active",
            "intent": "order",
            "codeCodeableConcept": concept(SNOMED, "58938008"),
            "subject": ALICE,
            "authoredOn": "2025-02-03",
        },
        over,
    )


def coverage(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Coverage",
            "id": "cov-1",
            "status": "active",
            "beneficiary": ALICE,
            "payor": [{"reference": "Organization/payer-1"}],
            "class": [
                {
                    "type": concept("http://terminology.hl7.org/CodeSystem/coverage-class", "plan"),
                    "value": "GOLD",
                }
            ],
            "period": {"start": "2025-01-01"},
        },
        over,
    )


def claim(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Claim",
            "id": "claim-1",
            "status": "active",
            "use": "claim",
            "patient": ALICE,
            "billablePeriod": {"start": "2025-02-03", "end": "2025-02-03"},
            "item": [{"sequence": 1, "encounter": [{"reference": "Encounter/enc-1"}]}],
            "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": concept(ICD10, "F32.1")}],
        },
        over,
    )


def practitioner(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Practitioner",
            "id": "pr-1",
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
        },
        over,
    )


def organization(**over: Any) -> dict[str, Any]:
    return _build({"resourceType": "Organization", "id": "org-1", "name": "Riverside"}, over)


def medication(**over: Any) -> dict[str, Any]:
    return _build(
        {"resourceType": "Medication", "id": "med-1", "code": concept(RXNORM, "1094833")}, over
    )


def task(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Task",
            "id": "task-1",
            "status": "completed",
            "intent": "order",
            "code": concept(LOINC, "11488-4"),
            "for": ALICE,
            "basedOn": [{"reference": "ServiceRequest/sr-1"}],
            "executionPeriod": {"start": "2025-03-01T08:00:00Z", "end": "2025-03-02"},
        },
        over,
    )


def allergy_intolerance(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "AllergyIntolerance",
            "id": "allergy-1",
            "patient": ALICE,
            "code": concept(RXNORM, "83367"),
            "clinicalStatus": concept(
                "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active"
            ),
            "onsetPeriod": {"start": "2025-04-01"},
        },
        over,
    )


def adverse_event(**over: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "AdverseEvent",
            "id": "ae-1",
            "actuality": "actual",
            "subject": ALICE,
            "event": concept(RXNORM, "83367"),
            "recordedDate": "2025-05-06T10:00:00Z",
        },
        over,
    )


EVERY_TYPE = (
    patient,
    encounter,
    condition,
    observation,
    medication_request,
    medication_dispense,
    medication_administration,
    service_request,
    procedure,
    device_request,
    coverage,
    claim,
    practitioner,
    organization,
    medication,
    task,
    allergy_intolerance,
    adverse_event,
)


def ndjson(path: Path, *resources: Any) -> Path:
    """Write one resource (any JSON value) per line; returns ``path``."""
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in resources))
    return path


def bundle(path: Path, *resources: Any, **entry: Any) -> Path:
    """A collection Bundle, pretty-printed (one element per line, so lines can be found)."""
    doc = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{**entry, "resource": r} for r in resources],
    }
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    return path


# --- richer variants: every other element the loader reads, for the fuzz tests ------------

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
QICORE = "http://hl7.org/fhir/us/qicore/StructureDefinition/"


def rich_patient() -> dict[str, Any]:
    omb = "urn:oid:2.16.840.1.113883.6.238"
    return patient(
        extension=[
            {
                "url": US_CORE + "us-core-race",
                "extension": [
                    {"url": "ombCategory", "valueCoding": {"system": omb, "code": "2106-3"}}
                ],
            },
            {
                "url": US_CORE + "us-core-ethnicity",
                "extension": [
                    {"url": "ombCategory", "valueCoding": {"system": omb, "code": "2186-5"}}
                ],
            },
        ],
        deceasedDateTime="2025-03-01T22:30:00-05:00",
    )


def rich_encounter() -> dict[str, Any]:
    return encounter(
        serviceProvider=DROP,
        location=[{"location": {"reference": "Location/loc-1"}}],
        hospitalization={"dischargeDisposition": concept(SNOMED, "428361000124107")},
    )


def rich_condition() -> dict[str, Any]:
    return condition(
        onsetDateTime=DROP,
        onsetAge={"value": 20, "unit": "a"},
        abatementAge={"value": 30, "code": "a"},
        verificationStatus=concept(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed"
        ),
    )


def dated_condition() -> dict[str, Any]:
    return condition(
        onsetPeriod={"start": "2024-12-01"}, onsetDateTime=DROP, abatementPeriod={"end": "2025"}
    )


def rich_observation() -> dict[str, Any]:
    return observation(
        valueQuantity=DROP,
        valueCodeableConcept=concept(SNOMED, "428181000124104"),
        effectiveDateTime=DROP,
        effectivePeriod={"start": "2025-02-03", "end": "2025-02-04"},
        component=[
            {"code": concept(LOINC, "8480-6"), "valueQuantity": {"value": 120, "code": "mm[Hg]"}},
            {"code": concept(LOINC, "8462-4"), "valueInteger": 80},
            {"code": concept(LOINC, "x"), "valueBoolean": False},
        ],
    )


def not_done_observation() -> dict[str, Any]:
    return observation(
        status="cancelled",
        effectiveDateTime=DROP,
        valueQuantity=DROP,
        extension=[
            {
                "url": QICORE + "qicore-notDoneReason",
                "valueCodeableConcept": concept(SNOMED, "183932001"),
            }
        ],
        dataAbsentReason=concept(
            "http://terminology.hl7.org/CodeSystem/data-absent-reason", "not-performed"
        ),
    )


def rich_medication_request() -> dict[str, Any]:
    return medication_request(
        medicationCodeableConcept=DROP,
        medicationReference={"reference": "#m"},
        contained=[{"resourceType": "Medication", "id": "m", "code": concept(RXNORM, "310385")}],
        doNotPerform=True,
        category=[concept("x", "community")],
        reasonCode=[concept(ICD10, "F32.1")],
        encounter={"reference": "Encounter/enc-1"},
        dosageInstruction=[
            {
                "doseAndRate": [{"doseRange": {"high": {"value": 2}}}],
                "timing": {
                    "repeat": {
                        "timeOfDay": ["08:00:00", "20:00:00"],
                        "boundsPeriod": {"start": "2025-02-04"},
                    }
                },
            }
        ],
    )


def rich_procedure() -> dict[str, Any]:
    return procedure(
        status="not-done",
        performedDateTime=DROP,
        performedPeriod={"start": "2025-02-03", "end": "2025-02-03"},
        statusReason=concept(SNOMED, "183932001"),
        reasonCode=[concept(SNOMED, "1")],
        category=concept(SNOMED, "2"),
        encounter={"reference": "Encounter/enc-1"},
    )


def rich_device_request() -> dict[str, Any]:
    return device_request(
        modifierExtension=[{"url": QICORE + "qicore-doNotPerform", "valueBoolean": True}]
    )


def rich_coverage() -> dict[str, Any]:
    return coverage(payor=[{"display": "Medicaid"}], subscriberId="M1", period={"end": "2025"})


RICH = (
    rich_patient,
    rich_encounter,
    rich_condition,
    dated_condition,
    rich_observation,
    not_done_observation,
    rich_medication_request,
    rich_procedure,
    rich_device_request,
    rich_coverage,
)
