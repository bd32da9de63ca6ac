"""CMS2, CMS159 and CMS128: depression screening, remission and antidepressant management.

Written from the 2024 QI-Core CQL (``cqframework/ecqm-content-qicore-2024``); see
``docs/measures/cms2.md``, ``cms159.md`` and ``cms128.md`` for intent, windows and deviations.
"""

from __future__ import annotations

from tandem.measures import language as q
from tandem.measures.definitions.common import (
    FINAL,
    LOINC,
    SNOMED,
    dispense_period,
    effective_overlaps,
    encounters_performed,
    has_hospice,
    is_confirmed_active,
    medications_active,
    not_true,
    prevalence_overlaps,
    procedures_performed,
    request_period,
    retrieve,
)
from tandem.measures.language import Expr, Frame, Row

# --- CMS2 --------------------------------------------------------------------------------

ADOLESCENT_SCREEN = (LOINC, "73831-0")
ADULT_SCREEN = (LOINC, "73832-8")
SCREEN_POSITIVE = "428181000124104"
SCREEN_NEGATIVE = "428171000124102"
SCREEN_DECLINED = "720834000"
MEDICAL_REASON = "2.16.840.1.113883.3.526.3.1007"
BIPOLAR = "2.16.840.1.113883.3.67.1.101.1.128"

FOLLOW_UP = {
    # tool: (medications, referrals, follow-up procedures)
    "adolescent": (
        "2.16.840.1.113883.3.526.3.1567",
        "2.16.840.1.113883.3.526.3.1570",
        "2.16.840.1.113883.3.526.3.1569",
    ),
    "adult": (
        "2.16.840.1.113883.3.526.3.1566",
        "2.16.840.1.113883.3.526.3.1571",
        "2.16.840.1.113883.3.526.3.1568",
    ),
}


def _has_value(o: Row) -> Expr:
    return o.value_code.is_not_null() | o.value_num.is_not_null() | o.value_bool.is_not_null()


def cms2() -> q.Measure:
    ps, pe = q.period_start, q.period_end
    qualifying = encounters_performed(
        "2.16.840.1.113883.3.600.1916",  # Encounter to Screen for Depression
        "2.16.840.1.113883.3.526.3.1022",  # Physical Therapy Evaluation
        "2.16.840.1.113883.3.464.1003.101.12.1080",  # Telephone Visits
    ).where(lambda e: q.during(e.start, ps, pe) & q.during(e.end, ps, pe))
    age = q.patient_age_on(ps)

    def screenings(tool: tuple[str, str]) -> Frame:
        """Final screenings with a result, 14 days or less on or before a qualifying visit."""
        return (
            retrieve("observations", codes=[tool])
            .status_in("final")
            .where(_has_value)
            .where(
                lambda o: qualifying.where(
                    lambda e: q.days_or_less_before(
                        o.effective_end.if_null(o.effective_start), e.start, 14
                    )
                ).exists()
            )
        )

    def screened_ok(tool: tuple[str, str], kind: str) -> tuple[Expr, Expr, Expr]:
        """(has any screening, most recent negative, most recent positive with follow-up)."""
        screens = screenings(tool)
        last = screens.last_by(lambda o: o.effective_start)
        meds_vs, referral_vs, procedure_vs = FOLLOW_UP[kind]
        meds = (
            retrieve("medication_requests", meds_vs)
            .status_in("active", "completed")
            .where(lambda m: (m.intent == "order") & not_true(m.do_not_perform))
        )
        referrals = retrieve("service_requests", referral_vs).status_in("active", "completed")
        procedures = procedures_performed(procedure_vs)
        last_start = last.effective_start

        def followed_up(e: Row) -> Expr:
            def ordered_after(r: Row) -> Expr:
                return q.within_days_after(r.authored, e.end, 2) & q.during(r.authored, ps, pe)

            done_during = procedures.where(
                lambda p: (
                    (p.performed_start >= e.start)
                    & (p.performed_start <= e.end)
                    & q.during(p.performed_start, ps, pe)
                )
            )
            return q.days_or_less_before(last_start, e.start, 14) & (
                meds.where(ordered_after).exists()
                | referrals.where(ordered_after).exists()
                | done_during.exists()
            )

        negative = (last.value_system == SNOMED) & (last.value_code == SCREEN_NEGATIVE)
        positive = (last.value_system == SNOMED) & (last.value_code == SCREEN_POSITIVE)
        positive_followed = positive & qualifying.where(followed_up).exists()
        return screens.exists(), negative, positive_followed

    ado_any, ado_neg, ado_pos = screened_ok(ADOLESCENT_SCREEN, "adolescent")
    adult_any, adult_neg, adult_pos = screened_ok(ADULT_SCREEN, "adult")
    numerator = (
        (age.between(12, 16) & (ado_neg | ado_pos))
        | ((age == 17) & (ado_neg | ado_pos | adult_neg | adult_pos))
        | ((age >= 18) & (adult_neg | adult_pos))
    )

    def not_screened(tool: tuple[str, str]) -> Expr:
        return (
            retrieve("observations", codes=[tool])
            .status_in("cancelled")
            .where(
                lambda o: (
                    ((o.reason_code == SCREEN_DECLINED) | o.reason_in(MEDICAL_REASON))
                    & qualifying.where(
                        lambda e: (o.issued >= e.start) & (o.issued <= e.end)
                    ).exists()
                )
            )
            .exists()
        )

    exception = (not_screened(ADOLESCENT_SCREEN) & ~ado_any) | (
        not_screened(ADULT_SCREEN) & ~adult_any
    )
    bipolar = retrieve("conditions", BIPOLAR).where(
        lambda c: (
            c.category.isin(["problem-list-item", "health-concern"])
            & qualifying.where(lambda e: c.onset.is_null() | (c.onset < e.start)).exists()
        )
    )
    ip = (age >= 12) & qualifying.exists()
    return q.Measure(
        id="CMS2",
        title="Preventive Care and Screening: Screening for Depression and Follow-Up Plan",
        groups=[
            q.Group(
                id="group-1",
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": bipolar.exists(),
                    "numerator": numerator,
                    "denominator-exception": exception,
                },
                evidence={
                    "initial-population": {
                        "first_visit": qualifying.min(lambda e: e.start.date),
                    },
                },
            )
        ],
    )


