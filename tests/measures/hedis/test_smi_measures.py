"""SSD, SMD, SMC, SAA and APM: denominators, exclusions, numerators and PDC arithmetic."""

from __future__ import annotations

import pytest

from tandem.measures.definitions import hedis
from tests.measures.hedis.builders import (
    AMI,
    ARIPIPRAZOLE_LAI,
    BIPOLAR,
    CABG,
    DIABETES,
    EXCLUDED,
    GLUCOSE,
    HBA1C,
    IN_NUMERATOR,
    IVD,
    LDL,
    NOT_IN_NUMERATOR,
    RISPERIDONE_LAI,
    SCHIZOPHRENIA,
    TOTAL_CHOL,
    Chart,
    pops,
    run,
)

SSD, SMD, SMC, SAA, APM = hedis.ssd(), hedis.smd(), hedis.smc(), hedis.saa(), hedis.apm()


def smi(pid: str = "p1", dx: str = SCHIZOPHRENIA, **kw) -> Chart:
    return Chart(pid, **kw).visit("2025-02-03", dx).visit("2025-04-07", dx)


# --- SSD -----------------------------------------------------------------------------------


def test_ssd_bipolar_patient_on_antipsychotics_with_a_glucose_test_is_screened(engine):
    p = smi(dx=BIPOLAR).fill("2025-02-03").lab("2025-08-01", GLUCOSE)
    assert pops(run(SSD, p, engine)) == IN_NUMERATOR


def test_ssd_without_a_glucose_or_hba1c_test_is_not_screened(engine):
    p = smi().fill("2025-02-03").lab("2025-08-01", LDL)
    assert pops(run(SSD, p, engine)) == NOT_IN_NUMERATOR


def test_ssd_a_billed_hba1c_cpt_code_counts_as_the_test(engine):
    p = smi().fill("2025-02-03").procedure("2025-08-01", "83036")
    assert pops(run(SSD, p, engine)) == IN_NUMERATOR


def test_ssd_needs_an_antipsychotic_dispensed_in_the_year(engine):
    no_drug = smi("none").lab("2025-08-01", HBA1C)
    last_year = smi("old").fill("2024-11-01").lab("2025-08-01", HBA1C)
    injected = smi("lai").injection("2025-03-01").lab("2025-08-01", HBA1C)
    result = run(SSD, [no_drug, last_year, injected], engine)
    assert pops(result, pid="none") == set()
    assert pops(result, pid="old") == set()
    assert pops(result, pid="lai") == IN_NUMERATOR


@pytest.mark.parametrize(
    ("born", "inside"),
    [("2007-12-31", True), ("2008-01-01", False), ("1961-01-01", True), ("1960-12-31", False)],
)
def test_ssd_age_18_to_64_on_31_december(engine, born, inside):
    p = smi(born=born).fill("2025-02-03").lab("2025-08-01", HBA1C)
    assert (pops(run(SSD, p, engine)) == IN_NUMERATOR) is inside


def test_ssd_members_with_diabetes_are_excluded(engine):
    by_dx = smi("dx").fill("2025-02-03").visit("2024-06-01", DIABETES)
    by_drug = smi("rx").fill("2025-02-03").fill("2024-09-01", code="860975")
    result = run(SSD, [by_dx, by_drug], engine)
    assert result.patient("dx").reasons["group-1"]["denominator-exclusion"] == ["diabetes"]
    assert pops(result, pid="rx") == EXCLUDED
    kept = run(SSD, by_dx, engine, parameters={"exclude_diabetes": False})
    assert pops(kept, pid="dx") == NOT_IN_NUMERATOR


# --- SMD -----------------------------------------------------------------------------------


def test_smd_needs_both_an_hba1c_and_an_ldl_test(engine):
    both = smi("both").problem(DIABETES).lab("2025-03-01", HBA1C).lab("2025-03-01", LDL)
    one = smi("one").problem(DIABETES).lab("2025-03-01", HBA1C)
    result = run(SMD, [both, one], engine)
    assert pops(result, pid="both") == IN_NUMERATOR
    assert pops(result, pid="one") == NOT_IN_NUMERATOR
    assert result.patient("one").evidence["group-1"]["denominator"] == {"hba1c": True, "ldl": False}


def test_smd_bipolar_disorder_alone_does_not_qualify(engine):
    p = smi(dx=BIPOLAR).problem(DIABETES)
    assert pops(run(SMD, p, engine)) == set()


def test_smd_without_diabetes_is_not_in_the_denominator(engine):
    assert pops(run(SMD, smi().lab("2025-03-01", HBA1C), engine)) == set()


# --- SMC -----------------------------------------------------------------------------------


def test_smc_ami_discharge_in_the_prior_year_with_an_ldl_test(engine):
    p = smi().stay("2024-05-01", "2024-05-06", AMI).lab("2025-03-01", LDL)
    assert pops(run(SMC, p, engine)) == IN_NUMERATOR


def test_smc_cabg_in_the_prior_year_qualifies_but_in_the_measurement_year_does_not(engine):
    prior = smi("prior").procedure("2024-05-01", CABG)
    current = smi("current").procedure("2025-05-01", CABG)
    result = run(SMC, [prior, current], engine)
    assert pops(result, pid="prior") == NOT_IN_NUMERATOR
    assert pops(result, pid="current") == set()


def test_smc_ivd_needs_a_diagnosis_in_both_years(engine):
    both = smi("both").visit("2024-06-01", IVD).visit("2025-06-01", IVD)
    one = smi("one").visit("2025-06-01", IVD)
    result = run(SMC, [both, one], engine)
    assert pops(result, pid="both") == NOT_IN_NUMERATOR
    assert pops(result, pid="one") == set()


