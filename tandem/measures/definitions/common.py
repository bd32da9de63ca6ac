"""Building blocks shared by the CMS eCQMs, written in the Tandem measure language.

Each function mirrors one definition of the CQL libraries the measures include (QICoreCommon,
Status, Hospice, PalliativeCare, AdvancedIllnessandFrailty, AdultOutpatientEncounters,
CumulativeMedicationDuration); the docstring names it. Value sets are referenced by OID.

Conventions of the analytic tables this relies on (``tandem.measures.schema``):
- a resource with several codings is several rows with one id; ``exists``/``count`` count ids;
- a condition's prevalence interval is ``[onset, abatement]``; a null onset is open to the
  past and a null abatement is ongoing (QICoreCommon ``prevalenceInterval``);
- an observation's ``effective`` is ``[effective_start, effective_end]`` (equal for a dateTime).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tandem.measures import language as q
from tandem.measures.language import Expr, Frame, Row

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"

FINAL = ("final", "amended", "corrected")


# --- retrieves --------------------------------------------------------------------------


def any_code(r: Row, valuesets: Iterable[str] = (), codes: Iterable[tuple[str, str]] = ()) -> Expr:
    """The row's code is in one of the value sets or is one of the (system, code) pairs."""
    terms = [r.code_in(vs) for vs in valuesets] + [r.has_code(s, c) for s, c in codes]
    out = terms[0]
    for t in terms[1:]:
        out = out | t
    return out


def retrieve(table: str, *valuesets: str, codes: Iterable[tuple[str, str]] = ()) -> Frame:
    """``[Type: "Value Set"] union [Type: "Other"]`` — rows of ``table`` with a matching code."""
    codes = tuple(codes)
    return q.table(table).where(lambda r: any_code(r, valuesets, codes))


def period_during(start: Any, end: Any, lo: Any, hi: Any) -> Expr:
    """CQL ``Interval[start, end] during day of Interval[lo, hi]`` (a null end is ongoing)."""
    return q.during(start, lo, hi) & q.during(end, lo, hi)


# --- Status (QI-Core 4.1.1 "performed"/"ordered" filters) ---------------------------------


ENCOUNTER_PERFORMED = ("finished", "arrived", "triaged", "in-progress", "onleave")


def encounters_performed(*valuesets: str, codes: Iterable[tuple[str, str]] = ()) -> Frame:
    """Status.isEncounterPerformed (1.8): finished, arrived, triaged, in-progress, onleave."""
    return retrieve("encounters", *valuesets, codes=codes).status_in(*ENCOUNTER_PERFORMED)


def assessments_performed(*valuesets: str, codes: Iterable[tuple[str, str]] = ()) -> Frame:
    """Status.isAssessmentPerformed: final, amended or corrected, category survey."""
    return (
        retrieve("observations", *valuesets, codes=codes)
        .status_in(*FINAL)
        .where(lambda o: o.category == "survey")
    )


def labs_performed(*valuesets: str, codes: Iterable[tuple[str, str]] = ()) -> Frame:
    """Status.isLaboratoryTestPerformed: final, amended or corrected, category laboratory."""
    return (
        retrieve("observations", *valuesets, codes=codes)
        .status_in(*FINAL)
        .where(lambda o: o.category == "laboratory")
    )


def procedures_performed(*valuesets: str, codes: Iterable[tuple[str, str]] = ()) -> Frame:
    """Status.isInterventionPerformed / isProcedurePerformed: completed procedures."""
    return retrieve("procedures", *valuesets, codes=codes).status_in("completed")


def coded_medications(table: str, *valuesets: str) -> Frame:
    """``[MedicationRequest: X]`` (or Dispense, Administration) in the 2025 logic: the retrieve
    matches ``medicationCodeableConcept`` only, so a medication given as a reference to a
    Medication (``medication_ref``; the loader resolves its code) is not retrieved. The 2026
    logic matches both (``common_2026`` retrieves by code alone)."""
    return retrieve(table, *valuesets).where(lambda r: r.medication_ref.is_null())


def medications_active(*valuesets: str) -> Frame:
    """Status.isMedicationActive: active orders."""
    return (
        coded_medications("medication_requests", *valuesets)
        .status_in("active")
        .where(lambda r: r.intent == "order")
    )


def medications_ordered(*valuesets: str) -> Frame:
    """Status.isMedicationOrder: active or completed orders."""
    return (
        coded_medications("medication_requests", *valuesets)
        .status_in("active", "completed")
        .where(lambda r: r.intent == "order")
    )


