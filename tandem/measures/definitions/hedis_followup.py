"""HEDIS-style FUH and FUM: follow-up after a hospitalisation or an emergency-department visit
for mental illness. See ``docs/measures/fuh.md`` and ``fum.md``.

The unit of these measures is the *event* (a discharge, an ED visit); the measure language is
per patient. Each patient is reported on their **last eligible event** of the year (the
populations), and the evidence of the initial population carries the **event counts**
(``eligible_events``, ``followed_up_7``, ``followed_up_30``) so that :func:`event_rates`
returns the HEDIS event-level rates from the same run. Both are documented in the pages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tandem.measures import language as q
from tandem.measures.definitions.hedis_common import (
    ACUTE_INPATIENT_CLASSES,
    FOLLOW_UP_CLASSES,
    MENTAL_ILLNESS,
    NONACUTE_INPATIENT_CLASSES,
    PSYCH_EVALUATION,
    PSYCHOTHERAPY,
    TRANSITIONAL_CARE,
    age_on,
    died_by,
    discharge_day,
    encounter_has_dx,
    encounters,
    enrolled_no_gap,
    has_hospice,
    is_ed,
    p_bool,
    p_int,
)
from tandem.measures.language import Expr, Frame, Row

# --- shared -----------------------------------------------------------------------------


def mh_follow_up_visits() -> Frame:
    """Visits that can be a follow-up: outpatient, IOP, PH, CMHC, ECT, telehealth,
    observation or home (class AMB/VR/OBSENC/HH) or transitional care management, and with a
    mental-health provider (a ``bh`` setting, a psychotherapy or psychiatric-evaluation code,
    TCM) or — when ``count_visits_with_mh_dx`` — with any provider and a principal
    mental-health diagnosis."""
    return encounters().where(
        lambda v: (
            (v.class_code.isin(FOLLOW_UP_CLASSES) | v.code_in(TRANSITIONAL_CARE))
            & ~is_ed(v)
            & (
                (v.setting == "bh")
                | v.code_in(PSYCHOTHERAPY)
                | v.code_in(PSYCH_EVALUATION)
                | v.code_in(TRANSITIONAL_CARE)
                | (
                    p_bool("count_visits_with_mh_dx")
                    & encounter_has_dx(v, MENTAL_ILLNESS, principal=True)
                )
            )
        )
    )


def with_first_follow_up(index: Frame, day: Any, *, same_day: bool) -> Frame:
    """Annotate each index event with ``index_day`` and ``first_follow_up``: the first
    qualifying visit day from the index day (``same_day``) or the day after it, up to 30
    days later. The 7-day rate is ``first_follow_up - index_day <= 7``."""
    visits = mh_follow_up_visits()
    return index.with_columns(
        index_day=day,
        first_follow_up=lambda e: visits.where(
            lambda v: (
                (v.encounter_id != e.encounter_id)
                & q.within_days_after(v.start, day(e), 30, same_day=same_day)
            )
        ).min(lambda v: v.start.date),
    )


def _within(e: Row, days: int) -> Expr:
    return e.first_follow_up.is_not_null() & (e.index_day.days_until(e.first_follow_up) <= days)


def _per_patient(annotated: Frame, order: Any) -> tuple[Expr, Expr, dict[str, Expr]]:
    """(7-day numerator, 30-day numerator, evidence) for the last eligible event, with the
    event counts over every eligible event."""
    last = annotated.last_by(order)
    gap = last.get(lambda e: e.index_day.days_until(e.first_follow_up))
    evidence = {
        "event_id": last.encounter_id,
        "event_date": last.get(lambda e: e.index_day),
        "first_follow_up": last.first_follow_up,
        "eligible_events": annotated.count(),
        "followed_up_7": annotated.where(lambda e: _within(e, 7)).count(),
        "followed_up_30": annotated.where(lambda e: _within(e, 30)).count(),
    }
    return gap <= 7, last.first_follow_up.is_not_null(), evidence


def event_rates(
    result: Any, groups: Iterable[str] = ("7-day", "30-day")
) -> dict[str, dict[str, Any]]:
    """HEDIS event-level rates from a FUH/FUM :class:`MeasureResult`.

    For each group: ``events`` = sum of ``eligible_events`` over patients in the
    denominator and not excluded; ``numerator`` = sum of ``followed_up_7`` (7-day group) or
    ``followed_up_30`` (30-day group); ``rate`` = numerator / events (None when no event).
    Patient-level exclusions (hospice, death) remove all of that patient's events.
    """
    out: dict[str, dict[str, Any]] = {}
    for gid in groups:
        key = "followed_up_7" if gid.startswith("7") else "followed_up_30"
        events = numer = 0
        for p in result.patients:
            pops: Mapping[str, bool] = p.populations.get(gid, {})
            if not pops.get("denominator") or pops.get("denominator-exclusion"):
                continue
            ev = p.evidence.get(gid, {}).get("initial-population", {})
            events += int(ev.get("eligible_events") or 0)
            numer += int(ev.get(key) or 0)
        out[gid] = {
            "events": events,
            "numerator": numer,
            "rate": numer / events if events else None,
        }
    return out


def _groups(
    ip: Expr, exclusion: Expr, n7: Expr, n30: Expr, evidence: dict[str, Expr], what: str
) -> list[q.Group]:
    return [
        q.Group(
            id=gid,
            description=f"Follow-up within {days} days after the {what}",
            populations={
                "initial-population": ip,
                "denominator": ip,
                "denominator-exclusion": exclusion,
                "numerator": numer,
            },
            evidence={"initial-population": evidence},
        )
        for gid, days, numer in (("7-day", 7, n7), ("30-day", 30, n30))
    ]


def _strata(age: Expr) -> list[q.Stratifier]:
    return [
        q.Stratifier("age", q.age_band(age, [(6, 17), (18, 64), (65, None)])),
        q.Stratifier("sex", q.patient.sex),
        q.Stratifier("site", q.patient.site_id),
        q.Stratifier("payer", q.patient.payer),
    ]


# --- FUH ---------------------------------------------------------------------------------

FUH_PARAMETERS: dict[str, Any] = {
    "age_min": 6,
    "discharge_cutoff_days": 30,  # discharges up to period end - 30 days (1 December)
    "readmission_days": 30,
    "exclude_nonacute_readmission": True,  # UNVERIFIED
    "exclude_non_mh_acute_readmission": True,  # UNVERIFIED
    "count_visits_with_mh_dx": False,  # UNVERIFIED: any provider + principal MH diagnosis
    "require_enrollment": True,
    "enrollment_days_after": 30,
    "exclude_deceased": False,  # death exclusion UNVERIFIED for FUH
}


def fuh_discharges() -> Frame:
    """Eligible index discharges (before readmission handling is applied, see below)."""
    ps, pe = q.period_start, q.period_end
    stays = encounters().where(lambda e: e.class_code.isin(ACUTE_INPATIENT_CLASSES))
    inpatient = encounters().where(
        lambda r: r.class_code.isin(ACUTE_INPATIENT_CLASSES + NONACUTE_INPATIENT_CLASSES)
    )
    cutoff = pe.add_days(0 - p_int("discharge_cutoff_days"))

    def readmitted(e: Row) -> Expr:
        day = discharge_day(e)

        def counts(r: Row) -> Expr:
            acute = r.class_code.isin(ACUTE_INPATIENT_CLASSES)
            mh = encounter_has_dx(r, MENTAL_ILLNESS, principal=True)
            return (
                (acute & mh)
                | (acute & ~mh & p_bool("exclude_non_mh_acute_readmission"))
                | (~acute & p_bool("exclude_nonacute_readmission"))
            )

        return inpatient.where(
            lambda r: (
                (r.encounter_id != e.encounter_id)
                & q.within_days_after(r.start, day, p_int("readmission_days"))
                & counts(r)
            )
        ).exists()

    return stays.where(
        lambda e: (
            e.end.is_not_null()
            & q.during(discharge_day(e), ps, cutoff)
            & encounter_has_dx(e, MENTAL_ILLNESS, principal=True)
            & (age_on(discharge_day(e)) >= p_int("age_min"))
            & (
                ~p_bool("require_enrollment")
                | enrolled_no_gap(
                    discharge_day(e), discharge_day(e).add_days(p_int("enrollment_days_after"))
                )
            )
            & ~readmitted(e)
        )
    )


def fuh() -> q.Measure:
    annotated = with_first_follow_up(fuh_discharges(), discharge_day, same_day=False)
    n7, n30, evidence = _per_patient(annotated, lambda e: e.end)
    exclusion = q.any_of(hospice=has_hospice(), deceased=p_bool("exclude_deceased") & died_by())
    return q.Measure(
        id="FUH",
        title="Follow-Up After Hospitalization for Mental Illness (HEDIS-style)",
        parameters=dict(FUH_PARAMETERS),
        groups=_groups(annotated.exists(), exclusion, n7, n30, evidence, "discharge"),
        strata=_strata(age_on(evidence["event_date"])),
    )


# --- FUM ---------------------------------------------------------------------------------

FUM_PARAMETERS: dict[str, Any] = {
    "age_min": 6,
    "visit_cutoff_days": 30,  # UNVERIFIED: ED visits 1 January - 1 December
    "exclude_admitted": True,  # UNVERIFIED: ED visit followed by an admission within 30 days
    "admission_days": 30,
    "one_visit_per_31_days": True,  # UNVERIFIED: only the first ED visit per 31-day window
    "count_visits_with_mh_dx": True,  # any provider + principal MH diagnosis counts
    "require_enrollment": True,  # UNVERIFIED: ED date .. +30 days, no gap
    "enrollment_days_after": 30,
    "exclude_deceased": False,
}


def fum_visits() -> Frame:
    """Eligible index ED visits with a principal diagnosis of mental illness or self-harm."""
    ps, pe = q.period_start, q.period_end
    cutoff = pe.add_days(0 - p_int("visit_cutoff_days"))
    ed = encounters().where(
        lambda x: is_ed(x) & encounter_has_dx(x, MENTAL_ILLNESS, principal=True)
    )
    inpatient = encounters().where(
        lambda r: r.class_code.isin(ACUTE_INPATIENT_CLASSES + NONACUTE_INPATIENT_CLASSES)
    )

    def admitted(x: Row) -> Expr:
        return inpatient.where(
            lambda r: (
                (r.encounter_id != x.encounter_id)
                & q.within_days_after(r.start, x.start, p_int("admission_days"))
            )
        ).exists()

    def earlier_ed(x: Row) -> Expr:
        return ed.where(
            lambda y: (
                (y.encounter_id != x.encounter_id)
                & (y.start.date >= x.start.date.add_days(-30))
                & (
                    (y.start.date < x.start.date)
                    | ((y.start.date == x.start.date) & (y.start < x.start))
                )
            )
        ).exists()

    return ed.where(
        lambda x: (
            q.during(x.start, ps, cutoff)
            & (age_on(x.start.date) >= p_int("age_min"))
            & ~(p_bool("exclude_admitted") & admitted(x))
            & ~(p_bool("one_visit_per_31_days") & earlier_ed(x))
            & (
                ~p_bool("require_enrollment")
                | enrolled_no_gap(
                    x.start.date, x.start.date.add_days(p_int("enrollment_days_after"))
                )
            )
        )
    )


def fum() -> q.Measure:
    annotated = with_first_follow_up(fum_visits(), lambda x: x.start.date, same_day=True)
    n7, n30, evidence = _per_patient(annotated, lambda x: x.start)
    exclusion = q.any_of(hospice=has_hospice(), deceased=p_bool("exclude_deceased") & died_by())
    return q.Measure(
        id="FUM",
        title="Follow-Up After Emergency Department Visit for Mental Illness (HEDIS-style)",
        parameters=dict(FUM_PARAMETERS),
        groups=_groups(
            annotated.exists(),
            exclusion,
            n7,
            n30,
            evidence,
            "ED visit (the ED date counts: 8 and 31 days in total)",
        ),
        strata=_strata(age_on(evidence["event_date"])),
    )


__all__ = ["event_rates", "fuh", "fuh_discharges", "fum", "fum_visits", "mh_follow_up_visits"]
