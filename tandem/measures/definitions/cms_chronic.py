"""CMS165 (controlling high blood pressure), CMS122 (glycemic status > 9%) and CMS138
(tobacco screening and cessation), from the 2024 QI-Core CQL. See ``docs/measures/``."""

from __future__ import annotations

from tandem.measures import language as q
from tandem.measures.definitions.common import (
    CPT,
    ICD10CM,
    LOINC,
    adult_outpatient_encounters,
    advanced_illness_66_80_or_frailty_81,
    advanced_illness_and_frailty_66,
    assessments_performed,
    encounters_performed,
    has_hospice,
    has_palliative_care,
    labs_performed,
    latest,
    medications_active,
    medications_ordered,
    nursing_home_66,
    period_during,
    prevalence_overlaps,
    procedures_performed,
    request_period,
    retrieve,
)
from tandem.measures.language import Expr, Row

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
BP_PANEL, SYSTOLIC, DIASTOLIC = "85354-9", "8480-6", "8462-4"
INPATIENT_CLASSES = ("EMER", "IMP", "ACUTE", "NONAC", "PRENC", "SS")


def cms165() -> q.Measure:
    ps, pe = q.period_start, q.period_end
    age = q.patient_age_on(pe)
    hypertension = retrieve("conditions", ESSENTIAL_HYPERTENSION).where(
        lambda c: prevalence_overlaps(c, ps, ps.add_months(6).add_days(-1))
    )
    ip = age.between(18, 85) & hypertension.exists() & adult_outpatient_encounters().exists()

    encounters = q.table("encounters")
    readings = (
        q.table("observations")
        .where(lambda o: (o.system == LOINC) & o.status.isin(["final", "amended", "corrected"]))
        # every reading below is one of these three codes: keep only them before the
        # encounter test (the same result, over a fraction of the observations)
        .where(lambda o: o.code.isin([BP_PANEL, SYSTOLIC, DIASTOLIC]))
        .where(lambda o: q.during(latest(o), ps, pe))
        .where(
            lambda o: (
                ~encounters.where(
                    lambda e: (
                        (e.encounter_id == o.encounter_id) & e.class_code.isin(INPATIENT_CLASSES)
                    )
                ).exists()
            )
        )
    )
    panels = readings.where(lambda o: (o.code == BP_PANEL) & o.panel_code.is_null())
    last_day = panels.max(lambda o: latest(o).date)

    def lowest(component: str) -> Expr:
        return readings.where(
            lambda o: (
                (o.code == component) & (o.panel_code == BP_PANEL) & (latest(o).date == last_day)
            )
        ).min(lambda o: o.value_num)

    systolic, diastolic = lowest(SYSTOLIC), lowest(DIASTOLIC)
    renal = retrieve("conditions", *PREGNANCY_OR_RENAL).where(
        lambda c: prevalence_overlaps(c, ps, pe)
    )
    esrd_procedure = procedures_performed(*ESRD_PROCEDURES).where(
        lambda p: p.performed_end.if_null(p.performed_start).date <= pe
    )
    esrd_encounter = encounters_performed(ESRD_MONTHLY).where(lambda e: e.start.date <= pe)
    exclusion = q.any_of(
        hospice=has_hospice(),
        pregnancy_or_renal=renal.exists(),
        esrd_procedure=esrd_procedure.exists(),
        esrd_encounter=esrd_encounter.exists(),
        frailty=advanced_illness_66_80_or_frailty_81(),
        nursing_home=nursing_home_66(),
        palliative=has_palliative_care(),
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


# --- CMS122 ------------------------------------------------------------------------------

DIABETES = "2.16.840.1.113883.3.464.1003.103.12.1001"
HBA1C = "2.16.840.1.113883.3.464.1003.198.12.1013"
GMI = (LOINC, "97506-0")


def cms122() -> q.Measure:
    ps, pe = q.period_start, q.period_end
    age = q.patient_age_on(pe)
    diabetes = retrieve("conditions", DIABETES).where(lambda c: prevalence_overlaps(c, ps, pe))
    ip = age.between(18, 75) & adult_outpatient_encounters().exists() & diabetes.exists()
    tests = labs_performed(HBA1C, codes=[GMI]).where(lambda o: q.during(latest(o), ps, pe))
    last_day = tests.max(lambda o: latest(o).date)
    on_last_day = tests.where(lambda o: latest(o).date == last_day)
    # CQL sorts the day's readings by "value as Quantity" with nulls first, so a reading
    # without a numeric value on that day is the one picked: "without result" when it has no
    # value at all, and never "elevated".
    not_numeric = on_last_day.where(lambda o: o.value_num.is_null())
    without_result = not_numeric.where(
        lambda o: o.value_code.is_null() & o.value_bool.is_null()
    ).exists()
    lowest = q.when(not_numeric.exists(), q.null("float"), on_last_day.min(lambda o: o.value_num))
    exclusion = q.any_of(
        hospice=has_hospice(),
        nursing_home=nursing_home_66(),
        frailty=advanced_illness_and_frailty_66(),
        palliative=has_palliative_care(),
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
    "2.16.840.1.113883.3.464.1003.1006",  # Nutrition Services
)
PREVENTIVE_CODES = ((CPT, "99429"), (CPT, "99024"))
TOBACCO_SCREENING = "2.16.840.1.113883.3.526.3.1278"
TOBACCO_USER = "2.16.840.1.113883.3.526.3.1170"
TOBACCO_NON_USER = "2.16.840.1.113883.3.526.3.1189"
CESSATION_COUNSELING = "2.16.840.1.113883.3.526.3.509"
CESSATION_PHARMACOTHERAPY = "2.16.840.1.113883.3.526.3.1190"
TOBACCO_COUNSELING_DX = (ICD10CM, "Z71.6")


def cms138() -> q.Measure:
    ps, pe = q.period_start, q.period_end
    lookback = ps.add_months(-6)

    def in_period(e: Row) -> Expr:
        return period_during(e.start, e.end, ps, pe)

    visits = encounters_performed(*QUALIFYING_VISITS, codes=QUALIFYING_CODES).where(in_period)
    preventive = encounters_performed(*PREVENTIVE_VISITS, codes=PREVENTIVE_CODES).where(in_period)
    ip = (q.patient_age_on(ps) >= 12) & ((visits.count() >= 2) | preventive.exists())

    last_screen = (
        assessments_performed(TOBACCO_SCREENING)
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
    counseling_dx = retrieve("conditions", codes=[TOBACCO_COUNSELING_DX]).where(
        lambda c: q.during(c.onset, lookback, pe)
    )
    ordered = medications_ordered(CESSATION_PHARMACOTHERAPY).where(
        lambda m: q.during(m.authored, lookback, pe)
    )

    def active_in_window(m: Row) -> Expr:
        start, end = request_period(m)
        return period_during(start, end, lookback, pe)

    active = medications_active(CESSATION_PHARMACOTHERAPY).where(active_in_window)
    intervention = q.any_of(
        counseling=counseling.exists() | counseling_dx.exists(),
        pharmacotherapy_ordered=ordered.exists(),
        pharmacotherapy_active=active.exists(),
    )
    exclusion = has_hospice()

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


__all__ = ["cms122", "cms138", "cms165"]
