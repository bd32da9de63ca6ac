"""CMS347 (statin therapy for the prevention and treatment of cardiovascular disease), 2025
(CMS347v8) and 2026 (CMS347v9).

Written from ``StatinTherapyforthePreventionandTreatmentofCardiovascularDiseaseFHIR.cql``
0.2.000 (``cqframework/ecqm-content-qicore-2024``) and ``CMS347FHIRStatinPreventionTxCVD.cql``
1.0.000 (``cqframework/dqm-content-cms-2025``). Four patient-based groups share the
denominator exclusions, exceptions and numerator; they differ in the initial population (ASCVD;
LDL >= 190 or familial hypercholesterolemia at 20-75; diabetes at 40-75; 10-year risk >= 20% at
40-75, each later one without the earlier reasons). ``docs/measures/cms347.md`` lists the
differences between the versions and the deviations.

The two versions are one builder with a year: :class:`_Version` holds what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tandem.measures import language as q
from tandem.measures.definitions import common, common_2026
from tandem.measures.definitions.common import (
    ICD10CM,
    LOINC,
    not_true,
    period_during,
    prevalence_overlaps,
    retrieve,
)
from tandem.measures.language import Expr, Frame, Row

# --- value sets and codes ---------------------------------------------------------------

MYOCARDIAL_INFARCTION_2025 = "2.16.840.1.113883.3.526.3.403"
MYOCARDIAL_INFARCTION_2026 = "2.16.840.1.113762.1.4.1108.101"
ASCVD_DIAGNOSES = (
    "2.16.840.1.113762.1.4.1047.44",  # Cerebrovascular Disease Stroke or TIA
    "2.16.840.1.113762.1.4.1047.21",  # Atherosclerosis and Peripheral Arterial Disease
    "2.16.840.1.113762.1.4.1047.46",  # Ischemic Heart Disease or Other Related Diagnoses
    "2.16.840.1.113762.1.4.1047.47",  # Stable and Unstable Angina
)
SUBSEQUENT_NSTEMI = (ICD10CM, "I22.2")
ASCVD_PROCEDURES = (
    "2.16.840.1.113762.1.4.1045.67",  # PCI
    "2.16.840.1.113883.3.666.5.694",  # CABG Surgeries
    "2.16.840.1.113883.3.117.1.7.1.204",  # Carotid Intervention
    "2.16.840.1.113762.1.4.1138.566",  # CABG or PCI Procedure
)
QUALIFYING_ENCOUNTERS = (
    "2.16.840.1.113883.3.526.3.1240",  # Annual Wellness Visit
    "2.16.840.1.113883.3.464.1003.101.12.1001",  # Office Visit
    "2.16.840.1.113883.3.464.1003.101.12.1008",  # Outpatient Consultation
    "2.16.840.1.113883.3.526.3.1576",  # Outpatient Encounters for Preventive Care
    "2.16.840.1.113883.3.464.1003.101.12.1025",  # Preventive Care Est. Office Visit 18+
    "2.16.840.1.113883.3.464.1003.101.12.1026",  # Preventive Care Individual Counseling
    "2.16.840.1.113883.3.464.1003.101.12.1023",  # Preventive Care Initial Office Visit 18+
    "2.16.840.1.113883.3.464.1003.101.11.1150",  # Preventive Care Services Other
)
TELEMEDICINE = "2.16.840.1.113762.1.4.1248.276"  # Telemedicine Services (2026)
LDL_CHOLESTEROL = "2.16.840.1.113883.3.526.3.1573"
FAMILIAL_HYPERCHOLESTEROLEMIA = "2.16.840.1.113762.1.4.1047.100"
DIABETES = "2.16.840.1.113883.3.464.1003.103.12.1001"
CVD_RISK = ((LOINC, "99055-6"), (LOINC, "79423-0"))  # 10-year risk; ACC-AHA pooled cohort
EXCLUSION_DIAGNOSES = (
    "2.16.840.1.113762.1.4.1047.73",  # Breastfeeding
    "2.16.840.1.113762.1.4.1047.102",  # Rhabdomyolysis
)
STATIN_ALLERGEN = "2.16.840.1.113762.1.4.1110.42"
HEPATITIS_OR_LIVER = (
    "2.16.840.1.113883.3.464.1003.110.12.1024",  # Hepatitis A
    "2.16.840.1.113883.3.67.1.101.1.269",  # Hepatitis B
    "2.16.840.1.113762.1.4.1047.42",  # Liver Disease
)
MUSCLE_SYMPTOMS = "2.16.840.1.113762.1.4.1108.85"  # Statin Associated Muscle Symptoms
ESRD = "2.16.840.1.113883.3.526.3.353"  # End Stage Renal Disease
MEDICAL_REASON = "2.16.840.1.113883.3.526.3.1007"
STATINS = (
    "2.16.840.1.113883.3.526.3.1574",  # Low Intensity Statin Therapy
    "2.16.840.1.113883.3.526.3.1575",  # Moderate Intensity Statin Therapy
    "2.16.840.1.113883.3.526.3.1572",  # High Intensity Statin Therapy
)

PROBLEMS = ("problem-list-item", "health-concern")
LDL_STATUSES = ("final", "amended", "corrected", "appended")
ORDER_INTENTS_2026 = ("order", "original-order", "reflex-order", "instance-order")


@dataclass(frozen=True)
class _Version:
    """What differs between the two versions' logic (docs/measures/cms347.md, "Versions")."""

    year: int
    myocardial_infarction: str
    encounters: tuple[str, ...]

    @property
    def v2026(self) -> bool:
        return self.year >= 2026


