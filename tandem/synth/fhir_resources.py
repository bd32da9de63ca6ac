"""Row dicts (see :func:`tandem.synth.fhir.rows`) -> FHIR R4 resources."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tandem.synth.world import World

RACE_URL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
ETHNICITY_URL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
OMB = "urn:oid:2.16.840.1.113883.6.238"
RACE_NAMES = {
    "2106-3": "White",
    "2054-5": "Black or African American",
    "2028-9": "Asian",
    "1002-5": "American Indian or Alaska Native",
    "2076-8": "Native Hawaiian or Other Pacific Islander",
    "2131-1": "Other Race",
}
ETHNICITY_NAMES = {"2135-2": "Hispanic or Latino", "2186-5": "Not Hispanic or Latino"}
NPI = "http://hl7.org/fhir/sid/us-npi"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
UCUM = "http://unitsofmeasure.org"
Resource = dict[str, Any]


def _drop_empty(res: Resource) -> Resource:
    return {k: v for k, v in res.items() if v not in (None, "", [], {})}


def _cc(system: str | None, code: str | None, display: str | None = None) -> dict[str, Any] | None:
    if not code:
        return None
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _ref(kind: str, ident: str | None) -> dict[str, str] | None:
    return {"reference": f"{kind}/{ident}"} if ident else None


def organizations(sites: list[dict[str, Any]]) -> Iterator[Resource]:
    for s in sites:
        yield {
            "resourceType": "Organization",
            "id": s["site_id"],
            "active": True,
            "name": s["name"],
            "type": [{"text": s["kind"]}],
            "identifier": [{"system": "urn:tandem:synth:site", "value": s["code"]}],
        }
    for kind in ("medicaid", "medicare", "dual", "commercial"):
        yield {
            "resourceType": "Organization",
            "id": f"payer-{kind}",
            "active": True,
            "name": f"{kind.title()} (synthetic)",
            "type": [{"text": "payer"}],
        }


def practitioners(rows: list[dict[str, Any]]) -> Iterator[Resource]:
    for r in rows:
        yield {
            "resourceType": "Practitioner",
            "id": r["practitioner_id"],
            "active": True,
            "identifier": [{"system": NPI, "value": r["npi"]}],
            "name": [{"family": r["family_name"], "given": [r["given_name"]]}],
            "qualification": [{"code": {"text": r["discipline"]}}],
        }


def patients(
    rows: list[dict[str, Any]],
    details: list[dict[str, Any]],
    identifiers: list[dict[str, Any]],
    world: World,
) -> Iterator[Resource]:
    ids: dict[str, list[dict[str, Any]]] = {}
    for i in identifiers:
        ids.setdefault(i["patient_id"], []).append(
            {"type": {"text": i["kind"]}, "system": i["system"], "value": i["value"]}
        )
    for r, d in zip(rows, details, strict=True):
        race, eth = r["race"], r["ethnicity"]
        res = {
            "resourceType": "Patient",
            "id": r["patient_id"],
            "identifier": ids.get(r["patient_id"], []),
            "name": [
                {
                    "use": "official",
                    "family": d["family_name"],
                    "given": [g for g in (d["given_name"], d["middle_name"]) if g],
                }
            ],
            "gender": r["sex"],
            "birthDate": r["birth_date"],
            "address": [
                {
                    "line": [d["address_line"]],
                    "city": d["city"],
                    "state": d["state"],
                    "postalCode": d["postal_code"],
                    "country": "US",
                }
            ],
            "telecom": [{"system": "phone", "value": d["phone"], "use": "home"}],
            "communication": [
                {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": d["language"]}]}}
            ],
            "extension": [
                {
                    "url": RACE_URL,
                    "extension": [
                        {
                            "url": "ombCategory",
                            "valueCoding": {
                                "system": OMB,
                                "code": race,
                                "display": RACE_NAMES[race],
                            },
                        },
                        {"url": "text", "valueString": RACE_NAMES[race]},
                    ],
                },
                {
                    "url": ETHNICITY_URL,
                    "extension": [
                        {
                            "url": "ombCategory",
                            "valueCoding": {
                                "system": OMB,
                                "code": eth,
                                "display": ETHNICITY_NAMES[eth],
                            },
                        },
                        {"url": "text", "valueString": ETHNICITY_NAMES[eth]},
                    ],
                },
            ],
            "generalPractitioner": [_ref("Practitioner", r["pcp_id"])] if r["pcp_id"] else [],
            "managingOrganization": _ref("Organization", r["site_id"]),
        }
        if r["deceased"]:
            res["deceasedDateTime"] = r["death_date"]
        yield _drop_empty(res)


def coverage(rows: list[dict[str, Any]]) -> Iterator[Resource]:
    for r in rows:
        yield _drop_empty(
            {
                "resourceType": "Coverage",
                "id": r["coverage_id"],
                "status": r["status"],
                "type": {"text": r["payer"]},
                "subscriberId": r["member_id"],
                "beneficiary": _ref("Patient", r["patient_id"]),
                "payor": [_ref("Organization", f"payer-{r['payer']}")],
                "class": [{"type": {"text": "plan"}, "value": r["plan"]}],
                "period": _drop_empty({"start": r["start_date"], "end": r["end_date"]}),
            }
        )


def care_teams(rows: list[dict[str, Any]]) -> Iterator[Resource]:
    for r in rows:
        yield _drop_empty(
            {
                "resourceType": "CareTeam",
                "id": r["membership_id"],
                "status": "inactive" if r["end_date"] else "active",
                "subject": _ref("Patient", r["patient_id"]),
                "participant": [
                    {
                        "role": [{"text": r["role"]}],
                        "member": _ref("Practitioner", r["practitioner_id"]),
                        "period": _drop_empty({"start": r["start_date"], "end": r["end_date"]}),
                    }
                ],
            }
        )


def appointments(rows: list[dict[str, Any]]) -> Iterator[Resource]:
    for r in rows:
        participants = [{"actor": _ref("Patient", r["patient_id"]), "status": "accepted"}]
        if r["practitioner"] is not None and r["practitioner"] >= 0:
            participants.append(
                {
                    "actor": {"reference": f"Practitioner/prac-{r['practitioner'] + 1}"},
                    "status": "accepted",
                }
            )
        yield _drop_empty(
            {
                "resourceType": "Appointment",
                "id": r["appointment_id"],
                "status": r["status"],
                "serviceType": [{"text": r["service_type"]}] if r["service_type"] else [],
                "start": r["start"],
                "end": r["end"],
                "participant": participants,
                "cancelationReason": {"text": r["cancel_reason"]} if r["cancel_reason"] else None,
            }
        )


def consents(rows: list[dict[str, Any]]) -> Iterator[Resource]:
    for r in rows:
        actor = (
            {"reference": _ref("Practitioner", f"prac-{r['recipient_practitioner'] + 1}")}
            if r["recipient_kind"] == "person"
            else {"reference": {"display": r["recipient_role"]}}
        )
        yield {
            "resourceType": "Consent",
            "id": r["consent_id"],
            "status": r["status"],
            "scope": _cc("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
            "category": [_cc("http://loinc.org", "59284-0", "Consent Document")],
            "patient": _ref("Patient", r["patient_id"]),
            "dateTime": r["start_date"],
            "provision": {
                "type": "permit",
                "period": {"start": r["start_date"]},
                "actor": [
                    {
                        "role": _cc(
                            "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP"
                        ),
                        **actor,
                    }
                ],
                "purpose": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                        "code": "TREAT",
                    }
                ],
                "securityLabel": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                        "code": "SUD" if r["category"] == "substance-use" else "PSY",
                    }
                ],
            },
        }
