"""Building blocks of the HEDIS-style measures (SSD, SMD, SMC, SAA, APM, FUH, FUM, AMM, DMS, DRR).

The NCQA specifications are licensed and were not seen: these measures follow the public
descriptions summarised in ``/work/shared/docs/measures.md`` section 2 ("HEDIS-style"). Every
fact marked UNVERIFIED there is a measure parameter (``q.param``) with the default from that
page, so a licensed user can align the logic without editing code. Value sets are Tandem's own
code lists (``tandem:<key>``); a licensed user can load the NCQA lists under the same keys.

Conventions of the analytic tables this relies on (``tandem.measures.schema``):
- an encounter's diagnoses are ``conditions`` rows with its ``encounter_id`` (``rank`` 1 =
  principal) and ``claims`` rows with its ``encounter_id`` (``sequence`` 1 = principal);
- settings come from ``encounters.class_code`` (v3 ActCode): IMP/ACUTE acute inpatient,
  NONAC non-acute inpatient, EMER emergency department, OBSENC observation, AMB outpatient
  (office, IOP, partial hospitalisation, CMHC, ECT), VR telehealth, HH home health;
- enrollment is the ``coverage`` table (status ``active``; a null end date is open-ended);
- instrument totals are ``observations`` (the database source writes assessment totals there).
"""

from __future__ import annotations

from typing import Any

from tandem.measures import language as q
from tandem.measures.definitions.common import FINAL, any_code
from tandem.measures.language import Expr, Frame, Row

# --- value sets (Tandem code lists) -------------------------------------------------------

SCHIZOPHRENIA = "tandem:schizophrenia"  # F20, F25 (schizophrenia, schizoaffective)
BIPOLAR = "tandem:bipolar"  # F30, F31
OTHER_PSYCHOTIC = "tandem:other-psychotic-disorders"
DEPRESSION = "tandem:depression"  # major depression + dysthymia (F34.1)
MENTAL_ILLNESS = "tandem:mental-illness"  # group: SMI + depression + anxiety + other + self-harm
SELF_HARM = "tandem:intentional-self-harm"
DIABETES = "tandem:diabetes"
DIABETES_MEDICATIONS = "tandem:diabetes-medications"
AMI = "tandem:acute-myocardial-infarction"
CABG_PCI = "tandem:cabg-pci"
IVD = "tandem:ischemic-vascular-disease"
ANTIPSYCHOTICS = "tandem:antipsychotics"  # group: oral FGA + oral SGA + LAI
LAI = "tandem:antipsychotics-lai"
LAI_2WEEK = "tandem:antipsychotics-lai-2week"
LAI_3MONTH = "tandem:antipsychotics-lai-3month"
ANTIDEPRESSANTS = "tandem:antidepressants"
HBA1C = "tandem:hba1c"
GLUCOSE = "tandem:glucose"
GLUCOSE_HBA1C_CPT = "tandem:glucose-hba1c-tests"
HBA1C_CPT = "tandem:hba1c-tests"
LDL = "tandem:ldl-cholesterol"
LDL_CPT = "tandem:ldl-tests"
TOTAL_CHOLESTEROL = "tandem:total-cholesterol"
CHOLESTEROL_CPT = "tandem:cholesterol-tests"
HOSPICE = "tandem:hospice"
DEMENTIA = "tandem:dementia"
PERSONALITY_LABILE = "tandem:personality-disorder-labile"
PERVASIVE_DEVELOPMENTAL = "tandem:pervasive-developmental-disorder"
PHQ9 = "tandem:phq9-scores"  # group: PHQ-9 total 44261-6 + PHQ-9M total 89204-2
PSYCHOTHERAPY = "tandem:psychotherapy"
PSYCH_EVALUATION = "tandem:psychiatric-evaluation"
TRANSITIONAL_CARE = "tandem:transitional-care"
TELEHEALTH = "tandem:telehealth"
OFFICE_VISITS = "tandem:office-visits"
ED_VISITS = "tandem:emergency-department"
INPATIENT = "tandem:inpatient"

# --- settings -----------------------------------------------------------------------------