# --- SAA -----------------------------------------------------------------------------------
# Treatment period for an IPSD of 5 July 2025: 5 July .. 31 December = 180 days.


def saa(pid: str = "p1") -> Chart:
    return smi(pid)


def test_saa_overlapping_fills_count_their_days_once(engine):
    p = saa().fill("2025-07-05", 90).fill("2025-08-01", 90)  # union 5 Jul .. 29 Oct
    result = run(SAA, p, engine)
    ev = result.patient("p1").evidence["group-1"]["denominator"]
    assert ev["covered_days"] == 117
    assert ev["treatment_days"] == 180
    assert pops(result) == NOT_IN_NUMERATOR


def test_saa_pdc_of_exactly_80_percent_meets_the_numerator_and_one_day_less_does_not(engine):
    exact = saa("exact").fill("2025-07-05", 72).fill("2025-09-15", 72)  # 144 / 180
    short = saa("short").fill("2025-07-05", 72).fill("2025-09-15", 71)  # 143 / 180
    result = run(SAA, [exact, short], engine)
    assert result.patient("exact").evidence["group-1"]["denominator"]["pdc"] == pytest.approx(0.8)
    assert pops(result, pid="exact") == IN_NUMERATOR
    assert pops(result, pid="short") == NOT_IN_NUMERATOR


def test_saa_treatment_period_runs_from_ipsd_to_period_end_and_cuts_late_days(engine):
    p = saa().fill("2025-07-05", 90).fill("2025-10-03", 120)  # 5 Jul .. 30 Jan 2026
    ev = run(SAA, p, engine).patient("p1").evidence["group-1"]["denominator"]
    assert (ev["ipsd"].isoformat(), ev["covered_days"], ev["pdc"]) == ("2025-07-05", 180, 1.0)


def test_saa_lai_injections_cover_28_days_each_whatever_days_supply_says(engine):
    p = saa()
    for day in ("2025-07-05", "2025-08-02", "2025-08-30", "2025-09-27", "2025-10-25", "2025-11-22"):
        p.fill(day, 1, code=ARIPIPRAZOLE_LAI)
    result = run(SAA, p, engine)
    assert result.patient("p1").evidence["group-1"]["denominator"]["covered_days"] == 168
    assert pops(result) == IN_NUMERATOR
    shorter = run(SAA, p, engine, parameters={"lai_days_per_injection": 21})
    assert shorter.patient("p1").evidence["group-1"]["denominator"]["covered_days"] == 126
    assert pops(shorter) == NOT_IN_NUMERATOR


def test_saa_risperidone_microspheres_cover_14_days_per_injection(engine):
    p = (
        saa()
        .fill("2025-07-05", 28, code=RISPERIDONE_LAI)
        .fill("2025-07-19", 28, code=RISPERIDONE_LAI)
    )
    ev = run(SAA, p, engine).patient("p1").evidence["group-1"]["denominator"]
    assert ev["covered_days"] == 28


def test_saa_needs_two_dispensing_events(engine):
    assert pops(run(SAA, saa().fill("2025-07-05", 180), engine)) == set()


def test_saa_bipolar_disorder_does_not_qualify(engine):
    p = smi(dx=BIPOLAR).fill("2025-07-05", 90).fill("2025-10-03", 90)
    assert pops(run(SAA, p, engine)) == set()


def test_saa_dementia_excludes_by_default(engine):
    p = saa().fill("2025-07-05", 90).fill("2025-10-03", 90).problem("G30.9")
    result = run(SAA, p, engine)
    assert result.patient("p1").reasons["group-1"]["denominator-exclusion"] == ["dementia"]
    assert pops(run(SAA, p, engine, parameters={"exclude_dementia": False})) == IN_NUMERATOR


# --- APM -----------------------------------------------------------------------------------


def child(pid: str, born: str) -> Chart:
    return Chart(pid, born).fill("2025-03-01").fill("2025-06-01")


def test_apm_three_rates_and_age_strata(engine):
    young = child("young", "2014-01-01").lab("2025-05-01", HBA1C)  # 11 on 31 Dec
    teen = child("teen", "2013-12-31").lab("2025-05-01", GLUCOSE).lab("2025-05-01", TOTAL_CHOL)
    adult = child("adult", "2007-12-31").lab("2025-05-01", HBA1C)  # 18: out
    result = run(APM, [young, teen, adult], engine)
    assert result.patient("young").strata["age"] == "1-11"
    assert result.patient("teen").strata["age"] == "12-17"
    assert pops(result, "glucose", "young") == IN_NUMERATOR
    assert pops(result, "cholesterol", "young") == NOT_IN_NUMERATOR
    assert pops(result, "both", "young") == NOT_IN_NUMERATOR
    assert pops(result, "both", "teen") == IN_NUMERATOR
    assert pops(result, "glucose", "adult") == set()


def test_apm_needs_two_antipsychotic_dispensings(engine):
    p = Chart("p1", "2015-05-05").fill("2025-03-01").lab("2025-05-01", HBA1C)
    assert pops(run(APM, p, engine), "glucose") == set()


def test_smd_a_billed_glucose_test_is_not_an_hba1c_but_a_billed_hba1c_is(engine):
    glucose = smi("glu").problem(DIABETES).procedure("2025-03-01", "82947").lab("2025-03-01", LDL)
    hba1c = smi("a1c").problem(DIABETES).procedure("2025-03-01", "83036").lab("2025-03-01", LDL)
    result = run(SMD, [glucose, hba1c], engine)
    assert pops(result, pid="glu") == NOT_IN_NUMERATOR
    assert pops(result, pid="a1c") == IN_NUMERATOR