DISPENSED = ("completed", "in-progress", "on-hold")


def medications_dispensed(*valuesets: str) -> Frame:
    """Status.isMedicationDispensed: completed, in-progress or on-hold (coded medications)."""
    return coded_medications("medication_dispenses", *valuesets).status_in(*DISPENSED)


def not_true(x: Expr) -> Expr:
    """CQL ``x is not true`` (null counts as not true)."""
    return ~x.if_null(False)


# --- Observation values as the CQL casts them ---------------------------------------------


def as_integer(o: Row) -> Expr:
    """CQL ``Observation.value as Integer`` (what ``value > 9`` compiles to: the ELM wraps
    ``FHIRHelpers.ToValue(value)`` in ``As Integer``): the number of a ``valueInteger``, null
    for any other type (a ``valueQuantity`` of 12 is null, so not > 9 and not < 5).

    ``observations.value_type`` says the FHIR type. A row whose type is unknown (null type with
    a number: data written before the column existed) is read as its number when it is whole,
    so such sources keep working; every loader and writer of Tandem now fills the type.
    """
    typed = o.value_type == "integer"
    legacy = o.value_type.is_null() & (o.value_num == q.floor(o.value_num))
    return q.when(typed | legacy, o.value_num, q.null("float"))


def has_value(o: Row) -> Expr:
    """CQL ``Observation.value is not null``: a value of any FHIR type (``value_type``), or,
    where the type is unknown, a number, code or boolean."""
    return (
        o.value_type.is_not_null()
        | o.value_code.is_not_null()
        | o.value_num.is_not_null()
        | o.value_bool.is_not_null()
    )


# --- QICoreCommon -------------------------------------------------------------------------


def is_active(c: Row) -> Expr:
    """QICoreCommon.isActive: clinical status active, recurrence or relapse."""
    return c.clinical_status.isin(["active", "recurrence", "relapse"])


def is_confirmed_active(c: Row) -> Expr:
    """isConfirmedActiveDiagnosis: active and verification status confirmed."""
    return is_active(c) & (c.verification_status == "confirmed")


def prevalence_overlaps(c: Row, lo: Any, hi: Any) -> Expr:
    """``prevalenceInterval() overlaps day of Interval[lo, hi]``.

    QICoreCommon (2.1.000 and 4.0.000): an active, recurring or relapsed condition's interval is
    closed, so a null abatement is ongoing; any other clinical status (or none) with a null
    abatement gives ``Interval[onset, null)``, an unknown end, and ``overlaps`` is then null
    (not true) — an inactive condition without an abatement date never overlaps.
    """
    unknown_end = c.abatement.is_null() & not_true(is_active(c))
    return ~unknown_end & q.overlaps(c.onset, c.abatement, lo, hi)


def effective_overlaps(o: Row, lo: Any, hi: Any) -> Expr:
    """``effective.toInterval() overlaps day of Interval[lo, hi]``."""
    return q.overlaps(o.effective_start, o.effective_end.if_null(o.effective_start), lo, hi)


def latest(o: Row) -> Expr:
    """QICoreCommon.latest() of an observation's effective[x]: the end, else the start."""
    return o.effective_end.if_null(o.effective_start)


# --- CumulativeMedicationDuration ------------------------------------------------------


def request_period(m: Row) -> tuple[Expr, Expr]:
    """medicationRequestPeriod(): [start, end] as dates, both null when either is unknown.

    start = boundsPeriod start (``period_start``), else authoredOn, else the
    dispenseRequest validity period start (``validity_start``) — CumulativeMedicationDuration's
    Coalesce order, the same in 4.1.000 (2025) and 6.0.000 (2026); end = start + days supply x
    (1 + refills) - 1, else the boundsPeriod end. Without a start or an end the CQL function
    returns null (not an open-ended interval), so nothing overlaps it. The quantity / (dose x
    frequency) fallback is not used (no case in the decks; see the measure docs).
    """
    start = m.period_start.date.if_null(m.authored.date).if_null(m.validity_start.date)
    supply = m.days_supply * (m.refills.if_null(0) + 1)
    end = q.when(supply.is_not_null(), start.add_days(supply - 1), m.period_end.date)
    known = start.is_not_null() & end.is_not_null()
    return q.when(known, start, q.null("date")), q.when(known, end, q.null("date"))


def dispense_period(d: Row) -> tuple[Expr, Expr]:
    """medicationDispensePeriod(): [handed over (or prepared), + days supply - 1] as dates."""
    start = d.when_handed_over.date.if_null(d.when_prepared.date)
    return start, start.add_days(d.days_supply - 1)


