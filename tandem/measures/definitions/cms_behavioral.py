"""CMS2, CMS159 and CMS128: depression screening, remission and antidepressant management.

One builder per measure takes the performance year: 2025 is written from the 2024 QI-Core CQL
(``cqframework/ecqm-content-qicore-2024``), 2026 from the logic of the published 2026 Measures
(``cqframework/dqm-content-cms-2025``, ``1.0.000``: the ``cqf-logicDefinition`` texts of
``../shared/conformance/ecqm-2026/measures``), which include the 2026 shared libraries
(:mod:`~tandem.measures.definitions.common_2026`). Where the years differ the code says which
definition changed; ``docs/measures/cms2.md``, ``cms159.md`` and ``cms128.md`` ("Versions") list
the changes, windows and deviations.

Survey scores are read as the CQL casts them: ``value > 9`` and ``value < 5`` compile to
``value as Integer``, so a PHQ-9 total recorded as a Quantity is no score (:func:`as_integer`).
"""

from __future__ import annotations

from types import ModuleType

from tandem.measures import language as q
from tandem.measures.definitions import common, common_2026
from tandem.measures.definitions.common import (
    FINAL,
    LOINC,
    SNOMED,
    as_integer,
    coded_medications,
    dispense_period,
    effective_overlaps,
    has_value,
    is_confirmed_active,
    not_true,
    period_during,
    prevalence_overlaps,
    request_period,
    retrieve,
)
from tandem.measures.definitions.common_2026 import (
    ORDER_INTENTS,
    conditions,
    is_verified,
    problem_conditions,
)
from tandem.measures.language import Expr, Frame, Row


def _library(year: int) -> ModuleType:
    """The shared-library helpers of the performance year."""
    return {2025: common, 2026: common_2026}[year]


# --- CMS2 --------------------------------------------------------------------------------

ADOLESCENT_SCREEN = (LOINC, "73831-0")
ADULT_SCREEN = (LOINC, "73832-8")
SCREEN_POSITIVE = "428181000124104"
SCREEN_NEGATIVE = "428171000124102"
SCREEN_DECLINED = "720834000"
MEDICAL_REASON = "2.16.840.1.113883.3.526.3.1007"
BIPOLAR = "2.16.840.1.113883.3.67.1.101.1.128"
CMS2_VISITS = (
    "2.16.840.1.113883.3.600.1916",  # Encounter to Screen for Depression
    "2.16.840.1.113883.3.526.3.1022",  # Physical Therapy Evaluation
    "2.16.840.1.113883.3.464.1003.101.12.1080",  # Telephone Visits
)

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


def _overlaps_after(m: Row, e: Row) -> Expr:
    """``medicationRequestPeriod().toInterval() overlaps after day of e.period``: the request
    period (null without a days supply or an end) overlaps the encounter's days and ends after
    its last day."""
    start, end = request_period(m)
    return (
        start.is_not_null()
        & end.is_not_null()
        & q.overlaps(start, end, e.start, e.end)
        & (end > e.end.date)
    )