# --- CMS159 ------------------------------------------------------------------------------

MAJOR_DEPRESSION_INCL_REMISSION = "2.16.840.1.113883.3.67.1.101.3.2444"
DYSTHYMIA = "2.16.840.1.113883.3.67.1.101.1.254"
PHQ9_TOOLS = "2.16.840.1.113883.3.67.1.101.1.263"
CONTACT_OR_OFFICE_VISIT = "2.16.840.1.113762.1.4.1080.5"
MENTAL_HEALTH_EXCLUSIONS = (
    BIPOLAR,
    "2.16.840.1.113883.3.67.1.101.1.246",  # Personality Disorder Emotionally Labile
    "2.16.840.1.113883.3.464.1003.105.12.1104",  # Schizophrenia or Psychotic Disorder
    "2.16.840.1.113883.3.464.1003.105.12.1152",  # Pervasive Developmental Disorder
)
HOSPICE_DISCHARGE = ("428361000124107", "428371000124100")


def _cms159_hospice(lo: Expr, hi: Expr) -> Expr:
    """CMS159's own hospice definition: statuses differ from the Hospice library and
    observations need no survey category."""
    inpatient = encounters_performed("2.16.840.1.113883.3.666.5.307").where(
        lambda e: e.discharge_disposition.isin(HOSPICE_DISCHARGE) & q.during(e.end, lo, hi)
    )
    hospice_enc = (
        retrieve("encounters", "2.16.840.1.113883.3.464.1003.1003")
        .where(lambda e: ~e.status.isin(["cancelled", "entered-in-error", "unknown"]))
        .where(lambda e: q.overlaps(e.start, e.end, lo, hi))
    )
    mds = (
        retrieve("observations", codes=[(LOINC, "45755-6")])
        .status_in(*FINAL)
        .where(lambda o: (o.value_code == "373066001") & effective_overlaps(o, lo, hi))
    )
    order = (
        retrieve("service_requests", "2.16.840.1.113883.3.526.3.1584")
        .status_in("active", "completed")
        .where(
            lambda s: (
                s.intent.isin(
                    ["order", "original-order", "reflex-order", "filler-order", "instance-order"]
                )
                & not_true(s.do_not_perform)
                & q.during(s.authored, lo, hi)
            )
        )
    )
    performed = (
        retrieve("procedures", "2.16.840.1.113883.3.526.3.1584")
        .where(lambda p: ~p.status.isin(["not-done", "entered-in-error", "unknown"]))
        .where(lambda p: q.overlaps(p.performed_start, p.performed_end, lo, hi))
    )
    diagnosis = retrieve("conditions", "2.16.840.1.113883.3.464.1003.1165").where(
        lambda c: prevalence_overlaps(c, lo, hi) & is_confirmed_active(c)
    )
    return (
        inpatient.exists()
        | hospice_enc.exists()
        | mds.exists()
        | order.exists()
        | performed.exists()
        | diagnosis.exists()
    )


