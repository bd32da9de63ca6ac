"""AMM, DMS and DRR: the index dispensing, treatment days, assessment periods and the
remission / response follow-up window."""

from __future__ import annotations

import pytest

from tandem.measures.definitions import hedis
from tests.measures.hedis.builders import (
    ANTIDEPRESSANT,
    BIPOLAR,
    DEPRESSION,
    EXCLUDED,
    IN_NUMERATOR,
    NOT_IN_NUMERATOR,
    Chart,
    pops,
    run,
)

AMM, DMS, DRR = hedis.amm(), hedis.dms(), hedis.drr()


def new_start(pid: str = "p1", *, dx_day: str = "2025-01-20", **kw) -> Chart:
    """A first antidepressant fill on 1 February 2025 with a depression visit."""
    return Chart(pid, **kw).visit(dx_day, DEPRESSION).fill("2025-02-01", 30, code=ANTIDEPRESSANT)


def test_amm_84_treatment_days_in_the_acute_window_meet_the_acute_rate(engine):
    met = (
        new_start("met")
        .fill("2025-03-03", 30, ANTIDEPRESSANT)
        .fill("2025-04-02", 24, ANTIDEPRESSANT)
    )
    short = (
        new_start("short")
        .fill("2025-03-03", 30, ANTIDEPRESSANT)
        .fill("2025-04-02", 23, ANTIDEPRESSANT)
    )
    result = run(AMM, [met, short], engine)
    assert result.patient("met").evidence["acute"]["denominator"]["treatment_days"] == 84
    assert pops(result, "acute", "met") == IN_NUMERATOR
    assert pops(result, "acute", "short") == NOT_IN_NUMERATOR
    assert pops(result, "continuation", "met") == NOT_IN_NUMERATOR


def test_amm_180_days_in_the_continuation_window_meet_both_rates(engine):
    p = new_start().fill("2025-03-03", 90, ANTIDEPRESSANT).fill("2025-06-01", 60, ANTIDEPRESSANT)
    result = run(AMM, p, engine)
    assert result.patient("p1").evidence["continuation"]["denominator"]["treatment_days"] == 180
    assert pops(result, "acute") == IN_NUMERATOR
    assert pops(result, "continuation") == IN_NUMERATOR


def test_amm_overlapping_refills_are_counted_once(engine):
    p = new_start().fill("2025-02-15", 30, ANTIDEPRESSANT).fill("2025-03-01", 60, ANTIDEPRESSANT)
    ev = run(AMM, p, engine).patient("p1").evidence["acute"]["denominator"]
    assert ev["treatment_days"] == 88  # 1 Feb .. 29 Apr


def test_amm_an_antidepressant_in_the_105_days_before_is_not_a_new_episode(engine):
    p = Chart().visit("2024-05-10", DEPRESSION).fill("2024-05-10", 30, ANTIDEPRESSANT)
    p.fill("2024-04-01", 30, ANTIDEPRESSANT)  # before the intake period, 39 days earlier
    assert pops(run(AMM, p, engine), "acute") == set()


@pytest.mark.parametrize(("dx_day", "eligible"), [("2024-12-03", True), ("2024-12-02", False)])
def test_amm_depression_diagnosis_within_60_days_of_the_ipsd(engine, dx_day, eligible):
    result = run(AMM, new_start(dx_day=dx_day), engine)
    assert bool(pops(result, "acute")) is eligible


@pytest.mark.parametrize(("born", "eligible"), [("2007-04-30", True), ("2007-05-01", False)])
def test_amm_age_18_as_of_30_april(engine, born, eligible):
    assert bool(pops(run(AMM, new_start(born=born), engine), "acute")) is eligible


def test_amm_dysthymia_alone_is_not_major_depression(engine):
    p = Chart().visit("2025-01-20", "F34.1").fill("2025-02-01", 30, ANTIDEPRESSANT)
    assert pops(run(AMM, p, engine), "acute") == set()


def test_amm_enrollment_window_starts_105_days_before_the_ipsd(engine):
    p = new_start(covered=("2024-12-03", None))  # 1 Feb - 105 days = 19 Oct 2024: 45-day gap
    assert pops(run(AMM, p, engine), "acute") == NOT_IN_NUMERATOR
    late = new_start(covered=("2024-12-04", None))  # 46-day gap
    assert pops(run(AMM, late, engine), "acute") == set()


# --- DMS -----------------------------------------------------------------------------------