V2025 = _Version(2025, MYOCARDIAL_INFARCTION_2025, QUALIFYING_ENCOUNTERS)
V2026 = _Version(2026, MYOCARDIAL_INFARCTION_2026, (*QUALIFYING_ENCOUNTERS, TELEMEDICINE))


# --- conditions ------------------------------------------------------------------------


def _problems(v: _Version, *valuesets: str, codes: tuple[tuple[str, str], ...] = ()) -> Frame:
    """Problem-list items and health concerns with a code of ``valuesets`` (2025: the
    ``isProblemListItem() or isHealthConcern()`` filter; 2026: the QI-Core
    ConditionProblemsHealthConcerns retrieve, ``isVerified()``)."""
    if v.v2026:
        return common_2026.problem_conditions(*valuesets, codes=codes).where(
            common_2026.is_verified
        )
    return retrieve("conditions", *valuesets, codes=codes).where(
        lambda c: c.category.isin(PROBLEMS)
    )


def _starts_by_end(c: Row) -> Expr:
    """``prevalenceInterval() starts on or before day of end of "Measurement Period"``: the
    onset (a missing onset is open to the past, as in ``common.prevalence_overlaps``)."""
    return c.onset.is_null() | (c.onset.date <= q.period_end)


def _in_period(c: Row) -> Expr:
    """``prevalenceInterval() overlaps day of "Measurement Period"`` (a condition without
    abatement is ongoing only when active, recurring or relapsed: ``common``)."""
    return prevalence_overlaps(c, q.period_start, q.period_end)


# --- populations -----------------------------------------------------------------------


def _qualifying_encounters(v: _Version) -> Frame:
    """Finished encounters of the qualifying types whose period is within the period's days."""
    return (
        retrieve("encounters", *v.encounters)
        .status_in("finished")
        .where(lambda e: period_during(e.start, e.end, q.period_start, q.period_end))
    )


def _ascvd(v: _Version) -> tuple[Expr, Expr]:
    """(ASCVD for group 1, ASCVD that keeps a patient out of groups 2-4): diagnoses and
    completed procedures starting on or before the end of the period.

    The subsequent NSTEMI code (I22.2) is one of the 2026 ASCVD diagnoses; in 2025 it is a
    definition of its own ("Myocardial Infarction before End of Measurement Period") that only
    group 1 reads, so it does not keep a patient out of the other groups.
    """
    nstemi = (SUBSEQUENT_NSTEMI,) if v.v2026 else ()
    diagnoses = _problems(v, v.myocardial_infarction, *ASCVD_DIAGNOSES, codes=nstemi)
    procedures = (
        retrieve("procedures", *ASCVD_PROCEDURES)
        .status_in("completed")
        .where(lambda p: p.performed_start.date <= q.period_end)
    )
    ascvd = diagnoses.where(_starts_by_end).exists() | procedures.exists()
    if v.v2026:
        return ascvd, ascvd
    subsequent_mi = _problems(v, codes=(SUBSEQUENT_NSTEMI,)).where(_starts_by_end).exists()
    return ascvd | subsequent_mi, ascvd


