"""HEDIS-style AMM, DMS and DRR: antidepressant medication management, PHQ-9 monitoring
and depression remission or response. See ``docs/measures/amm.md``, ``dms.md``, ``drr.md``."""

from __future__ import annotations

from typing import Any

from tandem.measures import language as q
from tandem.measures.definitions.common import ICD10CM
from tandem.measures.definitions.hedis_common import (
    ANTIDEPRESSANTS,
    BIPOLAR,
    DEPRESSION,
    ENROLLMENT_PARAMETERS,
    OFFICE_VISITS,
    OTHER_PSYCHOTIC,
    PERSONALITY_LABILE,
    PERVASIVE_DEVELOPMENTAL,
    PSYCHOTHERAPY,
    SCHIZOPHRENIA,
    TELEHEALTH,
    age_on,
    died_by,
    dispense_day,
    dispensings,
    encounters,
    enrollment_ok,
    has_diagnosis,
    has_hospice,
    p_bool,
    p_float,
    p_int,
    phq9_scores,
)
from tandem.measures.language import Expr, Row

DYSTHYMIA = "F34.1"


def _strata(age: Expr) -> list[q.Stratifier]:
    return [
        q.Stratifier("age", q.age_band(age, [(12, 17), (18, 64), (65, None)])),
        q.Stratifier("sex", q.patient.sex),
        q.Stratifier("site", q.patient.site_id),
        q.Stratifier("payer", q.patient.payer),
    ]


# --- AMM ---------------------------------------------------------------------------------

AMM_PARAMETERS: dict[str, Any] = {
    "age_min": 18,  # as of 30 April of the measurement year
    "negative_history_days": 105,
    "dx_window_days": 60,
    "acute_window_days": 114,
    "acute_min_days": 84,
    "continuation_window_days": 231,
    "continuation_min_days": 180,
    "exclude_deceased": True,
    **ENROLLMENT_PARAMETERS,
}


def _major_depression_dx(e: Row) -> Expr:
    """The encounter carries major depression (Tandem's depression list without
    dysthymia F34.1) as any diagnosis."""

    def ok(c: Row) -> Expr:
        return (
            (c.encounter_id == e.encounter_id)
            & c.code_in(DEPRESSION)
            & ~((c.system == ICD10CM) & (c.code == DYSTHYMIA))
        )

    conditions = q.table("conditions").where(
        lambda c: ok(c) & ~c.verification_status.isin(["refuted", "entered-in-error"])
    )
    return conditions.exists() | q.table("claims").where(ok).exists()


def amm_ipsd() -> Expr:
    """Index prescription start date: the first antidepressant dispensing in the intake
    period (1 May of the prior year to 30 April of the measurement year)."""
    intake_start = q.period_start.add_months(-8)
    intake_end = q.period_start.add_months(4).add_days(-1)
    return (
        dispensings(ANTIDEPRESSANTS)
        .where(lambda d: q.during(dispense_day(d), intake_start, intake_end))
        .min(dispense_day)
    )


def amm() -> q.Measure:
    ipsd = amm_ipsd()
    april_30 = q.period_start.add_months(4).add_days(-1)
    meds = dispensings(ANTIDEPRESSANTS)
    history = meds.where(
        lambda d: q.during(
            dispense_day(d), ipsd.add_days(0 - p_int("negative_history_days")), ipsd.add_days(-1)
        )
    )
    dx_visit = encounters().where(
        lambda e: q.within_days_of(e.start, ipsd, p_int("dx_window_days")) & _major_depression_dx(e)
    )
    ip = (
        ipsd.is_not_null()
        & (age_on(april_30) >= p_int("age_min"))
        & ~history.exists()
        & dx_visit.exists()
        & enrollment_ok(
            ipsd.add_days(0 - p_int("negative_history_days")),
            ipsd.add_days(p_int("continuation_window_days")),
            anchor=ipsd,
        )
    )

    def covered(window: str) -> Expr:
        return meds.covered_days(
            dispense_day,
            lambda d: dispense_day(d).add_days(d.days_supply - 1),
            within=(ipsd, ipsd.add_days(p_int(window))),
        )

    acute, continuation = covered("acute_window_days"), covered("continuation_window_days")
    exclusion = q.any_of(hospice=has_hospice(), deceased=p_bool("exclude_deceased") & died_by())
    groups = []
    for gid, days, minimum, text in (
        ("acute", acute, "acute_min_days", "Effective acute phase treatment (84 days)"),
        (
            "continuation",
            continuation,
            "continuation_min_days",
            "Effective continuation phase treatment (180 days)",
        ),
    ):
        groups.append(
            q.Group(
                id=gid,
                description=text,
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": exclusion,
                    "numerator": days >= p_int(minimum),
                },
                evidence={"denominator": {"ipsd": ipsd, "treatment_days": days}},
            )
        )
    return q.Measure(
        id="AMM",
        title="Antidepressant Medication Management (HEDIS-style)",
        parameters=dict(AMM_PARAMETERS),
        groups=groups,
        strata=_strata(age_on(april_30))[1:],
    )


# --- exclusions shared by DMS and DRR ---------------------------------------------------------


def mental_health_exclusion(hi: Any) -> Expr:
    """Bipolar, emotionally labile personality, schizophrenia / psychotic or pervasive
    developmental disorder diagnosed on or before ``hi`` (UNVERIFIED for DMS/DRR)."""
    return has_diagnosis(
        (BIPOLAR, PERSONALITY_LABILE, SCHIZOPHRENIA, OTHER_PSYCHOTIC, PERVASIVE_DEVELOPMENTAL),
        q.date(1900, 1, 1),
        hi,
    )


