"""Episode-based eCQMs: CMS68 (documentation of current medications) and CMS177 (child and
adolescent major depressive disorder: suicide risk assessment), 2025 and 2026.

Both measures have ``populationBasis`` "Encounter": each population is a set of encounters and
a patient counts once per qualifying encounter (``q.Group(basis="Encounter", episodes=...)``,
``docs/measures/language.md`` §5). Written from the 2025 CQL
(``DocumentationofCurrentMedicationsFHIR`` 0.2.000,
``ChildandAdolescentMajorDepressiveDisorderMDDSuicideRiskAssessmentFHIR`` 0.1.000,
``cqframework/ecqm-content-qicore-2024``) and the 2026 Measures' logic (``CMS68FHIR
DocumentationCurrentMeds`` and ``CMS177FHIRChildMDDSuicideAssmt`` 1.0.000). What changed between
the versions is in ``docs/measures/cms68.md`` and ``docs/measures/cms177.md``.

Timing phrases: ``A during B`` without ``day of`` compares the timestamps themselves
(``q.during_at``); ``during day of`` compares calendar days (``q.during``). A FHIR Period
without an end is ``Interval[start, null]``: its end is the end of time, so it is never
"during" a bounded interval and has no end for ``hasEnd()``; a dateTime is ``[t, t]`` (the
tables store it as start = end).
"""

from __future__ import annotations

from tandem.measures import language as q
from tandem.measures.definitions import common_2026
from tandem.measures.definitions.common import SNOMED, period_during, retrieve
from tandem.measures.language import Expr, Frame, Row

# --- CMS68 -------------------------------------------------------------------------------

ENCOUNTER_TO_DOCUMENT_MEDS = "2.16.840.1.113883.3.600.1.1834"
MEDICAL_REASON = "2.16.840.1.113883.3.526.3.1007"
MEDS_DOCUMENTED = (SNOMED, "428191000124101")  # Documentation of current medications
ACUTE_HEALTH_CRISIS = (SNOMED, "705016005")  # 2026 exception reason


def _qualifying_encounters() -> Frame:
    """The "Qualifying Encounter during day of Measurement Period" (both years)."""
    return (
        q.table("encounters")
        .code_in(ENCOUNTER_TO_DOCUMENT_MEDS)
        .status_in("finished")
        .where(lambda e: period_during(e.start, e.end, q.period_start, q.period_end))
    )


def _cms68(year: int) -> q.Measure:
    documented = (
        q.table("procedures").where(lambda p: p.has_code(*MEDS_DOCUMENTED)).status_in("completed")
    )
    not_documented = (
        q.table("procedures").where(lambda p: p.has_code(*MEDS_DOCUMENTED)).status_in("not-done")
    )

    if year == 2025:

        def numerator(e: Row) -> Expr:
            # performed.toInterval() ends during QualifyingEncounter.period
            return documented.where(lambda p: q.during_at(p.performed_end, e.start, e.end)).exists()

        def exception(e: Row) -> Expr:
            # recorded during QualifyingEncounter.period, reasonCode in "Medical Reason"
            return not_documented.where(
                lambda p: q.during_at(p.recorded, e.start, e.end) & p.reason_in(MEDICAL_REASON)
            ).exists()

    else:

        def numerator(e: Row) -> Expr:
            # performed.toInterval() starts during day of the period, and hasEnd()
            return documented.where(
                lambda p: (
                    q.during(p.performed_start, e.start, e.end) & p.performed_end.is_not_null()
                )
            ).exists()

        def exception(e: Row) -> Expr:
            # recorded during day of the period, reasonCode ~ "Acute health crisis (finding)"
            system, code = ACUTE_HEALTH_CRISIS
            return not_documented.where(
                lambda p: (
                    q.during(p.recorded, e.start, e.end)
                    & (p.reason_system == system)
                    & (p.reason_code == code)
                )
            ).exists()

    return q.Measure(
        id="CMS68",
        title="Documentation of Current Medications in the Medical Record",
        description=(
            "Visits in the period in which the clinician documented the current medications "
            "(per encounter; the FHIR logic sets no age limit)."
        ),
        groups=[
            q.Group(
                id="group-1",
                basis="Encounter",
                episodes=_qualifying_encounters(),
                populations={
                    "initial-population": q.lit(True),
                    "numerator": numerator,
                    "denominator-exception": exception,
                },
            )
        ],
        valuesets={
            "Encounter to Document Medications": ENCOUNTER_TO_DOCUMENT_MEDS,
            **({"Medical Reason": MEDICAL_REASON} if year == 2025 else {}),
        },
    )


def cms68_2025() -> q.Measure:
    """CMS68v14 (DocumentationofCurrentMedicationsFHIR 0.2.000)."""
    return _cms68(2025)


def cms68_2026() -> q.Measure:
    """CMS68v15 (CMS68FHIRDocumentationCurrentMeds 1.0.000)."""
    return _cms68(2026)


