"""CMS50, closing the referral loop: receipt of specialist report.

2025 (CMS50v13): the QI-Core CQL ``CRLReceiptofSpecialistReportFHIR`` 0.3.000 of
``cqframework/ecqm-content-qicore-2024``; 2026 (CMS50v14): ``CMS50FHIRReceiptofSpecialistReport``
1.1.000 of ``cqframework/dqm-content-cms-2025``. See ``docs/measures/cms50.md``.

The measure follows the patient's first referral of the year: the initial population is a
patient with a qualifying visit in the period and a referral order authored from 1 January to
31 October; the numerator, a completed Task for that referral (the consultant report received)
that ends after the referral was written and during the period.
"""

from __future__ import annotations

from tandem.measures import language as q
from tandem.measures.definitions.common import CPT, period_during, retrieve
from tandem.measures.language import Expr, Frame, Row

OFFICE_VISIT = "2.16.840.1.113883.3.464.1003.101.12.1001"
OPHTHALMOLOGICAL_SERVICES = "2.16.840.1.113883.3.526.3.1285"
PREVENTIVE_ESTABLISHED_18_UP = "2.16.840.1.113883.3.464.1003.101.12.1025"
PREVENTIVE_INITIAL_0_17 = "2.16.840.1.113883.3.464.1003.101.12.1022"
PREVENTIVE_INITIAL_18_UP = "2.16.840.1.113883.3.464.1003.101.12.1023"
PREVENTIVE_ESTABLISHED_0_17 = "2.16.840.1.113883.3.464.1003.101.12.1024"
BEHAVIORAL_NEUROPSYCH_ASSESSMENT = "2.16.840.1.113883.3.526.3.1023"
PSYCH_VISIT_DIAGNOSTIC_EVALUATION = "2.16.840.1.113883.3.526.3.1492"
REFERRAL = "2.16.840.1.113883.3.464.1003.101.12.1046"
CONSULTANT_REPORT = "2.16.840.1.113883.3.464.1003.121.12.1006"

VISITS = (
    OFFICE_VISIT,
    OPHTHALMOLOGICAL_SERVICES,
    PREVENTIVE_ESTABLISHED_18_UP,
    PREVENTIVE_INITIAL_0_17,
    PREVENTIVE_INITIAL_18_UP,
    PREVENTIVE_ESTABLISHED_0_17,
)
# The direct reference codes of both versions: psychological / neuropsychological testing,
# psychotherapy for crisis, developmental testing, health behaviour assessment.
ASSESSMENT_CODES = (
    (CPT, "96136"),
    (CPT, "96138"),
    (CPT, "90839"),
    (CPT, "96112"),
    (CPT, "96156"),
)
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
FULFILL = (TASK_CODE_SYSTEM, "fulfill")  # USQualityCoreCommon."Fulfill"


def _finished_during_period(e: Row) -> Expr:
    """``status = 'finished' and period during day of "Measurement Period"``."""
    return (e.status == "finished") & period_during(e.start, e.end, q.period_start, q.period_end)


def _referrals() -> Frame:
    """Referral orders (active or completed, intent ``order``) authored on a day from the
    start of the period to 31 October of its year."""
    ps = q.period_start
    # Date(year from start of "Measurement Period", 10, 31): 1 October of that year + 30 days
    october_31 = ps.add_days(q.lit(1) - ps.day).add_months(q.lit(10) - ps.month).add_days(30)
    return (
        retrieve("service_requests", REFERRAL)
        .status_in("active", "completed")
        .where(lambda s: (s.intent == "order") & q.during(s.authored, ps, october_31))
    )


def _measure(ip: Expr, numerator: Expr, evidence: dict[str, Expr]) -> q.Measure:
    return q.Measure(
        id="CMS50",
        title="Closing the Referral Loop: Receipt of Specialist Report",
        groups=[
            q.Group(
                id="group-1",
                populations={"initial-population": ip, "denominator": ip, "numerator": numerator},
                evidence={"numerator": evidence},
            )
        ],
    )


def cms50_2025() -> q.Measure:
    """CMS50v13. The first referral is the earliest by ``authoredOn`` (ties: the smallest id).
    A consultant report is a completed Task coded in "Consultant Report" whose ``basedOn``
    names that referral and whose execution period ends after the referral's ``authoredOn``
    and on a day of the period."""
    visits = (
        retrieve(
            "encounters",
            BEHAVIORAL_NEUROPSYCH_ASSESSMENT,
            *VISITS,
            PSYCH_VISIT_DIAGNOSTIC_EVALUATION,
            codes=ASSESSMENT_CODES,
        )
        .where(_finished_during_period)
        .exists()
    )
    first = _referrals().first_by(lambda s: s.authored)
    referral_id, written = first.request_id, first.authored
    reports = (
        retrieve("tasks", CONSULTANT_REPORT)
        .status_in("completed")
        .where(
            lambda t: (
                (t.based_on_id == referral_id)
                & (t.execution_end > written)
                & q.during(t.execution_end, q.period_start, q.period_end)
            )
        )
    )
    last_report = reports.last_by(lambda t: t.execution_end)
    ip = visits & referral_id.is_not_null()
    return _measure(
        ip,
        reports.exists(),
        {"referral_id": referral_id, "report_id": last_report.task_id},
    )


def cms50_2026() -> q.Measure:
    """CMS50v14. The visits that are assessments rather than office visits (Behavioral/
    Neuropsych Assessment, Psych Visit Diagnostic Evaluation and the five CPT codes) are now
    completed Procedures performed during the period. The first referral is the earliest by
    the date of ``authoredOn`` (same-day ties: the earliest time, then the smallest id). The
    report is a completed Task coded ``fulfill`` whose ``reasonCode`` is in "Consultant
    Report" and whose ``focus`` or ``basedOn`` names the referral."""
    ps, pe = q.period_start, q.period_end
    visits = retrieve("encounters", *VISITS).where(_finished_during_period).exists()
    interventions = (
        retrieve(
            "procedures",
            BEHAVIORAL_NEUROPSYCH_ASSESSMENT,
            PSYCH_VISIT_DIAGNOSTIC_EVALUATION,
            codes=ASSESSMENT_CODES,
        )
        .status_in("completed")
        .where(lambda p: period_during(p.performed_start, p.performed_end, ps, pe))
        .exists()
    )
    first = _referrals().first_by(lambda s: s.authored.date, lambda s: s.authored)
    referral_id, written = first.request_id, first.authored
    reports = (
        q.table("tasks")
        .where(lambda t: t.has_code(*FULFILL))
        .status_in("completed")
        .where(
            lambda t: (
                ((t.focus_id == referral_id) | (t.based_on_id == referral_id))
                & (t.execution_end > written)
                & q.during(t.execution_end, ps, pe)
                & t.reason_in(CONSULTANT_REPORT)
            )
        )
    )
    last_report = reports.last_by(lambda t: t.execution_end)
    ip = (visits | interventions) & referral_id.is_not_null()
    return _measure(
        ip,
        reports.exists(),
        {"referral_id": referral_id, "report_id": last_report.task_id},
    )


__all__ = ["cms50_2025", "cms50_2026"]
