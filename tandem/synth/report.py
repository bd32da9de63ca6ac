"""Realised prevalences and rates, next to the parameters that drove them.

Each chunk contributes numerators and denominators (:class:`Stats` adds them up), so the
report covers the whole population without keeping it in memory. ``rows()`` pairs every
metric with its parameter (or the published figure it was calibrated to).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tandem.synth import encounters as E
from tandem.synth import medications as M
from tandem.synth.parameters import Parameters
from tandem.synth.population import NEVER


@dataclass
class Stats:
    counts: dict[str, list[float]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def ratio(self, key: str, num: float, den: float) -> None:
        acc = self.counts.setdefault(key, [0.0, 0.0])
        acc[0] += float(num)
        acc[1] += float(den)

    def add(self, other: Stats) -> None:
        for k, (num, den) in other.counts.items():
            self.ratio(k, num, den)
        for k, n in other.rows.items():
            self.rows[k] = self.rows.get(k, 0) + n

    def value(self, key: str) -> float | None:
        num, den = self.counts.get(key, (0.0, 0.0))
        return num / den if den else None


def _followed(pid, day, visit_pid, visit_day, lo: int, hi: int) -> np.ndarray:
    """For each index event, is there a visit of the same patient lo..hi days after it?"""
    key = visit_pid.astype(np.int64) * 100_000 + visit_day
    key.sort()
    base = pid.astype(np.int64) * 100_000 + day
    return np.searchsorted(key, base + hi, side="right") > np.searchsorted(
        key, base + lo, side="left"
    )


def chunk_stats(pop, enc, eps, fills, obs, assess, out, vocab, span) -> Stats:
    s = Stats()
    adult = pop.adult
    alive_years = pop.years
    s.ratio("smi", (pop.smi & adult).sum(), adult.sum())
    for key in ("dm", "htn", "cvd", "obese"):
        s.ratio(f"{key}-other", (pop.flags[key] & adult & ~pop.smi).sum(), (adult & ~pop.smi).sum())
        s.ratio(f"{key}-smi", (pop.flags[key] & pop.smi).sum(), pop.smi.sum())
    s.ratio("smoker-smi", (pop.flags["smoker"] & pop.smi).sum(), pop.smi.sum())
    plain = adult & ~pop.smi & ~pop.flags["sud"]
    s.ratio("smoker-other", (pop.flags["smoker"] & plain).sum(), plain.sum())
    s.ratio("dep", (pop.flags["dep"] & adult).sum(), (adult & ~pop.smi).sum())
    # SMI alive and registered through the last year: any PC visit in the last 365 days?
    cohort = pop.smi & (pop.death_day == NEVER) & (pop.reg_day <= span - 365)
    pc_rows = enc["kind"] == E.PC
    recent = np.zeros(pop.n, dtype=bool)
    recent[enc["pid"][pc_rows & (enc["day"] > span - 365)]] = True
    s.ratio("smi-no-pc-12m", (cohort & ~recent).sum(), cohort.sum())
    bh_rows = np.isin(enc["kind"], (E.BH, E.PSYCH))
    ipp = np.flatnonzero((enc["kind"] == E.IPP) & (enc["end_day"] <= span - 30))
    f7 = _followed(
        enc["pid"][ipp], enc["end_day"][ipp], enc["pid"][bh_rows], enc["day"][bh_rows], 1, 7
    )
    f30 = _followed(
        enc["pid"][ipp], enc["end_day"][ipp], enc["pid"][bh_rows], enc["day"][bh_rows], 1, 30
    )
    s.ratio("fuh7", f7.sum(), len(ipp))
    s.ratio("fuh30", f30.sum(), len(ipp))
    mh_codes = np.concatenate(
        [vocab.codes_of(k) for k in ("smi-diagnoses", "depression", "anxiety")]
        + [vocab.codes_of("common-reasons", "R45.851")]
    )
    ed = np.flatnonzero(
        (enc["kind"] == E.ED) & np.isin(enc["dx"], mh_codes) & (enc["day"] <= span - 30)
    )
    s.ratio(
        "fum7",
        _followed(
            enc["pid"][ed], enc["day"][ed], enc["pid"][bh_rows], enc["day"][bh_rows], 1, 7
        ).sum(),
        len(ed),
    )
    ed_all = enc["kind"] == E.ED
    s.ratio("ed-smi", (ed_all & pop.smi[enc["pid"]]).sum(), alive_years[pop.smi].sum())
    s.ratio("ed-other", (ed_all & ~pop.smi[enc["pid"]]).sum(), alive_years[~pop.smi].sum())
    s.ratio(
        "ipp-smi", ((enc["kind"] == E.IPP) & pop.smi[enc["pid"]]).sum(), alive_years[pop.smi].sum()
    )
    dead = pop.death_day != NEVER
    s.ratio("deaths-smi", (dead & pop.smi).sum(), alive_years[pop.smi].sum())
    s.ratio("deaths-other", (dead & ~pop.smi & adult).sum(), alive_years[~pop.smi & adult].sum())
    # antipsychotic PDC over first fill .. end of the patient's window
    ep = fills["ep"]
    ap = eps["cls"][ep] == M.AP
    m = len(eps["pid"])
    supply = np.bincount(ep[ap], weights=eps["ds"][ep[ap]], minlength=m)
    n_fills = np.bincount(ep[ap], minlength=m)
    first = np.full(m, np.iinfo(np.int32).max)
    np.minimum.at(first, ep[ap], fills["day"][ap])
    hi = pop.hi[eps["pid"]]
    period = np.maximum(hi - first + 1, 1)
    users = (eps["cls"] == M.AP) & (n_fills >= 2) & (period >= 90)
    pdc = np.minimum(supply, period) / period
    s.ratio("pdc80", (pdc[users] >= 0.8).sum(), users.sum())
    # antidepressant new starts: >= 84 days' supply within 114 days (AMM acute, roughly)
    ad = eps["cls"][ep] == M.AD
    in_acute = ad & (fills["day"] <= eps["start"][ep] + 114)
    acute = np.bincount(ep[in_acute], weights=eps["ds"][ep[in_acute]], minlength=m)
    starts = (
        (eps["cls"] == M.AD)
        & (eps["start"] > pop.lo[eps["pid"]] + 30)
        & (eps["start"] < span - 120)
    )
    s.ratio("amm84", (acute[starts] >= 84).sum(), starts.sum())
    # PHQ-9 response in treatment episodes with >= 3 assessments
    phq = assess["inst"] == 0
    epi = enc["ep"][assess["enc"]]
    sel = phq & (epi >= 0)
    if sel.any():
        order = np.lexsort((assess["day"][sel], epi[sel]))
        e_sorted, score = epi[sel][order], assess["score"][sel][order]
        starts_, counts = (
            np.unique(e_sorted, return_index=True)[1],
            np.bincount(e_sorted)[np.unique(e_sorted)],
        )
        last = starts_ + counts - 1
        ok = counts >= 3
        s.ratio("phq-response", (score[last][ok] <= score[starts_][ok] * 0.5).sum(), ok.sum())
    appts = out.get("appointments")
    if appts is None:
        for name, table in out.items():
            s.rows[name] = s.rows.get(name, 0) + table.num_rows
        return s
    bh = pc.is_in(appts.column("service_type"), pa.array(["behavioral health", "psychiatry"]))
    status = appts.column("status")
    past = pc.not_equal(status, "booked")
    s.ratio(
        "noshow-bh",
        pc.sum(pc.and_(pc.and_(bh, past), pc.equal(status, "noshow"))).as_py() or 0,
        pc.sum(pc.and_(bh, past)).as_py() or 0,
    )
    for name, table in out.items():
        s.rows[name] = s.rows.get(name, 0) + table.num_rows
    return s


def care_stats(s: Stats, pop, enc, procs, requests, reports, eps, vocab) -> None:
    """Realised rates of the processes of care (``tandem.synth.care``), added to ``s``."""
    code = procs["code"]
    n_enc = len(enc["pid"])

    def has(proc_code: int) -> np.ndarray:
        out = np.zeros(n_enc, dtype=bool)
        out[procs["enc"][(code == proc_code) & (procs["enc"] >= 0)]] = True
        return out

    medical = np.isin(enc["kind"], (E.PC, E.PSYCH, E.ED, E.IPP, E.IPM))
    documented = has(vocab.codes_of("medication-documentation")[0])
    s.ratio("meddoc-medical", (documented & medical).sum(), medical.sum())
    s.ratio(
        "meddoc-therapy", (documented & (enc["kind"] == E.BH)).sum(), (enc["kind"] == E.BH).sum()
    )
    mdd = np.setdiff1d(vocab.codes_of("depression"), vocab.codes_of("depression", "F34.1"))
    youth = np.isin(enc["kind"], (E.PC, E.BH, E.PSYCH)) & np.isin(enc["dx"], mdd)
    youth &= pop.age[enc["pid"]] < 19
    s.ratio(
        "suicide-risk",
        (has(vocab.codes_of("suicide-risk-assessment")[0]) & youth).sum(),
        youth.sum(),
    )
    referrals = requests["cat"] == 1
    s.ratio("referral-report", len(reports["pid"]), referrals.sum())
    # new SUD episodes: a treatment visit 1-13 days after the diagnosis; 3+ treatment visits
    new = np.flatnonzero(pop.sud_new & (pop.onset["sud"] <= pop.hi - 14))
    treat = enc["ep"] == E.SUD_TREATMENT
    dx_day = pop.onset["sud"][new]
    init = _followed(new, dx_day, enc["pid"][treat], enc["day"][treat], 1, 13)
    s.ratio("sud-initiation", init.sum(), len(new))
    visits = np.bincount(enc["pid"][treat], minlength=pop.n)[new]
    s.ratio("sud-engagement", (init & (visits >= 3)).sum(), init.sum())
    statin = np.zeros(pop.n, dtype=bool)
    statin[eps["pid"][eps["cls"] == M.STATIN]] = True
    cvd = pop.flags["cvd"] & pop.adult
    s.ratio("statin-cvd", (statin & cvd).sum(), cvd.sum())


def rows(stats: Stats, p: Parameters) -> list[tuple[str, str, str]]:
    """(metric, parameter / target, realised) for the report table."""

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    def rate(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    v = stats.value
    out = [
        ("SMI prevalence (adults)", pct(p.smi_prevalence), pct(v("smi"))),
        ("Diabetes, non-SMI adults", pct(p.diabetes_prevalence), pct(v("dm-other"))),
        ("Diabetes, SMI", f"x{p.smi_diabetes_multiplier}", pct(v("dm-smi"))),
        ("Hypertension, non-SMI adults", pct(p.hypertension_prevalence), pct(v("htn-other"))),
        ("Hypertension, SMI", f"x{p.smi_hypertension_multiplier}", pct(v("htn-smi"))),
        ("CVD, non-SMI adults", pct(p.cvd_prevalence), pct(v("cvd-other"))),
        ("CVD, SMI", f"x{p.smi_cvd_multiplier}", pct(v("cvd-smi"))),
        ("Obesity, non-SMI adults", pct(p.obesity_prevalence), pct(v("obese-other"))),
        ("Obesity, SMI", f"x{p.smi_obesity_multiplier}", pct(v("obese-smi"))),
        ("Smoking, SMI", pct(p.smi_smoking_prevalence), pct(v("smoker-smi"))),
        ("Smoking, other adults (no SUD)", pct(p.smoking_prevalence), pct(v("smoker-other"))),
        ("Depression, non-SMI adults", pct(p.depression_prevalence), pct(v("dep"))),
        (
            "SMI with no PC visit in 12 months",
            f">= {pct(p.smi_pc_disengaged)}",
            pct(v("smi-no-pc-12m")),
        ),
        ("FUH 7-day follow-up", pct(p.fuh_7day), pct(v("fuh7"))),
        ("FUH 30-day follow-up", pct(p.fuh_30day), pct(v("fuh30"))),
        ("FUM 7-day follow-up (MH ED visits)", pct(p.fum_7day), pct(v("fum7"))),
        (
            "BH appointment no-shows",
            pct(p.no_show_bh),
            pct(v("noshow-bh")) if v("noshow-bh") is not None else "db/fhir only",
        ),
        ("Antipsychotic PDC >= 80%", "~60% (HEDIS SAA)", pct(v("pdc80"))),
        (
            "Antidepressant >= 84 days (AMM acute)",
            pct(1 - p.antidepressant_early_stop),
            pct(v("amm84")),
        ),
        ("PHQ-9 response (>= 50% drop)", pct(p.phq9_response), pct(v("phq-response"))),
        ("ED visits per SMI person-year", rate(p.ed_visits_per_year_smi), rate(v("ed-smi"))),
        (
            "ED visits per other person-year",
            f"{rate(p.ed_visits_per_year)} (x1.8 with SUD)",
            rate(v("ed-other")),
        ),
        (
            "Psychiatric admissions per SMI person-year",
            rate(p.psych_admissions_per_year_smi),
            rate(v("ipp-smi")),
        ),
        (
            "Deaths per SMI person-year",
            f"x{p.smi_mortality_multiplier} of others",
            rate(v("deaths-smi")),
        ),
        ("Deaths per other adult person-year", "life tables", rate(v("deaths-other"))),
        (
            "Current medications documented, medical visits",
            pct(p.medication_documentation_at_visit),
            pct(v("meddoc-medical")),
        ),
        (
            "Current medications documented, psychotherapy visits",
            pct(p.medication_documentation_at_therapy),
            pct(v("meddoc-therapy")),
        ),
        (
            "Suicide risk assessment, MDD visits under 18",
            pct(p.suicide_risk_assessment),
            pct(v("suicide-risk")),
        ),
        (
            "Referrals with the consult report received",
            f"{pct(p.referral_report_received)} (less at the period end)",
            pct(v("referral-report")),
        ),
        ("New SUD episodes initiated in 14 days", pct(p.sud_initiation), pct(v("sud-initiation"))),
        ("Initiated SUD episodes engaged", pct(p.sud_engagement), pct(v("sud-engagement"))),
        ("Statin use, adults with CVD", pct(p.statin_use_cvd), pct(v("statin-cvd"))),
    ]
    return out
