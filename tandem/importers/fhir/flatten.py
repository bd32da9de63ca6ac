"""One FHIR R4 resource -> rows of the analytic tables (``tandem.measures.schema``).

Each ``flatten_<Type>`` takes the resource and a :class:`Context` and yields
``(table, row)`` pairs; a row is a dict keyed by column name (missing columns are null).
Codings are exploded: one row per coding, same id. The medication resources are in
``medications``, Task, AllergyIntolerance and AdverseEvent in ``workflow``; resources that only
serve as lookups (Medication) or that the tables do not hold are handled by the loader.

Validation happens here, in the same pass: every element a flattener reads is checked for its
FHIR R4 JSON type as it is read (``elements``), and a resource that cannot mean anything is
refused with :class:`~tandem.importers.fhir.errors.InvalidElement` naming the element (the
loader adds file, line and resource). Required, per resource (R4 cardinality ``1..1`` of an
element Tandem reads, or what a row needs to mean something; each is listed in
``docs/measures/conformance.md``): ``id``; the patient reference of patient data (a
``Patient``); ``status`` and ``intent`` where R4 requires them, with the codes of their
required bindings; the code (or medication) of clinical data; the time of a clinical event
(an Encounter's ``period.start``, a MedicationAdministration's ``effective[x]``; an
Observation's ``effective[x]`` when it reports a value; a Procedure's ``performed[x]`` and a
dispense's ``whenHandedOver`` once completed, as US Core's us-core-7 and us-core-20 say).
A flattener changes the :class:`Context` only after the whole resource has been read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tandem.importers.fhir.datetimes import day, timestamp
from tandem.importers.fhir.elements import (
    ENCOUNTER,
    Pair,
    all_codings,
    array,
    boolean,
    choice,
    code,
    code_set,
    coding_code,
    codings,
    extension,
    first_code,
    first_code_of,
    integer,
    item,
    obj,
    objects,
    period,
    quantity_value,
    reference,
    require,
    resource_id,
    status_code,
    string,
    subject_id,
    typed_reference,
    within,
    years,
)
from tandem.importers.fhir.errors import InvalidElement, missing
from tandem.importers.fhir.medications import (
    flatten_medication_administration,
    flatten_medication_dispense,
    flatten_medication_request,
)
from tandem.importers.fhir.workflow import (
    flatten_adverse_event,
    flatten_allergy_intolerance,
    flatten_task,
)

Row = dict[str, Any]
Rows = Iterator[tuple[str, Row]]
Res = Mapping[str, Any]

OMB = "urn:oid:2.16.840.1.113883.6.238"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
QICORE = "http://hl7.org/fhir/us/qicore/StructureDefinition/"
RACE, ETHNICITY = US_CORE + "us-core-race", US_CORE + "us-core-ethnicity"
NOT_DONE_REASON = QICORE + "qicore-notDoneReason"
DO_NOT_PERFORM = (QICORE + "qicore-doNotPerform", QICORE + "qicore-doNotPeform")  # sic: decks
NPI = "http://hl7.org/fhir/sid/us-npi"
US_QUALITY_CORE = "http://fhir.org/guides/astp/us-quality-core/StructureDefinition/"
RECORDED = (QICORE + "qicore-recorded", US_QUALITY_CORE + "us-quality-core-recorded")
DO_NOT_PERFORM_REASON = (
    QICORE + "qicore-doNotPerformReason",
    "http://hl7.org/fhir/StructureDefinition/request-doNotPerformReason",
    US_QUALITY_CORE + "us-quality-core-doNotPerformReason",
)


# Required bindings (FHIR R4) of the codes Tandem reads.
GENDER = code_set("male female other unknown")
ENCOUNTER_STATUS = code_set(
    "planned arrived triaged in-progress onleave finished cancelled entered-in-error unknown"
)
OBSERVATION_STATUS = code_set(
    "registered preliminary final amended corrected cancelled entered-in-error unknown"
)
REQUEST_STATUS = code_set("draft active on-hold revoked completed entered-in-error unknown")
REQUEST_INTENT = code_set(
    "proposal plan directive order original-order reflex-order filler-order instance-order option"
)
PROCEDURE_STATUS = code_set(
    "preparation in-progress not-done on-hold stopped completed entered-in-error unknown"
)
FINANCIAL_STATUS = code_set("active cancelled draft entered-in-error")
CLAIM_USE = code_set("claim preauthorization predetermination")

# Observation.value[x] in R4: any of them makes the Observation a result, which needs a time.
OBSERVATION_VALUES = (
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueRange",
    "valueRatio",
    "valueSampledData",
    "valueTime",
    "valueDateTime",
    "valuePeriod",
)
PERFORMED_OTHER = ("performedString", "performedAge", "performedRange")


@dataclass
class Context:
    """What flattening one resource may need from the others.

    ``medications`` maps Medication ids to their codings; ``diagnoses`` collects
    ``condition id -> (encounter id, rank)`` from Encounter.diagnosis for the loader to apply.
    """

    medications: dict[str, list[Pair]] = field(default_factory=dict)
    diagnoses: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    resolve_medication_references: bool = True
    # condition id -> (patient id, onset age, abatement age) in years, for onset/abatementAge
    ages: dict[str, tuple[str, float | None, float | None]] = field(default_factory=dict)
    # allergy id -> (patient id, onset age in years), for AllergyIntolerance.onsetAge
    allergy_ages: dict[str, tuple[str, float]] = field(default_factory=dict)


# --- one function per resource type ---------------------------------------------------


def _omb_category(e: dict[str, Any]) -> str | None:
    """The ``ombCategory`` code of a us-core race or ethnicity extension."""
    parts = objects(e.get("extension"), "extension")
    for x in parts:
        if x.get("url") == "ombCategory":
            try:
                return coding_code(x.get("valueCoding"), "valueCoding")
            except InvalidElement as exc:
                raise within(item(parts, x, "extension"), exc) from None
    return None


def flatten_patient(res: Res, ctx: Context) -> Rows:
    pid = resource_id(res)
    race = ethnicity = None
    exts = objects(res.get("extension"), "extension")
    for e in exts:
        url = e.get("url")
        if url in (RACE, ETHNICITY):
            try:
                omb = _omb_category(e)
            except InvalidElement as exc:
                raise within(item(exts, e, "extension"), exc) from None
            if url == RACE:
                race = race or omb
            else:
                ethnicity = ethnicity or omb
    objects(res.get("name"), "name")  # not read, but a name that is not a HumanName is bad
    deceased_dt = res.get("deceasedDateTime")
    death = day(deceased_dt, "deceasedDateTime")
    gps = objects(res.get("generalPractitioner"), "generalPractitioner")
    yield (
        "patients",
        {
            "patient_id": pid,
            "birth_date": day(res.get("birthDate"), "birthDate"),
            "sex": code(res.get("gender"), "gender", GENDER),
            "race": race,
            "ethnicity": ethnicity,
            "deceased": death is not None
            or bool(boolean(res.get("deceasedBoolean"), "deceasedBoolean")),
            "death_date": death,
            "pcp_id": reference(gps[0], "generalPractitioner[0]") if gps else None,
            "site_id": reference(res.get("managingOrganization"), "managingOrganization"),
        },
    )


def _encounter_site(res: Res) -> str | None:
    site = reference(res.get("serviceProvider"), "serviceProvider")
    if site is None:
        locations = objects(res.get("location"), "location")
        if locations:
            site = reference(locations[0].get("location"), "location[0].location")
    return site


def _encounter_diagnoses(res: Res) -> list[tuple[str, int | None]]:
    out = []
    diagnoses = objects(res.get("diagnosis"), "diagnosis")
    for d in diagnoses:
        try:
            cid = reference(d.get("condition"), "condition")
            rank = integer(d.get("rank"), "rank", 1)
        except InvalidElement as exc:
            raise within(item(diagnoses, d, "diagnosis"), exc) from None
        if cid:
            out.append((cid, rank))
    return out


def _encounter_reasons(res: Res, diagnoses: list[tuple[str, int | None]]) -> list[Row]:
    """``encounter_reasons`` rows (without the ids): reasonCode codings, reasonReference
    Conditions (references to other types are left out) and the diagnosis entries."""
    rows: list[Row] = [
        {"kind": "reason-code", "system": system, "code": code_}
        for system, code_ in all_codings(res.get("reasonCode"), "reasonCode")
    ]
    refs = objects(res.get("reasonReference"), "reasonReference")
    for r in refs:
        rtype, rid = typed_reference(r, item(refs, r, "reasonReference"))
        if rid is not None and rtype in (None, "Condition"):
            rows.append({"kind": "reason-reference", "condition_id": rid})
    rows.extend({"kind": "diagnosis", "condition_id": cid, "rank": rank} for cid, rank in diagnoses)
    return rows


def flatten_encounter(res: Res, ctx: Context) -> Rows:
    eid = resource_id(res)
    status = status_code(res, ENCOUNTER_STATUS)
    class_code = coding_code(require(res, "class"), "class")
    pid = subject_id(res, "subject", "patient")
    start, end = period(require(res, "period"), "period")
    if start is None:
        raise missing("period.start")
    hospitalization = obj(res.get("hospitalization"), "hospitalization")
    disp: Pair = (None, None)
    if hospitalization:
        disp = first_code(
            hospitalization.get("dischargeDisposition"), "hospitalization.dischargeDisposition"
        )
    practitioner = None
    participants = objects(res.get("participant"), "participant")
    for p in participants:
        try:
            practitioner = reference(p.get("individual"), "individual")
        except InvalidElement as exc:
            raise within(item(participants, p, "participant"), exc) from None
        if practitioner:
            break
    base = {
        "encounter_id": eid,
        "patient_id": pid,
        "status": status,
        "class_code": class_code,
        "start": start,
        "end": end,
        "site_id": _encounter_site(res),
        "practitioner_id": practitioner,
        "discharge_disposition_system": disp[0],
        "discharge_disposition": disp[1],
    }
    types = all_codings(res.get("type"), "type") or [(None, None)]
    diagnoses = _encounter_diagnoses(res)
    reasons = _encounter_reasons(res, diagnoses)
    for cid, rank in diagnoses:
        ctx.diagnoses[cid] = (eid, rank)
    for system, code_ in types:
        yield "encounters", {**base, "system": system, "code": code_}
    for reason in reasons:
        yield "encounter_reasons", {"encounter_id": eid, "patient_id": pid, **reason}


_CONDITION_CATEGORY_RANK = {"problem-list-item": 0, "health-concern": 1, "encounter-diagnosis": 2}
# The categories the QI-Core "performed" filters test (Status: survey, laboratory, exam...).
_OBSERVATION_CATEGORY_RANK = {"survey": 0, "laboratory": 1, "vital-signs": 2, "exam": 3}


def _preferred(categories: Any, rank: Mapping[str, int]) -> str | None:
    """One category per resource (the table keeps one): the best-ranked, else the first."""
    codes = [c for _, c in all_codings(categories, "category")]
    if not codes:
        return None
    return min(codes, key=lambda c: rank.get(c, len(rank)))  # type: ignore[arg-type]


def flatten_condition(res: Res, ctx: Context) -> Rows:
    cid = resource_id(res)
    pid = subject_id(res, "subject")
    codes = codings(require(res, "code"), "code")
    onset, _ = choice(res, "onset")
    abatement = timestamp(res.get("abatementDateTime"), "abatementDateTime")
    if abatement is None:
        _, abatement = period(res.get("abatementPeriod"), "abatementPeriod")
    onset_age, abatement_age = (
        years(res.get("onsetAge"), "onsetAge"),
        years(res.get("abatementAge"), "abatementAge"),
    )
    base = {
        "condition_id": cid,
        "patient_id": pid,
        "clinical_status": first_code(res.get("clinicalStatus"), "clinicalStatus")[1],
        "verification_status": first_code(res.get("verificationStatus"), "verificationStatus")[1],
        "category": _preferred(res.get("category"), _CONDITION_CATEGORY_RANK),
        "onset": onset,
        "abatement": abatement,
        "recorded": timestamp(res.get("recordedDate"), "recordedDate"),
        # Only Encounter.diagnosis links a condition to an encounter (set by the loader);
        # Condition.encounter is the context it was recorded in, which CQL does not use.
    }
    if onset_age is not None or abatement_age is not None:
        ctx.ages[cid] = (pid, onset_age, abatement_age)
    for system, code_ in codes:
        yield "conditions", {**base, "system": system, "code": code_}


# value[x] element -> its FHIR type code as FHIR spells it (observations.value_type).
VALUE_TYPES = {key: key[5:] for key in OBSERVATION_VALUES}
VALUE_TYPES.update(
    {
        key: key[5].lower() + key[6:]
        for key in ("valueString", "valueBoolean", "valueInteger", "valueTime", "valueDateTime")
    }
)


def _value_type(res: Res) -> str | None:
    """The type of the value[x] present (``Quantity``, ``integer``...), ``None`` if none."""
    for key in OBSERVATION_VALUES:
        if res.get(key) is not None:
            return VALUE_TYPES[key]
    return None


def _value_columns(res: Res) -> Row:
    out: Row = {"value_type": _value_type(res)}
    if "valueQuantity" in res:
        q = res["valueQuantity"]
        out["value_num"] = quantity_value(q, "valueQuantity")
        if q is not None:
            out["value_unit"] = string(q.get("unit"), "valueQuantity.unit") or string(
                q.get("code"), "valueQuantity.code"
            )
    elif "valueCodeableConcept" in res:
        out["value_system"], out["value_code"] = first_code(
            res["valueCodeableConcept"], "valueCodeableConcept"
        )
    elif "valueBoolean" in res:
        out["value_bool"] = boolean(res["valueBoolean"], "valueBoolean")
    elif "valueInteger" in res:
        value = integer(res["valueInteger"], "valueInteger", -2_147_483_648)
        out["value_num"] = None if value is None else float(value)
    return out


def _components(res: Res) -> list[tuple[list[Pair], Row]]:
    out = []
    components = objects(res.get("component"), "component")
    for comp in components:
        try:
            out.append((codings(require(comp, "code"), "code"), _value_columns(comp)))
        except InvalidElement as exc:
            raise within(item(components, comp, "component"), exc) from None
    return out


def _not_done_reason(res: Res) -> Pair:
    reason = extension(res, NOT_DONE_REASON)
    if reason:
        sc = first_code(reason.get("valueCodeableConcept"), "extension.valueCodeableConcept")
        if sc[1] is not None:
            return sc
    return first_code(res.get("dataAbsentReason"), "dataAbsentReason")


def _check_time(res: Res, status: str | None, effective: bool, issued: bool, parts: bool) -> None:
    """A result (value[x] or components) needs its time: effective[x]; a cancelled one
    (QI-Core ObservationNotDone) may give issued instead; entered-in-error needs none."""
    if effective or status == "entered-in-error":
        return
    if not parts and not any(k in res for k in OBSERVATION_VALUES):
        return
    if status != "cancelled":
        raise missing("effective[x]", " for an Observation with a value")
    if not issued:
        raise missing("effective[x] or issued", " for a cancelled Observation with a value")


def flatten_observation(res: Res, ctx: Context) -> Rows:
    oid = resource_id(res)
    status = status_code(res, OBSERVATION_STATUS)
    panel = codings(require(res, "code"), "code")
    pid = subject_id(res, "subject")
    start, end = choice(res, "effective")
    issued = timestamp(res.get("issued"), "issued")
    values = _value_columns(res)
    components = _components(res)
    _check_time(
        res, status, start is not None or end is not None, issued is not None, bool(components)
    )
    rsys, rcode = _not_done_reason(res)
    base = {
        "observation_id": oid,
        "patient_id": pid,
        "status": status,
        "category": _preferred(res.get("category"), _OBSERVATION_CATEGORY_RANK),
        "effective_start": start,
        "effective_end": end,
        "issued": issued,
        "reason_system": rsys,
        "reason_code": rcode,
        "encounter_id": reference(res.get("encounter"), "encounter", ENCOUNTER),
    }
    for system, code_ in panel:
        yield "observations", {**base, **values, "system": system, "code": code_}
    for ccodes, cvalues in components:
        for system, code_ in ccodes:
            for psys, pcode in panel:
                yield (
                    "observations",
                    {
                        **base,
                        **cvalues,
                        "system": system,
                        "code": code_,
                        "panel_system": psys,
                        "panel_code": pcode,
                    },
                )


def flatten_service_request(res: Res, ctx: Context) -> Rows:
    rid = resource_id(res)
    status = status_code(res, REQUEST_STATUS)
    intent = code(require(res, "intent"), "intent", REQUEST_INTENT)
    pid = subject_id(res, "subject")
    codes = codings(require(res, "code"), "code")
    rsys, rcode = first_code_of(res.get("reasonCode"), "reasonCode")
    if rcode is None:  # QI-Core ServiceNotRequested: the reason it was not requested
        refused = extension(res, DO_NOT_PERFORM_REASON)
        if refused:
            rsys, rcode = first_code(
                refused.get("valueCodeableConcept"), "extension.valueCodeableConcept"
            )
    base = {
        "request_id": rid,
        "patient_id": pid,
        "status": status,
        "intent": intent,
        "do_not_perform": bool(boolean(res.get("doNotPerform"), "doNotPerform")),
        "category": first_code_of(res.get("category"), "category")[1],
        "authored": timestamp(res.get("authoredOn"), "authoredOn"),
        "reason_system": rsys,
        "reason_code": rcode,
        "encounter_id": reference(res.get("encounter"), "encounter", ENCOUNTER),
    }
    for system, code_ in codes:
        yield "service_requests", {**base, "system": system, "code": code_}


def flatten_procedure(res: Res, ctx: Context) -> Rows:
    proc_id = resource_id(res)
    status = status_code(res, PROCEDURE_STATUS)
    pid = subject_id(res, "subject")
    codes = codings(require(res, "code"), "code")
    start, end = choice(res, "performed")
    if (
        start is None
        and end is None
        and status in ("completed", "in-progress")
        and not any(k in res for k in PERFORMED_OTHER)
    ):
        raise missing("performed[x]", f" when status is {status}")
    rsys, rcode = first_code(res.get("statusReason"), "statusReason")
    if rcode is None:
        rsys, rcode = first_code_of(res.get("reasonCode"), "reasonCode")
    recorded = extension(res, RECORDED)
    base = {
        "recorded": (
            timestamp(recorded.get("valueDateTime"), "extension.valueDateTime")
            if recorded
            else None
        ),
        "procedure_id": proc_id,
        "patient_id": pid,
        "status": status,
        "category": first_code(res.get("category"), "category")[1],
        "performed_start": start,
        "performed_end": end,
        "reason_system": rsys,
        "reason_code": rcode,
        "encounter_id": reference(res.get("encounter"), "encounter", ENCOUNTER),
    }
    for system, code_ in codes:
        yield "procedures", {**base, "system": system, "code": code_}


def flatten_device_request(res: Res, ctx: Context) -> Rows:
    rid = resource_id(res)
    status = code(res.get("status"), "status", REQUEST_STATUS)  # 0..1 in R4
    intent = code(require(res, "intent"), "intent", REQUEST_INTENT)
    pid = subject_id(res, "subject")
    concept = res.get("codeCodeableConcept")
    if concept is None:
        if not res.get("codeReference"):
            raise missing("code[x]")
        reference(res["codeReference"], "codeReference")
    codes = codings(concept, "codeCodeableConcept")
    dnp = extension(res, DO_NOT_PERFORM, "modifierExtension") or extension(res, DO_NOT_PERFORM)
    base = {
        "request_id": rid,
        "patient_id": pid,
        "status": status,
        "intent": intent,
        "do_not_perform": bool(boolean(dnp.get("valueBoolean"), "extension.valueBoolean"))
        if dnp
        else False,
        "authored": timestamp(res.get("authoredOn"), "authoredOn"),
    }
    for system, code_ in codes:
        yield "device_requests", {**base, "system": system, "code": code_}


def _plan(res: Res) -> str | None:
    classes = objects(res.get("class"), "class")
    for c in classes:
        try:
            if first_code(c.get("type"), "type")[1] == "plan":
                return string(c.get("value"), "value")
        except InvalidElement as exc:
            raise within(item(classes, c, "class"), exc) from None
    return None


def flatten_coverage(res: Res, ctx: Context) -> Rows:
    cov_id = resource_id(res)
    status = status_code(res, FINANCIAL_STATUS)
    pid = subject_id(res, "beneficiary")
    payors = objects(require(res, "payor"), "payor")
    payer = reference(payors[0], "payor[0]") or string(payors[0].get("display"), "payor[0].display")
    start, _ = period(res.get("period"), "period")
    end = (res.get("period") or {}).get("end")  # the end date as written (not end of day)
    yield (
        "coverage",
        {
            "coverage_id": cov_id,
            "patient_id": pid,
            "status": status,
            "payer": payer,
            "plan": _plan(res),
            "member_id": string(res.get("subscriberId"), "subscriberId"),
            "start_date": start.date() if start else None,
            "end_date": day(end, "period.end"),
        },
    )


def _claim_encounter(res: Res) -> str | None:
    items = objects(res.get("item"), "item")
    for it in items:
        try:
            encounters = array(it.get("encounter"), "encounter")
            if encounters:
                return reference(encounters[0], "encounter[0]", ENCOUNTER)
        except InvalidElement as exc:
            raise within(item(items, it, "item"), exc) from None
    return None


def flatten_claim(res: Res, ctx: Context) -> Rows:
    claim_id = resource_id(res)
    status = status_code(res, FINANCIAL_STATUS)
    use = code(require(res, "use"), "use", CLAIM_USE)
    pid = subject_id(res, "patient")
    start, end = period(res.get("billablePeriod"), "billablePeriod")
    base = {
        "claim_id": claim_id,
        "patient_id": pid,
        "status": status,
        "use": use,
        "encounter_id": _claim_encounter(res),
        "billable_start": start,
        "billable_end": end,
    }
    diagnoses = objects(res.get("diagnosis"), "diagnosis")
    rows = []
    for d in diagnoses:
        try:
            sequence = integer(require(d, "sequence"), "sequence", 1)
            for system, code_ in codings(
                d.get("diagnosisCodeableConcept"), "diagnosisCodeableConcept"
            ):
                rows.append({**base, "sequence": sequence, "system": system, "code": code_})
        except InvalidElement as exc:
            raise within(item(diagnoses, d, "diagnosis"), exc) from None
    if not diagnoses:
        yield "claims", base
    for row in rows:
        yield "claims", row


def flatten_practitioner(res: Res, ctx: Context) -> Rows:
    prid = resource_id(res)
    npi = None
    identifiers = objects(res.get("identifier"), "identifier")
    for i in identifiers:
        if i.get("system") == NPI:
            try:
                npi = string(i.get("value"), "value")
            except InvalidElement as exc:
                raise within(item(identifiers, i, "identifier"), exc) from None
            break
    yield "practitioners", {"practitioner_id": prid, "npi": npi}


def flatten_organization(res: Res, ctx: Context) -> Rows:
    yield "sites", {"site_id": resource_id(res), "name": string(res.get("name"), "name")}


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
    "Task": flatten_task,
    "AllergyIntolerance": flatten_allergy_intolerance,
    "AdverseEvent": flatten_adverse_event,
    "Coverage": flatten_coverage,
    "Claim": flatten_claim,
    "Practitioner": flatten_practitioner,
    "Organization": flatten_organization,
}
