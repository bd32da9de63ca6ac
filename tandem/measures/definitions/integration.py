"""Tandem integration measures: primary-care engagement of people with SMI (F2), metabolic
monitoring of antipsychotic users (F23), blood-pressure control for SMI with hypertension, and
utilisation before and after each site's integration go-live (F33).

These are Tandem's own definitions (no external specification); see ``docs/measures/
tandem-pceng.md``, ``tandem-metab.md``, ``tandem-bpsmi.md`` and ``tandem-util.md``. They do
not require insurance enrollment: Tandem serves clinics whose patients may be uninsured.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from tandem.measures import language as q
from tandem.measures.definitions.common import FINAL, LOINC
from tandem.measures.definitions.hedis_common import (
    ACUTE_INPATIENT_CLASSES,
    ANTIPSYCHOTICS,
    CHOLESTEROL_CPT,
    ED_CLASSES,
    GLUCOSE,
    GLUCOSE_HBA1C_CPT,
    HBA1C,
    LDL,
    LDL_CPT,
    MENTAL_ILLNESS,
    OFFICE_VISITS,
    TOTAL_CHOLESTEROL,
    age_on,
    antipsychotic_events,
    died_by,
    encounter_has_dx,
    encounters,
    has_diagnosis,
    has_hospice,
    is_ed,
    lab_done,
    lai_administrations,
    p_bool,
    p_date,
    p_float,
    p_int,
)
from tandem.measures.language import Expr, Frame

SMI = "tandem:smi-diagnoses"
HYPERTENSION = "tandem:hypertension"
BODY_MEASURES = ("39156-5", "29463-7")  # BMI, body weight
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"


def smi_cohort(hi: Any = None) -> Expr:
    """Tandem's SMI cohort: an SMI diagnosis (problem list, encounter or claim; F20-F29,
    F30-F31, F32.3, F33.3) whose prevalence overlaps the ``smi_lookback_months`` to ``hi``."""
    hi = q.period_end if hi is None else hi
    lo = q.lit(hi).add_months(0 - p_int("smi_lookback_months")).add_days(1)
    return has_diagnosis((SMI,), lo, hi)


def _pcp_member(hi: Any) -> Frame:
    return q.table("care_team").where(
        lambda m: (
            (m.role == "pcp")
            & (m.start_date.is_null() | (m.start_date <= hi))
            & (m.end_date.is_null() | (m.end_date >= hi))
        )
    )


def _demographic_strata(age: Expr, bands: list[tuple[int, int | None]]) -> list[q.Stratifier]:
    return [
        q.Stratifier("site", q.patient.site_id),
        q.Stratifier("payer", q.patient.payer),
        q.Stratifier("sex", q.patient.sex),
        q.Stratifier("race", q.patient.race),
        q.Stratifier("age", q.age_band(age, bands)),
    ]


ADULT_BANDS: list[tuple[int, int | None]] = [(18, 34), (35, 49), (50, 64), (65, None)]


# --- TANDEM-PCENG -------------------------------------------------------------------------


def primary_care_visits(lo: Any, hi: Any) -> Frame:
    """Primary-care visits in [lo, hi]: a ``pc`` setting, or an office-visit code at an
    encounter without a setting (an office E/M code in a ``bh`` setting is a psychiatric
    visit and does not count)."""
    return encounters().where(
        lambda e: (
            ((e.setting == "pc") | (e.setting.is_null() & e.code_in(OFFICE_VISITS)))
            & q.during(e.start, lo, hi)
        )
    )


def tandem_pceng() -> q.Measure:
    pe = q.period_end
    lo = pe.add_months(0 - p_int("lookback_months")).add_days(1)
    age = age_on(pe)
    member = _pcp_member(pe)
    pcp = q.patient.pcp_id.if_null(member.last_by(lambda m: m.start_date).practitioner_id)
    assigned = q.patient.pcp_id.is_not_null() | member.exists()
    visits = primary_care_visits(lo, pe)
    visit = visits.exists()
    ip = smi_cohort() & (age >= p_int("age_min")) & ~died_by(pe)
    evidence = {"pcp_id": pcp, "last_pc_visit": visits.max(lambda e: e.start.date)}
    groups = []
    for gid, numer, text in (
        ("engaged", assigned & visit, "PCP assigned and a primary-care visit in 12 months"),
        ("pcp-assigned", assigned, "PCP assigned (patients.pcp_id or an active care-team PCP)"),
        ("pc-visit", visit, "A primary-care visit in the 12 months to the period end"),
    ):
        groups.append(
            q.Group(
                id=gid,
                description=text,
                populations={"initial-population": ip, "denominator": ip, "numerator": numer},
                evidence={"denominator": evidence},
            )
        )
    return q.Measure(
        id="TANDEM-PCENG",
        title="Primary-care engagement of people with serious mental illness",
        parameters={"smi_lookback_months": 24, "lookback_months": 12, "age_min": 18},
        groups=groups,
        strata=[
            *_demographic_strata(age, ADULT_BANDS),
            q.Stratifier("team", pcp),
        ],
    )


# --- TANDEM-METAB -------------------------------------------------------------------------


def antipsychotic_use(lo: Any, hi: Any) -> Expr:
    """An antipsychotic dispensed, injected or ordered in [lo, hi]."""
    orders = (
        q.table("medication_requests")
        .code_in(ANTIPSYCHOTICS)
        .status_in("active", "completed")
        .where(lambda m: (m.intent == "order") & q.during(m.authored, lo, hi))
    )
    injected = lai_administrations(lo, hi).exists()
    return antipsychotic_events(lo, hi).exists() | injected | orders.exists()


def _observed(codes: tuple[str, ...], lo: Any, hi: Any) -> Expr:
    return (
        q.table("observations")
        .where(lambda o: (o.system == LOINC) & o.code.isin(codes))
        .where(lambda o: o.status.isin(list(FINAL)) | o.status.is_null())
        .where(lambda o: q.during(o.effective_start, lo, hi))
        .exists()
    )


def tandem_metab() -> q.Measure:
    ps, pe = q.period_start, q.period_end
    age = age_on(pe)
    ip = antipsychotic_use(ps, pe) & (age >= p_int("age_min"))
    glucose = lab_done(ps, pe, loinc=(GLUCOSE, HBA1C), cpt=(GLUCOSE_HBA1C_CPT,))
    lipids = lab_done(ps, pe, loinc=(LDL, TOTAL_CHOLESTEROL), cpt=(LDL_CPT, CHOLESTEROL_CPT))
    rates = {
        "glucose": (glucose, "Glucose or HbA1c test"),
        "lipids": (lipids, "LDL-C or cholesterol test"),
        "both": (glucose & lipids, "Both a glucose/HbA1c and a lipid test"),
        "bmi": (_observed(BODY_MEASURES, ps, pe), "BMI or weight recorded"),
        "bp": (_observed((SYSTOLIC, "85354-9"), ps, pe), "Blood pressure recorded"),
    }
    exclusion = q.any_of(hospice=has_hospice(), deceased=died_by())
    return q.Measure(
        id="TANDEM-METAB",
        title="Metabolic monitoring of people using antipsychotics",
        parameters={"age_min": 0},
        groups=[
            q.Group(
                id=gid,
                description=text,
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": exclusion,
                    "numerator": numer,
                },
            )
            for gid, (numer, text) in rates.items()
        ],
        strata=_demographic_strata(age, [(0, 17), (18, 64), (65, None)]),
    )


# --- TANDEM-BPSMI -------------------------------------------------------------------------


def tandem_bpsmi() -> q.Measure:
    ps, pe = q.period_start, q.period_end
    age = age_on(pe)
    acute = encounters().where(lambda e: e.class_code.isin(ACUTE_INPATIENT_CLASSES + ED_CLASSES))
    readings = (
        q.table("observations")
        .where(lambda o: (o.system == LOINC) & o.code.isin([SYSTOLIC, DIASTOLIC]))
        .where(lambda o: o.status.isin(list(FINAL)) & o.value_num.is_not_null())
        .where(lambda o: q.during(o.effective_start, ps, pe))
        .where(lambda o: ~acute.where(lambda e: e.encounter_id == o.encounter_id).exists())
    )
    last_day = readings.where(lambda o: o.code == SYSTOLIC).max(lambda o: o.effective_start.date)

    def lowest(code: str) -> Expr:
        return readings.where(
            lambda o: (o.code == code) & (o.effective_start.date == last_day)
        ).min(lambda o: o.value_num)

    systolic, diastolic = lowest(SYSTOLIC), lowest(DIASTOLIC)
    ip = (
        smi_cohort()
        & has_diagnosis((HYPERTENSION,), ps, pe)
        & age.between(p_int("age_min"), p_int("age_max"))
    )
    return q.Measure(
        id="TANDEM-BPSMI",
        title="Blood pressure control (<140/90) for people with SMI and hypertension",
        parameters={
            "smi_lookback_months": 24,
            "age_min": 18,
            "age_max": 85,
            "systolic_below": 140.0,
            "diastolic_below": 90.0,
        },
        groups=[
            q.Group(
                id="group-1",
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": q.any_of(hospice=has_hospice(), deceased=died_by()),
                    "numerator": (systolic < p_float("systolic_below"))
                    & (diastolic < p_float("diastolic_below")),
                },
                evidence={
                    "denominator": {
                        "bp_date": last_day,
                        "systolic": systolic,
                        "diastolic": diastolic,
                    }
                },
            )
        ],
        strata=_demographic_strata(age, ADULT_BANDS),
    )


# --- TANDEM-UTIL ---------------------------------------------------------------------------

DAYS_PER_MONTH = 365.25 / 12


def go_live_by_site(sites: pa.Table) -> dict[str, dt.date]:
    """``{site_id: integration_go_live}`` from the ``sites`` analytic table (sites without
    a go-live date are left out)."""
    out: dict[str, dt.date] = {}
    for row in sites.select(["site_id", "integration_go_live"]).to_pylist():
        if row["integration_go_live"] is not None:
            out[str(row["site_id"])] = row["integration_go_live"]
    return out


def _go_live(by_site: Mapping[str, dt.date] | None) -> Expr:
    """The go-live date of the patient's home site; otherwise the ``go_live`` parameter,
    otherwise the period start."""
    out: Expr = p_date("go_live").if_null(q.period_start)
    for site, day in sorted((by_site or {}).items(), reverse=True):
        out = q.when(q.patient.site_id == site, q.date(day.year, day.month, day.day), out)
    return out


def _patient_days(lo: Expr, hi: Expr) -> Expr:
    """Patient-days at risk in [lo, hi]: covered days when the patient has coverage rows,
    otherwise the days alive in the window (from birth to death)."""
    coverage = q.table("coverage").where(lambda c: c.status.if_null("active") == "active")
    covered = coverage.covered_days(
        lambda c: c.start_date, lambda c: c.end_date.if_null(hi), within=(lo, hi)
    )
    first = q.greatest(lo, q.patient.birth_date.if_null(lo))
    last = q.least(hi, q.patient.death_date.if_null(hi))
    alive = q.greatest(first.days_until(last) + 1, 0)
    return q.when(q.table("coverage").exists(), covered, alive)


def _window_counts(lo: Expr, hi: Expr) -> dict[str, Expr]:
    ed = encounters().where(lambda e: is_ed(e) & q.during(e.start, lo, hi))
    psych = encounters().where(
        lambda e: (
            e.class_code.isin(ACUTE_INPATIENT_CLASSES)
            & q.during(e.start, lo, hi)
            & encounter_has_dx(e, MENTAL_ILLNESS, principal=True)
        )
    )
    return {
        "patient_days": _patient_days(lo, hi),
        "ed_visits": ed.count(),
        "psych_admissions": psych.count(),
        "psych_days": psych.sum(
            lambda e: q.greatest(e.start.date.days_until(e.end.if_null(e.start).date), 1)
        ),
    }


def tandem_util(go_live: Mapping[str, dt.date] | None = None) -> q.Measure:
    """Per-patient utilisation in the ``window_months`` before and after the go-live of the
    patient's site. ``go_live`` = ``{site_id: date}`` (see :func:`go_live_by_site`); sites
    not in it (and the registry's build) use the ``go_live`` parameter, else the period
    start. The post window is cut at the period end. Rates: :func:`utilization_rates`."""
    g = _go_live(go_live)
    months = p_int("window_months")
    windows = {
        "pre": (g.add_months(0 - months), g.add_days(-1)),
        "post": (g, q.least(g.add_months(months).add_days(-1), q.period_end)),
    }
    base = ~p_bool("smi_only") | smi_cohort(q.period_end)
    groups = []
    for gid, (lo, hi) in windows.items():
        counts = _window_counts(lo, hi)
        ip = base & (counts["patient_days"] > 0)
        groups.append(
            q.Group(
                id=gid,
                description=f"Utilisation in the {gid}-go-live window",
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "numerator": (counts["ed_visits"] + counts["psych_admissions"]) > 0,
                },
                evidence={"initial-population": {"go_live": g, "from": lo, "to": hi, **counts}},
            )
        )
    return q.Measure(
        id="TANDEM-UTIL",
        title="ED visits, psychiatric admissions and length of stay before/after integration",
        parameters={
            "go_live": None,
            "window_months": 12,
            "smi_only": True,
            "smi_lookback_months": 24,
        },
        groups=groups,
        strata=[q.Stratifier("site", q.patient.site_id)],
    )


def utilization_rates(result: Any, by: str | None = "site") -> dict[Any, dict[str, Any]]:
    """Rates from a TANDEM-UTIL :class:`MeasureResult`, per stratum of ``by`` (``None``:
    one row ``"all"``) and window (``pre``/``post``):

    - ``patient_months`` = sum of patient-days / (365.25 / 12);
    - ``ed_per_1000_pm`` = 1000 x ED visits / patient-months;
    - ``admissions_per_1000_pm`` = 1000 x psychiatric admissions / patient-months;
    - ``mean_los_days`` = psychiatric inpatient days / psychiatric admissions.

    Patients outside a window's initial population contribute nothing to that window.
    """
    acc: dict[Any, dict[str, dict[str, float]]] = {}
    for p in result.patients:
        key = p.strata.get(by) if by else "all"
        for window in ("pre", "post"):
            if not p.populations.get(window, {}).get("initial-population"):
                continue
            ev = p.evidence[window]["initial-population"]
            slot = acc.setdefault(key, {}).setdefault(
                window,
                {
                    "patients": 0,
                    "patient_days": 0,
                    "ed_visits": 0,
                    "psych_admissions": 0,
                    "psych_days": 0,
                },
            )
            slot["patients"] += 1
            for name in ("patient_days", "ed_visits", "psych_admissions", "psych_days"):
                slot[name] += ev.get(name) or 0
    out: dict[Any, dict[str, Any]] = {}
    for key, windows in acc.items():
        out[key] = {}
        for window, s in windows.items():
            pm = s["patient_days"] / DAYS_PER_MONTH
            out[key][window] = {
                "patients": int(s["patients"]),
                "patient_months": pm,
                "ed_visits": int(s["ed_visits"]),
                "psych_admissions": int(s["psych_admissions"]),
                "psych_days": int(s["psych_days"]),
                "ed_per_1000_pm": 1000 * s["ed_visits"] / pm if pm else None,
                "admissions_per_1000_pm": 1000 * s["psych_admissions"] / pm if pm else None,
                "mean_los_days": s["psych_days"] / s["psych_admissions"]
                if s["psych_admissions"]
                else None,
            }
    return out


__all__ = [
    "go_live_by_site",
    "smi_cohort",
    "tandem_bpsmi",
    "tandem_metab",
    "tandem_pceng",
    "tandem_util",
    "utilization_rates",
]
