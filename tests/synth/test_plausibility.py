"""Realised rates of 20,000 patients sit near the parameters that drove them."""

from __future__ import annotations

import pytest

from tandem.synth.generator import Generator, SynthConfig
from tandem.synth.parameters import DEFAULT as P
from tandem.synth.report import Stats, rows
from tests.synth.conftest import END, START


@pytest.fixture(scope="module")
def stats() -> Stats:
    gen = Generator(SynthConfig(patients=20_000, seed=2026, start=START, end=END), operational=True)
    total = Stats()
    for chunk in gen.chunks():
        total.add(chunk.stats)
    return total


@pytest.mark.parametrize(
    ("metric", "target", "tolerance"),
    [
        ("smi", P.smi_prevalence, 0.008),
        ("dm-other", P.diabetes_prevalence, 0.012),
        ("dm-smi", P.diabetes_prevalence * P.smi_diabetes_multiplier, 0.05),
        ("htn-other", P.hypertension_prevalence, 0.02),
        ("obese-smi", P.obesity_prevalence * P.smi_obesity_multiplier, 0.06),
        ("smoker-smi", P.smi_smoking_prevalence, 0.06),
        ("smoker-other", P.smoking_prevalence, 0.015),
        ("dep", P.depression_prevalence, 0.012),
        ("fuh7", P.fuh_7day, 0.07),
        ("fuh30", P.fuh_30day, 0.07),
        ("fum7", P.fum_7day, 0.07),
        ("noshow-bh", P.no_show_bh, 0.03),
        ("pdc80", 0.60, 0.10),
        ("amm84", 1 - P.antidepressant_early_stop, 0.07),
        ("phq-response", P.phq9_response, 0.08),
        ("ipp-smi", P.psych_admissions_per_year_smi, 0.04),
        ("meddoc-medical", P.medication_documentation_at_visit, 0.02),
        ("meddoc-therapy", P.medication_documentation_at_therapy, 0.03),
        ("suicide-risk", P.suicide_risk_assessment, 0.08),
        ("referral-report", P.referral_report_received, 0.04),  # a little less: period end
        ("sud-initiation", P.sud_initiation, 0.08),
        ("sud-engagement", P.sud_engagement, 0.12),
        ("statin-cvd", P.statin_use_cvd, 0.04),
    ],
)
def test_realised_rate_is_near_its_parameter(
    stats: Stats, metric: str, target: float, tolerance: float
) -> None:
    value = stats.value(metric)
    assert value is not None
    assert abs(value - target) <= tolerance, f"{metric}: {value:.3f} vs {target:.3f}"


def test_smi_patients_carry_more_physical_illness_and_die_sooner(stats: Stats) -> None:
    assert stats.value("cvd-smi") > 1.4 * stats.value("cvd-other")
    assert stats.value("deaths-smi") > 1.5 * stats.value("deaths-other")
    assert stats.value("ed-smi") > 2.5 * stats.value("ed-other")


def test_some_smi_patients_are_disengaged_from_primary_care(stats: Stats) -> None:
    assert P.smi_pc_disengaged <= stats.value("smi-no-pc-12m") <= P.smi_pc_disengaged + 0.2


def test_the_report_pairs_every_metric_with_a_parameter(stats: Stats) -> None:
    table = rows(stats, P)
    assert len(table) >= 20
    assert all(realised != "-" for _, _, realised in table)