DEPRESSION_EXCLUSION_PARAMETERS: dict[str, Any] = {
    "apply_mh_exclusions": True,
    "exclude_deceased": True,
}


def _depression_exclusions(lo: Any, hi: Any) -> Expr:
    return q.any_of(
        mental_health=p_bool("apply_mh_exclusions") & mental_health_exclusion(hi),
        hospice=has_hospice(lo, hi),
        deceased=p_bool("exclude_deceased") & died_by(hi),
    )


# --- DMS ---------------------------------------------------------------------------------


def outpatient_visits() -> Any:
    return encounters().where(
        lambda e: (
            e.class_code.isin(["AMB", "VR"])
            | e.code_in(OFFICE_VISITS)
            | e.code_in(PSYCHOTHERAPY)
            | e.code_in(TELEHEALTH)
        )
    )


def _dms_group(k: int) -> q.Group:
    """Assessment period ``k`` (0-based) of ``assessment_period_months`` months."""
    ps, pe = q.period_start, q.period_end
    months = p_int("assessment_period_months")
    lo = ps.add_months(months * k)
    hi = q.least(ps.add_months(months * (k + 1)).add_days(-1), pe)
    visit = outpatient_visits().where(lambda e: q.during(e.start, lo, hi))
    ip = (
        (age_on(ps) >= p_int("age_min"))
        & has_diagnosis((DEPRESSION,), lo, hi)
        & visit.exists()
        & enrollment_ok(ps, pe)
    )
    phq = phq9_scores().where(lambda o: q.during(o.effective_start, lo, hi))
    last = phq.last_by(lambda o: o.effective_start)
    return q.Group(
        id=f"period-{k + 1}",
        description=f"Assessment period {k + 1}: a PHQ-9 in the period",
        populations={
            "initial-population": ip,
            "denominator": ip,
            "denominator-exclusion": _depression_exclusions(ps, pe),
            "numerator": phq.exists(),
        },
        evidence={
            "numerator": {
                "phq9_date": last.get(lambda o: o.effective_start.date),
                "phq9_score": last.value_num,
            }
        },
    )


def dms() -> q.Measure:
    groups = [_dms_group(k) for k in range(3)]
    age = age_on(q.period_start)
    return q.Measure(
        id="DMS",
        title="Utilization of the PHQ-9 to Monitor Depression Symptoms (HEDIS-style)",
        parameters={
            "age_min": 12,
            "assessment_period_months": 4,
            **DEPRESSION_EXCLUSION_PARAMETERS,
            **ENROLLMENT_PARAMETERS,
        },
        groups=groups,
        strata=_strata(age),
    )


# --- DRR ---------------------------------------------------------------------------------


def drr() -> q.Measure:
    intake_lo = q.period_start.add_months(p_int("intake_start_offset_months"))
    intake_hi = intake_lo.add_months(p_int("intake_months")).add_days(-1)
    scores = phq9_scores()
    index = scores.where(
        lambda o: (
            (o.value_num > p_float("elevated_above"))
            & q.during(o.effective_start, intake_lo, intake_hi)
        )
    ).first_by(lambda o: o.effective_start)
    iesd = index.get(lambda o: o.effective_start.date)
    index_score = index.value_num
    fu_lo = iesd.add_days(p_int("follow_up_start_days"))
    fu_hi = iesd.add_days(p_int("follow_up_end_days"))
    follow_up = scores.where(lambda o: q.during(o.effective_start, fu_lo, fu_hi))
    last = follow_up.last_by(lambda o: o.effective_start)
    age = age_on(iesd)
    ip = (
        iesd.is_not_null()
        & (age >= p_int("age_min"))
        & has_diagnosis((DEPRESSION,), intake_lo, iesd)
        & enrollment_ok(iesd, fu_hi)
    )
    numerators = {
        "follow-up": (follow_up.exists(), "A PHQ-9 in the follow-up period"),
        "remission": (
            last.value_num < p_float("remission_below"),
            "Remission: the most recent PHQ-9 in the follow-up period is below 5",
        ),
        "response": (
            last.value_num <= index_score * p_float("response_fraction"),
            "Response: the most recent PHQ-9 is at least 50% below the index score",
        ),
    }
    evidence = {
        "iesd": iesd,
        "index_score": index_score,
        "last_date": last.get(lambda o: o.effective_start.date),
        "last_score": last.value_num,
    }
    return q.Measure(
        id="DRR",
        title="Depression Remission or Response for Adolescents and Adults (HEDIS-style)",
        parameters={
            "age_min": 12,
            "intake_start_offset_months": -8,  # UNVERIFIED: 1 May of the prior year
            "intake_months": 12,  # UNVERIFIED: to 30 April of the measurement year
            "elevated_above": 9.0,
            "follow_up_start_days": 120,
            "follow_up_end_days": 240,
            "remission_below": 5.0,
            "response_fraction": 0.5,
            **DEPRESSION_EXCLUSION_PARAMETERS,
            **ENROLLMENT_PARAMETERS,
        },
        groups=[
            q.Group(
                id=gid,
                description=text,
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": _depression_exclusions(intake_lo, fu_hi),
                    "numerator": numer,
                },
                evidence={"denominator": evidence},
            )
            for gid, (numer, text) in numerators.items()
        ],
        strata=_strata(age),
    )


__all__ = ["amm", "amm_ipsd", "dms", "drr", "mental_health_exclusion"]
