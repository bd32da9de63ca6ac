"""CMS137, initiation and engagement of substance use disorder (SUD) treatment.

2025 (CMS137v13): the QI-Core CQL ``InitiationandEngagementofSubstanceUseDisorderTreatmentFHIR``
0.0.002 of ``cqframework/ecqm-content-qicore-2024``; 2026 (CMS137v14):
``CMS137FHIRSUDTxInitEngagement`` of ``cqframework/dqm-content-cms-2025``. See
``docs/measures/cms137.md``.

The measure follows the patient's first SUD episode of the period: a qualifying visit during
the period at which an SUD diagnosis starts, at least 47 days before the period ends, with no
SUD diagnosis, treatment or medication in the 60 days before. Group 1 (initiation): treatment
within 14 days of the episode (its day included, the 14th day after it not). Group 2
(engagement): after the first initiation, a long-acting medication, or two more treatments
(short-acting medication or psychosocial visits), within 34 days (the initiation day
excluded). Both groups are stratified by age at the start of the period: 13-17, 18-64, 65+.
"""

from __future__ import annotations

from types import ModuleType

from tandem.measures import language as q
from tandem.measures.definitions import common, common_2026
from tandem.measures.definitions.common import period_during, retrieve
from tandem.measures.language import Expr, Frame, Row

OFFICE_VISIT = "2.16.840.1.113883.3.464.1003.101.12.1001"
ED_VISIT = "2.16.840.1.113883.3.464.1003.101.12.1010"  # Emergency Department E&M Visit
DETOXIFICATION_VISIT = "2.16.840.1.113883.3.464.1003.101.12.1059"
INITIAL_INPATIENT_VISIT = "2.16.840.1.113883.3.464.1003.101.12.1004"
DISCHARGE_SAME_DAY = "2.16.840.1.113883.3.464.1003.101.12.1006"
DISCHARGE_INPATIENT = "2.16.840.1.113883.3.464.1003.101.12.1007"
TELEPHONE_VISITS = "2.16.840.1.113883.3.464.1003.101.12.1080"
VIRTUAL_ENCOUNTER = "2.16.840.1.113883.3.464.1003.101.12.1089"
QUALIFYING_VISITS = (
    OFFICE_VISIT,
    ED_VISIT,
    DETOXIFICATION_VISIT,
    INITIAL_INPATIENT_VISIT,
    DISCHARGE_SAME_DAY,
    DISCHARGE_INPATIENT,
    TELEPHONE_VISITS,
    VIRTUAL_ENCOUNTER,
)
SUBSTANCE_USE_DISORDER = "2.16.840.1.113883.3.464.1003.106.12.1001"
SUD_TREATMENT = "2.16.840.1.113883.3.464.1003.106.12.1005"
PSYCH_VISIT_PSYCHOTHERAPY = "2.16.840.1.113883.3.526.3.1496"
LONG_ACTING_MEDICATION = "2.16.840.1.113883.3.464.1003.1149"
SHORT_ACTING_MEDICATION = "2.16.840.1.113883.3.464.1003.1150"
LONG_ACTING_ADMINISTRATION = "2.16.840.1.113883.3.464.1003.1156"
SHORT_ACTING_ADMINISTRATION = "2.16.840.1.113883.3.464.1003.1157"
AGE_BANDS = [(13, 17), (18, 64), (65, None)]  # Stratification 1, 2, 3


def _earliest(*values: Expr) -> Expr:
    """The earliest non-null value (CQL ``Min`` of a union of lists); null if all are."""
    out = values[0]
    for v in values[1:]:
        out = q.when(out.is_null(), v, q.when(v.is_null(), out, q.least(out, v)))
    return out


