"""FUH and FUM: index events, follow-up windows counted in days, readmissions, and the
per-patient report with event counts (see docs/measures/fuh.md)."""

from __future__ import annotations

import pytest

from tandem.measures.definitions import hedis
from tandem.measures.definitions.hedis_followup import event_rates
from tests.measures.hedis.builders import (
    DEPRESSION,
    DIABETES,
    EXCLUDED,
    HCPCS,
    HOSPICE,
    IN_NUMERATOR,
    NOT_IN_NUMERATOR,
    SCHIZOPHRENIA,
    Chart,
    pops,
    run,
)

FUH, FUM = hedis.fuh(), hedis.fum()


def discharged(pid: str = "p1", discharge: str = "2025-03-05", **kw) -> Chart:
    """A psychiatric stay of a few days ending on ``discharge``."""
    return Chart(pid, **kw).stay(
        "2025-03-01" if discharge == "2025-03-05" else discharge, discharge, SCHIZOPHRENIA
    )


def both(result, pid: str = "p1") -> tuple[set[str], set[str]]:
    return pops(result, "7-day", pid), pops(result, "30-day", pid)


# --- FUH -----------------------------------------------------------------------------------


def test_fuh_visit_on_day_7_meets_both_rates(engine):
    result = run(FUH, discharged().bh_visit("2025-03-12"), engine)
    assert both(result) == (IN_NUMERATOR, IN_NUMERATOR)


def test_fuh_visit_on_day_8_misses_the_7_day_rate(engine):
    result = run(FUH, discharged().bh_visit("2025-03-13"), engine)
    assert both(result) == (NOT_IN_NUMERATOR, IN_NUMERATOR)


def test_fuh_same_day_visit_does_not_count(engine):
    result = run(FUH, discharged().bh_visit("2025-03-05", hour=15), engine)
    assert both(result) == (NOT_IN_NUMERATOR, NOT_IN_NUMERATOR)


def test_fuh_visit_on_day_30_counts_and_day_31_does_not(engine):
    day30 = discharged("d30").bh_visit("2025-04-04")
    day31 = discharged("d31").bh_visit("2025-04-05")
    result = run(FUH, [day30, day31], engine)
    assert both(result, "d30") == (NOT_IN_NUMERATOR, IN_NUMERATOR)
    assert both(result, "d31") == (NOT_IN_NUMERATOR, NOT_IN_NUMERATOR)


def test_fuh_primary_care_visit_is_not_a_mental_health_follow_up_unless_configured(engine):
    p = discharged().pc_visit("2025-03-10", DEPRESSION)
    assert both(run(FUH, p, engine))[0] == NOT_IN_NUMERATOR
    configured = run(FUH, p, engine, parameters={"count_visits_with_mh_dx": True})
    assert both(configured)[0] == IN_NUMERATOR


def test_fuh_telehealth_and_transitional_care_visits_count(engine):
    tele = discharged("tele").bh_visit("2025-03-07", cls="VR")
    tcm = discharged("tcm").visit("2025-03-07", code="99495")
    result = run(FUH, [tele, tcm], engine)
    assert both(result, "tele")[0] == IN_NUMERATOR
    assert both(result, "tcm")[0] == IN_NUMERATOR


def test_fuh_needs_a_principal_mental_health_diagnosis(engine):
    medical = Chart("med").stay("2025-03-01", "2025-03-05", DIABETES).bh_visit("2025-03-07")
    secondary = Chart("sec").stay("2025-03-01", "2025-03-05", (DIABETES, SCHIZOPHRENIA))
    result = run(FUH, [medical, secondary], engine)
    assert pops(result, "7-day", "med") == set()
    assert pops(result, "7-day", "sec") == set()


@pytest.mark.parametrize(("discharge", "eligible"), [("2025-12-01", True), ("2025-12-02", False)])
def test_fuh_discharges_up_to_1_december(engine, discharge, eligible):
    result = run(FUH, discharged(discharge=discharge), engine)
    assert bool(pops(result, "7-day")) is eligible


@pytest.mark.parametrize(("born", "eligible"), [("2019-03-05", True), ("2019-03-06", False)])
def test_fuh_age_6_on_the_discharge_date(engine, born, eligible):
    result = run(FUH, discharged(born=born), engine)
    assert bool(pops(result, "7-day")) is eligible


def test_fuh_readmission_within_30_days_keeps_only_the_last_discharge(engine):
    p = (
        Chart()
        .stay("2025-03-01", "2025-03-05", SCHIZOPHRENIA)
        .stay("2025-03-20", "2025-03-25", SCHIZOPHRENIA, eid="second")
        .bh_visit("2025-03-10")  # followed the first stay: does not count
    )
    result = run(FUH, p, engine)
    ev = result.patient("p1").evidence["7-day"]["initial-population"]
    assert (ev["event_id"], ev["eligible_events"]) == ("second", 1)
    assert both(result) == (NOT_IN_NUMERATOR, NOT_IN_NUMERATOR)


def test_fuh_direct_transfer_makes_the_second_stay_the_index_discharge(engine):
    p = (
        Chart()
        .stay("2025-03-01", "2025-03-05", SCHIZOPHRENIA)
        .stay("2025-03-05", "2025-03-12", SCHIZOPHRENIA, eid="transfer")
        .bh_visit("2025-03-15")
    )
    result = run(FUH, p, engine)
    ev = result.patient("p1").evidence["7-day"]["initial-population"]
    assert (ev["event_id"], ev["eligible_events"], ev["followed_up_7"]) == ("transfer", 1, 1)
    assert both(result) == (IN_NUMERATOR, IN_NUMERATOR)