ENCOUNTER_PERFORMED = ("finished", "arrived", "triaged", "in-progress", "onleave")
ACUTE_INPATIENT_CLASSES = ("IMP", "ACUTE")
NONACUTE_INPATIENT_CLASSES = ("NONAC",)
ED_CLASSES = ("EMER",)
# cohort step "visit" settings: outpatient / IOP / PH / CMHC / ECT (AMB), observation, ED,
# non-acute inpatient, telehealth
COHORT_VISIT_CLASSES = ("AMB", "OBSENC", "EMER", "NONAC", "VR")
# follow-up visit settings (FUH/FUM): outpatient, IOP, PH, CMHC, ECT, telehealth, observation
FOLLOW_UP_CLASSES = ("AMB", "VR", "OBSENC", "HH")
DISPENSED = ("completed", "in-progress")
HOSPICE_DISCHARGE = ("428361000124107", "428371000124100")  # SNOMED: home / facility hospice

# Parameters every enrollment-based measure shares (UNVERIFIED values, see measures.md 2).
ENROLLMENT_PARAMETERS: dict[str, Any] = {
    "require_enrollment": True,
    "enrollment_max_gap_days": 45,
}


def p_int(name: str) -> Expr:
    return q.param(name, "int")


def p_bool(name: str) -> Expr:
    return q.param(name, "bool")


def p_float(name: str) -> Expr:
    return q.param(name, "float")


def p_date(name: str) -> Expr:
    return q.param(name, "date")


def prior_year_start() -> Expr:
    """1 January of the year before the measurement year."""
    return q.period_start.add_years(-1)


def encounters() -> Frame:
    return q.table("encounters").status_in(*ENCOUNTER_PERFORMED)


def day_of(ts: Any) -> Expr:
    return q.lit(ts).date


def discharge_day(e: Row) -> Expr:
    """The discharge (end) day of a stay; the start day when the end is missing."""
    return e.end.if_null(e.start).date


# --- diagnoses of an encounter -----------------------------------------------------------


def encounter_has_dx(e: Row, *valuesets: str, principal: bool = False) -> Expr:
    """The encounter carries a diagnosis in the value sets (condition or claim line).

    ``principal``: only rank 1 conditions (a null rank counts as principal) or claim
    sequence 1.
    """

    def cond_ok(c: Row) -> Expr:
        ok = (c.encounter_id == e.encounter_id) & any_code(c, valuesets)
        return ok & (c.rank.if_null(1) == 1) if principal else ok

    def claim_ok(c: Row) -> Expr:
        ok = (c.encounter_id == e.encounter_id) & any_code(c, valuesets)
        return ok & (c.sequence.if_null(1) == 1) if principal else ok

    conditions = q.table("conditions").where(
        lambda c: cond_ok(c) & ~c.verification_status.isin(["refuted", "entered-in-error"])
    )
    claims = q.table("claims").where(claim_ok)
    return conditions.exists() | claims.exists()


def is_acute_inpatient(e: Row) -> Expr:
    return e.class_code.isin(ACUTE_INPATIENT_CLASSES)


def is_ed(e: Row) -> Expr:
    return e.class_code.isin(ED_CLASSES) | e.code_in(ED_VISITS)


# --- the SMI cohort step -------------------------------------------------------------------


def cohort_step(valuesets: tuple[str, ...], lo: Any, hi: Any) -> Expr:
    """One acute inpatient encounter with the diagnosis (discharged in [lo, hi]), or two
    visits on different dates in the listed settings with the diagnosis (measures.md 2)."""
    enc = encounters()
    acute = enc.where(
        lambda e: (
            is_acute_inpatient(e)
            & q.during(discharge_day(e), lo, hi)
            & encounter_has_dx(e, *valuesets)
        )
    )
    visits = enc.where(
        lambda e: (
            e.class_code.isin(COHORT_VISIT_CLASSES)
            & q.during(e.start, lo, hi)
            & encounter_has_dx(e, *valuesets)
        )
    )
    return acute.exists() | (visits.count_distinct(lambda e: e.start.date) >= 2)


