"""HEDIS-style SSD, SMD, SMC, SAA and APM: physical-health monitoring and antipsychotic
adherence for people with serious mental illness, and metabolic monitoring of children on
antipsychotics. See ``docs/measures/ssd.md`` ... ``apm.md``; every UNVERIFIED fact of
``measures.md`` section 2 is a parameter (defaults below)."""

from __future__ import annotations

from typing import Any

from tandem.measures import language as q
from tandem.measures.definitions.hedis_common import (
    AMI,
    BIPOLAR,
    CABG_PCI,
    CHOLESTEROL_CPT,
    DEMENTIA,
    DIABETES,
    DIABETES_MEDICATIONS,
    ENROLLMENT_PARAMETERS,
    GLUCOSE,
    GLUCOSE_HBA1C_CPT,
    HBA1C,
    HBA1C_CPT,
    IVD,
    LAI_PARAMETERS,
    LDL,
    LDL_CPT,
    SCHIZOPHRENIA,
    TOTAL_CHOLESTEROL,
    age_on,
    antipsychotic_days,
    antipsychotic_events,
    cohort_step,
    cohort_window_start,
    died_by,
    discharge_day,
    dispense_day,
    dispensings,
    encounter_has_dx,
    encounters,
    enrollment_ok,
    has_diagnosis,
    has_hospice,
    is_acute_inpatient,
    lab_done,
    lai_administrations,
    p_bool,
    p_date,
    p_float,
    p_int,
    prior_year_start,
)
from tandem.measures.language import Expr

# Parameters shared by SSD, SMD and SMC (UNVERIFIED defaults from measures.md 2.1-2.3).
ADULT_SMI_PARAMETERS: dict[str, Any] = {
    "age_min": 18,
    "age_max": 64,
    "age_anchor": None,  # null = 31 December of the measurement year (period end)
    "cohort_lookback_years": 0,  # 0 = the cohort step looks at the measurement year only
    "exclude_deceased": True,
    **ENROLLMENT_PARAMETERS,
}


def _anchor() -> Expr:
    return p_date("age_anchor").if_null(q.period_end)


def _age_ok() -> Expr:
    age = age_on(_anchor())
    return age.between(p_int("age_min"), p_int("age_max"))


def _standard_exclusions(**extra: Expr) -> Expr:
    return q.any_of(
        hospice=has_hospice(),
        deceased=p_bool("exclude_deceased") & died_by(),
        **extra,
    )


def _tests(lo: Any, hi: Any) -> dict[str, Expr]:
    return {
        "glucose_or_hba1c": lab_done(lo, hi, loinc=(GLUCOSE, HBA1C), cpt=(GLUCOSE_HBA1C_CPT,)),
        "hba1c": lab_done(lo, hi, loinc=(HBA1C,), cpt=(HBA1C_CPT,)),
        "ldl": lab_done(lo, hi, loinc=(LDL,), cpt=(LDL_CPT,)),
        "cholesterol": lab_done(
            lo, hi, loinc=(LDL, TOTAL_CHOLESTEROL), cpt=(LDL_CPT, CHOLESTEROL_CPT)
        ),
    }


def has_diabetes() -> Expr:
    """Diabetes identified by a diagnosis or a diabetes-medication dispensing in the
    measurement year or the ``diabetes_lookback_years`` before it (UNVERIFIED)."""
    lo = q.period_start.add_months(0 - p_int("diabetes_lookback_years") * 12)
    meds = dispensings(DIABETES_MEDICATIONS).where(
        lambda d: q.during(dispense_day(d), lo, q.period_end)
    )
    return has_diagnosis((DIABETES,), lo, q.period_end) | meds.exists()


def smi_cohort(*valuesets: str) -> Expr:
    return cohort_step(valuesets, cohort_window_start(), q.period_end)


def _strata() -> list[q.Stratifier]:
    return [
        q.Stratifier("sex", q.patient.sex),
        q.Stratifier("site", q.patient.site_id),
        q.Stratifier("payer", q.patient.payer),
    ]


# --- SSD ---------------------------------------------------------------------------------


