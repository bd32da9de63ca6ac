"""Clinical row dicts -> FHIR R4 resources (Encounter, Condition, Observation, medications,
Procedure, ServiceRequest)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tandem.synth.fhir_resources import ACT, UCUM, Resource, _cc, _drop_empty, _ref


def encounters(rows: list[dict[str, Any]]) -> Iterator[Resource]:
    for r in rows:
        res = {
            "resourceType": "Encounter",
            "id": r["encounter_id"],
            "status": r["status"],
            "class": {"system": ACT, "code": r["class_code"]},
            "type": [_cc(r["system"], r["code"], r["display"])],
            "subject": _ref("Patient", r["patient_id"]),
            "participant": [{"individual": _ref("Practitioner", r["practitioner_id"])}]
            if r["practitioner_id"]
            else [],
            "period": {"start": r["start"], "end": r["end"]},
            "serviceProvider": _ref("Organization", r["site_id"]),
        }
        if r["discharge_disposition"]:
            res["hospitalization"] = {
                "dischargeDisposition": _cc(
                    r["discharge_disposition_system"], r["discharge_disposition"]
                )
            }
        yield _drop_empty(res)


def conditions(rows: list[dict[str, Any]]) -> Iterator[Resource]:
    cat = "http://terminology.hl7.org/CodeSystem/condition-category"
    for r in rows:
        yield _drop_empty(
            {
                "resourceType": "Condition",
                "id": r["condition_id"],
                "clinicalStatus": _cc(
                    "http://terminology.hl7.org/CodeSystem/condition-clinical", r["clinical_status"]
                ),
                "verificationStatus": _cc(
                    "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    r["verification_status"],
                ),
                "category": [_cc(cat, r["category"])],
                "code": _cc(r["system"], r["code"], r["display"]),
                "subject": _ref("Patient", r["patient_id"]),
                "encounter": _ref("Encounter", r["encounter_id"]),
                "onsetDateTime": r["onset"],
                "recordedDate": r["recorded"],
            }
        )


def _value(r: dict[str, Any]) -> dict[str, Any]:
    if r["value_num"] is not None:
        unit = r["value_unit"]
        q = {"value": r["value_num"]}
        if unit:
            q.update(unit=unit, system=UCUM, code=unit)
        return {"valueQuantity": q}
    if r["value_code"]:
        return {"valueCodeableConcept": _cc(r["value_system"], r["value_code"], r["value_display"])}
    return {}


def _categories(r: dict[str, Any]) -> list[str]:
    """US Core smoking status is social-history; QI-Core measures look for survey: give both."""
    if r["code"] == "72166-2":
        return ["social-history", r["category"]]
    return [r["category"]]


def observations(rows: list[dict[str, Any]]) -> Iterator[Resource]:
    cat = "http://terminology.hl7.org/CodeSystem/observation-category"
    by_id: dict[str, Resource] = {}
    components: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["panel_code"]:
            components.setdefault(r["observation_id"], []).append(
                {"code": _cc(r["system"], r["code"], r["display"]), **_value(r)}
            )
            continue
        by_id[r["observation_id"]] = _drop_empty(
            {
                "resourceType": "Observation",
                "id": r["observation_id"],
                "status": r["status"],
                "category": [_cc(cat, c) for c in _categories(r)],
                "code": _cc(r["system"], r["code"], r["display"]),
                "subject": _ref("Patient", r["patient_id"]),
                "encounter": _ref("Encounter", r["encounter_id"]),
                "effectiveDateTime": r["effective_start"],
                "issued": r["issued"],
                **_value(r),
            }
        )
    for oid, res in by_id.items():
        if oid in components:
            res["component"] = components[oid]
        yield res


def medication_requests(rows: list[dict[str, Any]]) -> Iterator[Resource]:
    for r in rows:
        dosage: dict[str, Any] = {"doseAndRate": [{"doseQuantity": {"value": r["dose_quantity"]}}]}
        if r["frequency_per_day"]:
            dosage["timing"] = {
                "repeat": {"frequency": int(r["frequency_per_day"]), "period": 1, "periodUnit": "d"}
            }
        yield _drop_empty(
            {
                "resourceType": "MedicationRequest",
                "id": r["request_id"],
                "status": r["status"],
                "intent": r["intent"],
                "category": [
                    _cc(
                        "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                        r["category"],
                    )
                ],
                "medicationCodeableConcept": _cc(r["system"], r["code"], r["display"]),
                "subject": _ref("Patient", r["patient_id"]),
                "authoredOn": r["authored"],
                "requester": _ref("Practitioner", r["prescriber_id"]),
                "reasonCode": [_cc(r["reason_system"], r["reason_code"])]
                if r["reason_code"]
                else [],
                "dosageInstruction": [dosage],
                "dispenseRequest": {
                    "validityPeriod": {"start": r["period_start"], "end": r["period_end"]},
                    "numberOfRepeatsAllowed": r["refills"],
                    "quantity": {"value": r["quantity"]},
                    "expectedSupplyDuration": {
                        "value": r["days_supply"],
                        "unit": "days",
                        "system": UCUM,
                        "code": "d",
                    },
                },
            }
        )


def medication_dispenses(rows: list[dict[str, Any]]) -> Iterator[Resource]:
    for r in rows:
        yield _drop_empty(
            {
                "resourceType": "MedicationDispense",
                "id": r["dispense_id"],
                "status": r["status"],
                "medicationCodeableConcept": _cc(r["system"], r["code"], r["display"]),
                "subject": _ref("Patient", r["patient_id"]),
                "authorizingPrescription": [_ref("MedicationRequest", r["request_id"])],
                "quantity": {"value": r["quantity"]},
                "daysSupply": {
                    "value": r["days_supply"],
                    "unit": "days",
                    "system": UCUM,
                    "code": "d",
                },
                "whenPrepared": r["when_prepared"],
                "whenHandedOver": r["when_handed_over"],
            }
        )


def medication_administrations(rows: list[dict[str, Any]]) -> Iterator[Resource]:
    for r in rows:
        yield {
            "resourceType": "MedicationAdministration",
            "id": r["administration_id"],
            "status": r["status"],
            "medicationCodeableConcept": _cc(r["system"], r["code"]),
            "subject": _ref("Patient", r["patient_id"]),
            "effectivePeriod": {"start": r["effective_start"], "end": r["effective_end"]},
        }


def procedures(rows: list[dict[str, Any]]) -> Iterator[Resource]:
    for r in rows:
        yield _drop_empty(
            {
                "resourceType": "Procedure",
                "id": r["procedure_id"],
                "status": r["status"],
                "code": _cc(r["system"], r["code"], r["display"]),
                "subject": _ref("Patient", r["patient_id"]),
                "encounter": _ref("Encounter", r["encounter_id"]),
                "performedPeriod": {"start": r["performed_start"], "end": r["performed_end"]},
            }
        )


def service_requests(rows: list[dict[str, Any]]) -> Iterator[Resource]:
    for r in rows:
        yield _drop_empty(
            {
                "resourceType": "ServiceRequest",
                "id": r["request_id"],
                "status": r["status"],
                "intent": r["intent"],
                "category": [{"text": r["category"]}],
                "code": _cc(r["system"], r["code"], r["display"]),
                "subject": _ref("Patient", r["patient_id"]),
                "encounter": _ref("Encounter", r["encounter_id"]),
                "authoredOn": r["authored"],
            }
        )