def cohort_window_start() -> Expr:
    """Start of the cohort look-back: the measurement year, extended by
    ``cohort_lookback_years`` prior years (0 = measurement year only; UNVERIFIED)."""
    return q.period_start.add_months(0 - p_int("cohort_lookback_years") * 12)


# --- continuous enrollment -------------------------------------------------------------------


def _coverage() -> Frame:
    return q.table("coverage").where(lambda c: c.status.if_null("active") == "active")


def covered_on(day: Any) -> Expr:
    """Some active coverage span contains ``day``."""
    d = q.lit(day)
    return (
        _coverage()
        .where(lambda c: (c.start_date <= d) & (c.end_date.is_null() | (c.end_date >= d)))
        .exists()
    )


def gap_starts(lo: Any, hi: Any) -> Expr:
    """Number of separate uncovered stretches in [lo, hi] (0 = fully covered)."""
    lo, hi = q.lit(lo), q.lit(hi)
    cov = _coverage()
    after_end = cov.where(
        lambda s: (
            s.end_date.between(lo, hi.add_days(-1))
            & ~cov.where(
                lambda t: (
                    (t.start_date <= s.end_date.add_days(1))
                    & (t.end_date.is_null() | (t.end_date >= s.end_date.add_days(1)))
                )
            ).exists()
        )
    ).count_distinct(lambda s: s.end_date)
    return q.when(covered_on(lo), 0, 1) + after_end


def enrolled_no_gap(lo: Any, hi: Any) -> Expr:
    """Covered every day of [lo, hi] (may be correlated with an outer row)."""
    return gap_starts(lo, hi) == 0


def enrolled_one_gap(lo: Any, hi: Any, max_gap_days: Any, anchor: Any = None) -> Expr:
    """Continuous enrollment in [lo, hi] with at most one gap of at most ``max_gap_days``
    days, and enrolled on ``anchor`` when given. ``lo``/``hi`` must be patient-level."""
    lo, hi = q.lit(lo), q.lit(hi)
    covered = _coverage().covered_days(
        lambda c: c.start_date, lambda c: c.end_date.if_null(hi), within=(lo, hi)
    )
    uncovered = lo.days_until(hi) + 1 - covered
    gaps = gap_starts(lo, hi)
    ok = (gaps == 0) | ((gaps == 1) & (uncovered <= q.lit(max_gap_days)))
    if anchor is not None:
        ok = ok & covered_on(anchor)
    return ok


def enrollment_ok(lo: Any, hi: Any, anchor: Any = None) -> Expr:
    """The standard HEDIS enrollment check, switchable with ``require_enrollment``."""
    return ~p_bool("require_enrollment") | enrolled_one_gap(
        lo, hi, p_int("enrollment_max_gap_days"), anchor
    )


# --- exclusions ---------------------------------------------------------------------------


def has_hospice(lo: Any = None, hi: Any = None) -> Expr:
    """Hospice services (encounter, procedure, order, claim line) or a discharge to hospice
    overlapping [lo, hi] (default: the measurement year)."""
    lo = q.period_start if lo is None else lo
    hi = q.period_end if hi is None else hi
    enc = q.table("encounters").where(
        lambda e: (
            (
                (e.code_in(HOSPICE) & q.overlaps(e.start, e.end, lo, hi))
                | (
                    e.discharge_disposition.isin(HOSPICE_DISCHARGE)
                    & q.during(discharge_day(e), lo, hi)
                )
            )
            & ~e.status.isin(["cancelled", "entered-in-error"])
        )
    )
    proc = (
        q.table("procedures")
        .code_in(HOSPICE)
        .where(
            lambda p: (
                ~p.status.isin(["not-done", "entered-in-error"])
                & q.overlaps(p.performed_start, p.performed_end, lo, hi)
            )
        )
    )
    order = (
        q.table("service_requests")
        .code_in(HOSPICE)
        .status_in("active", "completed")
        .where(lambda s: q.during(s.authored, lo, hi))
    )
    return enc.exists() | proc.exists() | order.exists()