def _cms159_palliative(lo: Expr, hi: Expr) -> Expr:
    assessment = (
        retrieve("observations", codes=[(LOINC, "71007-9")])
        .status_in(*FINAL)
        .where(lambda o: effective_overlaps(o, lo, hi))
    )
    diagnosis = retrieve("conditions", "2.16.840.1.113883.3.464.1003.1167").where(
        lambda c: prevalence_overlaps(c, lo, hi) & is_confirmed_active(c)
    )
    encounter = encounters_performed("2.16.840.1.113883.3.464.1003.101.12.1090").where(
        lambda e: q.overlaps(e.start, e.end, lo, hi)
    )
    intervention = (
        retrieve("procedures", "2.16.840.1.113883.3.464.1003.198.12.1135")
        .where(lambda p: ~p.status.isin(["not-done", "entered-in-error", "unknown"]))
        .where(lambda p: q.overlaps(p.performed_start, p.performed_end, lo, hi))
    )
    return assessment.exists() | diagnosis.exists() | encounter.exists() | intervention.exists()


def cms159() -> q.Measure:
    dip_start = q.period_start.add_months(-14)
    dip_end = q.period_start.add_months(-2).add_days(-1)  # the CQL interval is open-ended
    depression = retrieve("conditions", MAJOR_DEPRESSION_INCL_REMISSION, DYSTHYMIA).where(
        is_confirmed_active
    )
    visits = encounters_performed(CONTACT_OR_OFFICE_VISIT).where(
        lambda e: (
            q.during(e.end, dip_start, dip_end)
            & depression.where(lambda c: q.overlaps(e.start, e.end, c.onset, c.abatement)).exists()
        )
    )
    phq = retrieve("observations", PHQ9_TOOLS).status_in(*FINAL)
    index = (
        phq.where(lambda o: o.value_num > 9)
        .where(
            lambda o: visits.where(
                lambda e: (
                    (o.effective_start.date >= e.start.add_days(-7).date)
                    & (o.effective_end.if_null(o.effective_start).date <= e.end.date)
                )
            ).exists()
        )
        .first_by(lambda o: o.effective_start)
    )
    index_date = index.effective_start.date
    anniversary = index_date.add_months(12)
    map_start, map_end = anniversary.add_days(-60), anniversary.add_days(60)
    last_in_map = phq.where(lambda o: q.during(o.effective_start, map_start, map_end)).last_by(
        lambda o: o.effective_start
    )
    mental_health = retrieve("conditions", *MENTAL_HEALTH_EXCLUSIONS).where(
        lambda c: (c.onset.is_null() | (c.onset.date <= map_end)) & is_confirmed_active(c)
    )
    expired = q.patient.death_date <= map_end
    exclusion = q.any_of(
        hospice=_cms159_hospice(dip_start, map_end),
        palliative=_cms159_palliative(dip_start, map_end),
        expired=expired,
        mental_health=mental_health.exists(),
    )
    ip = q.age(q.patient.birth_date, index_date) >= 12
    return q.Measure(
        id="CMS159",
        title="Depression Remission at Twelve Months",
        groups=[
            q.Group(
                id="group-1",
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": exclusion,
                    "numerator": last_in_map.value_num < 5,
                },
                evidence={
                    "initial-population": {
                        "index_assessment": index.observation_id,
                        "index_date": index_date,
                        "index_score": index.value_num,
                    },
                    "numerator": {
                        "last_assessment": last_in_map.observation_id,
                        "last_score": last_in_map.value_num,
                    },
                },
            )
        ],
        strata=[
            q.Stratifier(
                "age-at-index",
                q.age_band(q.age(q.patient.birth_date, index_date), [(12, 17), (18, None)]),
            )
        ],
    )