def _ldl_190(v: _Version) -> Frame:
    """LDL cholesterol results >= 190 mg/dL starting on or before the end of the period
    (2026: LaboratoryResultObservation, i.e. category ``laboratory`` as in ``common_2026``)."""
    found = retrieve("observations", LDL_CHOLESTEROL)
    if v.v2026:
        found = found.where(lambda o: o.category == "laboratory")
    return found.status_in(*LDL_STATUSES).where(
        lambda o: (
            (o.value_unit == "mg/dL")
            & (o.value_num >= 190)
            & (o.effective_start.date <= q.period_end)
        )
    )


def _high_risk(v: _Version) -> Frame:
    """A 10-year cardiovascular risk >= 20% whose effective time is within the period."""
    found = retrieve("observations", codes=CVD_RISK).where(
        lambda o: (
            (o.value_unit == "%")
            & (o.value_num >= 20)
            & period_during(o.effective_start, o.effective_end, q.period_start, q.period_end)
        )
    )
    return found.status_in("final", "amended", "corrected") if v.v2026 else found


def _initial_populations(v: _Version) -> tuple[Expr, Expr, Expr, Expr, Frame]:
    encounter = _qualifying_encounters(v)
    has_encounter = encounter.exists()
    ascvd_or_mi, ascvd = _ascvd(v)
    ldl = _ldl_190(v).exists()
    hypercholesterolemia = (
        _problems(v, FAMILIAL_HYPERCHOLESTEROLEMIA).where(_starts_by_end).exists()
    )
    diabetes = _problems(v, DIABETES).where(_in_period).exists()
    age = q.patient_age_on(q.period_start)
    ip1 = ascvd_or_mi & has_encounter
    ip2 = age.between(20, 75) & (ldl | hypercholesterolemia) & ~ascvd & has_encounter
    ip3 = age.between(40, 75) & diabetes & ~ascvd & ~ldl & ~hypercholesterolemia & has_encounter
    ip4 = (
        age.between(40, 75)
        & _high_risk(v).exists()
        & ~(ascvd | hypercholesterolemia | ldl | diabetes)
        & has_encounter
    )
    return ip1, ip2, ip3, ip4, encounter


def _exclusion(v: _Version) -> Expr:
    """Breastfeeding or rhabdomyolysis in the period (2026: encounter diagnoses too)."""
    if v.v2026:
        found = common_2026.verified_conditions(*EXCLUSION_DIAGNOSES)
    else:
        found = _problems(v, *EXCLUSION_DIAGNOSES)
    return found.where(_in_period).exists()


def _allergy() -> Expr:
    """An active statin allergy whose onset overlaps the period."""
    return (
        retrieve("allergies", STATIN_ALLERGEN)
        .where(
            lambda a: (
                (a.clinical_status == "active")
                & a.onset_start.is_not_null()
                & q.overlaps(a.onset_start, a.onset_end, q.period_start, q.period_end)
            )
        )
        .exists()
    )


def _adverse_reaction(v: _Version) -> Expr:
    """An adverse event to a statin recorded (2026: occurring, else recorded) in the period."""

    def when(e: Row) -> Any:
        return e.occurred.if_null(e.recorded) if v.v2026 else e.recorded

    return (
        retrieve("adverse_events", STATIN_ALLERGEN)
        .where(lambda e: q.during(when(e), q.period_start, q.period_end))
        .exists()
    )


def _not_ordered_for_medical_reason(v: _Version, encounter: Frame) -> Expr:
    """A statin not ordered (``doNotPerform``) for a medical reason during a qualifying
    encounter (2025: completed, at the encounter's precision; 2026: active or completed, on
    its days)."""
    statuses = ("active", "completed") if v.v2026 else ("completed",)
    not_ordered = (
        retrieve("medication_requests", *STATINS)
        .where(lambda m: m.do_not_perform.if_null(False))
        .status_in(*statuses)
        .where(lambda m: m.reason_in(MEDICAL_REASON))
    )

    def during_encounter(m: Row) -> Expr:
        if v.v2026:
            return encounter.where(lambda e: q.during(m.authored, e.start, e.end)).exists()
        return encounter.where(lambda e: q.during_at(m.authored, e.start, e.end)).exists()

    return not_ordered.where(during_encounter).exists()


