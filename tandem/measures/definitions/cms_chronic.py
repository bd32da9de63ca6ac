"""CMS165 (controlling high blood pressure), CMS122 (glycemic status > 9%) and CMS138
(tobacco screening and cessation): the 2025 versions (2024 QI-Core CQL) and the 2026 versions
(QI-Core STU 6 CQL). See ``docs/measures/``.

One builder per measure takes the shared-library definitions of its version (:class:`Libraries`:
Status, QICoreCommon, Hospice, PalliativeCare, AdvancedIllnessandFrailty...) and the few
measure-specific rules that changed are spelled out where they differ (``if lib.year >= 2026``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tandem.measures import language as q
from tandem.measures.definitions import common
from tandem.measures.definitions import common_2026 as c26
from tandem.measures.definitions.common import (
    CPT,
    ENCOUNTER_INPATIENT,
    FINAL,
    ICD10CM,
    LOINC,
    assessments_performed,
    labs_performed,
    latest,
    period_during,
    prevalence_overlaps,
    procedures_performed,
    retrieve,
)
from tandem.measures.language import Expr, Frame, Row

# --- the shared libraries of each version ----------------------------------------------------


@dataclass(frozen=True)
class Libraries:
    """The definitions of the libraries one version's CQL includes (2025: :mod:`common`, 2026:
    :mod:`common_2026`), so one builder serves both versions of a measure."""

    year: int
    # Status.isEncounterPerformed over [Encounter: value sets] union the direct codes
    encounters: Callable[..., Frame]
    # [Condition: value sets]; 2026: the problem-list/health-concern and encounter-diagnosis
    # profiles (``categories`` narrows to some of them) and ``verified=True`` for .verified()
    conditions: Callable[..., Frame]
    medications_active: Callable[..., Frame]
    medications_ordered: Callable[..., Frame]
    request_period: Callable[[Row], tuple[Expr, Expr]]
    adult_outpatient_encounters: Callable[[], Frame]
    has_hospice: Callable[[], Expr]
    has_palliative_care: Callable[[], Expr]
    advanced_illness_66_80_or_frailty_81: Callable[[], Expr]
    advanced_illness_and_frailty_66: Callable[[], Expr]
    nursing_home_66: Callable[[], Expr]


def _conditions_2025(
    *valuesets: str,
    codes: Iterable[tuple[str, str]] = (),
    categories: Iterable[str] | None = None,
    verified: bool = False,
) -> Frame:
    """QI-Core 4.1.1 ``[Condition: ...]``: any category, any verification status (the 2025
    logic has neither profiles per category nor ``verified()``; callers test ``category``
    themselves where the 2025 CQL does, e.g. ``isProblemListItem()``)."""
    return retrieve("conditions", *valuesets, codes=codes)


def _conditions_2026(
    *valuesets: str,
    codes: Iterable[tuple[str, str]] = (),
    categories: Iterable[str] | None = None,
    verified: bool = False,
) -> Frame:
    """``[ConditionProblemsHealthConcerns: X] union [ConditionEncounterDiagnosis: X]`` (every
    condition with the code: :func:`common_2026.conditions`), or only the profiles whose
    category is in ``categories``; ``verified``: ``.verified()``."""
    if categories is None:
        found = c26.conditions(*valuesets, codes=codes)
    else:
        cats = tuple(categories)
        found = retrieve("conditions", *valuesets, codes=codes).where(
            lambda c: c.category.isin(cats)
        )
    return found.where(c26.is_verified) if verified else found


LIBRARIES_2025 = Libraries(
    year=2025,
    encounters=common.encounters_performed,
    conditions=_conditions_2025,
    medications_active=common.medications_active,
    medications_ordered=common.medications_ordered,
    request_period=common.request_period,
    adult_outpatient_encounters=common.adult_outpatient_encounters,
    has_hospice=common.has_hospice,
    has_palliative_care=common.has_palliative_care,
    advanced_illness_66_80_or_frailty_81=common.advanced_illness_66_80_or_frailty_81,
    advanced_illness_and_frailty_66=common.advanced_illness_and_frailty_66,
    nursing_home_66=common.nursing_home_66,
)

# A request whose medication is a reference matches on the referenced Medication's code in
# both (the FHIR loader resolves it): the 2026 logic reads it that way.
LIBRARIES_2026 = Libraries(
    year=2026,
    encounters=c26.encounters_performed,
    conditions=_conditions_2026,
    medications_active=c26.medications_active,
    medications_ordered=c26.medications_ordered,
    request_period=c26.request_period,
    adult_outpatient_encounters=c26.adult_outpatient_encounters,
    has_hospice=c26.has_hospice,
    has_palliative_care=c26.has_palliative_care,
    advanced_illness_66_80_or_frailty_81=c26.advanced_illness_66_80_or_frailty_81,
    advanced_illness_and_frailty_66=c26.advanced_illness_and_frailty_66,
    nursing_home_66=c26.nursing_home_66,
)


# --- CMS165 ------------------------------------------------------------------------------

ESSENTIAL_HYPERTENSION = "2.16.840.1.113883.3.464.1003.104.12.1011"
PREGNANCY_OR_RENAL = (
    "2.16.840.1.113883.3.526.3.378",  # Pregnancy
    "2.16.840.1.113883.3.526.3.353",  # End Stage Renal Disease
    "2.16.840.1.113883.3.464.1003.109.12.1029",  # Kidney Transplant Recipient
    "2.16.840.1.113883.3.526.3.1002",  # Chronic Kidney Disease, Stage 5
)
ESRD_PROCEDURES = (
    "2.16.840.1.113883.3.464.1003.109.12.1012",  # Kidney Transplant
    "2.16.840.1.113883.3.464.1003.109.12.1013",  # Dialysis Services
)
ESRD_MONTHLY = "2.16.840.1.113883.3.464.1003.109.12.1014"
ED_VISIT = "2.16.840.1.113883.3.464.1003.101.12.1010"  # Emergency Department E&M Visit
BP_PANEL, SYSTOLIC, DIASTOLIC = "85354-9", "8480-6", "8462-4"
INPATIENT_CLASSES = ("EMER", "IMP", "ACUTE", "NONAC", "PRENC", "SS")


def _blood_pressure_readings(lib: Libraries) -> Frame:
    """Qualifying blood pressure readings (panel and component rows) in the period.

    2025: the reading's own encounter is not of an inpatient class. 2026 adds (``union``):
    or its latest time is not during day of a performed Encounter Inpatient or ED visit.
    """
    ps, pe = q.period_start, q.period_end
    encounters = q.table("encounters")
    readings = (
        q.table("observations")
        .where(lambda o: (o.system == LOINC) & o.status.isin(list(FINAL)))
        # every reading below is one of these three codes: keep only them before the
        # encounter tests (the same result, over a fraction of the observations)
        .where(lambda o: o.code.isin([BP_PANEL, SYSTOLIC, DIASTOLIC]))
        .where(lambda o: q.during(latest(o), ps, pe))
    )

    def own_encounter_not_inpatient(o: Row) -> Expr:
        return ~encounters.where(
            lambda e: (e.encounter_id == o.encounter_id) & e.class_code.isin(INPATIENT_CLASSES)
        ).exists()

    if lib.year < 2026:
        return readings.where(own_encounter_not_inpatient)
    stays = lib.encounters(ENCOUNTER_INPATIENT, ED_VISIT)

    def not_during_a_stay(o: Row) -> Expr:
        day = latest(o).date
        return ~stays.where(
            lambda e: (day >= e.start.date) & (e.end.is_null() | (day <= e.end.date))
        ).exists()

    return readings.where(lambda o: own_encounter_not_inpatient(o) | not_during_a_stay(o))


def _cms165(lib: Libraries) -> q.Measure:
    ps, pe = q.period_start, q.period_end
    age = q.patient_age_on(pe)
    hypertension = lib.conditions(ESSENTIAL_HYPERTENSION, verified=True).where(
        lambda c: prevalence_overlaps(c, ps, ps.add_months(6).add_days(-1))
    )
    ip = age.between(18, 85) & hypertension.exists() & lib.adult_outpatient_encounters().exists()

    readings = _blood_pressure_readings(lib)
    panels = readings.where(lambda o: (o.code == BP_PANEL) & o.panel_code.is_null())
    last_day = panels.max(lambda o: latest(o).date)

    def lowest(component: str) -> Expr:
        return readings.where(
            lambda o: (
                (o.code == component) & (o.panel_code == BP_PANEL) & (latest(o).date == last_day)
            )
        ).min(lambda o: o.value_num)

    systolic, diastolic = lowest(SYSTOLIC), lowest(DIASTOLIC)
    renal = lib.conditions(*PREGNANCY_OR_RENAL, verified=True).where(
        lambda c: prevalence_overlaps(c, ps, pe)
    )
    esrd_procedure = procedures_performed(*ESRD_PROCEDURES).where(
        lambda p: p.performed_end.if_null(p.performed_start).date <= pe
    )
    esrd_encounter = lib.encounters(ESRD_MONTHLY).where(lambda e: e.start.date <= pe)
    exclusion = q.any_of(
        hospice=lib.has_hospice(),
        pregnancy_or_renal=renal.exists(),
        esrd_procedure=esrd_procedure.exists(),
        esrd_encounter=esrd_encounter.exists(),
        frailty=lib.advanced_illness_66_80_or_frailty_81(),
        nursing_home=lib.nursing_home_66(),
        palliative=lib.has_palliative_care(),
    )
    return q.Measure(
        id="CMS165",
        title="Controlling High Blood Pressure",
        groups=[
            q.Group(
                id="group-1",
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": exclusion,
                    "numerator": (systolic < 140) & (diastolic < 90),
                },
                evidence={
                    "numerator": {"bp_date": last_day, "systolic": systolic, "diastolic": diastolic}
                },
            )
        ],
    )


def cms165() -> q.Measure:
    """CMS165v13 (2025): ``ControllingHighBloodPressureFHIR`` 0.1.000."""
    return _cms165(LIBRARIES_2025)


def cms165_2026() -> q.Measure:
    """CMS165v14 (2026): ``CMS165FHIRControllingHighBP`` 1.0.000."""
    return _cms165(LIBRARIES_2026)


# --- CMS122 ------------------------------------------------------------------------------

DIABETES = "2.16.840.1.113883.3.464.1003.103.12.1001"
HBA1C = "2.16.840.1.113883.3.464.1003.198.12.1013"
GMI = (LOINC, "97506-0")
NUTRITION_SERVICES = "2.16.840.1.113883.3.464.1003.1006"
HCPCS_CQL = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"  # as the 2026 CQL names it
CMS122_ENCOUNTERS_2026 = (
    "2.16.840.1.113883.3.464.1003.101.12.1001",  # Office Visit
    "2.16.840.1.113883.3.526.3.1240",  # Annual Wellness Visit
    "2.16.840.1.113883.3.464.1003.101.12.1025",  # Preventive Care Est. Office Visit 18+
    "2.16.840.1.113883.3.464.1003.101.12.1023",  # Preventive Care Initial Office Visit 18+
    "2.16.840.1.113883.3.464.1003.101.12.1016",  # Home Healthcare Services
    NUTRITION_SERVICES,
    "2.16.840.1.113883.3.464.1003.101.12.1080",  # Telephone Visits
)
MEDICAL_NUTRITION_THERAPY = (
    (CPT, "97802"),  # initial assessment and intervention, individual
    (CPT, "97803"),  # re-assessment and intervention, individual
    (CPT, "97804"),  # group
    (HCPCS_CQL, "G0270"),  # reassessment after a second referral, individual
    (HCPCS_CQL, "G0271"),  # reassessment after a second referral, group
)


def _is_quantity(o: Row) -> Expr:
    """``value as Quantity`` is not null: a numeric value whose FHIR type is Quantity (a
    table without ``value_type`` - null - is taken at its ``value_num``)."""
    return o.value_num.is_not_null() & (o.value_type.is_null() | (o.value_type == "Quantity"))


def _has_no_value(o: Row) -> Expr:
    return (
        o.value_num.is_null()
        & o.value_code.is_null()
        & o.value_bool.is_null()
        & o.value_type.is_null()
    )


def _cms122(lib: Libraries) -> q.Measure:
    ps, pe = q.period_start, q.period_end
    age = q.patient_age_on(pe)
    if lib.year < 2026:
        encounters = lib.adult_outpatient_encounters()
        diabetes = lib.conditions(DIABETES)
    else:
        # the measure's own qualifying encounters (nutrition services and medical nutrition
        # therapy count; virtual encounters no longer do) and encounter diagnoses only
        encounters = lib.encounters(*CMS122_ENCOUNTERS_2026, codes=MEDICAL_NUTRITION_THERAPY).where(
            lambda e: period_during(e.start, e.end, ps, pe)
        )
        diabetes = lib.conditions(DIABETES, categories=("encounter-diagnosis",), verified=True)
    diabetes = diabetes.where(lambda c: prevalence_overlaps(c, ps, pe))
    ip = age.between(18, 75) & encounters.exists() & diabetes.exists()
    tests = labs_performed(HBA1C, codes=[GMI]).where(lambda o: q.during(latest(o), ps, pe))
    last_day = tests.max(lambda o: latest(o).date)
    on_last_day = tests.where(lambda o: latest(o).date == last_day)
    # CQL sorts the day's readings by "value as Quantity" with nulls first, so a reading
    # that is not a Quantity on that day is the one picked: "without result" when it has no
    # value at all, and never "elevated".
    not_quantity = on_last_day.where(lambda o: ~_is_quantity(o))
    without_result = not_quantity.where(_has_no_value).exists()
    lowest = q.when(not_quantity.exists(), q.null("float"), on_last_day.min(lambda o: o.value_num))
    exclusion = q.any_of(
        hospice=lib.has_hospice(),
        nursing_home=lib.nursing_home_66(),
        frailty=lib.advanced_illness_and_frailty_66(),
        palliative=lib.has_palliative_care(),
    )
    numerator = q.any_of(no_test=~tests.exists(), without_result=without_result, above_9=lowest > 9)
    return q.Measure(
        id="CMS122",
        title="Diabetes: Glycemic Status Assessment Greater Than 9%",
        groups=[
            q.Group(
                id="group-1",
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": exclusion,
                    "numerator": numerator,
                },
                evidence={"numerator": {"test_date": last_day, "lowest_value": lowest}},
            )
        ],
    )


def cms122() -> q.Measure:
    """CMS122v13 (2025): ``DiabetesGlycemicStatusAssessmentGreaterThan9PercentFHIR`` 0.1.002."""
    return _cms122(LIBRARIES_2025)


def cms122_2026() -> q.Measure:
    """CMS122v14 (2026): ``CMS122FHIRDiabetesAssessGT9Pct`` 1.0.000."""
    return _cms122(LIBRARIES_2026)


# --- CMS138 ------------------------------------------------------------------------------

QUALIFYING_VISITS = (
    "2.16.840.1.113883.3.464.1003.101.12.1016",  # Home Healthcare Services
    "2.16.840.1.113883.3.526.3.1011",  # Occupational Therapy Evaluation
    "2.16.840.1.113883.3.464.1003.101.12.1001",  # Office Visit
    "2.16.840.1.113883.3.526.3.1285",  # Ophthalmological Services
    "2.16.840.1.113883.3.526.3.1022",  # Physical Therapy Evaluation
    "2.16.840.1.113883.3.526.3.1492",  # Psych Visit Diagnostic Evaluation
    "2.16.840.1.113883.3.526.3.1496",  # Psych Visit Psychotherapy
    "2.16.840.1.113883.3.526.3.1141",  # Psychoanalysis
    "2.16.840.1.113883.3.526.3.1530",  # Speech and Hearing Evaluation
    "2.16.840.1.113883.3.464.1003.101.12.1080",  # Telephone Visits
    "2.16.840.1.113883.3.464.1003.101.12.1089",  # Virtual Encounter
)
QUALIFYING_CODES = ((CPT, "96158"), (CPT, "96156"))
PREVENTIVE_VISITS = (
    "2.16.840.1.113883.3.526.3.1240",  # Annual Wellness Visit
    "2.16.840.1.113883.3.464.1003.101.12.1025",  # Preventive Care Est. Office Visit 18+
    "2.16.840.1.113883.3.464.1003.101.12.1023",  # Preventive Care Initial Office Visit 18+
    "2.16.840.1.113883.3.464.1003.101.12.1024",  # Preventive Care Est. Office Visit 0-17
    "2.16.840.1.113883.3.464.1003.101.12.1022",  # Preventive Care Initial Office Visit 0-17
    "2.16.840.1.113883.3.464.1003.101.12.1027",  # Preventive Care Group Counseling
    "2.16.840.1.113883.3.464.1003.101.12.1026",  # Preventive Care Individual Counseling
    NUTRITION_SERVICES,
)
PREVENTIVE_CODES = ((CPT, "99429"), (CPT, "99024"))
TOBACCO_SCREENING = "2.16.840.1.113883.3.526.3.1278"
# US Core 6.1 Smoking Status profile: Observation.code from US Core Smoking Status
# Observation Codes, which holds this one code.
SMOKING_STATUS = (LOINC, "72166-2")
TOBACCO_USER = "2.16.840.1.113883.3.526.3.1170"
TOBACCO_NON_USER = "2.16.840.1.113883.3.526.3.1189"
CESSATION_COUNSELING = "2.16.840.1.113883.3.526.3.509"
CESSATION_PHARMACOTHERAPY = "2.16.840.1.113883.3.526.3.1190"
TOBACCO_COUNSELING_DX = (ICD10CM, "Z71.6")
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"


def _tobacco_screenings(lib: Libraries) -> Frame:
    """2025: Tobacco Use Screening assessments (final/amended/corrected, survey). 2026: US Core
    Smoking Status observations, status final."""
    if lib.year < 2026:
        return assessments_performed(TOBACCO_SCREENING)
    return retrieve("observations", codes=[SMOKING_STATUS]).status_in("final")


def _not_rejected(m: Row) -> Expr:
    """No ``TaskRejected`` (status rejected, code fulfill) has the request as its focus."""
    return (
        ~q.table("tasks")
        .where(
            lambda t: (
                (t.focus_id == m.request_id)
                & (t.status == "rejected")
                & (t.system == TASK_CODE)
                & (t.code == "fulfill")
            )
        )
        .exists()
    )


def _cms138(lib: Libraries) -> q.Measure:
    ps, pe = q.period_start, q.period_end
    lookback = ps.add_months(-6)

    def in_period(e: Row) -> Expr:
        return period_during(e.start, e.end, ps, pe)

    visits = lib.encounters(*QUALIFYING_VISITS, codes=QUALIFYING_CODES).where(in_period)
    preventive = lib.encounters(*PREVENTIVE_VISITS, codes=PREVENTIVE_CODES).where(in_period)
    ip = (q.patient_age_on(ps) >= 12) & ((visits.count() >= 2) | preventive.exists())

    last_screen = (
        _tobacco_screenings(lib)
        .where(lambda o: period_during(o.effective_start, latest(o), ps, pe))
        .last_by(lambda o: o.effective_start)
    )
    user = last_screen.get(lambda o: o.value_in(TOBACCO_USER))
    non_user = last_screen.get(lambda o: o.value_in(TOBACCO_NON_USER))
    is_user, is_non_user = user.if_null(False), non_user.if_null(False)

    counseling = procedures_performed(CESSATION_COUNSELING).where(
        lambda p: period_during(
            p.performed_start, p.performed_end.if_null(p.performed_start), lookback, pe
        )
    )
    counseling_dx = lib.conditions(codes=[TOBACCO_COUNSELING_DX], verified=True).where(
        lambda c: q.during(c.onset, lookback, pe)
    )
    ordered = lib.medications_ordered(CESSATION_PHARMACOTHERAPY).where(
        lambda m: q.during(m.authored, lookback, pe)
    )
    if lib.year >= 2026:
        ordered = ordered.where(_not_rejected)

    def active_in_window(m: Row) -> Expr:
        start, end = lib.request_period(m)
        return period_during(start, end, lookback, pe)

    active = lib.medications_active(CESSATION_PHARMACOTHERAPY).where(active_in_window)
    intervention = q.any_of(
        counseling=counseling.exists() | counseling_dx.exists(),
        pharmacotherapy_ordered=ordered.exists(),
        pharmacotherapy_active=active.exists(),
    )
    exclusion = lib.has_hospice()

    def group(gid: str, denominator: Expr, numerator: Expr, description: str) -> q.Group:
        return q.Group(
            id=gid,
            description=description,
            populations={
                "initial-population": ip,
                "denominator": denominator,
                "denominator-exclusion": exclusion,
                "numerator": numerator,
            },
            evidence={"numerator": {"screening": last_screen.observation_id}},
        )

    return q.Measure(
        id="CMS138",
        title="Preventive Care and Screening: Tobacco Use: Screening and Cessation Intervention",
        groups=[
            group("group-1", ip, is_user | is_non_user, "Screened for tobacco use"),
            group("group-2", ip & is_user, intervention, "Tobacco users given an intervention"),
            group(
                "group-3",
                ip,
                is_non_user | (is_user & intervention),
                "Screened, and given an intervention if a user",
            ),
        ],
    )


def cms138() -> q.Measure:
    """CMS138v13 (2025): ``PreventiveCareAndTobaccoUseScreeningAndCessationInterventionFHIR``
    0.0.001."""
    return _cms138(LIBRARIES_2025)


def cms138_2026() -> q.Measure:
    """CMS138v14 (2026): ``CMS138FHIRTobaccoScrnCessation`` 1.0.000."""
    return _cms138(LIBRARIES_2026)


__all__ = [
    "LIBRARIES_2025",
    "LIBRARIES_2026",
    "Libraries",
    "cms122",
    "cms122_2026",
    "cms138",
    "cms138_2026",
    "cms165",
    "cms165_2026",
]
