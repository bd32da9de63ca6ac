"""MedicationRequest, MedicationDispense and MedicationAdministration -> rows, and the
Medication lookup they may need (see ``flatten`` for the rules every flattener keeps).

medication[x] is required: a CodeableConcept, or a reference to a contained Medication or to
one anywhere in the input (the loader keeps the requests that name a Medication it has not
read yet until the end: :func:`needs_medication`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tandem.importers.fhir.datetimes import timestamp
from tandem.importers.fhir.elements import (
    ENCOUNTER,
    MEDICATION,
    Pair,
    boolean,
    choice,
    code,
    code_set,
    codings,
    days,
    dosage,
    first_code_of,
    integer,
    item,
    obj,
    objects,
    period,
    quantity_value,
    ref_id,
    reference,
    require,
    resource_id,
    status_code,
    subject_id,
    within,
)
from tandem.importers.fhir.errors import InvalidElement, missing, shown

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from tandem.importers.fhir.flatten import Context

    Res = Mapping[str, Any]
    Rows = Iterator[tuple[str, dict[str, Any]]]

MEDICATION_REQUEST = frozenset({"MedicationRequest"})


# Required bindings (FHIR R4).
MEDICATION_REQUEST_STATUS = code_set(
    "active on-hold cancelled completed entered-in-error stopped draft unknown"
)
MEDICATION_REQUEST_INTENT = code_set(
    "proposal plan order original-order reflex-order filler-order instance-order option"
)
MEDICATION_DISPENSE_STATUS = code_set(
    "preparation in-progress cancelled on-hold completed entered-in-error stopped declined unknown"
)
MEDICATION_ADMINISTRATION_STATUS = code_set(
    "in-progress not-done on-hold completed entered-in-error stopped unknown"
)


def _contained_medication(res: Res, mid: str) -> list[Pair]:
    contained = objects(res.get("contained"), "contained")
    for c in contained:
        if c.get("resourceType") == "Medication" and c.get("id") == mid[1:]:
            try:
                return codings(c.get("code"), "code")
            except InvalidElement as exc:
                raise within(item(contained, c, "contained"), exc) from None
    raise InvalidElement(f"medicationReference {shown(mid)} names no contained Medication")


def _medication_codes(res: Res, ctx: Context) -> tuple[list[Pair], str | None]:
    """medication[x] (required): the codes of a CodeableConcept, or of the Medication a
    reference names (contained, or anywhere in the input); and that Medication's id
    (``medication_ref``: ``#m`` -> ``m``), None for a CodeableConcept."""
    concept = res.get("medicationCodeableConcept")
    if concept is not None:
        if concept == {}:
            raise missing("medicationCodeableConcept")
        return codings(concept, "medicationCodeableConcept"), None
    ref = res.get("medicationReference")
    if not ref:
        raise missing("medication[x]")
    mid = reference(ref, "medicationReference", MEDICATION)
    if mid is None:
        return [(None, None)], None
    named = mid[1:] if mid.startswith("#") else mid
    if not ctx.resolve_medication_references:
        return [(None, None)], named
    if mid.startswith("#"):
        return _contained_medication(res, mid), named
    codes = ctx.medications.get(mid)
    if codes is None:
        raise InvalidElement(
            f"medicationReference {shown(ref['reference'])} names no Medication in the input"
        )
    return codes, named


def _dispense_request(res: Res) -> tuple[Any, Any, int | None, float | None, int | None]:
    disp = obj(res.get("dispenseRequest"), "dispenseRequest")
    if not disp:
        return None, None, None, None, None
    try:
        start, end = period(disp.get("validityPeriod"), "validityPeriod")
        return (
            start,
            end,
            days(disp.get("expectedSupplyDuration"), "expectedSupplyDuration"),
            quantity_value(disp.get("quantity"), "quantity"),
            integer(disp.get("numberOfRepeatsAllowed"), "numberOfRepeatsAllowed"),
        )
    except InvalidElement as exc:
        raise within("dispenseRequest", exc) from None


def flatten_medication_request(res: Res, ctx: Context) -> Rows:
    rid = resource_id(res)
    status = status_code(res, MEDICATION_REQUEST_STATUS)
    intent = code(require(res, "intent"), "intent", MEDICATION_REQUEST_INTENT)
    pid = subject_id(res, "subject")
    codes, medication_ref = _medication_codes(res, ctx)
    dose, freq, bstart, bend = dosage(res.get("dosageInstruction"), "dosageInstruction")
    vstart, vend, days_supply, quantity, refills = _dispense_request(res)
    rsys, rcode = first_code_of(res.get("reasonCode"), "reasonCode")
    base = {
        "request_id": rid,
        "patient_id": pid,
        "status": status,
        "intent": intent,
        "do_not_perform": bool(boolean(res.get("doNotPerform"), "doNotPerform")),
        "category": first_code_of(res.get("category"), "category")[1],
        "authored": timestamp(res.get("authoredOn"), "authoredOn"),
        "period_start": bstart,
        "period_end": bend,
        "validity_start": vstart,
        "validity_end": vend,
        "days_supply": days_supply,
        "quantity": quantity,
        "refills": refills,
        "dose_quantity": dose,
        "frequency_per_day": freq,
        "reason_system": rsys,
        "reason_code": rcode,
        "prescriber_id": reference(res.get("requester"), "requester"),
        "encounter_id": reference(res.get("encounter"), "encounter", ENCOUNTER),
        "medication_ref": medication_ref,
    }
    for system, code_ in codes:
        yield "medication_requests", {**base, "system": system, "code": code_}


def flatten_medication_dispense(res: Res, ctx: Context) -> Rows:
    did = resource_id(res)
    status = status_code(res, MEDICATION_DISPENSE_STATUS)
    pid = subject_id(res, "subject")
    codes, medication_ref = _medication_codes(res, ctx)
    dose, freq, _, _ = dosage(res.get("dosageInstruction"), "dosageInstruction")
    handed_over = timestamp(res.get("whenHandedOver"), "whenHandedOver")
    if handed_over is None and status == "completed":
        raise missing("whenHandedOver", " when status is completed")
    auth = objects(res.get("authorizingPrescription"), "authorizingPrescription")
    base = {
        "dispense_id": did,
        "patient_id": pid,
        "status": status,
        "when_prepared": timestamp(res.get("whenPrepared"), "whenPrepared"),
        "when_handed_over": handed_over,
        "days_supply": days(res.get("daysSupply"), "daysSupply"),
        "quantity": quantity_value(res.get("quantity"), "quantity"),
        "dose_quantity": dose,
        "frequency_per_day": freq,
        "request_id": (
            reference(auth[0], "authorizingPrescription[0]", MEDICATION_REQUEST) if auth else None
        ),
        "medication_ref": medication_ref,
    }
    for system, code_ in codes:
        yield "medication_dispenses", {**base, "system": system, "code": code_}


def flatten_medication_administration(res: Res, ctx: Context) -> Rows:
    aid = resource_id(res)
    status = status_code(res, MEDICATION_ADMINISTRATION_STATUS)
    pid = subject_id(res, "subject")
    codes, medication_ref = _medication_codes(res, ctx)
    start, end = choice(res, "effective")
    if start is None and end is None:
        raise missing("effective[x]")
    base = {
        "administration_id": aid,
        "patient_id": pid,
        "status": status,
        "effective_start": start,
        "effective_end": end,
        "medication_ref": medication_ref,
    }
    for system, code_ in codes:
        yield "medication_administrations", {**base, "system": system, "code": code_}


def medication_codes(res: Res) -> tuple[str, list[Pair]]:
    """A Medication (a lookup for the resources that reference it): its id and codes."""
    return resource_id(res), codings(res.get("code"), "code")


# Resources that need a Medication resource which may come later in the stream.
MEDICATION_USERS = ("MedicationRequest", "MedicationDispense", "MedicationAdministration")


def needs_medication(res: Res, ctx: Context) -> bool:
    """True when the resource names a separate Medication the loader has not seen yet."""
    if "medicationCodeableConcept" in res or not ctx.resolve_medication_references:
        return False
    mid = ref_id(res.get("medicationReference"))
    return mid is not None and not mid.startswith("#") and mid not in ctx.medications
