"""The profiles an exported resource claims in ``meta.profile``: QI-Core 4.1.1 and US Core 3.1.1.

The CMS eCQMs of the 2025 performance year (the ecqm-content-qicore-2024 bundle) are written
against QI-Core 4.1.1, which builds on US Core 3.1.1; their logic retrieves by profile
(``[Encounter: ...]`` is a retrieve of ``qicore-encounter``), and a QI-Core data source serves a
retrieve only the resources that claim that profile (fqm-execution trusts ``meta.profile`` by
default and refuses a Patient without it). So every resource the export writes claims the
profiles it conforms to:

- the QI-Core profile of its type, and the US Core one where US Core 3.1.1 has one;
- the negation ("not done") profile instead, for the statements of something not done:
  ``doNotPerform`` requests, cancelled observations, not-done procedures, rejected tasks,
  declined dispenses (QI-Core's own rule for telling them apart is the status or the flag);
- for observations, the profile of what they measure: the FHIR vital-signs profiles (``bp``,
  ``bmi``...) by LOINC code, US Core laboratory results by category, US Core smoking status.

Appointment and Consent have no QI-Core 4.1.1 profile and claim none.
"""

from __future__ import annotations

from typing import Any

QICORE = "http://hl7.org/fhir/us/qicore/StructureDefinition/"
USCORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
FHIR = "http://hl7.org/fhir/StructureDefinition/"
LOINC = "http://loinc.org"

# The QI-Core profile of each type (and the US Core 3.1.1 one it derives from, where there is).
_PROFILES: dict[str, tuple[str, ...]] = {
    "Patient": (QICORE + "qicore-patient", USCORE + "us-core-patient"),
    "Encounter": (QICORE + "qicore-encounter", USCORE + "us-core-encounter"),
    "Condition": (QICORE + "qicore-condition", USCORE + "us-core-condition"),
    "Observation": (QICORE + "qicore-observation",),
    "MedicationRequest": (
        QICORE + "qicore-medicationrequest",
        USCORE + "us-core-medicationrequest",
    ),
    "MedicationDispense": (QICORE + "qicore-medicationdispense",),
    "MedicationAdministration": (QICORE + "qicore-medicationadministration",),
    "Medication": (QICORE + "qicore-medication", USCORE + "us-core-medication"),
    "Procedure": (QICORE + "qicore-procedure", USCORE + "us-core-procedure"),
    "ServiceRequest": (QICORE + "qicore-servicerequest",),
    "DeviceRequest": (QICORE + "qicore-devicerequest",),
    "Task": (QICORE + "qicore-task",),
    "Communication": (QICORE + "qicore-communication",),
    "Coverage": (QICORE + "qicore-coverage",),
    "CareTeam": (QICORE + "qicore-careteam", USCORE + "us-core-careteam"),
    "Organization": (QICORE + "qicore-organization", USCORE + "us-core-organization"),
    "Practitioner": (QICORE + "qicore-practitioner", USCORE + "us-core-practitioner"),
    "Location": (QICORE + "qicore-location", USCORE + "us-core-location"),
    "AllergyIntolerance": (
        QICORE + "qicore-allergyintolerance",
        USCORE + "us-core-allergyintolerance",
    ),
    "AdverseEvent": (QICORE + "qicore-adverseevent",),
}

# Negation profiles: (type, test of the resource) -> profile.
_NOT_DONE: dict[str, tuple[str, Any]] = {
    "Observation": (
        QICORE + "qicore-observationnotdone",
        lambda r: r.get("status") == "cancelled",
    ),
    "Procedure": (QICORE + "qicore-procedurenotdone", lambda r: r.get("status") == "not-done"),
    "MedicationRequest": (QICORE + "qicore-mednotrequested", lambda r: r.get("doNotPerform")),
    "ServiceRequest": (QICORE + "qicore-servicenotrequested", lambda r: r.get("doNotPerform")),
    "DeviceRequest": (QICORE + "qicore-devicenotrequested", lambda r: r.get("doNotPerform")),
    "MedicationDispense": (
        QICORE + "qicore-mednotdispensed",
        lambda r: r.get("status") == "declined",
    ),
    "Task": (QICORE + "qicore-tasknotdone", lambda r: r.get("status") == "rejected"),
}

# FHIR R4 vital-signs profiles by LOINC code (QI-Core 4.1.1 uses them as they are).
VITAL_SIGNS: dict[str, str] = {
    "85354-9": "bp",
    "39156-5": "bmi",
    "29463-7": "bodyweight",
    "8302-2": "bodyheight",
    "8867-4": "heartrate",
    "9279-1": "resprate",
    "8310-5": "bodytemp",
    "2708-6": "oxygensat",
    "9843-4": "headcircum",
}
SMOKING_STATUS = "72166-2"


def _loinc_codes(res: dict[str, Any]) -> list[str]:
    return [
        c.get("code") for c in (res.get("code") or {}).get("coding", []) if c.get("system") == LOINC
    ]


def _observation_profiles(res: dict[str, Any]) -> list[str]:
    out = [QICORE + "qicore-observation"]
    codes = _loinc_codes(res)
    vital = next((VITAL_SIGNS[c] for c in codes if c in VITAL_SIGNS), None)
    if vital:
        out += [FHIR + "vitalsigns", FHIR + vital]
    if SMOKING_STATUS in codes:
        out.append(USCORE + "us-core-smokingstatus")
    categories = {c.get("code") for cat in res.get("category", []) for c in cat.get("coding", [])}
    if "laboratory" in categories:
        out.append(USCORE + "us-core-observation-lab")
    return out


def profiles(res: dict[str, Any]) -> list[str]:
    """The profiles ``res`` conforms to (none for a type QI-Core 4.1.1 does not profile)."""
    rtype = res["resourceType"]
    negation = _NOT_DONE.get(rtype)
    if negation is not None and negation[1](res):
        return [negation[0]]
    if rtype == "Observation":
        return _observation_profiles(res)
    return list(_PROFILES.get(rtype, ()))


def with_profiles(res: dict[str, Any]) -> dict[str, Any]:
    """``res`` with ``meta.profile`` set (placed right after ``id``, as FHIR JSON writes it)."""
    claimed = profiles(res)
    if not claimed:
        return res
    out: dict[str, Any] = {}
    for key, value in res.items():
        if key != "meta":
            out[key] = value
        if key == "id":
            out["meta"] = {**res.get("meta", {}), "profile": claimed}
    if "meta" not in out:
        out["meta"] = {**res.get("meta", {}), "profile": claimed}
    return out
