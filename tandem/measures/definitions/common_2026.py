"""The shared-library building blocks of the CMS eCQMs for the 2026 performance period.

The 2026 versions (the FHIR Measures of ``cqframework/dqm-content-cms-2025``, ``1.0.000``) are
written against QI-Core 6 and include Status 1.15.000, Hospice 6.18.000, PalliativeCare,
AdvancedIllnessandFrailty, AdultOutpatientEncounters, QICoreCommon 4.0.000, CQMCommon 4.1.000
and CumulativeMedicationDuration 6.0.000. This module has the same function names as
:mod:`~tandem.measures.definitions.common` (the 2025 libraries) so a measure's 2026 builder
imports from here what changed; what did not change is re-exported from ``common``.

What changed from 2025 (``docs/measures/README.md``, "Versions", lists it per measure):
- Status: ``isEncounterPerformed`` is ``finished`` only (2025: also arrived, triaged,
  in-progress, onleave); order intents are ``order``, ``original-order``, ``reflex-order``,
  ``filler-order`` or ``instance-order`` (2025: ``order``) for medication, intervention and
  device orders; ``isAssessmentPerformed`` no longer requires the ``survey`` category (the
  retrieve is the ObservationScreeningAssessment profile, whose US Core parent fixes no
  category code).
- Conditions are retrieved as ``ConditionProblemsHealthConcerns union
  ConditionEncounterDiagnosis`` and most are filtered by Status ``verified()``: no
  verification status, or confirmed, unconfirmed, provisional or differential (2025: no
  filter in Hospice, PalliativeCare and AdvancedIllnessandFrailty).
- Hospice, PalliativeCare and AdvancedIllnessandFrailty follow: hospice and palliative
  diagnoses must be verified; frailty device orders drop the ``doNotPerform`` check.
- Medications: the retrieves match a medication given as a reference to a Medication by its
  code (``medicationReference``; 2025 matched ``medicationCodeableConcept`` only).
- AdultOutpatientEncounters names seven value sets and no direct code (the 2025 helper's
  Cerner clinic code, carried by the 2025 test decks, is not in the 2026 logic).

Profiles are approximated with columns of the analytic tables (there is no ``meta.profile``):
ConditionProblemsHealthConcerns is a condition whose category is ``problem-list-item`` or
``health-concern`` (:func:`problem_conditions`); the union of the two condition profiles covers
every category US Core allows, so :func:`conditions` keeps every condition with the code
(one without a category too). LaboratoryResultObservation keeps the ``laboratory`` category
its US Core parent requires.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tandem.measures import language as q
from tandem.measures.definitions.common import (
    ADVANCED_ILLNESS,
    CERNER_CLINIC,
    CPT,
    DEMENTIA_MEDICATIONS,
    DISPENSED,
    ENCOUNTER_INPATIENT,
    FACIT_PAL,
    FINAL,
    FRAILTY_DEVICE,
    FRAILTY_DIAGNOSIS,
    FRAILTY_ENCOUNTER,
    FRAILTY_SYMPTOM,
    HOSPICE_CARE_AMBULATORY,
    HOSPICE_DIAGNOSIS,
    HOSPICE_DISCHARGE,
    HOSPICE_ENCOUNTER,
    HOSPICE_MDS,
    HOUSING_STATUS,
    ICD10CM,
    LIVES_IN_NURSING_HOME,
    LOINC,
    MEDICAL_EQUIPMENT_USED,
    PALLIATIVE_DIAGNOSIS,
    PALLIATIVE_ENCOUNTER,
    PALLIATIVE_INTERVENTION,
    SNOMED,
    YES,
    age_at_end,
    any_code,
    as_integer,
    dispense_period,
    effective_overlaps,
    has_value,
    is_active,
    latest,
    not_true,
    period_during,
    prevalence_overlaps,
    procedures_performed,
    request_period,
    retrieve,
)
from tandem.measures.language import Expr, Frame, Row

ENCOUNTER_PERFORMED = ("finished",)
ORDER_INTENTS = ("order", "original-order", "reflex-order", "filler-order", "instance-order")
VERIFIED = ("confirmed", "unconfirmed", "provisional", "differential")
PROBLEM_CATEGORIES = ("problem-list-item", "health-concern")


# --- Status 1.15.000 ---------------------------------------------------------------------


def encounters_performed(*valuesets: str, codes: Iterable[tuple[str, str]] = ()) -> Frame:
    """Status.isEncounterPerformed (2026): ``finished`` only."""
    return retrieve("encounters", *valuesets, codes=codes).status_in(*ENCOUNTER_PERFORMED)


def assessments_performed(*valuesets: str, codes: Iterable[tuple[str, str]] = ()) -> Frame:
    """Status.isAssessmentPerformed (2026) on ObservationScreeningAssessment: final, amended or
    corrected, any category."""
    return retrieve("observations", *valuesets, codes=codes).status_in(*FINAL)


def labs_performed(*valuesets: str, codes: Iterable[tuple[str, str]] = ()) -> Frame:
    """Status.isLaboratoryTestPerformed (2026) on LaboratoryResultObservation: final, amended or
    corrected; category ``laboratory`` (required by the profile, no longer by the function)."""
    return (
        retrieve("observations", *valuesets, codes=codes)
        .status_in(*FINAL)
        .where(lambda o: o.category == "laboratory")
    )


def symptoms(*valuesets: str, codes: Iterable[tuple[str, str]] = ()) -> Frame:
    """Status.isSymptom on SimpleObservation: preliminary, final, amended or corrected."""
    return retrieve("observations", *valuesets, codes=codes).status_in("preliminary", *FINAL)


def medications_dispensed(*valuesets: str) -> Frame:
    """Status.isMedicationDispensed: completed, in-progress or on-hold; a medication given as
    a reference counts by its resolved code (2026; 2025 reads codes only)."""
    return retrieve("medication_dispenses", *valuesets).status_in(*DISPENSED)


def medications_active(*valuesets: str) -> Frame:
    """Status.isMedicationActive (2026): active, any order intent."""
    return (
        retrieve("medication_requests", *valuesets)
        .status_in("active")
        .where(lambda r: r.intent.isin(ORDER_INTENTS))
    )


def medications_ordered(*valuesets: str) -> Frame:
    """Status.isMedicationOrder (2026): active or completed, any order intent."""
    return (
        retrieve("medication_requests", *valuesets)
        .status_in("active", "completed")
        .where(lambda r: r.intent.isin(ORDER_INTENTS))
    )


def interventions_ordered(*valuesets: str, codes: Iterable[tuple[str, str]] = ()) -> Frame:
    """Status.isInterventionOrder (2026): service requests active or completed, any order
    intent."""
    return (
        retrieve("service_requests", *valuesets, codes=codes)
        .status_in("active", "completed")
        .where(lambda r: r.intent.isin(ORDER_INTENTS))
    )


def device_orders(*valuesets: str) -> Frame:
    """Status.isDeviceOrderPersonalUseDevices: active or completed, any order intent."""
    return (
        retrieve("device_requests", *valuesets)
        .status_in("active", "completed")
        .where(lambda r: r.intent.isin(ORDER_INTENTS))
    )


def is_verified(c: Row) -> Expr:
    """Status ``verified()`` / a measure's ``isVerified()``: the verification status is null or
    confirmed, unconfirmed, provisional or differential (refuted and entered-in-error fail)."""
    return c.verification_status.is_null() | c.verification_status.isin(VERIFIED)


def conditions(*valuesets: str, codes: Iterable[tuple[str, str]] = ()) -> Frame:
    """``[ConditionProblemsHealthConcerns: X] union [ConditionEncounterDiagnosis: X]``: every
    condition with a code in X (see the module docstring)."""
    return retrieve("conditions", *valuesets, codes=codes)


def verified_conditions(*valuesets: str, codes: Iterable[tuple[str, str]] = ()) -> Frame:
    """``(… union …).verified()``: :func:`conditions` that are :func:`is_verified`."""
    return conditions(*valuesets, codes=codes).where(is_verified)


def problem_conditions(*valuesets: str, codes: Iterable[tuple[str, str]] = ()) -> Frame:
    """``[ConditionProblemsHealthConcerns: X]`` alone: a problem-list item or health concern."""
    return retrieve("conditions", *valuesets, codes=codes).where(
        lambda c: c.category.isin(PROBLEM_CATEGORIES)
    )


# --- AdultOutpatientEncounters -------------------------------------------------------------


def adult_outpatient_encounters() -> Frame:
    """AdultOutpatientEncounters."Qualifying Encounters" (2026): finished, during day of the
    period; no Cerner clinic code."""
    return encounters_performed(
        "2.16.840.1.113883.3.464.1003.101.12.1001",  # Office Visit
        "2.16.840.1.113883.3.526.3.1240",  # Annual Wellness Visit
        "2.16.840.1.113883.3.464.1003.101.12.1025",  # Preventive Care Est. Office Visit 18+
        "2.16.840.1.113883.3.464.1003.101.12.1023",  # Preventive Care Initial Office Visit 18+
        "2.16.840.1.113883.3.464.1003.101.12.1016",  # Home Healthcare Services
        "2.16.840.1.113883.3.464.1003.101.12.1089",  # Virtual Encounter
        "2.16.840.1.113883.3.464.1003.101.12.1080",  # Telephone Visits
    ).where(lambda e: period_during(e.start, e.end, q.period_start, q.period_end))


# --- Hospice 6.18.000 ----------------------------------------------------------------------


def has_hospice(lo: Any = None, hi: Any = None) -> Expr:
    """Hospice."Has Hospice Services" (2026) over day of [lo, hi] (default: the period)."""
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
    order = interventions_ordered(HOSPICE_CARE_AMBULATORY).where(
        lambda s: q.during(s.authored, lo, hi)
    )
    performed = procedures_performed(HOSPICE_CARE_AMBULATORY).where(
        lambda p: q.overlaps(p.performed_start, p.performed_end, lo, hi)
    )
    diagnosis = verified_conditions(HOSPICE_DIAGNOSIS).where(
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


# --- PalliativeCare ------------------------------------------------------------------------


def has_palliative_care(lo: Any = None, hi: Any = None) -> Expr:
    """PalliativeCare."Has Palliative Care in the Measurement Period" (2026)."""
    lo = q.period_start if lo is None else lo
    hi = q.period_end if hi is None else hi
    assessment = assessments_performed(codes=[FACIT_PAL]).where(
        lambda o: effective_overlaps(o, lo, hi)
    )
    diagnosis = verified_conditions(PALLIATIVE_DIAGNOSIS).where(
        lambda c: prevalence_overlaps(c, lo, hi)
    )
    encounter = encounters_performed(PALLIATIVE_ENCOUNTER).where(
        lambda e: q.overlaps(e.start, e.end, lo, hi)
    )
    intervention = procedures_performed(PALLIATIVE_INTERVENTION).where(
        lambda p: q.overlaps(p.performed_start, p.performed_end, lo, hi)
    )
    return assessment.exists() | diagnosis.exists() | encounter.exists() | intervention.exists()


# --- AdvancedIllnessandFrailty -------------------------------------------------------------


def has_frailty() -> Expr:
    """AdvancedIllnessandFrailty."Has Criteria Indicating Frailty" (2026)."""
    ps, pe = q.period_start, q.period_end
    device = device_orders(FRAILTY_DEVICE).where(lambda d: q.during(d.authored, ps, pe))
    equipment = assessments_performed(codes=[MEDICAL_EQUIPMENT_USED]).where(
        lambda o: o.value_in(FRAILTY_DEVICE) & q.during(latest(o), ps, pe)
    )
    diagnosis = verified_conditions(FRAILTY_DIAGNOSIS).where(
        lambda c: prevalence_overlaps(c, ps, pe)
    )
    encounter = encounters_performed(FRAILTY_ENCOUNTER).where(
        lambda e: q.overlaps(e.start, e.end, ps, pe)
    )
    symptom = symptoms(FRAILTY_SYMPTOM).where(lambda o: effective_overlaps(o, ps, pe))
    return (
        device.exists()
        | equipment.exists()
        | diagnosis.exists()
        | encounter.exists()
        | symptom.exists()
    )


def has_advanced_illness() -> Expr:
    """A verified Advanced Illness diagnosis starting in the year before or during the period
    (a null onset counts, as in 2025), or dementia medication active (any order intent)
    overlapping it."""
    lo = q.period_start.add_years(-1)
    illness = verified_conditions(ADVANCED_ILLNESS).where(
        lambda c: c.onset.is_null() | q.during(c.onset, lo, q.period_end)
    )

    def dementia_overlaps(m: Row) -> Expr:
        start, end = request_period(m)
        return start.is_not_null() & q.overlaps(start, end, lo, q.period_end)

    dementia = medications_active(DEMENTIA_MEDICATIONS).where(dementia_overlaps)
    return illness.exists() | dementia.exists()


def advanced_illness_and_frailty_66() -> Expr:
    """ "Is Age 66 or Older with Advanced Illness and Frailty" (2026)."""
    return (age_at_end() >= 66) & has_frailty() & has_advanced_illness()


def advanced_illness_66_80_or_frailty_81() -> Expr:
    """ "Is Age 66 to 80 with Advanced Illness and Frailty or Is Age 81 or Older with Frailty"
    (2026)."""
    age = age_at_end()
    return (age.between(66, 80) & has_frailty() & has_advanced_illness()) | (
        (age >= 81) & has_frailty()
    )


def nursing_home_66() -> Expr:
    """ "Is Age 66 or Older Living Long Term in a Nursing Home" (2026): as 2025, on any
    category of assessment."""
    last = (
        assessments_performed(codes=[HOUSING_STATUS])
        .where(lambda o: latest(o).date <= q.period_end)
        .last_by(lambda o: latest(o))
    )
    return (age_at_end() >= 66) & (last.value_code == LIVES_IN_NURSING_HOME[1])


__all__ = [
    "CERNER_CLINIC",
    "CPT",
    "FINAL",
    "ICD10CM",
    "LOINC",
    "ORDER_INTENTS",
    "SNOMED",
    "VERIFIED",
    "adult_outpatient_encounters",
    "advanced_illness_66_80_or_frailty_81",
    "advanced_illness_and_frailty_66",
    "any_code",
    "as_integer",
    "assessments_performed",
    "conditions",
    "device_orders",
    "dispense_period",
    "effective_overlaps",
    "encounters_performed",
    "has_advanced_illness",
    "has_frailty",
    "has_hospice",
    "has_palliative_care",
    "has_value",
    "interventions_ordered",
    "is_active",
    "is_verified",
    "labs_performed",
    "latest",
    "medications_active",
    "medications_dispensed",
    "medications_ordered",
    "not_true",
    "nursing_home_66",
    "period_during",
    "prevalence_overlaps",
    "problem_conditions",
    "procedures_performed",
    "request_period",
    "retrieve",
    "symptoms",
    "verified_conditions",
]