def _exception(v: _Version, encounter: Frame) -> Expr:
    return q.any_of(
        allergy=_allergy(),
        hospice=common_2026.has_hospice() if v.v2026 else common.has_hospice(),
        palliative=(common_2026.has_palliative_care() if v.v2026 else common.has_palliative_care()),
        hepatitis_or_liver=_problems(v, *HEPATITIS_OR_LIVER).where(_in_period).exists(),
        muscle_symptoms=_problems(v, MUSCLE_SYMPTOMS).where(_in_period).exists(),
        esrd=_problems(v, ESRD).where(_in_period).exists(),
        adverse_reaction=_adverse_reaction(v),
        medical_reason=_not_ordered_for_medical_reason(v, encounter),
    )


def _statins(v: _Version) -> Frame:
    """Statin requests that count for the numerator.

    2025: active or completed orders authored in the period, or whose first dosage's timing
    bounds overlap it. 2026: active or completed requests authored in the period with an order
    intent, or whose ``medicationRequestPeriod()`` overlaps it (any intent).
    """
    ps, pe = q.period_start, q.period_end
    requests = (
        retrieve("medication_requests", *STATINS)
        .where(lambda m: not_true(m.do_not_perform))
        .status_in("active", "completed")
    )
    if not v.v2026:
        return requests.where(
            lambda m: (
                (m.intent == "order")
                & (
                    q.during(m.authored, ps, pe)
                    | (
                        m.period_start.is_not_null()
                        & q.overlaps(m.period_start, m.period_end, ps, pe)
                    )
                )
            )
        )

    def active(m: Row) -> Expr:
        # CMD 6.0.000 medicationRequestPeriod(): null (not an open interval) without a supply
        # or a bounds end.
        start, end = common.request_period(m)
        return start.is_not_null() & end.is_not_null() & q.overlaps(start, end, ps, pe)

    return requests.where(
        lambda m: (m.intent.isin(ORDER_INTENTS_2026) & q.during(m.authored, ps, pe)) | active(m)
    )


def _build(v: _Version) -> q.Measure:
    ip1, ip2, ip3, ip4, encounter = _initial_populations(v)
    exclusion = _exclusion(v)
    exception = _exception(v, encounter)
    statins = _statins(v)
    numerator = statins.exists()
    last_statin = statins.last_by(lambda m: m.authored)
    descriptions = (
        "Clinical ASCVD (diagnosis or procedure)",
        "Aged 20-75 with LDL-C >= 190 mg/dL or familial hypercholesterolemia, without ASCVD",
        "Aged 40-75 with diabetes, without ASCVD, LDL-C >= 190 or hypercholesterolemia",
        "Aged 40-75 with a 10-year ASCVD risk >= 20%, without the reasons above",
    )
    groups = [
        q.Group(
            id=f"group-{i}",
            description=description,
            populations={
                "initial-population": ip,
                "denominator": ip,
                "denominator-exclusion": exclusion,
                "denominator-exception": exception,
                "numerator": numerator,
            },
            evidence={
                "numerator": {
                    "statin_request": last_statin.request_id,
                    "statin_authored": last_statin.authored,
                }
            },
        )
        for i, (ip, description) in enumerate(
            zip((ip1, ip2, ip3, ip4), descriptions, strict=True), start=1
        )
    ]
    return q.Measure(
        id="CMS347",
        title="Statin Therapy for the Prevention and Treatment of Cardiovascular Disease",
        groups=groups,
    )


def cms347_2025() -> q.Measure:
    """CMS347v8: the 2025 logic."""
    return _build(V2025)


def cms347_2026() -> q.Measure:
    """CMS347v9: the 2026 logic."""
    return _build(V2026)


__all__ = ["cms347_2025", "cms347_2026"]
