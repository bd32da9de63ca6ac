"""CMS69 (preventive care and screening: BMI screening and follow-up plan): the 2025 version
(``PCSBMIScreenAndFollowUpFHIR`` 0.2.000, QI-Core 4.1.1) and the 2026 version
(``CMS69FHIRPCSBMIScreenAndFollowUp`` 1.0.000, QI-Core STU 6). See ``docs/measures/cms69.md``.

Profiles are read from the tables the way the other eCQMs read them: a QI-Core
"…NotRequested" request is a row with ``do_not_perform`` true (the plain request retrieves leave
it out), an ObservationNotDone/Cancelled is a ``cancelled`` observation with its reason in
``reason_code``, and a condition's profile is its ``category``.
"""

from __future__ import annotations

from tandem.measures import language as q
from tandem.measures.definitions.cms_chronic import LIBRARIES_2025, LIBRARIES_2026, Libraries
from tandem.measures.definitions.common import (
    FINAL,
    LOINC,
    is_active,
    latest,
    not_true,
    period_during,
    prevalence_overlaps,
    retrieve,
)
from tandem.measures.language import Expr, Frame, Row

ENCOUNTER_TO_EVALUATE_BMI = "2.16.840.1.113883.3.600.1.1751"
FOLLOW_UP_ABOVE_NORMAL = "2.16.840.1.113883.3.600.1.1525"
FOLLOW_UP_BELOW_NORMAL = "2.16.840.1.113883.3.600.1.1528"
REFERRALS = "2.16.840.1.113883.3.600.1.1527"  # Referrals Where Weight Assessment May Occur
MEDICATIONS_ABOVE_NORMAL = "2.16.840.1.113883.3.526.3.1561"
MEDICATIONS_BELOW_NORMAL = "2.16.840.1.113883.3.526.3.1562"
OVERWEIGHT_OR_OBESE = "2.16.840.1.113762.1.4.1047.502"
UNDERWEIGHT = "2.16.840.1.113883.3.526.3.1563"
MEDICAL_REASON = "2.16.840.1.113883.3.526.3.1007"
PATIENT_DECLINED = "2.16.840.1.113883.3.526.3.1582"
PREGNANCY = "2.16.840.1.113883.3.600.1.1623"  # Pregnancy or Other Related Diagnoses
BMI = (LOINC, "39156-5")
PREGNANCY_STATUS = (LOINC, "82810-3")  # US Core Observation Pregnancy Status profile
VIRTUAL = "VR"
PROBLEM_OR_CONCERN = ("problem-list-item", "health-concern")


def _qualifying_encounters() -> Frame:
    """The "Qualifying Encounter During Day Of Measurement Period": Encounter to Evaluate BMI,
    finished, not virtual (a missing class is not virtual), within the period."""
    return (
        retrieve("encounters", ENCOUNTER_TO_EVALUATE_BMI)
        .status_in("finished")
        .where(
            lambda e: (
                (e.class_code.is_null() | (e.class_code != VIRTUAL))
                & period_during(e.start, e.end, q.period_start, q.period_end)
            )
        )
    )


def _bmis() -> Frame:
    """The "BMI During Measurement Period": BMI observations (the FHIR / US Core BMI profile:
    LOINC 39156-5, category vital-signs; status final/amended/corrected) with a Quantity value
    above 0, effective within the period."""
    return (
        retrieve("observations", codes=[BMI])
        .status_in(*FINAL)
        .where(
            lambda o: (
                (o.category == "vital-signs")
                & (o.value_num > 0)
                & (o.value_type.is_null() | (o.value_type == "Quantity"))
                & period_during(o.effective_start, latest(o), q.period_start, q.period_end)
            )
        )
    )


def _starts_by(c: Row, day: Expr) -> Expr:
    """``prevalenceInterval() starts before or on day of`` ``day`` (no onset: open to the past)."""
    return c.onset.is_null() | (c.onset.date <= day)