def test_fuh_acute_readmission_for_a_medical_reason_excludes_the_discharge(engine):
    p = discharged().stay("2025-03-20", "2025-03-25", DIABETES).bh_visit("2025-03-08")
    assert pops(run(FUH, p, engine), "7-day") == set()
    kept = run(FUH, p, engine, parameters={"exclude_non_mh_acute_readmission": False})
    assert pops(kept, "7-day") == IN_NUMERATOR


def test_fuh_readmission_after_1_december_drops_both_discharges(engine):
    p = (
        Chart()
        .stay("2025-11-10", "2025-11-15", SCHIZOPHRENIA)
        .stay("2025-11-28", "2025-12-03", SCHIZOPHRENIA)
    )
    assert pops(run(FUH, p, engine), "7-day") == set()


def test_fuh_nonacute_readmission_excludes_the_discharge(engine):
    p = discharged().stay("2025-03-15", "2025-04-20", DIABETES, cls="NONAC")
    assert pops(run(FUH, p, engine), "7-day") == set()
    kept = run(FUH, p, engine, parameters={"exclude_nonacute_readmission": False})
    assert pops(kept, "7-day") == NOT_IN_NUMERATOR


def test_fuh_needs_enrollment_through_30_days_after_discharge(engine):
    short = discharged("short", covered=("2020-01-01", "2025-03-20"))
    full = discharged("full", covered=("2020-01-01", "2025-04-04"))
    result = run(FUH, [short, full], engine)
    assert pops(result, "7-day", "short") == set()
    assert pops(result, "7-day", "full") == NOT_IN_NUMERATOR


def test_fuh_hospice_excludes(engine):
    p = discharged().bh_visit("2025-03-07").procedure("2025-10-01", HOSPICE, system=HCPCS)
    assert pops(run(FUH, p, engine), "7-day") == EXCLUDED


def test_fuh_reports_the_last_discharge_and_counts_every_eligible_discharge(engine):
    p = (
        Chart()
        .stay("2025-03-01", "2025-03-05", SCHIZOPHRENIA)
        .bh_visit("2025-03-10")
        .stay("2025-08-01", "2025-08-05", SCHIZOPHRENIA, eid="august")
        .bh_visit("2025-08-20")
    )
    other = discharged("p2").bh_visit("2025-03-06")
    result = run(FUH, [p, other], engine)
    ev = result.patient("p1").evidence["7-day"]["initial-population"]
    assert ev["event_id"] == "august"
    assert (ev["eligible_events"], ev["followed_up_7"], ev["followed_up_30"]) == (2, 1, 2)
    assert both(result) == (NOT_IN_NUMERATOR, IN_NUMERATOR)
    rates = event_rates(result)
    assert rates["7-day"] == {"events": 3, "numerator": 2, "rate": 2 / 3}
    assert rates["30-day"] == {"events": 3, "numerator": 3, "rate": 1.0}


# --- FUM -----------------------------------------------------------------------------------


def ed(pid: str = "p1", day: str = "2025-06-10", **kw) -> Chart:
    return Chart(pid, **kw).ed_visit(day, DEPRESSION)


def test_fum_visit_on_the_ed_date_counts(engine):
    result = run(FUM, ed().bh_visit("2025-06-10", hour=16), engine)
    assert both(result) == (IN_NUMERATOR, IN_NUMERATOR)


def test_fum_day_7_after_the_ed_visit_is_the_8th_day_and_counts_but_day_8_does_not(engine):
    day7 = ed("d7").bh_visit("2025-06-17")
    day8 = ed("d8").bh_visit("2025-06-18")
    result = run(FUM, [day7, day8], engine)
    assert both(result, "d7") == (IN_NUMERATOR, IN_NUMERATOR)
    assert both(result, "d8") == (NOT_IN_NUMERATOR, IN_NUMERATOR)


def test_fum_day_30_counts_and_day_31_does_not(engine):
    day30 = ed("d30").bh_visit("2025-07-10")
    day31 = ed("d31").bh_visit("2025-07-11")
    result = run(FUM, [day30, day31], engine)
    assert both(result, "d30")[1] == IN_NUMERATOR
    assert both(result, "d31")[1] == NOT_IN_NUMERATOR


def test_fum_any_provider_with_a_principal_mental_health_diagnosis_counts(engine):
    result = run(FUM, ed().pc_visit("2025-06-12", DEPRESSION), engine)
    assert both(result)[0] == IN_NUMERATOR


def test_fum_another_ed_visit_is_not_a_follow_up(engine):
    result = run(FUM, ed().ed_visit("2025-06-12", DIABETES), engine)
    assert both(result)[1] == NOT_IN_NUMERATOR


def test_fum_ed_visit_followed_by_an_admission_within_30_days_is_excluded(engine):
    p = ed().stay("2025-06-20", "2025-06-25", DIABETES)
    assert pops(run(FUM, p, engine), "7-day") == set()


def test_fum_only_the_first_ed_visit_in_31_days_counts(engine):
    p = ed().ed_visit("2025-06-25", DEPRESSION).bh_visit("2025-06-26")
    result = run(FUM, p, engine)
    ev = result.patient("p1").evidence["7-day"]["initial-population"]
    assert (ev["eligible_events"], ev["event_date"].isoformat()) == (1, "2025-06-10")
    assert both(result) == (NOT_IN_NUMERATOR, IN_NUMERATOR)


def test_fum_ed_visits_after_1_december_are_not_index_visits(engine):
    assert pops(run(FUM, ed(day="2025-12-02"), engine), "7-day") == set()
