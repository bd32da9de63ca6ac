"""One FHIR R4 resource -> rows of the analytic tables (``tandem.measures.schema``).

Each ``flatten_<Type>`` takes the resource and a :class:`Context` and yields
``(table, row)`` pairs; a row is a dict keyed by column name (missing columns are null).
Codings are exploded: one row per coding, same id. Resources that only serve as lookups
(Medication) or that the tables do not hold are handled by the loader.

Missing required elements (an id; the patient reference of patient data) raise
:class:`MissingElement`; the loader adds the file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tandem.importers.fhir.datetimes import day, timestamp
from tandem.importers.fhir.elements import (
    choice,
    codings,
    days,
    dosage,
    extension,
    first_code,
    first_code_of,
    period,
    quantity_value,
    ref_id,
    require,
    subject_id,
    years,
)

Row = dict[str, Any]
Rows = Iterator[tuple[str, Row]]
Res = Mapping[str, Any]

OMB = "urn:oid:2.16.840.1.113883.6.238"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
QICORE = "http://hl7.org/fhir/us/qicore/StructureDefinition/"
NOT_DONE_REASON = QICORE + "qicore-notDoneReason"
DO_NOT_PERFORM = (QICORE + "qicore-doNotPerform", QICORE + "qicore-doNotPeform")  # sic: decks
NPI = "http://hl7.org/fhir/sid/us-npi"


@dataclass
class Context:
    """What flattening one resource may need from the others.

    ``medications`` maps Medication ids to their codings; ``diagnoses`` collects
    ``condition id -> (encounter id, rank)`` from Encounter.diagnosis for the loader to apply.
    """

    medications: dict[str, list[tuple[str | None, str | None]]] = field(default_factory=dict)
    diagnoses: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    resolve_medication_references: bool = True
    # condition id -> (patient id, onset age, abatement age) in years, for onset/abatementAge
    ages: dict[str, tuple[str, float | None, float | None]] = field(default_factory=dict)


# --- one function per resource type ---------------------------------------------------


def flatten_patient(res: Res, ctx: Context) -> Rows:
    require(res, "id")
    race = ethnicity = None
    for e in res.get("extension") or ():
        url = e.get("url")
        if url in (US_CORE + "us-core-race", US_CORE + "us-core-ethnicity"):
            code = next(
                (
                    x["valueCoding"].get("code")
                    for x in e.get("extension") or ()
                    if x.get("url") == "ombCategory" and x.get("valueCoding")
                ),
                None,
            )
            if url.endswith("race"):
                race = race or code
            else:
                ethnicity = ethnicity or code
    deceased_dt = res.get("deceasedDateTime")
    yield (
        "patients",
        {
            "patient_id": res["id"],
            "birth_date": day(res.get("birthDate")),
            "sex": res.get("gender"),
            "race": race,
            "ethnicity": ethnicity,
            "deceased": bool(deceased_dt) or bool(res.get("deceasedBoolean")),
            "death_date": day(deceased_dt),
            "pcp_id": ref_id((res.get("generalPractitioner") or [None])[0]),
            "site_id": ref_id(res.get("managingOrganization")),
        },
    )


def flatten_encounter(res: Res, ctx: Context) -> Rows:
    require(res, "id")
    pid = subject_id(res, "subject", "patient")
    start, end = period(res.get("period"))
    disp = first_code((res.get("hospitalization") or {}).get("dischargeDisposition"))
    locations = res.get("location") or []
    site = ref_id(res.get("serviceProvider")) or (
        ref_id(locations[0].get("location")) if locations else None
    )
    practitioner = None
    for p in res.get("participant") or ():
        practitioner = ref_id(p.get("individual"))
        if practitioner:
            break
    for d in res.get("diagnosis") or ():
        cid = ref_id(d.get("condition"))
        if cid:
            ctx.diagnoses[cid] = (res["id"], d.get("rank"))
    base = {
        "encounter_id": res["id"],
        "patient_id": pid,
        "status": res.get("status"),
        "class_code": (res.get("class") or {}).get("code"),
        "start": start,
        "end": end,
        "site_id": site,
        "practitioner_id": practitioner,
        "discharge_disposition_system": disp[0],
        "discharge_disposition": disp[1],
    }
    types = [sc for t in res.get("type") or () for sc in codings(t) if sc[1]] or [(None, None)]
    for system, code in types:
        yield "encounters", {**base, "system": system, "code": code}


_CONDITION_CATEGORY_RANK = {"problem-list-item": 0, "health-concern": 1, "encounter-diagnosis": 2}
# The categories the QI-Core "performed" filters test (Status: survey, laboratory, exam...).
_OBSERVATION_CATEGORY_RANK = {"survey": 0, "laboratory": 1, "vital-signs": 2, "exam": 3}


def _preferred(categories: Any, rank: Mapping[str, int]) -> str | None:
    """One category per resource (the table keeps one): the best-ranked, else the first."""
    codes = [code for c in categories or () for _, code in codings(c) if code]
    if not codes:
        return None
    return min(codes, key=lambda c: rank.get(c, len(rank)))


def _condition_category(categories: Any) -> str | None:
    """problem-list-item over health-concern over encounter-diagnosis over the rest."""
    return _preferred(categories, _CONDITION_CATEGORY_RANK)


def flatten_condition(res: Res, ctx: Context) -> Rows:
    require(res, "id")
    pid = subject_id(res, "subject")
    onset, _ = choice(res, "onset")
    abatement = timestamp(res.get("abatementDateTime"))
    if abatement is None and res.get("abatementPeriod"):
        _, abatement = period(res["abatementPeriod"])
    onset_age, abatement_age = years(res.get("onsetAge")), years(res.get("abatementAge"))
    if onset_age is not None or abatement_age is not None:
        ctx.ages[res["id"]] = (pid, onset_age, abatement_age)
    base = {
        "condition_id": res["id"],
        "patient_id": pid,
        "clinical_status": first_code(res.get("clinicalStatus"))[1],
        "verification_status": first_code(res.get("verificationStatus"))[1],
        "category": _condition_category(res.get("category")),
        "onset": onset,
        "abatement": abatement,
        "recorded": timestamp(res.get("recordedDate")),
        # Only Encounter.diagnosis links a condition to an encounter (set by the loader);
        # Condition.encounter is the context it was recorded in, which CQL does not use.
    }
    for system, code in codings(res.get("code")):
        yield "conditions", {**base, "system": system, "code": code}


def _value_columns(res: Res) -> Row:
    out: Row = {}
    if "valueQuantity" in res:
        q = res["valueQuantity"]
        out["value_num"] = quantity_value(q)
        out["value_unit"] = q.get("unit") or q.get("code")
    elif "valueCodeableConcept" in res:
        out["value_system"], out["value_code"] = first_code(res["valueCodeableConcept"])
    elif "valueBoolean" in res:
        out["value_bool"] = bool(res["valueBoolean"])
    elif "valueInteger" in res:
        out["value_num"] = float(res["valueInteger"])
    return out


def flatten_observation(res: Res, ctx: Context) -> Rows:
    require(res, "id")
    pid = subject_id(res, "subject")
    start, end = choice(res, "effective")
    reason = extension(res, NOT_DONE_REASON)
    rsys, rcode = first_code(reason.get("valueCodeableConcept")) if reason else (None, None)
    if rcode is None:
        rsys, rcode = first_code(res.get("dataAbsentReason"))
    base = {
        "observation_id": res["id"],
        "patient_id": pid,
        "status": res.get("status"),
        "category": _preferred(res.get("category"), _OBSERVATION_CATEGORY_RANK),
        "effective_start": start,
        "effective_end": end,
        "issued": timestamp(res.get("issued")),
        "reason_system": rsys,
        "reason_code": rcode,
        "encounter_id": ref_id(res.get("encounter")),
    }
    panel = codings(res.get("code"))
    values = _value_columns(res)
    for system, code in panel:
        yield "observations", {**base, **values, "system": system, "code": code}
    for comp in res.get("component") or ():
        cvalues = _value_columns(comp)
        for system, code in codings(comp.get("code")):
            for psys, pcode in panel:
                yield (
                    "observations",
                    {
                        **base,
                        **cvalues,
                        "system": system,
                        "code": code,
                        "panel_system": psys,
                        "panel_code": pcode,
                    },
                )


def _medication_codes(res: Res, ctx: Context) -> list[tuple[str | None, str | None]]:
    if "medicationCodeableConcept" in res:
        return codings(res["medicationCodeableConcept"])
    mid = ref_id(res.get("medicationReference"))
    if not ctx.resolve_medication_references:
        return [(None, None)]
    if mid and mid.startswith("#"):
        for c in res.get("contained") or ():
            if c.get("resourceType") == "Medication" and c.get("id") == mid[1:]:
                return codings(c.get("code"))
    elif mid and mid in ctx.medications:
        return ctx.medications[mid]
    return [(None, None)]


def flatten_medication_request(res: Res, ctx: Context) -> Rows:
    require(res, "id")
    pid = subject_id(res, "subject")
    dose, freq, bstart, bend = dosage(res.get("dosageInstruction"))
    disp = res.get("dispenseRequest") or {}
    vstart, vend = period(disp.get("validityPeriod"))
    rsys, rcode = first_code_of(res.get("reasonCode"))
    refills = disp.get("numberOfRepeatsAllowed")
    base = {
        "request_id": res["id"],
        "patient_id": pid,
        "status": res.get("status"),
        "intent": res.get("intent"),
        "do_not_perform": bool(res.get("doNotPerform", False)),
        "category": first_code_of(res.get("category"))[1],
        "authored": timestamp(res.get("authoredOn")),
        "period_start": bstart or vstart,
        "period_end": bend if bstart or bend else vend,
        "days_supply": days(disp.get("expectedSupplyDuration")),
        "quantity": quantity_value(disp.get("quantity")),
        "refills": int(refills) if refills is not None else None,
        "dose_quantity": dose,
        "frequency_per_day": freq,
        "reason_system": rsys,
        "reason_code": rcode,
        "prescriber_id": ref_id(res.get("requester")),
        "encounter_id": ref_id(res.get("encounter")),
    }
    for system, code in _medication_codes(res, ctx):
        yield "medication_requests", {**base, "system": system, "code": code}


def flatten_medication_dispense(res: Res, ctx: Context) -> Rows:
    require(res, "id")
    pid = subject_id(res, "subject")
    dose, freq, _, _ = dosage(res.get("dosageInstruction"))
    auth = res.get("authorizingPrescription") or []
    ds = res.get("daysSupply")
    base = {
        "dispense_id": res["id"],
        "patient_id": pid,
        "status": res.get("status"),
        "when_prepared": timestamp(res.get("whenPrepared")),
        "when_handed_over": timestamp(res.get("whenHandedOver")),
        "days_supply": days(ds) if ds else None,
        "quantity": quantity_value(res.get("quantity")),
        "dose_quantity": dose,
        "frequency_per_day": freq,
        "request_id": ref_id(auth[0]) if auth else None,
    }
    for system, code in _medication_codes(res, ctx):
        yield "medication_dispenses", {**base, "system": system, "code": code}


def flatten_medication_administration(res: Res, ctx: Context) -> Rows:
    require(res, "id")
    pid = subject_id(res, "subject")
    start, end = choice(res, "effective")
    base = {
        "administration_id": res["id"],
        "patient_id": pid,
        "status": res.get("status"),
        "effective_start": start,
        "effective_end": end,
    }
    for system, code in _medication_codes(res, ctx):
        yield "medication_administrations", {**base, "system": system, "code": code}


def flatten_service_request(res: Res, ctx: Context) -> Rows:
    require(res, "id")
    pid = subject_id(res, "subject")
    rsys, rcode = first_code_of(res.get("reasonCode"))
    base = {
        "request_id": res["id"],
        "patient_id": pid,
        "status": res.get("status"),
        "intent": res.get("intent"),
        "do_not_perform": bool(res.get("doNotPerform", False)),
        "category": first_code_of(res.get("category"))[1],
        "authored": timestamp(res.get("authoredOn")),
        "reason_system": rsys,
        "reason_code": rcode,
        "encounter_id": ref_id(res.get("encounter")),
    }
    for system, code in codings(res.get("code")):
        yield "service_requests", {**base, "system": system, "code": code}


def flatten_procedure(res: Res, ctx: Context) -> Rows:
    require(res, "id")
    pid = subject_id(res, "subject")
    start, end = choice(res, "performed")
    rsys, rcode = first_code(res.get("statusReason"))
    if rcode is None:
        rsys, rcode = first_code_of(res.get("reasonCode"))
    base = {
        "procedure_id": res["id"],
        "patient_id": pid,
        "status": res.get("status"),
        "category": first_code(res.get("category"))[1],
        "performed_start": start,
        "performed_end": end,
        "reason_system": rsys,
        "reason_code": rcode,
        "encounter_id": ref_id(res.get("encounter")),
    }
    for system, code in codings(res.get("code")):
        yield "procedures", {**base, "system": system, "code": code}


def flatten_device_request(res: Res, ctx: Context) -> Rows:
    require(res, "id")
    pid = subject_id(res, "subject")
    dnp = extension(res, DO_NOT_PERFORM, "modifierExtension") or extension(res, DO_NOT_PERFORM)
    base = {
        "request_id": res["id"],
        "patient_id": pid,
        "status": res.get("status"),
        "intent": res.get("intent"),
        "do_not_perform": bool(dnp.get("valueBoolean")) if dnp else False,
        "authored": timestamp(res.get("authoredOn")),
    }
    for system, code in codings(res.get("codeCodeableConcept")):
        yield "device_requests", {**base, "system": system, "code": code}


def flatten_coverage(res: Res, ctx: Context) -> Rows:
    require(res, "id")
    pid = subject_id(res, "beneficiary")
    payors = res.get("payor") or []
    payer = None
    if payors:
        payer = ref_id(payors[0]) or payors[0].get("display")
    plan = next(
        (c.get("value") for c in res.get("class") or () if first_code(c.get("type"))[1] == "plan"),
        None,
    )
    period = res.get("period") or {}
    yield (
        "coverage",
        {
            "coverage_id": res["id"],
            "patient_id": pid,
            "status": res.get("status"),
            "payer": payer,
            "plan": plan,
            "member_id": res.get("subscriberId"),
            "start_date": day(period.get("start")),
            "end_date": day(period.get("end")),
        },
    )


def flatten_claim(res: Res, ctx: Context) -> Rows:
    require(res, "id")
    pid = subject_id(res, "patient")
    start, end = period(res.get("billablePeriod"))
    encounter = None
    for item in res.get("item") or ():
        encs = item.get("encounter") or []
        if encs:
            encounter = ref_id(encs[0])
            break
    base = {
        "claim_id": res["id"],
        "patient_id": pid,
        "status": res.get("status"),
        "use": res.get("use"),
        "encounter_id": encounter,
        "billable_start": start,
        "billable_end": end,
    }
    diagnoses = res.get("diagnosis") or []
    if not diagnoses:
        yield "claims", base
    for d in diagnoses:
        for system, code in codings(d.get("diagnosisCodeableConcept")):
            yield "claims", {**base, "sequence": d.get("sequence"), "system": system, "code": code}


def flatten_practitioner(res: Res, ctx: Context) -> Rows:
    require(res, "id")
    npi = next(
        (i.get("value") for i in res.get("identifier") or () if i.get("system") == NPI), None
    )
    yield "practitioners", {"practitioner_id": res["id"], "npi": npi}


def flatten_organization(res: Res, ctx: Context) -> Rows:
    require(res, "id")
    yield "sites", {"site_id": res["id"], "name": res.get("name")}


FLATTENERS: dict[str, Callable[[Res, Context], Rows]] = {
    "Patient": flatten_patient,
    "Encounter": flatten_encounter,
    "Condition": flatten_condition,
    "Observation": flatten_observation,
    "MedicationRequest": flatten_medication_request,
    "MedicationDispense": flatten_medication_dispense,
    "MedicationAdministration": flatten_medication_administration,
    "ServiceRequest": flatten_service_request,
    "Procedure": flatten_procedure,
    "DeviceRequest": flatten_device_request,
    "Coverage": flatten_coverage,
    "Claim": flatten_claim,
    "Practitioner": flatten_practitioner,
    "Organization": flatten_organization,
}

# Resources that need a Medication resource which may come later in the stream.
MEDICATION_USERS = ("MedicationRequest", "MedicationDispense", "MedicationAdministration")


def needs_medication(res: Res, ctx: Context) -> bool:
    """True when the resource names a separate Medication the loader has not seen yet."""
    if "medicationCodeableConcept" in res or not ctx.resolve_medication_references:
        return False
    mid = ref_id(res.get("medicationReference"))
    return mid is not None and not mid.startswith("#") and mid not in ctx.medications