def ssd() -> q.Measure:
    ps, pe = q.period_start, q.period_end
    antipsychotic = antipsychotic_events(ps, pe).exists() | lai_administrations(ps, pe).exists()
    ip = (
        _age_ok()
        & smi_cohort(SCHIZOPHRENIA, BIPOLAR)
        & antipsychotic
        & enrollment_ok(ps, pe, anchor=_anchor())
    )
    tests = _tests(ps, pe)
    return q.Measure(
        id="SSD",
        title="Diabetes Screening for People With Schizophrenia or Bipolar Disorder Who Are "
        "Using Antipsychotic Medications (HEDIS-style)",
        parameters={
            **ADULT_SMI_PARAMETERS,
            "exclude_diabetes": True,
            "diabetes_lookback_years": 1,
        },
        groups=[
            q.Group(
                id="group-1",
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": _standard_exclusions(
                        diabetes=p_bool("exclude_diabetes") & has_diabetes()
                    ),
                    "numerator": tests["glucose_or_hba1c"],
                },
            )
        ],
        strata=_strata(),
    )


# --- SMD ---------------------------------------------------------------------------------


def smd() -> q.Measure:
    ps, pe = q.period_start, q.period_end
    ip = (
        _age_ok()
        & smi_cohort(SCHIZOPHRENIA)
        & has_diabetes()
        & enrollment_ok(ps, pe, anchor=_anchor())
    )
    tests = _tests(ps, pe)
    return q.Measure(
        id="SMD",
        title="Diabetes Monitoring for People With Diabetes and Schizophrenia (HEDIS-style)",
        parameters={**ADULT_SMI_PARAMETERS, "diabetes_lookback_years": 1},
        groups=[
            q.Group(
                id="group-1",
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": _standard_exclusions(),
                    "numerator": tests["hba1c"] & tests["ldl"],
                },
                evidence={"denominator": {"hba1c": tests["hba1c"], "ldl": tests["ldl"]}},
            )
        ],
        strata=_strata(),
    )


# --- SMC ---------------------------------------------------------------------------------


def has_cardiovascular_disease() -> Expr:
    """AMI discharge or CABG/PCI in the year before the measurement year, or an IVD
    diagnosis in both the measurement year and the year before (windows UNVERIFIED:
    ``cvd_event_lookback_years``)."""
    ps, pe = q.period_start, q.period_end
    event_lo = ps.add_months(0 - p_int("cvd_event_lookback_years") * 12)
    event_hi = ps.add_days(-1)
    ami = encounters().where(
        lambda e: (
            is_acute_inpatient(e)
            & q.during(discharge_day(e), event_lo, event_hi)
            & encounter_has_dx(e, AMI)
        )
    )
    revasc = (
        q.table("procedures")
        .code_in(CABG_PCI)
        .where(lambda p: p.status.if_null("completed") == "completed")
        .where(lambda p: q.during(p.performed_start, event_lo, event_hi))
    )
    ivd_visit = encounters().where(lambda e: encounter_has_dx(e, IVD))
    ivd_this_year = ivd_visit.where(lambda e: q.during(e.start, ps, pe)).exists()
    ivd_last_year = ivd_visit.where(lambda e: q.during(e.start, prior_year_start(), event_hi))
    return q.any_of(
        ami=ami.exists(),
        cabg_pci=revasc.exists(),
        ivd=ivd_this_year & ivd_last_year.exists(),
    )


def smc() -> q.Measure:
    ps, pe = q.period_start, q.period_end
    cvd = has_cardiovascular_disease()
    ip = _age_ok() & smi_cohort(SCHIZOPHRENIA) & cvd & enrollment_ok(ps, pe, anchor=_anchor())
    tests = _tests(ps, pe)
    return q.Measure(
        id="SMC",
        title="Cardiovascular Monitoring for People With Cardiovascular Disease and "
        "Schizophrenia (HEDIS-style)",
        parameters={**ADULT_SMI_PARAMETERS, "cvd_event_lookback_years": 1},
        groups=[
            q.Group(
                id="group-1",
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": _standard_exclusions(),
                    "numerator": tests["ldl"],
                },
            )
        ],
        strata=_strata(),
    )