# --- CMS128 ------------------------------------------------------------------------------

ANTIDEPRESSANTS = "2.16.840.1.113883.3.464.1003.196.12.1213"
MAJOR_DEPRESSION = "2.16.840.1.113883.3.464.1003.105.12.1007"
CMS128_VISITS = (
    "2.16.840.1.113883.3.464.1003.101.12.1001",  # Office Visit
    "2.16.840.1.113883.3.464.1003.101.12.1025",  # Preventive Care Est. Office Visit 18+
    "2.16.840.1.113883.3.464.1003.101.12.1023",  # Preventive Care Initial Office Visit 18+
    "2.16.840.1.113883.3.464.1003.101.12.1016",  # Home Healthcare Services
    "2.16.840.1.113883.3.526.3.1240",  # Annual Wellness Visit
    "2.16.840.1.113883.3.464.1003.101.12.1012",  # Nursing Facility Visit
    "2.16.840.1.113883.3.526.3.1492",  # Psych Visit Diagnostic Evaluation
    "2.16.840.1.113883.3.526.3.1496",  # Psych Visit Psychotherapy
    "2.16.840.1.113883.3.464.1003.101.12.1080",  # Telephone Visits
    "2.16.840.1.113883.3.464.1003.101.12.1089",  # Virtual Encounter
)


def cms128() -> q.Measure:
    intake_start = q.period_start.add_months(-8)  # 1 May of the year before
    intake_end = q.period_start.add_months(4).add_days(-1)  # 30 April of the period's year
    dispensed = (
        retrieve("medication_dispenses", ANTIDEPRESSANTS)
        .status_in("completed", "in-progress", "on-hold")
        .where(lambda d: d.days_supply.is_not_null())
    )
    ipsd = dispensed.where(lambda d: q.during(dispense_period(d)[0], intake_start, intake_end)).min(
        lambda d: dispense_period(d)[0]
    )
    depression = retrieve("conditions", MAJOR_DEPRESSION).where(
        lambda c: q.within_days_of(c.onset, ipsd, 60)
    )
    visits = encounters_performed(*CMS128_VISITS).where(
        lambda e: q.within_days_of(e.start, ipsd, 60)
    )
    ip = (q.age(q.patient.birth_date, ipsd) >= 18) & depression.exists() & visits.exists()

    def active_before_ipsd(m: Row) -> Expr:
        start, end = request_period(m)
        return start.is_not_null() & q.overlaps(start, end, ipsd.add_days(-105), ipsd.add_days(-1))

    prior = medications_active(ANTIDEPRESSANTS).where(active_before_ipsd)
    exclusion = q.any_of(hospice=has_hospice(), prior_antidepressant=prior.exists())

    def covered(days: int) -> Expr:
        return dispensed.covered_days(
            lambda d: dispense_period(d)[0],
            lambda d: dispense_period(d)[1],
            within=(ipsd, ipsd.add_days(days)),
        )

    days_114, days_231 = covered(114), covered(231)
    evidence = {"initial-population": {"ipsd": ipsd}}
    return q.Measure(
        id="CMS128",
        title="Anti-depressant Medication Management",
        groups=[
            q.Group(
                id="group-1",
                description="Effective acute phase treatment: 84 days in the 114 after IPSD",
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": exclusion,
                    "numerator": days_114 >= 84,
                },
                evidence={**evidence, "numerator": {"covered_days": days_114}},
            ),
            q.Group(
                id="group-2",
                description="Effective continuation phase: 180 days in the 231 after IPSD",
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": exclusion,
                    "numerator": days_231 >= 180,
                },
                evidence={**evidence, "numerator": {"covered_days": days_231}},
            ),
        ],
    )


__all__ = ["cms128", "cms159", "cms2"]