def died_by(hi: Any = None) -> Expr:
    """Died on or before ``hi`` (default: the end of the measurement year)."""
    hi = q.period_end if hi is None else hi
    death = q.patient.death_date
    known = death.is_not_null() & (death <= q.lit(hi))
    return known | (q.patient.deceased.if_null(False) & death.is_null())


# --- medications ---------------------------------------------------------------------------


def dispensings(valueset: str) -> Frame:
    """Completed dispensings of the value set with a dispensing date."""
    return (
        q.table("medication_dispenses")
        .code_in(valueset)
        .status_in(*DISPENSED)
        .where(lambda d: dispense_day(d).is_not_null())
    )


def dispense_day(d: Row) -> Expr:
    return d.when_handed_over.date.if_null(d.when_prepared.date)


def antipsychotic_days(d: Row) -> Expr:
    """Days supply of an antipsychotic dispensing: LAIs get the parameter's days per
    injection (``lai_days_per_injection``, 2-weekly ``lai_days_2week``, 3-monthly
    ``lai_days_3month``); oral drugs their recorded days supply."""
    return q.when(
        d.code_in(LAI_2WEEK),
        p_int("lai_days_2week"),
        q.when(
            d.code_in(LAI_3MONTH),
            p_int("lai_days_3month"),
            q.when(d.code_in(LAI), p_int("lai_days_per_injection"), d.days_supply),
        ),
    )


LAI_PARAMETERS: dict[str, Any] = {
    "lai_days_per_injection": 28,
    "lai_days_2week": 14,
    "lai_days_3month": 90,
}


def antipsychotic_events(lo: Any, hi: Any) -> Frame:
    """Antipsychotic dispensings dated in [lo, hi]."""
    return dispensings(ANTIPSYCHOTICS).where(lambda d: q.during(dispense_day(d), lo, hi))


def lai_administrations(lo: Any, hi: Any) -> Frame:
    """LAI injections given in clinic (``medication_administrations``) in [lo, hi]."""
    return (
        q.table("medication_administrations")
        .code_in(LAI)
        .where(lambda a: ~a.status.isin(["not-done", "entered-in-error", "stopped"]))
        .where(lambda a: q.during(a.effective_start, lo, hi))
    )


# --- tests and results -----------------------------------------------------------------------


def lab_done(lo: Any, hi: Any, *, loinc: tuple[str, ...], cpt: tuple[str, ...] = ()) -> Expr:
    """A laboratory result (LOINC lists) or a billed test (CPT lists) dated in [lo, hi]."""
    obs = (
        q.table("observations")
        .where(lambda o: any_code(o, loinc))
        .where(lambda o: o.status.isin(list(FINAL)) | o.status.is_null())
        .where(lambda o: q.during(o.effective_start, lo, hi))
    )
    out = obs.exists()
    if cpt:
        proc = (
            q.table("procedures")
            .where(lambda p: any_code(p, cpt))
            .where(lambda p: p.status.if_null("completed") == "completed")
            .where(lambda p: q.during(p.performed_start, lo, hi))
        )
        out = out | proc.exists()
    return out


def phq9_scores() -> Frame:
    """Final PHQ-9 / PHQ-9M totals with a value."""
    return (
        q.table("observations")
        .code_in(PHQ9)
        .where(lambda o: o.status.isin(list(FINAL)) & o.value_num.is_not_null())
    )


def has_diagnosis(valuesets: tuple[str, ...], lo: Any, hi: Any) -> Expr:
    """A (not refuted) condition in the value sets whose prevalence overlaps [lo, hi]:
    problem-list entries or encounter diagnoses."""
    return (
        q.table("conditions")
        .where(lambda c: any_code(c, valuesets))
        .where(lambda c: ~c.verification_status.isin(["refuted", "entered-in-error"]))
        .where(lambda c: q.overlaps(c.onset, c.abatement, lo, hi))
        .exists()
    ) | (
        q.table("claims")
        .where(lambda c: any_code(c, valuesets))
        .where(lambda c: q.during(c.billable_start, lo, hi))
        .exists()
    )


def age_on(day: Any) -> Expr:
    return q.age(q.patient.birth_date, day)
