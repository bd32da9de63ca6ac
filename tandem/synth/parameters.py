"""Every rate the synthetic population generator uses, named, documented and sourced.

A parameter is a field of :class:`Parameters` whose metadata holds ``doc`` (what it means) and
``source`` (where the value comes from). Seeds are the four papers in the project's source
documents (000 VA PC-MH integration coordination; 001 VA facilities with high SMI engagement
in primary care; 002 Dickinson editorial on practice transformation; 003 Bazelon Center
state-policy report on integrated care for SMI). "Assumption" marks a value chosen to be
plausible where no public figure was at hand: change it with ``dataclasses.replace``.
``docs/synth.md`` lists the same table (a test keeps them in step).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any


def _p(value: Any, doc: str, source: str) -> Any:
    return field(default=value, metadata={"doc": doc, "source": source})


NSDUH = "SAMHSA NSDUH 2022 national report"
CDC_DM = "CDC National Diabetes Statistics Report 2023"
HEDIS_MEDICAID = "NCQA State of Health Care Quality, Medicaid HMO averages (2022-2023)"


@dataclass(frozen=True)
class Parameters:
    # --- demography -----------------------------------------------------------------------
    age_band_weights: tuple[float, ...] = _p(
        (0.14, 0.26, 0.24, 0.23, 0.13),
        "Share of patients aged 0-17, 18-34, 35-49, 50-64, 65-89",
        "Assumption: safety-net clinic mix (Medicaid-heavy, few elderly)",
    )
    female_share: float = _p(0.55, "Share recorded female", "Assumption (women use PC more)")
    other_sex_share: float = _p(0.004, "Share with sex 'other' or 'unknown'", "Assumption")
    race_shares: tuple[float, ...] = _p(
        (0.58, 0.22, 0.05, 0.02, 0.005, 0.125),
        "OMB race: White, Black, Asian, AIAN, NHPI, other",
        "Assumption near US Census 2020 adult mix, more Black patients (Medicaid)",
    )
    hispanic_share: float = _p(0.18, "Share Hispanic or Latino", "US Census 2020 (~19%)")

    # --- cohorts --------------------------------------------------------------------------
    smi_prevalence: float = _p(
        0.055, "Adults (18+) with serious mental illness", NSDUH + ": SMI 6.0% of adults"
    )
    smi_mix: tuple[float, ...] = _p(
        (0.30, 0.10, 0.45, 0.15),
        "SMI diagnosis mix: schizophrenia/schizoaffective, other psychotic, bipolar, "
        "MDD with psychotic features",
        "Assumption from CMHC caseload mixes (bipolar most common, then schizophrenia)",
    )
    smi_home_cmhc: float = _p(
        0.70,
        "Share of SMI patients whose home site is the CMHC",
        "Seed 003: SMI rely on the public mental health system; assumption for the value",
    )
    other_home_cmhc: float = _p(0.02, "Share of non-SMI patients homed at the CMHC", "Assumption")
    depression_prevalence: float = _p(
        0.09,
        "Non-SMI adults with a depression diagnosis",
        NSDUH + ": major depressive episode 8.3%",
    )
    anxiety_prevalence: float = _p(
        0.10,
        "Non-SMI adults with an anxiety diagnosis",
        "NCS-R 12-month anxiety 18%, about half diagnosed (assumption)",
    )
    sud_alcohol_prevalence: float = _p(
        0.05, "Adults with alcohol use disorder diagnosed", NSDUH + ": AUD 10.5%, half diagnosed"
    )
    sud_opioid_prevalence: float = _p(
        0.015, "Adults with opioid use disorder", NSDUH + ": OUD 2.2%"
    )
    sud_stimulant_prevalence: float = _p(
        0.01, "Adults with stimulant use disorder", NSDUH + ": stimulant UD ~1.5%"
    )
    smi_sud_multiplier: float = _p(
        3.0,
        "SUD prevalence multiplier for SMI",
        "ECA study (Regier 1990): ~50% lifetime "
        "co-occurring SUD in schizophrenia; seed 003 (co-occurring MI+SUD likeliest to be ill)",
    )
    diabetes_prevalence: float = _p(0.10, "Non-SMI adults with diabetes", CDC_DM + ": 11.6%")
    smi_diabetes_multiplier: float = _p(
        2.0,
        "Diabetes multiplier for SMI",
        "Seed 003 (schizophrenia: especially high rates of "
        "diabetes); meta-analyses 2-3x (Vancampfort 2016)",
    )
    hypertension_prevalence: float = _p(
        0.30, "Non-SMI adults with diagnosed hypertension", "CDC NHANES: ~30% diagnosed"
    )
    smi_hypertension_multiplier: float = _p(1.3, "Hypertension multiplier for SMI", "De Hert 2011")
    cvd_prevalence: float = _p(0.06, "Non-SMI adults with cardiovascular disease", "AHA 2023")
    smi_cvd_multiplier: float = _p(
        1.8, "CVD multiplier for SMI", "Seed 003 (CVD very prevalent); Correll 2017 meta-analysis"
    )
    obesity_prevalence: float = _p(
        0.40, "Non-SMI adults with obesity (BMI>=30)", "CDC NHANES 41.9%"
    )
    smi_obesity_multiplier: float = _p(
        1.35, "Obesity multiplier for SMI", "Seed 003 (medications, sedentary life); Correll 2017"
    )
    smoking_prevalence: float = _p(0.12, "Non-SMI adults who smoke", "CDC 2021: 11.5%")
    teen_depression_prevalence: float = _p(
        0.08,
        "Adolescents (12-17) with a depression diagnosis",
        "Ghandour 2019 (NSCH 2016): current depression ~6% at 12-17; assumption 8% for a "
        "Medicaid-heavy clinic",
    )
    child_depression_prevalence: float = _p(
        0.01, "Children (6-11) with a depression diagnosis", "Ghandour 2019 (NSCH 2016): ~1-2%"
    )
    high_ldl_prevalence: float = _p(
        0.05,
        "Adults 20+ with LDL cholesterol >= 190 mg/dL (severe hypercholesterolemia)",
        "Bucholz 2018 (NHANES 1999-2014): LDL >= 190 mg/dL in ~6.6% of adults",
    )
    familial_hypercholesterolemia_coded: float = _p(
        0.10,
        "Of them, share with familial hypercholesterolemia on the problem list (E78.01)",
        "FH ~1 in 250 people (Akioyamen 2017 meta-analysis), about a tenth of LDL >= 190",
    )
    sud_incident_share: float = _p(
        0.20,
        "SUD patients first diagnosed during the period (a new episode at a PC or ED visit)",
        "Assumption",
    )
    smi_smoking_prevalence: float = _p(
        0.60, "SMI adults who smoke", "Seed 003 (high rates of smoking); Dickerson 2013: ~60%"
    )
    sud_smoking_prevalence: float = _p(0.50, "Adults with SUD who smoke", "Assumption (NSDUH)")

    # --- engagement and utilisation -------------------------------------------------------
    pc_visits_per_year: float = _p(2.6, "PC office visits per engaged patient-year", "NAMCS")
    telehealth_share: float = _p(0.20, "Share of outpatient visits by telehealth", "Assumption")
    smi_pcp_assigned: float = _p(
        0.72,
        "CMHC-homed SMI patients with a PCP on the care team",
        "Assumption; seed 001 (PCP assignment is the engagement target)",
    )
    smi_pc_disengaged: float = _p(
        0.30,
        "SMI patients with no PC visit in the last 12+ months",
        "Seed 001 (VA outreach "
        "to SMI disengaged from primary care); Kilbourne 2015 re-engagement cohort; assumption",
    )
    bh_visits_per_year_smi: float = _p(10.0, "CMHC visits per SMI patient-year", "Assumption")
    bh_engagement: float = _p(
        0.45,
        "Depression/anxiety PC patients seen by co-located BH",
        "Seed 002 (warm handoffs); assumption",
    )
    phq9_interval_days: int = _p(
        28, "Days between PHQ-9s in a treatment episode", "Collaborative care (AIMS)"
    )
    care_manager_share_smi: float = _p(0.50, "SMI patients with a care manager", "Assumption")
    ed_visits_per_year: float = _p(0.35, "ED visits per person-year (non-SMI)", "NHAMCS 2021: 0.42")
    ed_visits_per_year_smi: float = _p(1.3, "ED visits per SMI person-year", "Seed 003; assumption")
    ed_mh_share_smi: float = _p(
        0.45, "Share of SMI ED visits with a MH principal diagnosis", "Assumption"
    )
    psych_admissions_per_year_smi: float = _p(
        0.18, "Psychiatric admissions per SMI person-year", "Assumption (15-25% readmit yearly)"
    )
    psych_admissions_per_year_bh: float = _p(
        0.01, "Psychiatric admissions per depression patient-year", "Assumption"
    )
    psych_los_mean_days: float = _p(9.0, "Mean psychiatric length of stay", "AHRQ HCUP ~8-10 d")
    medical_admissions_per_year: float = _p(0.05, "Medical admissions per person-year", "HCUP")
    fuh_7day: float = _p(
        0.36, "Psychiatric discharges followed up by MH within 7 days", HEDIS_MEDICAID
    )
    fuh_30day: float = _p(0.58, "... within 30 days (includes the 7-day ones)", HEDIS_MEDICAID)
    fum_7day: float = _p(0.40, "MH ED visits followed up within 7 days", HEDIS_MEDICAID)
    fum_30day: float = _p(0.55, "... within 30 days", HEDIS_MEDICAID)
    no_show_bh: float = _p(0.25, "BH appointment no-show rate", "Assumption (BH no-show 20-30%)")
    no_show_pc: float = _p(0.15, "PC appointment no-show rate", "Assumption (PC 10-20%)")
    cancel_rate: float = _p(0.08, "Appointments cancelled in advance", "Assumption")

    # --- medications ----------------------------------------------------------------------
    antipsychotic_use: tuple[float, ...] = _p(
        (0.90, 0.75, 0.65, 0.55),
        "Antipsychotic use by SMI group (schizophrenia, other psychotic, bipolar, MDD-psychotic)",
        "Assumption from HEDIS SSD/SAA denominators",
    )
    child_antipsychotic_use: float = _p(0.01, "Children on antipsychotics (APM)", "Olfson 2015 ~1%")
    lai_share: float = _p(
        0.15, "Antipsychotic users on a long-acting injectable", "Assumption (10-20%)"
    )
    fga_share: float = _p(0.15, "Oral users on a first-generation drug", "Assumption")
    antipsychotic_pdc_beta: tuple[float, float] = _p(
        (7.0, 1.5),
        "Beta(a, b) of each user's target proportion of days covered",
        "Calibrated to HEDIS SAA Medicaid ~60% with PDC>=80% (" + HEDIS_MEDICAID + ")",
    )
    antidepressant_use: float = _p(0.60, "Depression patients with an antidepressant", "Assumption")
    antidepressant_early_stop: float = _p(
        0.42, "Antidepressant starts stopped before 84 days", HEDIS_MEDICAID + ": AMM acute ~58%"
    )
    antidepressant_continuation: float = _p(
        0.70,
        "Of those past 84 days, share continuing to 180 days",
        HEDIS_MEDICAID + ": AMM cont ~42%",
    )
    diabetes_med_use: float = _p(0.70, "Diabetes patients on a diabetes medication", "Assumption")
    antihypertensive_use: float = _p(0.75, "Hypertension patients on treatment", "NHANES ~70%")
    statin_use: float = _p(
        0.55,
        "Diabetes patients aged 40+ without CVD on a statin (x0.4 under 40)",
        "Assumption near MEPS/NHANES statin use in diabetes 40-75 (~50-60%)",
    )
    statin_use_cvd: float = _p(
        0.70,
        "CVD patients on a statin",
        "Assumption near published statin use in ASCVD (60-75%; CMS347 population 1)",
    )
    statin_use_high_ldl: float = _p(
        0.55,
        "Patients with LDL >= 190 mg/dL (no CVD) on a statin (4 in 5 of them start during the "
        "period, after untreated results)",
        "Assumption: about half treated (Bucholz 2018, NHANES 1999-2014: 38-52%)",
    )
    part2_enrolment: float = _p(0.35, "SUD patients treated by the Part 2 program", "Assumption")
    moud_use: float = _p(0.60, "OUD patients in the Part 2 program on MOUD", "Assumption")

    # --- monitoring -----------------------------------------------------------------------
    hba1c_tests_per_year: float = _p(
        1.8, "HbA1c tests per engaged diabetic patient-year", "Assumption"
    )
    metabolic_screening: float = _p(
        0.72,
        "Yearly glucose/HbA1c test for SMI on antipsychotics (SSD)",
        HEDIS_MEDICAID + ": SSD ~78%",
    )
    lipid_testing: float = _p(
        0.55, "Yearly LDL test for diabetes/CVD/antipsychotic", "HEDIS SMC/SMD ~60%"
    )
    general_lab_rate: float = _p(0.30, "Yearly glucose/lipid test for other adults", "Assumption")
    bp_at_pc_visit: float = _p(0.85, "PC visits with a blood pressure", "Assumption")
    bmi_at_pc_visit: float = _p(0.55, "PC visits with BMI and weight", "Assumption")
    smoking_status_at_pc_visit: float = _p(0.35, "PC visits recording smoking status", "Assumption")
    hypertension_controlled: float = _p(
        0.62,
        "Hypertensive patients whose usual BP is controlled (<140/90)",
        "CMS165 / HEDIS CBP ~60%",
    )
    phq9_screening_at_pc_visit: float = _p(
        0.20, "Adult PC visits with a PHQ-9 screen", "Assumption"
    )
    phq9_response: float = _p(
        0.45, "Treated depression episodes reaching >=50% PHQ-9 drop", "STAR*D step 1 ~47%"
    )
    phq9_remission_given_response: float = _p(
        0.60, "Responders who reach PHQ-9 < 5", "Assumption (remission ~28% overall, STAR*D)"
    )
    phq9_item9_positive: float = _p(0.15, "PHQ-9 >= 10 with item 9 > 0", "Assumption")

    # --- processes of care (CMS50, CMS68, CMS69, CMS137, CMS177) ---------------------------
    specialist_referral_at_pc_visit: float = _p(
        0.06,
        "PC visits that end in a referral to a medical specialist",
        "Barnett 2012 (NAMCS 1999-2009): 9.3% of ambulatory visits led to a referral; "
        "assumption 6% to specialists",
    )
    referral_report_received: float = _p(
        0.55,
        "Referrals whose consult report reaches the referring clinician (7-60 days later)",
        "O'Malley 2011 (HSC 2008 survey): 62% of PCPs always/mostly get the specialist's "
        "report; assumption lower for a safety-net clinic",
    )
    medication_documentation_at_visit: float = _p(
        0.90,
        "Medical visits (PC, psychiatry, ED, admission) documenting current medications",
        "Assumption (CMS68 performance is commonly near or above 90%)",
    )
    medication_documentation_at_therapy: float = _p(
        0.50,
        "Psychotherapy visits documenting current medications",
        "Assumption (therapists reconcile medications less often)",
    )
    bmi_follow_up_at_visit: float = _p(
        0.35,
        "Adult visits with a BMI outside 18.5-25 that record a follow-up (diet or exercise "
        "counselling, with overweight/obesity/underweight as the reason)",
        "Assumption",
    )
    sud_initiation: float = _p(
        0.45,
        "New SUD episodes with a treatment visit within 14 days",
        HEDIS_MEDICAID + ": IET initiation ~45%",
    )
    sud_engagement: float = _p(
        0.33,
        "Of those initiated, share with two more treatment visits within 34 days",
        HEDIS_MEDICAID + ": IET engagement ~15% (0.45 x 0.33)",
    )
    suicide_risk_assessment: float = _p(
        0.60,
        "MDD visits of patients under 18 with a suicide risk assessment",
        "Assumption (CMS177 performance is moderate; PC visits assess less than BH)",
    )

    # --- deaths, coverage, consent, notes -------------------------------------------------
    annual_mortality: tuple[float, ...] = _p(
        (0.0003, 0.0012, 0.0025, 0.007, 0.03),
        "Annual death probability by age band",
        "CDC life tables (rounded)",
    )
    smi_mortality_multiplier: float = _p(
        2.4,
        "Mortality multiplier for SMI",
        "Seed 003: age-adjusted mortality 2.4x the general population",
    )
    coverage_gap: float = _p(
        0.12, "Patients with a coverage gap (churn)", "Sommers 2009: ~10-15% Medicaid churn yearly"
    )
    new_patient_share: float = _p(0.20, "Patients first registered during the period", "Assumption")
    part2_consent_to_pcp: float = _p(
        0.40,
        "Part 2 patients who consent to share SUD records with their PCP",
        "Assumption; seed 003 (consumers' concerns about sharing)",
    )
    mh_consent_to_pcp: float = _p(0.10, "CMHC patients with a MH consent to the PCP", "Assumption")
    psychotherapy_note_share: float = _p(
        0.30, "Psychotherapy visits with a separate psychotherapy note", "Assumption"
    )
    contact_share: float = _p(
        0.60, "Patients with an emergency contact / next of kin", "Assumption"
    )

    # --- staffing ---------------------------------------------------------------------------
    patients_per_pcp: int = _p(
        700, "Patients per PCP / NP-PA", "Assumption (panel ~1,500-2,000 FTE)"
    )
    bh_patients_per_clinician: int = _p(120, "BH patients per BH clinician", "Assumption")
    patients_per_psychiatrist: int = _p(350, "SMI patients per psychiatrist", "Assumption")
    patients_per_care_manager: int = _p(80, "Patients per care manager", "Assumption")


DEFAULT = Parameters()


def describe(params: Parameters = DEFAULT) -> Iterator[tuple[str, Any, str, str]]:
    """(name, value, doc, source) for every parameter, in declaration order."""
    for f in fields(params):
        yield f.name, getattr(params, f.name), f.metadata["doc"], f.metadata["source"]


# --- units and plausible ranges of numeric observations -----------------------------------
DQD = "OHDSI DataQualityDashboard v5.3.1 plausible values"


@dataclass(frozen=True)
class Quantity:
    """The one UCUM unit a LOINC code's numeric results carry, and the values they may take.

    ``unit`` is LOINC's example UCUM unit for the code (for blood pressure, BMI and weight also
    the unit the FHIR R4 vital-signs profile requires). ``low``/``high`` are plausibility limits,
    not reference ranges: a value outside them is an error (most often a unit mix-up), never a
    patient. The generator takes each observation's unit from this table, and
    ``tests/synth/test_units.py`` checks every numeric result of a generated population
    (database, Parquet and FHIR) against it.
    """

    code: str
    name: str
    unit: str
    low: float
    high: float
    source: str


QUANTITIES: dict[str, Quantity] = {
    q.code: q
    for q in (
        Quantity("8480-6", "Systolic blood pressure", "mm[Hg]", 60, 300, DQD + " (3004249)"),
        Quantity("8462-4", "Diastolic blood pressure", "mm[Hg]", 30, 200, DQD + " (3012888)"),
        Quantity(
            "39156-5",
            "Body mass index",
            "kg/m2",
            10,
            100,
            DQD + " (3038553: 16-100, adults); 10 for children (assumption)",
        ),
        Quantity("29463-7", "Body weight", "kg", 2, 500, DQD + " (3025315)"),
        Quantity("4548-4", "Hemoglobin A1c", "%", 4, 15, DQD + " (3004410)"),
        Quantity(
            "2345-7",
            "Glucose in serum or plasma",
            "mg/dL",
            50,
            500,
            DQD + " (3037110, fasting glucose in serum or plasma)",
        ),
        Quantity(
            "13457-7",
            "LDL cholesterol (calculated)",
            "mg/dL",
            10,
            400,
            "Assumption: physiological limits (DQD's 45-250 for 3028288 is a reference range "
            "that treated and familial values leave)",
        ),
        Quantity(
            "2093-3",
            "Total cholesterol",
            "mg/dL",
            50,
            500,
            "OHDSI DataQualityDashboard v5.4 plausible values (37393449)",
        ),
        Quantity(
            "44261-6", "PHQ-9 total score", "{score}", 0, 27, "9 items scored 0-3 (Kroenke 2001)"
        ),
        Quantity(
            "70274-6", "GAD-7 total score", "{score}", 0, 21, "7 items scored 0-3 (Spitzer 2006)"
        ),
        Quantity(
            "75626-2", "AUDIT-C total score", "{score}", 0, 12, "3 items scored 0-4 (Bush 1998)"
        ),
    )
}