def _not_ended_before(c: Row, day: Expr) -> Expr:
    """``not (prevalenceInterval() ends before day of`` ``day``) (no abatement: ongoing)."""
    return c.abatement.is_null() | (c.abatement.date >= day)


def _medication_requests(lib: Libraries, *valuesets: str) -> Frame:
    """[MedicationRequest: …]: 2025 matches ``medicationCodeableConcept`` only; 2026 also a
    ``medicationReference`` to a Medication with the code (the loader resolves it and keeps the
    Medication's id in ``medication_ref``)."""
    found = retrieve("medication_requests", *valuesets)
    if lib.year < 2026:
        return found.where(lambda r: r.medication_ref.is_null())
    return found


def _requests(found: Frame) -> Frame:
    """[ServiceRequest: …] / [MedicationRequest: …]: the requests that are not "…NotRequested"."""
    return found.where(lambda r: not_true(r.do_not_perform))


def _interventions(lib: Libraries, high: bool) -> Expr:
    """A follow-up intervention for an above (``high``) or below normal BMI that starts
    (``Coalesce(performed, authoredOn)``) within the period."""
    ps, pe = q.period_start, q.period_end
    target = OVERWEIGHT_OR_OBESE if high else UNDERWEIGHT
    follow_up = FOLLOW_UP_ABOVE_NORMAL if high else FOLLOW_UP_BELOW_NORMAL
    medications = MEDICATIONS_ABOVE_NORMAL if high else MEDICATIONS_BELOW_NORMAL

    def order_diagnosis(day: Expr, authored: Expr) -> Expr:
        if lib.year < 2026:
            cats = PROBLEM_OR_CONCERN if high else ("health-concern",)
            found = lib.conditions(target).where(
                lambda c: c.category.isin(cats) & is_active(c) & _starts_by(c, day)
            )
        else:
            found = lib.conditions(target).where(lambda c: _starts_by(c, day))
        if not high:  # the low-BMI order also needs its date within the period
            return found.exists() & q.during(authored, ps, pe)
        return found.exists()

    def ordered(r: Row) -> Expr:
        return r.reason_in(target) | order_diagnosis(r.authored.date, r.authored)

    service = _requests(retrieve("service_requests", follow_up, REFERRALS))
    drugs = _requests(_medication_requests(lib, medications))
    # the date test first: it cuts the rows before the correlated condition lookups
    orders = [
        f.where(lambda r: q.during(r.authored, ps, pe)).where(ordered) for f in (service, drugs)
    ]

    def performed(p: Row) -> Expr:
        day = p.performed_start.date
        if high:
            cats: tuple[str, ...] = PROBLEM_OR_CONCERN if lib.year >= 2026 else ()
            by_reason = p.reason_in(target)
        else:
            cats = ("health-concern",)
            by_reason = p.reason_in(target) & (p.status == "completed")
        found = lib.conditions(target).where(
            lambda c: _starts_by(c, day) & _not_ended_before(c, day)
        )
        if cats:
            found = found.where(lambda c: c.category.isin(cats))
        if not high:
            found = found.where(
                lambda c: (
                    q.during(p.performed_start, ps, pe)
                    & q.during(p.performed_end.if_null(p.performed_start), ps, pe)
                )
            )
            if lib.year < 2026:
                found = found.where(is_active)
        return by_reason | found.exists()

    procedures = (
        retrieve("procedures", follow_up)
        .where(lambda p: q.during(p.performed_start, ps, pe))
        .where(performed)
    )
    out = procedures.exists()
    for frame in orders:
        out = out | frame.exists()
    return out