# --- CMS177 ------------------------------------------------------------------------------

MDD_ENCOUNTERS = {
    "Office Visit": "2.16.840.1.113883.3.464.1003.101.12.1001",
    "Outpatient Consultation": "2.16.840.1.113883.3.464.1003.101.12.1008",
    "Psych Visit Diagnostic Evaluation": "2.16.840.1.113883.3.526.3.1492",
    "Psych Visit for Family Psychotherapy": "2.16.840.1.113883.3.526.3.1018",
    "Psych Visit Psychotherapy": "2.16.840.1.113883.3.526.3.1496",
    "Psychoanalysis": "2.16.840.1.113883.3.526.3.1141",
    "Group Psychotherapy": "2.16.840.1.113883.3.526.3.1187",
    "Telephone Visits": "2.16.840.1.113883.3.464.1003.101.12.1080",
}
MDD_ACTIVE = "2.16.840.1.113883.3.526.3.1491"
SUICIDE_RISK_ASSESSMENT = (SNOMED, "225337009")


def _mdd_link(e: Row, year: int) -> Expr:
    """The encounter's MDD evidence: 2025 ``reasonCode in "Major Depressive Disorder Active"``
    or an ``encounterDiagnosis()`` condition in it; 2026 the reasonCode, or a
    ``reasonReference`` to a condition in it (Encounter.diagnosis no longer counts)."""
    # 2026: [ConditionProblemsHealthConcerns] union [ConditionEncounterDiagnosis] = every
    # condition with the code (common_2026.conditions); 2025: [Condition]
    mdd = common_2026.conditions(MDD_ACTIVE) if year != 2025 else retrieve("conditions", MDD_ACTIVE)
    linked = "diagnosis" if year == 2025 else "reason-reference"
    own = q.table("encounter_reasons").where(lambda r: r.encounter_id == e.encounter_id)
    by_code = own.where(lambda r: (r.kind == "reason-code") & r.code_in(MDD_ACTIVE))
    by_condition = own.where(
        lambda r: (
            (r.kind == linked) & mdd.where(lambda c: c.condition_id == r.condition_id).exists()
        )
    )
    return by_code.exists() | by_condition.exists()


def _mdd_encounters(year: int) -> Frame:
    """The "Major Depressive Disorder Encounter": a finished visit of the eight value sets,
    during day of the period, with MDD as its reason or diagnosis (``_mdd_link``)."""
    valuesets = list(MDD_ENCOUNTERS.values())

    def visit(e: Row) -> Expr:
        out = e.code_in(valuesets[0])
        for vs in valuesets[1:]:
            out = out | e.code_in(vs)
        return out

    return (
        q.table("encounters")
        .where(visit)
        .status_in("finished")
        .where(lambda e: period_during(e.start, e.end, q.period_start, q.period_end))
        .where(lambda e: _mdd_link(e, year))
    )


def _during_encounter(start: Expr, end: Expr, e: Row) -> Expr:
    """``Interval[start, end] during MDDEncounter.period`` (timestamps)."""
    return q.during_at(start, e.start, e.end) & q.during_at(end, e.start, e.end)


def _cms177(year: int) -> q.Measure:
    assessed = (
        q.table("procedures")
        .where(lambda p: p.has_code(*SUICIDE_RISK_ASSESSMENT))
        .status_in("completed")
    )
    observed = (
        q.table("observations")
        .where(lambda o: o.has_code(*SUICIDE_RISK_ASSESSMENT))
        .status_in("final", "corrected", "amended")
    )

    def numerator(e: Row) -> Expr:
        by_procedure = assessed.where(
            lambda p: _during_encounter(p.performed_start, p.performed_end, e)
        ).exists()
        if year == 2025:
            return by_procedure
        by_observation = observed.where(
            lambda o: _during_encounter(o.effective_start, o.effective_end, e)
        ).exists()
        return by_procedure | by_observation

    age = q.patient_age_on(q.period_start)
    return q.Measure(
        id="CMS177",
        title="Child and Adolescent Major Depressive Disorder (MDD): Suicide Risk Assessment",
        description=(
            "Encounters of patients aged 6 through 16 with major depressive disorder in which "
            "a suicide risk assessment was completed."
        ),
        groups=[
            q.Group(
                id="group-1",
                basis="Encounter",
                episodes=_mdd_encounters(year),
                populations={
                    "initial-population": age.between(6, 16),
                    "numerator": numerator,
                },
            )
        ],
        valuesets={**MDD_ENCOUNTERS, "Major Depressive Disorder Active": MDD_ACTIVE},
    )


def cms177_2025() -> q.Measure:
    """CMS177v13 (ChildandAdolescentMajorDepressiveDisorderMDDSuicideRiskAssessmentFHIR
    0.1.000)."""
    return _cms177(2025)


def cms177_2026() -> q.Measure:
    """CMS177v14 (CMS177FHIRChildMDDSuicideAssmt 1.0.000)."""
    return _cms177(2026)