# --- AdultOutpatientEncounters ---------------------------------------------------------

CERNER_CLINIC = (
    "https://fhir.cerner.com/24e03c9a-e2fd-45f4-8243-e38cc7e8418d/codeSet/71",
    "22282402",
)


def adult_outpatient_encounters() -> Frame:
    """AdultOutpatientEncounters."Qualifying Encounters" during day of the period."""
    return encounters_performed(
        "2.16.840.1.113883.3.464.1003.101.12.1001",  # Office Visit
        "2.16.840.1.113883.3.526.3.1240",  # Annual Wellness Visit
        "2.16.840.1.113883.3.464.1003.101.12.1025",  # Preventive Care Est. Office Visit 18+
        "2.16.840.1.113883.3.464.1003.101.12.1023",  # Preventive Care Initial Office Visit 18+
        "2.16.840.1.113883.3.464.1003.101.12.1016",  # Home Healthcare Services
        "2.16.840.1.113883.3.464.1003.101.12.1089",  # Online Assessments (Virtual Encounter)
        "2.16.840.1.113883.3.464.1003.101.12.1080",  # Telephone Visits
        codes=[CERNER_CLINIC],
    ).where(lambda e: period_during(e.start, e.end, q.period_start, q.period_end))


# --- Hospice ---------------------------------------------------------------------------

HOSPICE_DISCHARGE = ("428361000124107", "428371000124100")  # home / facility for hospice care
ENCOUNTER_INPATIENT = "2.16.840.1.113883.3.666.5.307"
HOSPICE_ENCOUNTER = "2.16.840.1.113883.3.464.1003.1003"
HOSPICE_CARE_AMBULATORY = "2.16.840.1.113883.3.526.3.1584"
HOSPICE_DIAGNOSIS = "2.16.840.1.113883.3.464.1003.1165"
HOSPICE_MDS = (LOINC, "45755-6")
YES = (SNOMED, "373066001")


def has_hospice(lo: Any = None, hi: Any = None) -> Expr:
    """Hospice."Has Hospice Services" over day of [lo, hi] (default: the measurement period)."""
    lo = q.period_start if lo is None else lo
    hi = q.period_end if hi is None else hi
    inpatient = encounters_performed(ENCOUNTER_INPATIENT).where(
        lambda e: e.discharge_disposition.isin(HOSPICE_DISCHARGE) & q.during(e.end, lo, hi)
    )
    hospice_enc = encounters_performed(HOSPICE_ENCOUNTER).where(
        lambda e: q.overlaps(e.start, e.end, lo, hi)
    )
    mds = assessments_performed(codes=[HOSPICE_MDS]).where(
        lambda o: (o.value_code == YES[1]) & effective_overlaps(o, lo, hi)
    )
    order = (
        retrieve("service_requests", HOSPICE_CARE_AMBULATORY)
        .status_in("active", "completed")
        .where(lambda s: (s.intent == "order") & q.during(s.authored, lo, hi))
    )
    performed = procedures_performed(HOSPICE_CARE_AMBULATORY).where(
        lambda p: q.overlaps(p.performed_start, p.performed_end, lo, hi)
    )
    diagnosis = retrieve("conditions", HOSPICE_DIAGNOSIS).where(
        lambda c: prevalence_overlaps(c, lo, hi)
    )
    return (
        inpatient.exists()
        | hospice_enc.exists()
        | mds.exists()
        | order.exists()
        | performed.exists()
        | diagnosis.exists()
    )


# --- PalliativeCare ----------------------------------------------------------------------

FACIT_PAL = (LOINC, "71007-9")
PALLIATIVE_DIAGNOSIS = "2.16.840.1.113883.3.464.1003.1167"
PALLIATIVE_ENCOUNTER = "2.16.840.1.113883.3.464.1003.101.12.1090"
PALLIATIVE_INTERVENTION = "2.16.840.1.113883.3.464.1003.198.12.1135"


def has_palliative_care(lo: Any = None, hi: Any = None) -> Expr:
    """PalliativeCare."Has Palliative Care in the Measurement Period" over day of [lo, hi]."""
    lo = q.period_start if lo is None else lo
    hi = q.period_end if hi is None else hi
    assessment = assessments_performed(codes=[FACIT_PAL]).where(
        lambda o: effective_overlaps(o, lo, hi)
    )
    diagnosis = retrieve("conditions", PALLIATIVE_DIAGNOSIS).where(
        lambda c: prevalence_overlaps(c, lo, hi)
    )
    encounter = encounters_performed(PALLIATIVE_ENCOUNTER).where(
        lambda e: q.overlaps(e.start, e.end, lo, hi)
    )
    intervention = procedures_performed(PALLIATIVE_INTERVENTION).where(
        lambda p: q.overlaps(p.performed_start, p.performed_end, lo, hi)
    )
    return assessment.exists() | diagnosis.exists() | encounter.exists() | intervention.exists()