def _pregnant(lib: Libraries, encounters: Frame) -> Expr:
    """2025: an active pregnancy diagnosis overlapping the period. 2026: a pregnancy diagnosis
    of any clinical status overlapping it, or a pregnancy status observation saying so."""
    ps, pe = q.period_start, q.period_end
    if lib.year < 2026:
        # "with" a qualifying encounter whose such-that clause only tests the diagnosis
        diagnosis = lib.conditions(PREGNANCY).where(
            lambda c: (c.clinical_status == "active") & prevalence_overlaps(c, ps, pe)
        )
        return diagnosis.exists() & encounters.exists()
    diagnosis = lib.conditions(PREGNANCY).where(lambda c: prevalence_overlaps(c, ps, pe))
    status = (
        retrieve("observations", codes=[PREGNANCY_STATUS])
        .status_in(*FINAL)
        .where(lambda o: o.value_in(PREGNANCY) & q.overlaps(o.effective_start, latest(o), ps, pe))
    )
    return diagnosis.exists() | status.exists()


def _exceptions(lib: Libraries, encounters: Frame) -> Expr:
    """Denominator exceptions: a follow-up not ordered for a medical reason, or the BMI not
    taken for a medical or patient reason, on the day a qualifying encounter starts."""

    def same_day(day: Expr) -> Expr:
        return encounters.where(lambda e: e.start.date == day).exists()

    not_requested = (
        retrieve("service_requests", REFERRALS, FOLLOW_UP_ABOVE_NORMAL, FOLLOW_UP_BELOW_NORMAL)
        .where(lambda s: s.do_not_perform.if_null(False) & (s.status == "completed"))
        .where(lambda s: s.reason_in(MEDICAL_REASON) & same_day(s.authored.date))
    )
    not_prescribed = (
        _medication_requests(lib, MEDICATIONS_ABOVE_NORMAL, MEDICATIONS_BELOW_NORMAL)
        .where(lambda m: m.do_not_perform.if_null(False) & (m.status == "completed"))
        .where(lambda m: m.reason_in(MEDICAL_REASON) & same_day(m.authored.date))
    )
    not_measured = (
        retrieve("observations", codes=[BMI])
        .status_in("cancelled")
        .where(lambda o: o.reason_in(PATIENT_DECLINED) | o.reason_in(MEDICAL_REASON))
        .where(lambda o: same_day(latest(o).date))
    )
    return q.any_of(
        follow_up_not_ordered=not_requested.exists() | not_prescribed.exists(),
        bmi_not_measured=not_measured.exists(),
    )


def _cms69(lib: Libraries) -> q.Measure:
    encounters = _qualifying_encounters()
    ip = encounters.where(lambda e: q.patient_age_on(e.start.date) >= 18).exists()
    bmis = _bmis()
    high = bmis.where(lambda o: o.value_num >= 25).exists()
    low = bmis.where(lambda o: o.value_num < 18.5).exists()
    normal = bmis.where(lambda o: (o.value_num >= 18.5) & (o.value_num < 25)).exists()
    numerator = q.any_of(
        high_bmi_follow_up=high & _interventions(lib, high=True),
        low_bmi_follow_up=low & _interventions(lib, high=False),
        normal_bmi=normal & ~high & ~low,
    )
    exclusion = q.any_of(
        hospice=lib.has_hospice(),
        palliative=lib.has_palliative_care(),
        pregnant=_pregnant(lib, encounters),
    )
    last_bmi = bmis.last_by(lambda o: latest(o))
    return q.Measure(
        id="CMS69",
        title="Preventive Care and Screening: Body Mass Index (BMI) Screening and Follow-Up Plan",
        groups=[
            q.Group(
                id="group-1",
                populations={
                    "initial-population": ip,
                    "denominator": ip,
                    "denominator-exclusion": exclusion,
                    "numerator": numerator,
                    "denominator-exception": _exceptions(lib, encounters),
                },
                evidence={"numerator": {"last_bmi": last_bmi.value_num}},
            )
        ],
    )


def cms69_2025() -> q.Measure:
    """CMS69v13 (2025): ``PCSBMIScreenAndFollowUpFHIR`` 0.2.000."""
    return _cms69(LIBRARIES_2025)


def cms69_2026() -> q.Measure:
    """CMS69v14 (2026): ``CMS69FHIRPCSBMIScreenAndFollowUp`` 1.0.000."""
    return _cms69(LIBRARIES_2026)


__all__ = ["cms69_2025", "cms69_2026"]