def _cms137(year: int) -> q.Measure:
    lib: ModuleType = common if year == 2025 else common_2026
    ps, pe = q.period_start, q.period_end

    def has_sud_diagnosis(e: Row) -> Expr:
        """CQMCommon ``encounterDiagnosis()``: a condition that ``Encounter.diagnosis`` lists
        (``conditions.encounter_id``), coded in Substance Use Disorder."""
        return (
            retrieve("conditions", SUBSTANCE_USE_DISORDER)
            .where(lambda c: c.encounter_id == e.encounter_id)
            .exists()
        )

    qualifying = lib.encounters_performed(*QUALIFYING_VISITS)
    ed_or_detox = lib.encounters_performed(ED_VISIT, DETOXIFICATION_VISIT)
    diagnoses = retrieve("conditions", SUBSTANCE_USE_DISORDER)
    if year == 2026:  # [ConditionEncounterDiagnosis: "Substance Use Disorder"].verified()
        diagnoses = diagnoses.where(
            lambda c: (c.category == "encounter-diagnosis") & common_2026.is_verified(c)
        )
    last_onset = pe.add_days(-47)
    episodes = qualifying.where(
        lambda e: (
            period_during(e.start, e.end, ps, pe)
            & diagnoses.where(
                lambda c: q.during_at(c.onset, e.start, e.end) & (c.onset.date <= last_onset)
            ).exists()
        )
    )
    # First by the date of its start; the same day: the earliest start, then the smallest id.
    episode = episodes.first_by(lambda e: e.start.date, lambda e: e.start)
    episode_id, day = episode.encounter_id, episode.start.date

    def in_60_days_before(x: Expr) -> Expr:
        """``x 60 days or less before day of`` the episode day: [day - 60, day)."""
        return q.days_or_less_before(x, day, 60) & (x.date < day)

    def in_14_days(x: Expr) -> Expr:
        """``date from x during Interval[day, day + 14 days)``."""
        return (x.date >= day) & (x.date < day.add_days(14))

    history_treatment = common.procedures_performed(
        SUD_TREATMENT,
        PSYCH_VISIT_PSYCHOTHERAPY,
        LONG_ACTING_ADMINISTRATION,
        SHORT_ACTING_ADMINISTRATION,
    ).where(lambda p: in_60_days_before(p.performed_start))
    history_visit = qualifying.where(
        lambda e: (
            ~ed_or_detox.where(lambda x: x.encounter_id == e.encounter_id).exists()
            & has_sud_diagnosis(e)
            & in_60_days_before(e.start)
        )
    )
    history_medication = lib.medications_ordered(
        LONG_ACTING_MEDICATION, SHORT_ACTING_MEDICATION
    ).where(lambda m: in_60_days_before(m.authored))
    history = history_treatment.exists() | history_visit.exists() | history_medication.exists()
    ip = (q.patient_age_on(ps) >= 13) & episode_id.is_not_null() & ~history

    psychosocial_procedures = common.procedures_performed(SUD_TREATMENT, PSYCH_VISIT_PSYCHOTHERAPY)
    telehealth: Frame = lib.encounters_performed(TELEPHONE_VISITS, VIRTUAL_ENCOUNTER).where(
        has_sud_diagnosis
    )
    orders = lib.medications_ordered(SHORT_ACTING_MEDICATION, LONG_ACTING_MEDICATION)
    administrations = common.procedures_performed(
        SHORT_ACTING_ADMINISTRATION, LONG_ACTING_ADMINISTRATION
    )
    initiation = _earliest(
        psychosocial_procedures.where(
            lambda p: in_14_days(p.performed_start) & (p.procedure_id != episode_id)
        ).min(lambda p: p.performed_start.date),
        telehealth.where(lambda e: in_14_days(e.start) & (e.encounter_id != episode_id)).min(
            lambda e: e.start.date
        ),
        orders.where(lambda m: in_14_days(m.authored)).min(lambda m: m.authored.date),
        administrations.where(lambda p: in_14_days(p.performed_start)).min(
            lambda p: p.performed_start.date
        ),
    )

    def in_34_days_after(x: Expr) -> Expr:
        """``date from x 34 days or less after`` the initiation date: (initiation, + 34]."""
        return q.within_days_after(x, initiation, 34, same_day=False)

    long_acting = (
        lib.medications_ordered(LONG_ACTING_MEDICATION)
        .where(lambda m: in_34_days_after(m.authored))
        .exists()
        | common.procedures_performed(LONG_ACTING_ADMINISTRATION)
        .where(lambda p: in_34_days_after(p.performed_start))
        .exists()
    )
    short_acting = (
        common.procedures_performed(
            SUD_TREATMENT, PSYCH_VISIT_PSYCHOTHERAPY, SHORT_ACTING_ADMINISTRATION
        )
        .where(lambda p: in_34_days_after(p.performed_start))
        .count()
        + telehealth.where(lambda e: in_34_days_after(e.start)).count()
        + lib.medications_ordered(SHORT_ACTING_MEDICATION)
        .where(lambda m: in_34_days_after(m.authored))
        .count()
    )
    engagement = q.any_of(long_acting=long_acting, two_short_acting=short_acting >= 2)
    exclusion = lib.has_hospice()
    episode_evidence = {"episode_id": episode_id, "episode_date": day}

    def group(gid: str, numerator: Expr, description: str) -> q.Group:
        return q.Group(
            id=gid,
            description=description,
            populations={
                "initial-population": ip,
                "denominator": ip,
                "denominator-exclusion": exclusion,
                "numerator": numerator,
            },
            evidence={
                "initial-population": episode_evidence,
                "numerator": {"initiation_date": initiation},
            },
        )

    return q.Measure(
        id="CMS137",
        title="Initiation and Engagement of Substance Use Disorder Treatment",
        groups=[
            group("group-1", initiation.is_not_null(), "Initiation of SUD treatment"),
            group("group-2", engagement, "Engagement in SUD treatment"),
        ],
        strata=[q.Stratifier("age", q.age_band(q.patient_age_on(ps), AGE_BANDS))],
    )


def cms137_2025() -> q.Measure:
    """CMS137v13 (2025): QI-Core 4.1.1, Status 1.8 (encounters finished, arrived, triaged,
    in progress or on leave; orders of intent ``order``)."""
    return _cms137(2025)


def cms137_2026() -> q.Measure:
    """CMS137v14 (2026): the episode's diagnosis must be an encounter diagnosis (QI-Core
    ConditionEncounterDiagnosis) that is verified; Status 1.15 (encounters ``finished`` only;
    any order intent); Hospice 6.18."""
    return _cms137(2026)


__all__ = ["cms137_2025", "cms137_2026"]