# --- AdvancedIllnessandFrailty ---------------------------------------------------------

FRAILTY_DEVICE = "2.16.840.1.113883.3.464.1003.118.12.1300"
FRAILTY_DIAGNOSIS = "2.16.840.1.113883.3.464.1003.113.12.1074"
FRAILTY_ENCOUNTER = "2.16.840.1.113883.3.464.1003.101.12.1088"
FRAILTY_SYMPTOM = "2.16.840.1.113883.3.464.1003.113.12.1075"
ADVANCED_ILLNESS = "2.16.840.1.113883.3.464.1003.110.12.1082"
DEMENTIA_MEDICATIONS = "2.16.840.1.113883.3.464.1003.196.12.1510"
MEDICAL_EQUIPMENT_USED = (LOINC, "98181-1")
HOUSING_STATUS = (LOINC, "71802-3")
LIVES_IN_NURSING_HOME = (SNOMED, "160734000")


def age_at_end() -> Expr:
    return q.patient_age_on(q.period_end)


def has_frailty() -> Expr:
    """AdvancedIllnessandFrailty."Has Criteria Indicating Frailty"."""
    ps, pe = q.period_start, q.period_end
    device = (
        retrieve("device_requests", FRAILTY_DEVICE)
        .status_in("active", "completed")
        .where(
            lambda d: (
                (d.intent == "order") & not_true(d.do_not_perform) & q.during(d.authored, ps, pe)
            )
        )
    )
    equipment = assessments_performed(codes=[MEDICAL_EQUIPMENT_USED]).where(
        lambda o: o.value_in(FRAILTY_DEVICE) & q.during(latest(o), ps, pe)
    )
    diagnosis = retrieve("conditions", FRAILTY_DIAGNOSIS).where(
        lambda c: prevalence_overlaps(c, ps, pe)
    )
    encounter = encounters_performed(FRAILTY_ENCOUNTER).where(
        lambda e: q.overlaps(e.start, e.end, ps, pe)
    )
    symptom = (
        retrieve("observations", FRAILTY_SYMPTOM)
        .status_in("preliminary", *FINAL)
        .where(lambda o: effective_overlaps(o, ps, pe))
    )
    return (
        device.exists()
        | equipment.exists()
        | diagnosis.exists()
        | encounter.exists()
        | symptom.exists()
    )


def has_advanced_illness() -> Expr:
    """AdvancedIllnessandFrailty 1.16: an Advanced Illness diagnosis starting in the year
    before or during the period, or dementia medication active (order) overlapping it."""
    lo = q.period_start.add_years(-1)
    illness = retrieve("conditions", ADVANCED_ILLNESS).where(
        lambda c: c.onset.is_null() | q.during(c.onset, lo, q.period_end)
    )

    def dementia_overlaps(m: Row) -> Expr:
        start, end = request_period(m)
        return start.is_not_null() & q.overlaps(start, end, lo, q.period_end)

    dementia = medications_active(DEMENTIA_MEDICATIONS).where(dementia_overlaps)
    return illness.exists() | dementia.exists()


def advanced_illness_and_frailty_66() -> Expr:
    """ "Is Age 66 or Older with Advanced Illness and Frailty"."""
    return (age_at_end() >= 66) & has_frailty() & has_advanced_illness()


def advanced_illness_66_80_or_frailty_81() -> Expr:
    """ "Is Age 66 to 80 with Advanced Illness and Frailty or Is Age 81 or Older with Frailty"."""
    age = age_at_end()
    return (age.between(66, 80) & has_frailty() & has_advanced_illness()) | (
        (age >= 81) & has_frailty()
    )


def nursing_home_66() -> Expr:
    """ "Is Age 66 or Older Living Long Term in a Nursing Home": the last housing status
    assessment ending on or before the period end says "lives in a nursing home"."""
    last = (
        assessments_performed(codes=[HOUSING_STATUS])
        .where(lambda o: latest(o).date <= q.period_end)
        .last_by(lambda o: latest(o))
    )
    return (age_at_end() >= 66) & (last.value_code == LIVES_IN_NURSING_HOME[1])