def _cms2(year: int) -> q.Measure:
    ps, pe = q.period_start, q.period_end
    # "Qualifying Encounter During Measurement Period": status 'finished' in both years (not
    # Status.isEncounterPerformed).
    qualifying = (
        retrieve("encounters", *CMS2_VISITS)
        .status_in("finished")
        .where(lambda e: period_during(e.start, e.end, ps, pe))
    )
    age = q.patient_age_on(ps)
    # 2026: ObservationScreeningAssessment, final, amended or corrected (2025: final).
    statuses = ("final",) if year == 2025 else FINAL
    intents = ("order",) if year == 2025 else ORDER_INTENTS
    # 2025 matches medicationCodeableConcept only; 2026 also a referenced Medication's code.
    medication_retrieve = coded_medications if year == 2025 else retrieve

    def screenings(tool: tuple[str, str]) -> Frame:
        """Screenings with a result, 14 days or less on or before a qualifying visit."""
        return (
            retrieve("observations", codes=[tool])
            .status_in(*statuses)
            .where(has_value)
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
        last_start = last.effective_start
        meds_vs, referral_vs, procedure_vs = FOLLOW_UP[kind]
        meds = (
            medication_retrieve("medication_requests", meds_vs)
            .status_in("active", "completed")
            .where(lambda m: m.intent.isin(intents) & not_true(m.do_not_perform))
        )
        if year == 2026:
            # "Follow Up Intervention for Positive … Screening" (2026): the medication's request
            # period overlaps after a qualifying encounter that the most recent screening
            # precedes by 14 days or less (its positivity is tested below in any case).
            meds = meds.where(
                lambda m: qualifying.where(
                    lambda e: q.days_or_less_before(last_start, e.start, 14) & _overlaps_after(m, e)
                ).exists()
            )
        referrals = retrieve("service_requests", referral_vs).status_in("active", "completed")
        procedures = retrieve("procedures", procedure_vs).status_in("completed")

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

    def issued_during(o: Row, e: Row) -> Expr:
        # 2025: "issued during QualifyingEncounter.period"; 2026: "during day of".
        if year == 2025:
            return (o.issued >= e.start) & (o.issued <= e.end)
        return q.during(o.issued, e.start, e.end)

    def not_screened(tool: tuple[str, str]) -> Expr:
        return (
            retrieve("observations", codes=[tool])
            .status_in("cancelled")
            .where(
                lambda o: (
                    ((o.reason_code == SCREEN_DECLINED) | o.reason_in(MEDICAL_REASON))
                    & qualifying.where(lambda e: issued_during(o, e)).exists()
                )
            )
            .exists()
        )

    exception = (not_screened(ADOLESCENT_SCREEN) & ~ado_any) | (
        not_screened(ADULT_SCREEN) & ~adult_any
    )

    def before_visit(c: Row, e: Row) -> Expr:
        # "prevalenceInterval() starts before [day of] start of QualifyingEncounter.period";
        # a null onset starts at the beginning of time.
        if year == 2025:
            return c.onset.is_null() | (c.onset < e.start)
        return c.onset.is_null() | (c.onset.date < e.start.date)

    bipolar = problem_conditions(BIPOLAR).where(
        lambda c: qualifying.where(lambda e: before_visit(c, e)).exists()
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


def cms2() -> q.Measure:
    """CMS2v14 (2025)."""
    return _cms2(2025)


def cms2_2026() -> q.Measure:
    """CMS2v15 (2026)."""
    return _cms2(2026)


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
NOT_PERFORMED = ("not-done", "entered-in-error", "unknown")


def _cms159_conditions(year: int, *valuesets: str) -> Frame:
    """2025: ``[Condition]`` confirmed and active; 2026: both condition profiles, verified."""
    if year == 2025:
        return retrieve("conditions", *valuesets).where(is_confirmed_active)
    return conditions(*valuesets).where(is_verified)


def _cms159_hospice(year: int, lo: Expr, hi: Expr) -> Expr:
    """CMS159's own hospice definition (not the Hospice library): finished inpatient stays,
    encounters and procedures not cancelled / not done, observations of any category."""
    inpatient = (
        retrieve("encounters", "2.16.840.1.113883.3.666.5.307")
        .status_in("finished")
        .where(lambda e: e.discharge_disposition.isin(HOSPICE_DISCHARGE) & q.during(e.end, lo, hi))
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
        .where(lambda s: s.intent.isin(ORDER_INTENTS) & q.during(s.authored, lo, hi))
    )
    if year == 2025:  # 2026 drops "HospiceOrder.doNotPerform is not true"
        order = order.where(lambda s: not_true(s.do_not_perform))
    performed = (
        retrieve("procedures", "2.16.840.1.113883.3.526.3.1584")
        .where(lambda p: ~p.status.isin(NOT_PERFORMED))
        .where(lambda p: q.overlaps(p.performed_start, p.performed_end, lo, hi))
    )
    diagnosis = _cms159_conditions(year, "2.16.840.1.113883.3.464.1003.1165").where(
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


def _cms159_palliative(year: int, lo: Expr, hi: Expr) -> Expr:
    assessment = (
        retrieve("observations", codes=[(LOINC, "71007-9")])
        .status_in(*FINAL)
        .where(lambda o: effective_overlaps(o, lo, hi))
    )
    diagnosis = _cms159_conditions(year, "2.16.840.1.113883.3.464.1003.1167").where(
        lambda c: prevalence_overlaps(c, lo, hi)
    )
    encounter = (
        retrieve("encounters", "2.16.840.1.113883.3.464.1003.101.12.1090")
        .status_in("finished")
        .where(lambda e: q.overlaps(e.start, e.end, lo, hi))
    )
    intervention = (
        retrieve("procedures", "2.16.840.1.113883.3.464.1003.198.12.1135")
        .where(lambda p: ~p.status.isin(NOT_PERFORMED))
        .where(lambda p: q.overlaps(p.performed_start, p.performed_end, lo, hi))
    )
    return assessment.exists() | diagnosis.exists() | encounter.exists() | intervention.exists()


def _cms159(year: int) -> q.Measure:
    dip_start = q.period_start.add_months(-14)
    dip_end = q.period_start.add_months(-2).add_days(-1)  # the CQL interval is open-ended
    depression = _cms159_conditions(year, MAJOR_DEPRESSION_INCL_REMISSION, DYSTHYMIA)
    visits = (
        retrieve("encounters", CONTACT_OR_OFFICE_VISIT)
        .status_in("finished")
        .where(
            lambda e: (
                q.during(e.end, dip_start, dip_end)
                & depression.where(lambda c: prevalence_overlaps(c, e.start, e.end)).exists()
            )
        )
    )
    phq = retrieve("observations", PHQ9_TOOLS).status_in(*FINAL)
    index = (
        phq.where(lambda o: as_integer(o) > 9)
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
    last_score = last_in_map.get(as_integer)
    mental_health = _cms159_conditions(year, *MENTAL_HEALTH_EXCLUSIONS).where(
        lambda c: c.onset.is_null() | (c.onset.date <= map_end)
    )
    exclusion = q.any_of(
        hospice=_cms159_hospice(year, dip_start, map_end),
        palliative=_cms159_palliative(year, dip_start, map_end),
        expired=q.patient.death_date <= map_end,
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
                    "numerator": last_score < 5,
                },
                evidence={
                    "initial-population": {
                        "index_assessment": index.observation_id,
                        "index_date": index_date,
                        "index_score": index.get(as_integer),
                    },
                    "numerator": {
                        "last_assessment": last_in_map.observation_id,
                        "last_score": last_score,
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


def cms159() -> q.Measure:
    """CMS159v13 (2025)."""
    return _cms159(2025)


def cms159_2026() -> q.Measure:
    """CMS159v14 (2026)."""
    return _cms159(2026)


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


def _cms128(year: int) -> q.Measure:
    lib = _library(year)
    intake_start = q.period_start.add_months(-8)  # 1 May of the year before
    intake_end = q.period_start.add_months(4).add_days(-1)  # 30 April of the period's year
    dispensed = lib.medications_dispensed(ANTIDEPRESSANTS).where(
        lambda d: d.days_supply.is_not_null()
    )
    ipsd = dispensed.where(lambda d: q.during(dispense_period(d)[0], intake_start, intake_end)).min(
        lambda d: dispense_period(d)[0]
    )
    # 2026: both condition profiles, verified (2025: [Condition], no status filter).
    if year == 2025:
        diagnoses = retrieve("conditions", MAJOR_DEPRESSION)
    else:
        diagnoses = conditions(MAJOR_DEPRESSION).where(is_verified)
    depression = diagnoses.where(lambda c: q.within_days_of(c.onset, ipsd, 60))
    visits = lib.encounters_performed(*CMS128_VISITS).where(
        lambda e: q.within_days_of(e.start, ipsd, 60)
    )
    ip = (q.age(q.patient.birth_date, ipsd) >= 18) & depression.exists() & visits.exists()

    def active_before_ipsd(m: Row) -> Expr:
        start, end = request_period(m)
        return start.is_not_null() & q.overlaps(start, end, ipsd.add_days(-105), ipsd.add_days(-1))

    prior = lib.medications_active(ANTIDEPRESSANTS).where(active_before_ipsd)
    exclusion = q.any_of(hospice=lib.has_hospice(), prior_antidepressant=prior.exists())

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


def cms128() -> q.Measure:
    """CMS128v13 (2025)."""
    return _cms128(2025)


def cms128_2026() -> q.Measure:
    """CMS128v14 (2026)."""
    return _cms128(2026)


__all__ = ["cms2", "cms2_2026", "cms128", "cms128_2026", "cms159", "cms159_2026"]
