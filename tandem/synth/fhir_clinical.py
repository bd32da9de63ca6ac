"""Clinical row dicts -> FHIR R4 resources (Encounter, Condition, Observation, medications,
Procedure, ServiceRequest)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tandem.synth.fhir_resources import ACT, UCUM, Resource, _cc, _drop_empty, _ref


def _encounter_links(reasons: list[dict[str, Any]]) -> dict[str, dict[str, list[Any]]]:
    """Encounter.diagnosis, reasonReference and reasonCode from ``encounter_reasons`` rows."""
    out: dict[str, dict[str, list[Any]]] = {}
    for x in reasons:
        links = out.setdefault(x["encounter_id"], {})
        if x["kind"] == "diagnosis" and x["condition_id"]:
            entry: dict[str, Any] = {"condition": _ref("Condition", x["condition_id"])}
            if x["rank"] is not None:
                entry["rank"] = int(x["rank"])
            links.setdefault("diagnosis", []).append(entry)
        elif x["kind"] == "reason-reference" and x["condition_id"]:
            links.setdefault("reasonReference", []).append(_ref("Condition", x["condition_id"]))
        elif x["kind"] == "reason-code" and x["code"]:
            links.setdefault("reasonCode", []).append(_cc(x["system"], x["code"]))
    return out


def encounters(
    rows: list[dict[str, Any]], reasons: list[dict[str, Any]] | None = None
) -> Iterator[Resource]:
    links = _encounter_links(reasons or [])
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
        res.update(links.get(r["encounter_id"], {}))
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


# UCUM's annotation-only unit of an instrument score: the value is a count of points.
SCORE_UNIT = "{score}"


def value_type(r: dict[str, Any]) -> str | None:
    """The FHIR type of the row's value[x]: the row's ``value_type`` where the generator gives
    one (the ``observations.value_type`` contract), else ``integer`` for a number in points
    (survey totals: PHQ-9, GAD-7, AUDIT-C) and ``Quantity`` for any other number."""
    given = r.get("value_type")
    if given:
        return str(given)
    if r["value_num"] is not None:
        return "integer" if r["value_unit"] == SCORE_UNIT else "Quantity"
    if r["value_code"]:
        return "CodeableConcept"
    return None


def _value(r: dict[str, Any]) -> dict[str, Any]:
    kind = value_type(r)
    if kind == "integer" and r["value_num"] is not None:
        return {"valueInteger": int(r["value_num"])}
    if kind == "boolean" and r.get("value_bool") is not None:
        return {"valueBoolean": bool(r["value_bool"])}
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
                "doNotPerform": True if r.get("do_not_perform") else None,
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


RECORDED = "http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-recorded"


def _procedure_reason(r: dict[str, Any]) -> dict[str, Any]:
    """Why it was done (reasonCode), or for a procedure not done why not (statusReason)."""
    if not r.get("reason_code"):
        return {}
    concept = _cc(r.get("reason_system"), r["reason_code"])
    return {"statusReason": concept} if r["status"] == "not-done" else {"reasonCode": [concept]}


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
                "performedPeriod": _drop_empty(
                    {"start": r["performed_start"], "end": r["performed_end"]}
                ),
                **_procedure_reason(r),
                "extension": [{"url": RECORDED, "valueDateTime": r["recorded"]}]
                if r.get("recorded")
                else [],
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
                "doNotPerform": True if r.get("do_not_perform") else None,
                "category": [{"text": r["category"]}],
                "code": _cc(r["system"], r["code"], r["display"]),
                "subject": _ref("Patient", r["patient_id"]),
                "encounter": _ref("Encounter", r["encounter_id"]),
                "authoredOn": r["authored"],
                "reasonCode": [_cc(r.get("reason_system"), r.get("reason_code"))]
                if r.get("reason_code")
                else [],
            }
        )


def tasks(rows: list[dict[str, Any]]) -> Iterator[Resource]:
    """Tasks (e.g. a consultant report received, based on the referral it closes: CMS50).

    The table has one row per ``basedOn`` reference: rows of one task are merged."""
    by_id: dict[str, Resource] = {}
    for r in rows:
        if r["task_id"] in by_id:
            if r["based_on_id"]:
                by_id[r["task_id"]].setdefault("basedOn", []).append(
                    _ref("ServiceRequest", r["based_on_id"])
                )
            continue
        by_id[r["task_id"]] = _drop_empty(
            {
                "resourceType": "Task",
                "id": r["task_id"],
                "basedOn": [_ref("ServiceRequest", r["based_on_id"])] if r["based_on_id"] else [],
                "status": r["status"],
                "statusReason": _cc(r["status_reason_system"], r["status_reason_code"]),
                "intent": r["intent"],
                "code": _cc(r["system"], r["code"], r.get("display")),
                "focus": _ref("ServiceRequest", r["focus_id"]),
                "for": _ref("Patient", r["patient_id"]),
                "encounter": _ref("Encounter", r["encounter_id"]),
                "executionPeriod": _drop_empty(
                    {"start": r["execution_start"], "end": r["execution_end"]}
                ),
                "authoredOn": r["authored"],
                "reasonCode": _cc(r["reason_system"], r["reason_code"]),
            }
        )
    yield from by_id.values()


def device_requests(rows: list[dict[str, Any]]) -> Iterator[Resource]:
    for r in rows:
        yield _drop_empty(
            {
                "resourceType": "DeviceRequest",
                "id": r["request_id"],
                "status": r["status"],
                "intent": r["intent"],
                "doNotPerform": True if r.get("do_not_perform") else None,
                "codeCodeableConcept": _cc(r["system"], r["code"]),
                "subject": _ref("Patient", r["patient_id"]),
                "authoredOn": r["authored"],
            }
        )
