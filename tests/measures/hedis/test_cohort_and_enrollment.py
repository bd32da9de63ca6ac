"""The shared HEDIS steps, told through SSD: the SMI cohort step, continuous enrollment with one
allowed gap, the anchor date, and the hospice and death exclusions."""

from __future__ import annotations

from tandem.measures.definitions import hedis
from tests.measures.hedis.builders import (
    BIPOLAR,
    EXCLUDED,
    HCPCS,
    HOSPICE,
    IN_NUMERATOR,
    SCHIZOPHRENIA,
    Chart,
    pops,
    run,
)

SSD = hedis.ssd()


def on_antipsychotics(pid: str = "p1", **kw) -> Chart:
    """An adult with antipsychotic fills and an HbA1c, but no cohort diagnosis yet."""
    return Chart(pid, **kw).fill("2025-02-03").lab("2025-06-01", "4548-4")


def test_two_outpatient_visits_on_different_dates_enter_the_smi_cohort(engine):
    p = on_antipsychotics().visit("2025-02-03", SCHIZOPHRENIA).visit("2025-04-07", SCHIZOPHRENIA)
    assert pops(run(SSD, p, engine)) == IN_NUMERATOR


def test_two_visits_on_the_same_date_do_not_enter_the_cohort(engine):
    p = (
        on_antipsychotics()
        .visit("2025-02-03", SCHIZOPHRENIA)
        .visit("2025-02-03", SCHIZOPHRENIA, hour=15)
    )
    assert pops(run(SSD, p, engine)) == set()


def test_one_acute_inpatient_stay_with_the_diagnosis_enters_the_cohort(engine):
    p = on_antipsychotics().stay("2025-03-01", "2025-03-09", BIPOLAR)
    assert pops(run(SSD, p, engine)) == IN_NUMERATOR


def test_an_ed_visit_and_a_telehealth_visit_count_as_two_cohort_visits(engine):
    p = (
        on_antipsychotics()
        .ed_visit("2025-03-01", SCHIZOPHRENIA)
        .visit("2025-05-01", SCHIZOPHRENIA, cls="VR")
    )
    assert pops(run(SSD, p, engine)) == IN_NUMERATOR


def test_visits_in_the_prior_year_count_only_with_a_cohort_lookback(engine):
    p = on_antipsychotics().visit("2024-02-03", SCHIZOPHRENIA).visit("2024-04-07", SCHIZOPHRENIA)
    assert pops(run(SSD, p, engine)) == set()
    looked_back = run(SSD, p, engine, parameters={"cohort_lookback_years": 1})
    assert pops(looked_back) == IN_NUMERATOR


def cohort(chart: Chart) -> Chart:
    return chart.visit("2025-02-03", SCHIZOPHRENIA).visit("2025-04-07", SCHIZOPHRENIA)


def test_one_enrollment_gap_of_45_days_is_allowed_but_46_is_not(engine):
    gap45 = cohort(on_antipsychotics("p45", covered=("2020-01-01", "2025-03-31")))
    gap45.coverage("2025-05-16", None)  # uncovered 1 April - 15 May = 45 days
    gap46 = cohort(on_antipsychotics("p46", covered=("2020-01-01", "2025-03-31")))
    gap46.coverage("2025-05-17", None)  # 46 days
    result = run(SSD, [gap45, gap46], engine)
    assert pops(result, pid="p45") == IN_NUMERATOR
    assert pops(result, pid="p46") == set()


def test_two_short_enrollment_gaps_break_continuous_enrollment(engine):
    p = cohort(on_antipsychotics(covered=("2020-01-01", "2025-03-31")))
    p.coverage("2025-04-06", "2025-07-31").coverage("2025-08-06", None)
    assert pops(run(SSD, p, engine)) == set()


def test_a_gap_at_the_start_of_the_year_counts_as_the_one_gap(engine):
    p = cohort(on_antipsychotics(covered=("2025-01-20", None)))  # 19 uncovered days
    assert pops(run(SSD, p, engine)) == IN_NUMERATOR


def test_coverage_must_include_the_anchor_date_31_december(engine):
    p = cohort(on_antipsychotics(covered=("2020-01-01", "2025-12-30")))  # 1-day gap at the end
    assert pops(run(SSD, p, engine)) == set()


def test_the_enrollment_requirement_can_be_switched_off_for_clinical_data(engine):
    p = cohort(on_antipsychotics(covered=False))
    assert pops(run(SSD, p, engine)) == set()
    assert pops(run(SSD, p, engine, parameters={"require_enrollment": False})) == IN_NUMERATOR


def test_hospice_services_in_the_year_exclude_the_patient(engine):
    p = cohort(on_antipsychotics()).procedure("2025-09-01", HOSPICE, system=HCPCS)
    result = run(SSD, p, engine)
    assert pops(result) == EXCLUDED
    assert result.patient("p1").reasons["group-1"]["denominator-exclusion"] == ["hospice"]


def test_a_discharge_to_hospice_excludes_the_patient(engine):
    p = cohort(on_antipsychotics()).stay(
        "2025-10-01", "2025-10-05", disposition="428361000124107", cls="IMP"
    )
    assert pops(run(SSD, p, engine)) == EXCLUDED


def test_death_in_the_year_excludes_the_patient(engine):
    p = cohort(on_antipsychotics(death="2025-11-02", covered=("2020-01-01", None)))
    result = run(SSD, p, engine, parameters={"require_enrollment": False})
    assert pops(result) == EXCLUDED
    assert result.patient("p1").reasons["group-1"]["denominator-exclusion"] == ["deceased"]