# --- SAA ---------------------------------------------------------------------------------


def saa_pdc() -> tuple[Expr, Expr, Expr, Expr]:
    """(IPSD, covered days, treatment-period days, PDC) for SAA.

    IPSD = earliest antipsychotic dispensing in the measurement year; treatment period =
    IPSD..period end; days covered by the union of the year's dispensings (overlaps count
    once; LAI days per injection are parameters).
    """
    ps, pe = q.period_start, q.period_end
    events = antipsychotic_events(ps, pe)
    ipsd = events.min(dispense_day)
    covered = events.covered_days(
        dispense_day,
        lambda d: dispense_day(d).add_days(antipsychotic_days(d) - 1),
        within=(ipsd, pe),
    )
    period_days = ipsd.days_until(pe) + 1
    return ipsd, covered, period_days, covered / period_days


def saa() -> q.Measure:
    ps, pe = q.period_start, q.period_end
    ipsd, covered, period_days, pdc = saa_pdc()
    events = antipsychotic_events(ps, pe).count()
    ip = (
        age_on(_anchor()).between(p_int("age_min"), p_int("age_max"))
        & smi_cohort(SCHIZOPHRENIA)
        & (events >= p_int("min_dispensings"))
        & enrollment_ok(ps, pe, anchor=_anchor())
    )
    dementia = has_diagnosis((DEMENTIA,), ps, pe)
    return q.Measure(
        id="SAA",
        title="Adherence to Antipsychotic Medications for Individuals With Schizophrenia "
        "(HEDIS-style)",
        parameters={
            **ADULT_SMI_PARAMETERS,
            "age_max": 150,  # 18+ (older versions 19-64)
            "min_dispensings": 2,
            "pdc_threshold": 0.8,
            "exclude_dementia": True,
            **LAI_PARAMETERS,
        },
        groups=[
            q.Group(
                id="group-1",
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": _standard_exclusions(
                        dementia=p_bool("exclude_dementia") & dementia
                    ),
                    "numerator": pdc >= p_float("pdc_threshold"),
                },
                evidence={
                    "denominator": {
                        "ipsd": ipsd,
                        "dispensing_events": events,
                        "covered_days": covered,
                        "treatment_days": period_days,
                        "pdc": pdc,
                    }
                },
            )
        ],
        strata=_strata(),
    )


# --- APM ---------------------------------------------------------------------------------


def apm() -> q.Measure:
    ps, pe = q.period_start, q.period_end
    events = antipsychotic_events(ps, pe).count()
    anchor = _anchor()
    age = age_on(anchor)
    ip = (
        age.between(p_int("age_min"), p_int("age_max"))
        & (events >= p_int("min_dispensings"))
        & enrollment_ok(ps, pe, anchor=anchor)
    )
    tests = _tests(ps, pe)
    exclusion = _standard_exclusions()
    rates = {
        "glucose": tests["glucose_or_hba1c"],
        "cholesterol": tests["cholesterol"],
        "both": tests["glucose_or_hba1c"] & tests["cholesterol"],
    }
    descriptions = {
        "glucose": "Blood glucose or HbA1c test",
        "cholesterol": "LDL-C or cholesterol test",
        "both": "Both a glucose/HbA1c and an LDL-C/cholesterol test",
    }
    return q.Measure(
        id="APM",
        title="Metabolic Monitoring for Children and Adolescents on Antipsychotics (HEDIS-style)",
        parameters={
            "age_min": 1,
            "age_max": 17,
            "age_anchor": None,
            "min_dispensings": 2,
            "exclude_deceased": True,
            **ENROLLMENT_PARAMETERS,
        },
        groups=[
            q.Group(
                id=key,
                description=descriptions[key],
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": exclusion,
                    "numerator": numer,
                },
            )
            for key, numer in rates.items()
        ],
        strata=[
            q.Stratifier("age", q.age_band(age, [(1, 11), (12, 17)])),
            *_strata(),
        ],
    )


__all__ = ["apm", "has_cardiovascular_disease", "has_diabetes", "saa", "smc", "smd", "ssd"]