def test_dms_counts_each_assessment_period_separately(engine):
    p = (
        Chart()
        .problem(DEPRESSION)
        .visit("2025-02-10")
        .phq9("2025-03-01", 12)
        .visit("2025-06-10")
        .phq9("2025-09-02", 8)  # third period, but no visit there
    )
    result = run(DMS, p, engine)
    assert pops(result, "period-1") == IN_NUMERATOR
    assert pops(result, "period-2") == NOT_IN_NUMERATOR
    assert pops(result, "period-3") == set()
    assert result.patient("p1").evidence["period-1"]["numerator"]["phq9_score"] == 12.0


def test_dms_phq9_on_the_last_day_of_april_belongs_to_the_first_period(engine):
    p = Chart().problem(DEPRESSION).visit("2025-02-10").phq9("2025-04-30", 9)
    assert pops(run(DMS, p, engine), "period-1") == IN_NUMERATOR


def test_dms_under_12_and_bipolar_patients_are_out(engine):
    child = Chart("child", born="2013-01-02").problem(DEPRESSION).visit("2025-02-10")
    bipolar = Chart("bp").problem(DEPRESSION).problem(BIPOLAR).visit("2025-02-10")
    result = run(DMS, [child, bipolar], engine)
    assert pops(result, "period-1", "child") == set()
    assert pops(result, "period-1", "bp") == EXCLUDED


# --- DRR -----------------------------------------------------------------------------------
# Index PHQ-9 of 16 on 1 June 2024: follow-up period 29 Sep 2024 .. 27 Jan 2025.


def elevated(pid: str = "p1", score: float = 16, **kw) -> Chart:
    return Chart(pid, **kw).problem(DEPRESSION).phq9("2024-06-01", score)


def drr_pops(result, pid: str = "p1") -> tuple[set[str], set[str], set[str]]:
    return tuple(pops(result, g, pid) for g in ("follow-up", "remission", "response"))


def test_drr_score_below_5_is_remission_and_response(engine):
    result = run(DRR, elevated().phq9("2024-12-01", 4), engine)
    assert drr_pops(result) == (IN_NUMERATOR, IN_NUMERATOR, IN_NUMERATOR)


def test_drr_half_the_index_score_is_response_without_remission(engine):
    half = elevated("half").phq9("2024-12-01", 8)  # 8 <= 16 / 2
    more = elevated("more").phq9("2024-12-01", 9)
    result = run(DRR, [half, more], engine)
    assert drr_pops(result, "half") == (IN_NUMERATOR, NOT_IN_NUMERATOR, IN_NUMERATOR)
    assert drr_pops(result, "more") == (IN_NUMERATOR, NOT_IN_NUMERATOR, NOT_IN_NUMERATOR)


def test_drr_the_most_recent_score_in_the_period_decides(engine):
    p = elevated().phq9("2024-10-15", 3).phq9("2025-01-10", 12)
    result = run(DRR, p, engine)
    assert drr_pops(result) == (IN_NUMERATOR, NOT_IN_NUMERATOR, NOT_IN_NUMERATOR)
    assert result.patient("p1").evidence["remission"]["denominator"]["last_score"] == 12.0


def test_drr_follow_up_window_is_day_120_to_day_240(engine):
    early = elevated("early").phq9("2024-09-28", 2)  # day 119
    first = elevated("first").phq9("2024-09-29", 2)  # day 120
    last = elevated("last").phq9("2025-01-27", 2)  # day 240
    late = elevated("late").phq9("2025-01-28", 2)  # day 241
    result = run(DRR, [early, first, last, late], engine)
    assert drr_pops(result, "early")[0] == NOT_IN_NUMERATOR
    assert drr_pops(result, "first")[0] == IN_NUMERATOR
    assert drr_pops(result, "last")[0] == IN_NUMERATOR
    assert drr_pops(result, "late")[0] == NOT_IN_NUMERATOR


def test_drr_a_score_of_9_is_not_elevated(engine):
    assert drr_pops(run(DRR, elevated(score=9), engine))[0] == set()


def test_drr_bipolar_disorder_excludes(engine):
    p = elevated().problem(BIPOLAR).phq9("2024-12-01", 4)
    result = run(DRR, p, engine)
    assert pops(result, "remission") == EXCLUDED
    assert result.patient("p1").reasons["remission"]["denominator-exclusion"] == ["mental_health"]
