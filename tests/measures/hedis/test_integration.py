"""Tandem integration measures: SMI primary-care engagement, antipsychotic metabolic
monitoring, BP control for SMI with hypertension, and pre/post go-live utilisation."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from tandem.measures import schema
from tandem.measures.definitions import integration
from tests.measures.hedis.builders import (
    EXCLUDED,
    GLUCOSE,
    HYPERTENSION,
    IN_NUMERATOR,
    LDL,
    NOT_IN_NUMERATOR,
    OFFICE,
    SCHIZOPHRENIA,
    Chart,
    pops,
    run,
)

PCENG, METAB, BPSMI = (
    integration.tandem_pceng(),
    integration.tandem_metab(),
    integration.tandem_bpsmi(),
)


def smi(pid: str = "p1", **kw) -> Chart:
    kw.setdefault("covered", False)  # Tandem measures do not need insurance
    return Chart(pid, **kw).problem(SCHIZOPHRENIA)


# --- TANDEM-PCENG --------------------------------------------------------------------------


def test_pceng_pcp_on_the_patient_and_a_pc_visit_is_engaged(engine):
    result = run(PCENG, smi(pcp="dr-a").pc_visit("2025-03-01"), engine)
    assert pops(result, "engaged") == IN_NUMERATOR
    assert result.patient("p1").strata["team"] == "dr-a"
    assert result.patient("p1").evidence["engaged"]["denominator"]["last_pc_visit"] == dt.date(
        2025, 3, 1
    )


def test_pceng_an_active_care_team_pcp_counts_as_assigned_and_an_ended_one_does_not(engine):
    active = smi("active").care_team("dr-b")
    ended = smi("ended").care_team("dr-c", end="2025-06-30")
    result = run(PCENG, [active, ended], engine)
    assert pops(result, "pcp-assigned", "active") == IN_NUMERATOR
    assert result.patient("active").strata["team"] == "dr-b"
    assert pops(result, "pcp-assigned", "ended") == NOT_IN_NUMERATOR


@pytest.mark.parametrize(("day", "counts"), [("2025-01-01", True), ("2024-12-31", False)])
def test_pceng_pc_visit_in_the_12_months_to_period_end(engine, day, counts):
    result = run(PCENG, smi().pc_visit(day), engine)
    assert (pops(result, "pc-visit") == IN_NUMERATOR) is counts


def test_pceng_an_office_code_counts_without_a_setting_but_not_in_behavioral_health(engine):
    plain = smi("plain").visit("2025-03-01", code=OFFICE)
    psych = smi("psych").visit("2025-03-01", code=OFFICE, setting="bh")
    result = run(PCENG, [plain, psych], engine)
    assert pops(result, "pc-visit", "plain") == IN_NUMERATOR
    assert pops(result, "pc-visit", "psych") == NOT_IN_NUMERATOR


def test_pceng_population_is_adults_with_smi_alive_at_period_end(engine):
    no_smi = Chart("none", covered=False).pc_visit("2025-03-01")
    minor = smi("minor", born="2008-01-01")
    dead = smi("dead", death="2025-10-01")
    result = run(PCENG, [no_smi, minor, dead], engine)
    assert all(pops(result, "engaged", pid) == set() for pid in ("none", "minor", "dead"))


def test_pceng_strata_site_payer_sex_race_age(engine):
    p = smi(site="site-b", payer="medicare", sex="male", race="2054-5", born="1970-01-01")
    strata = run(PCENG, p, engine).patient("p1").strata
    assert {k: strata[k] for k in ("site", "payer", "sex", "race", "age")} == {
        "site": "site-b",
        "payer": "medicare",
        "sex": "male",
        "race": "2054-5",
        "age": "50-64",
    }


# --- TANDEM-METAB --------------------------------------------------------------------------


def test_metab_antipsychotic_user_with_glucose_and_lipids_meets_both(engine):
    p = Chart(covered=False).fill("2025-02-01").lab("2025-04-01", GLUCOSE).lab("2025-04-01", LDL)
    p.bp("2025-04-01", 120, 80)
    result = run(METAB, p, engine)
    for group in ("glucose", "lipids", "both", "bp"):
        assert pops(result, group) == IN_NUMERATOR
    assert pops(result, "bmi") == NOT_IN_NUMERATOR


def test_metab_an_antipsychotic_order_alone_makes_a_user(engine):
    p = Chart(covered=False).order("2025-02-01").lab("2025-04-01", "29463-7", 80)
    result = run(METAB, p, engine)
    assert pops(result, "bmi") == IN_NUMERATOR
    assert pops(result, "glucose") == NOT_IN_NUMERATOR


def test_metab_no_antipsychotic_no_denominator(engine):
    assert (
        pops(run(METAB, Chart(covered=False).lab("2025-04-01", GLUCOSE), engine), "glucose")
        == set()
    )


# --- TANDEM-BPSMI --------------------------------------------------------------------------


def hypertensive(pid: str = "p1") -> Chart:
    return smi(pid).problem(HYPERTENSION)


@pytest.mark.parametrize(
    ("systolic", "diastolic", "controlled"),
    [(139, 89, True), (140, 80, False), (130, 90, False)],
)
def test_bpsmi_controlled_means_below_140_over_90(engine, systolic, diastolic, controlled):
    result = run(BPSMI, hypertensive().bp("2025-05-01", systolic, diastolic), engine)
    assert (pops(result) == IN_NUMERATOR) is controlled


def test_bpsmi_the_lowest_readings_of_the_most_recent_day_count(engine):
    p = hypertensive().bp("2025-03-01", 120, 70).bp("2025-09-01", 145, 80, hour=9)
    p.bp("2025-09-01", 135, 95, hour=11)
    result = run(BPSMI, p, engine)
    ev = result.patient("p1").evidence["group-1"]["denominator"]
    assert (ev["systolic"], ev["diastolic"]) == (135.0, 80.0)
    assert pops(result) == IN_NUMERATOR


def test_bpsmi_needs_hypertension_and_smi(engine):
    no_htn = smi("no-htn").bp("2025-05-01", 120, 70)
    no_smi = Chart("no-smi", covered=False).problem(HYPERTENSION).bp("2025-05-01", 120, 70)
    result = run(BPSMI, [no_htn, no_smi], engine)
    assert pops(result, pid="no-htn") == set()
    assert pops(result, pid="no-smi") == set()


def test_bpsmi_death_excludes(engine):
    p = smi(death="2025-10-01").problem(HYPERTENSION).bp("2025-05-01", 120, 70)
    assert pops(run(BPSMI, p, engine)) == EXCLUDED


# --- TANDEM-UTIL ---------------------------------------------------------------------------

GO_LIVE = {"site-a": dt.date(2025, 1, 1), "site-b": dt.date(2025, 7, 1)}


def test_util_counts_ed_visits_admissions_and_days_before_and_after_go_live(engine):
    p = (
        smi(covered=("2020-01-01", None))
        .ed_visit("2024-06-01")
        .ed_visit("2025-02-01")
        .stay("2025-03-01", "2025-03-11", SCHIZOPHRENIA)
        .stay("2025-05-01", "2025-05-05", "E11.9")  # medical: not psychiatric
    )
    result = run(integration.tandem_util(GO_LIVE), p, engine)
    pre = result.patient("p1").evidence["pre"]["initial-population"]
    post = result.patient("p1").evidence["post"]["initial-population"]
    assert (pre["from"], pre["to"]) == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert (pre["patient_days"], pre["ed_visits"], pre["psych_admissions"]) == (366, 1, 0)
    assert (post["patient_days"], post["ed_visits"], post["psych_admissions"]) == (365, 1, 1)
    assert post["psych_days"] == 10


def test_util_post_window_is_cut_at_the_period_end_and_uses_each_sites_go_live(engine):
    p = smi("b", site="site-b").ed_visit("2025-08-01")
    result = run(integration.tandem_util(GO_LIVE), p, engine)
    post = result.patient("b").evidence["post"]["initial-population"]
    assert (post["from"], post["to"]) == (dt.date(2025, 7, 1), dt.date(2025, 12, 31))
    assert (post["patient_days"], post["ed_visits"]) == (184, 1)


def test_util_without_coverage_counts_days_alive_in_the_window(engine):
    p = smi("late", born="2024-07-01")  # born inside the pre window
    pre = run(integration.tandem_util(GO_LIVE), p, engine).patient("late").evidence["pre"]
    assert pre["initial-population"]["patient_days"] == 184  # 1 Jul .. 31 Dec 2024


def test_util_registry_build_uses_the_period_start_as_go_live(engine):
    p = smi().ed_visit("2024-06-01")
    result = run(integration.tandem_util(), p, engine)
    assert result.patient("p1").evidence["pre"]["initial-population"]["go_live"] == dt.date(
        2025, 1, 1
    )
    moved = run(integration.tandem_util(), p, engine, parameters={"go_live": dt.date(2024, 7, 1)})
    assert moved.patient("p1").evidence["pre"]["initial-population"]["ed_visits"] == 1


def test_utilization_rates_per_1000_patient_months_and_mean_length_of_stay(engine):
    a = smi("a", covered=("2020-01-01", None)).ed_visit("2024-06-01").ed_visit("2025-02-01")
    a.stay("2025-03-01", "2025-03-11", SCHIZOPHRENIA)
    b = smi("b", covered=("2020-01-01", None)).stay("2025-04-01", "2025-04-05", SCHIZOPHRENIA)
    no_smi = Chart("c", covered=("2020-01-01", None)).ed_visit("2025-02-01")
    result = run(integration.tandem_util(GO_LIVE), [a, b, no_smi], engine)
    rates = integration.utilization_rates(result)
    post = rates["site-a"]["post"]
    months = 2 * 365 / (365.25 / 12)
    assert post["patients"] == 2
    assert post["patient_months"] == pytest.approx(months)
    assert post["ed_per_1000_pm"] == pytest.approx(1000 * 1 / months)
    assert post["admissions_per_1000_pm"] == pytest.approx(1000 * 2 / months)
    assert post["mean_los_days"] == pytest.approx((10 + 4) / 2)
    assert rates["site-a"]["pre"]["ed_visits"] == 1
    assert integration.utilization_rates(result, by=None)["all"]["post"]["psych_days"] == 14


def test_go_live_by_site_reads_the_sites_table():
    sites = pa.Table.from_pylist(
        [
            {"site_id": "site-a", "name": "A", "integration_go_live": dt.date(2025, 1, 1)},
            {"site_id": "site-c", "name": "C", "integration_go_live": None},
        ],
        schema=schema.arrow_schema("sites"),
    )
    assert integration.go_live_by_site(sites) == {"site-a": dt.date(2025, 1, 1)}
