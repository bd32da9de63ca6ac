"""Patients of one chunk: demography, cohorts, sites, care team, coverage, deaths.

All arrays are indexed by the chunk-local patient number; days are offsets from the period
start (negative = before it). Nothing here loops over patients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tandem.synth.parameters import Parameters
from tandem.synth.vocab import Vocabulary
from tandem.synth.world import World

AGE_BANDS = np.array([0, 18, 35, 50, 65, 90])
RACES = np.array(["2106-3", "2054-5", "2028-9", "1002-5", "2076-8", "2131-1"])
SEXES = np.array(["female", "male", "other", "unknown"])
PAYERS = np.array(["medicaid", "medicare", "dual", "commercial", "self-pay"])
# per adult band (18-34, 35-49, 50-64, 65+): relative prevalence before normalisation
AGE_GRADIENT = {
    "dm": (0.25, 0.7, 1.6, 2.2),
    "htn": (0.25, 0.8, 1.6, 2.3),
    "cvd": (0.1, 0.5, 1.5, 3.0),
    "obese": (0.9, 1.05, 1.1, 0.9),
}
NEVER = 1 << 30


@dataclass
class Population:
    n: int
    gidx: np.ndarray  # global patient number (0-based)
    span: int  # days in the period (end - start)
    birth_day: np.ndarray
    age: np.ndarray  # completed years at the period end
    sex: np.ndarray
    race: np.ndarray
    hispanic: np.ndarray
    adult: np.ndarray
    smi: np.ndarray
    smi_group: np.ndarray  # -1 none, 0 schizophrenia, 1 other psychotic, 2 bipolar, 3 MDD psychotic
    flags: dict[str, np.ndarray]  # dep, anx, alc, opi, stim, sud, dm, htn, cvd, obese,
    # smoker, ldl190 (LDL >= 190 mg/dL), fh (familial hypercholesterolemia coded)
    codes: dict[str, np.ndarray]  # vocab index of each condition's code (-1 if absent)
    onset: dict[str, np.ndarray]
    bh_dx: np.ndarray  # the principal behavioural-health diagnosis, or -1
    home_cmhc: np.ndarray
    pc: np.ndarray  # position of the patient's PC clinic in world.pc_sites
    reg_day: np.ndarray
    death_day: np.ndarray  # NEVER if alive at the end
    lo: np.ndarray  # first day events may happen
    hi: np.ndarray  # last day events may happen (inclusive)
    pc_until: np.ndarray  # PC visits only before this day (disengagement)
    bh_engaged: np.ndarray
    part2: np.ndarray
    on_ap: np.ndarray
    payer: np.ndarray  # index into PAYERS
    team: dict[str, np.ndarray]  # role -> practitioner index or -1
    sud_new: np.ndarray  # SUD first diagnosed during the period (onset["sud"] is that day)

    @property
    def years(self) -> np.ndarray:
        return np.maximum(self.hi - self.lo + 1, 0) / 365.25


def _bern(rng: np.random.Generator, p: np.ndarray | float, n: int) -> np.ndarray:
    return rng.random(n) < p


def _choice_codes(rng: np.random.Generator, pool: np.ndarray, n: int, weights=None) -> np.ndarray:
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        return pool[rng.choice(len(pool), n, p=w / w.sum())]
    return pool[rng.integers(0, len(pool), n)]


def _gradient(band: np.ndarray, key: str, weights: tuple[float, ...]) -> np.ndarray:
    g = np.array(AGE_GRADIENT[key])
    adult_w = np.array(weights[1:]) / sum(weights[1:])
    g = g / (g * adult_w).sum()
    out = np.zeros(len(band))
    adult = band >= 1
    out[adult] = g[band[adult] - 1]
    return out


def build_population(
    rng: np.random.Generator,
    *,
    first: int,
    n: int,
    span: int,
    world: World,
    vocab: Vocabulary,
    params: Parameters,
) -> Population:
    p = params
    band = rng.choice(5, n, p=np.array(p.age_band_weights) / sum(p.age_band_weights))
    age_days = (
        AGE_BANDS[band] * 365.25 + rng.random(n) * (AGE_BANDS[band + 1] - AGE_BANDS[band]) * 365.25
    )
    age_days = age_days.astype(np.int64)
    birth_day = (span - age_days).astype(np.int32)
    age = (age_days / 365.25).astype(np.int32)
    u = rng.random(n)
    sex = np.where(u < p.female_share, 0, 1)
    sex = np.where(u > 1 - p.other_sex_share, rng.integers(2, 4, n), sex)
    race = rng.choice(len(RACES), n, p=np.array(p.race_shares) / sum(p.race_shares))
    hispanic = _bern(rng, p.hispanic_share, n)
    adult = age >= 18
    teen = (age >= 12) & ~adult

    smi = adult & _bern(rng, p.smi_prevalence, n)
    smi_group = np.where(smi, rng.choice(4, n, p=np.array(p.smi_mix) / sum(p.smi_mix)), -1)
    flags: dict[str, np.ndarray] = {}
    kid_bh = np.where(teen, 0.4, 0.0)
    base = np.where(adult, 1.0, kid_bh)
    dep_p = np.where(
        adult,
        p.depression_prevalence,
        np.where(teen, p.teen_depression_prevalence, (age >= 6) * p.child_depression_prevalence),
    )
    flags["dep"] = ~smi & _bern(rng, dep_p, n)
    flags["anx"] = ~smi & _bern(rng, p.anxiety_prevalence * base, n)
    sud_mult = np.where(smi, p.smi_sud_multiplier, 1.0) * adult
    flags["alc"] = _bern(rng, p.sud_alcohol_prevalence * sud_mult, n)
    flags["opi"] = _bern(rng, p.sud_opioid_prevalence * sud_mult, n)
    flags["stim"] = _bern(rng, p.sud_stimulant_prevalence * sud_mult, n)
    flags["sud"] = flags["alc"] | flags["opi"] | flags["stim"]
    for key, prev, mult in (
        ("dm", p.diabetes_prevalence, p.smi_diabetes_multiplier),
        ("htn", p.hypertension_prevalence, p.smi_hypertension_multiplier),
        ("cvd", p.cvd_prevalence, p.smi_cvd_multiplier),
        ("obese", p.obesity_prevalence, p.smi_obesity_multiplier),
    ):
        prob = prev * _gradient(band, key, p.age_band_weights) * np.where(smi, mult, 1.0)
        flags[key] = _bern(rng, np.clip(prob, 0, 0.95), n)
    smoke_p = np.where(
        smi,
        p.smi_smoking_prevalence,
        np.where(flags["sud"], p.sud_smoking_prevalence, p.smoking_prevalence),
    )
    flags["smoker"] = (adult | teen & (age >= 15)) & _bern(
        rng, smoke_p * np.where(adult, 1.0, 0.3), n
    )

    flags["ldl190"] = (age >= 20) & _bern(rng, p.high_ldl_prevalence, n)
    flags["fh"] = flags["ldl190"] & _bern(rng, p.familial_hypercholesterolemia_coded, n)
    codes = _condition_codes(rng, n, vocab, smi_group, flags)
    onset = {
        k: np.where(v, -rng.integers(30, 3650, n), -1).astype(np.int32) for k, v in flags.items()
    }
    for k in ("dm", "htn", "dep", "anx"):  # some incident cases during the period
        incident = flags[k] & _bern(rng, 0.12, n)
        onset[k] = np.where(incident, rng.integers(0, max(span - 60, 1), n), onset[k]).astype(
            np.int32
        )
    onset["smi"] = np.where(smi, -rng.integers(180, 7300, n), -1).astype(np.int32)
    bh_dx = np.where(
        smi,
        codes["smi"],
        np.where(flags["dep"], codes["dep"], np.where(flags["anx"], codes["anx"], -1)),
    )

    home_cmhc = np.where(
        smi, _bern(rng, p.smi_home_cmhc, n), _bern(rng, p.other_home_cmhc, n) & adult
    )
    pc = rng.integers(0, len(world.pc_sites), n).astype(np.int32)
    new = _bern(rng, p.new_patient_share, n)
    reg_day = np.where(new, rng.integers(0, max(span - 30, 1), n), -rng.integers(30, 3650, n))
    reg_day = np.maximum(reg_day, birth_day).astype(np.int32)
    # deaths: hazard by age band, SMI multiplier
    hazard = np.array(p.annual_mortality)[band] * np.where(smi, p.smi_mortality_multiplier, 1.0)
    lo = np.maximum(reg_day, 0).astype(np.int32)
    years = (span - lo) / 365.25
    dies = _bern(rng, 1 - (1 - np.clip(hazard, 0, 0.5)) ** years, n)
    death_day = np.where(dies, lo + (rng.random(n) * (span - lo)).astype(np.int32), NEVER).astype(
        np.int32
    )
    hi = np.minimum(death_day, span).astype(np.int32)
    disengaged = smi & _bern(rng, p.smi_pc_disengaged, n)
    pc_until = np.where(disengaged, span - rng.integers(366, 1100, n), span + 1).astype(np.int32)
    # new SUD episodes: diagnosed during the period, at least 60 days before the last day
    room = hi - lo - 60
    sud_new = flags["sud"] & (room > 0) & _bern(rng, p.sud_incident_share, n)
    onset["sud"] = np.where(
        sud_new, lo + (rng.random(n) * np.maximum(room, 1)).astype(np.int32), onset["sud"]
    ).astype(np.int32)
    bh_engaged = smi | ((flags["dep"] | flags["anx"]) & _bern(rng, p.bh_engagement, n))
    part2 = flags["sud"] & _bern(rng, p.part2_enrolment, n)
    ap_p = np.where(smi, np.array(p.antipsychotic_use)[np.maximum(smi_group, 0)], 0.0)
    ap_p = np.where(~adult & (age >= 3), p.child_antipsychotic_use, ap_p)
    on_ap = _bern(rng, ap_p, n)
    payer = _payers(rng, n, age, smi)
    team = _care_team(rng, n, world, p, pc, smi, home_cmhc, bh_engaged, part2, flags)
    return Population(
        n,
        np.arange(first, first + n, dtype=np.int64),
        span,
        birth_day,
        age,
        sex,
        race,
        hispanic,
        adult,
        smi,
        smi_group,
        flags,
        codes,
        onset,
        bh_dx.astype(np.int32),
        home_cmhc,
        pc,
        reg_day,
        death_day,
        lo,
        hi,
        pc_until,
        bh_engaged,
        part2,
        on_ap,
        payer,
        team,
        sud_new,
    )


def _condition_codes(rng, n, vocab, smi_group, flags) -> dict[str, np.ndarray]:
    v = vocab
    smi_pools = [
        v.codes_of("schizophrenia", "F20.9", "F20.0", "F25.0", "F25.1", "F20.89"),
        v.codes_of("other-psychotic-disorders", "F29", "F22", "F23", "F28"),
        v.codes_of("bipolar", "F31.9", "F31.81", "F31.32", "F31.4", "F31.60", "F31.2", "F30.10"),
        v.codes_of("smi-diagnoses", "F32.3", "F33.3"),
    ]
    smi_code = np.full(n, -1, dtype=np.int32)
    for g, pool in enumerate(smi_pools):
        mask = smi_group == g
        smi_code[mask] = _choice_codes(rng, pool, int(mask.sum()))
    spec = {
        "dep": (
            "depression",
            ("F32.9", "F32.1", "F33.1", "F32.2", "F33.9", "F34.1"),
            (4, 3, 3, 1, 2, 1),
        ),
        "anx": ("anxiety", ("F41.1", "F41.9", "F41.0", "F43.10", "F40.10"), (4, 3, 1, 1, 1)),
        "alc": ("sud-alcohol", ("F10.20", "F10.10"), (5, 3)),
        "opi": ("sud-opioid", ("F11.20", "F11.10"), (6, 1)),
        "stim": ("sud-stimulant", ("F14.20", "F15.20", "F14.10"), (3, 3, 1)),
        "dm": ("diabetes", ("E11.9", "E11.65", "E11.22", "E10.9", "E11.40"), (6, 2, 1, 1, 1)),
        "htn": ("hypertension", ("I10",), (1,)),
        "cvd": (
            "cardiovascular-disease",
            ("I25.10", "I25.2", "I63.9", "I50.9", "I73.9"),
            (4, 2, 1, 2, 1),
        ),
        "obese": ("obesity", ("E66.9", "E66.01"), (4, 1)),
        "smoker": ("tobacco-use", ("F17.210", "F17.200"), (3, 1)),
    }
    out = {"smi": smi_code}
    for key, (lst, wanted, w) in spec.items():
        pool = v.codes_of(lst, *wanted)
        out[key] = np.where(flags[key], _choice_codes(rng, pool, n, w), -1).astype(np.int32)
    fh = v.codes_of("familial-hypercholesterolemia")[0]
    out["fh"] = np.where(flags["fh"], fh, -1).astype(np.int32)
    out["sud"] = np.where(flags["opi"], out["opi"], np.where(flags["alc"], out["alc"], out["stim"]))
    return out


def _payers(rng, n, age, smi) -> np.ndarray:
    # medicaid, medicare, dual, commercial, self-pay
    young = np.array([0.50, 0.0, 0.0, 0.35, 0.15])
    young_smi = np.array([0.62, 0.06, 0.15, 0.10, 0.07])
    child = np.array([0.62, 0.0, 0.0, 0.38, 0.0])
    old = np.array([0.0, 0.65, 0.30, 0.0, 0.05])
    u = rng.random(n)
    out = np.empty(n, dtype=np.int8)
    for mask, probs in (
        (age < 18, child),
        ((age >= 18) & (age < 65) & ~smi, young),
        ((age >= 18) & (age < 65) & smi, young_smi),
        (age >= 65, old),
    ):
        out[mask] = np.searchsorted(np.cumsum(probs), u[mask], side="right").clip(0, 4)
    return out


def _care_team(
    rng, n, world, p, pc, smi, home_cmhc, bh_engaged, part2, flags
) -> dict[str, np.ndarray]:
    none = np.full(n, -1, dtype=np.int32)
    pcp_p = np.where(home_cmhc, np.where(smi, p.smi_pcp_assigned, 0.8), 0.95)
    has_pcp = rng.random(n) < pcp_p
    team = {"pcp": np.where(has_pcp, world.pick(rng, "pcp", pc), none)}
    cmhc_bh = world.pick(rng, "cmhc_bh", pc)
    ibh = world.pick(rng, "ibh", pc)
    team["bh-clinician"] = np.where(
        home_cmhc & bh_engaged, cmhc_bh, np.where(bh_engaged, ibh, none)
    )
    psych = rng.random(n)
    team["psychiatrist"] = np.where(
        smi & home_cmhc & (psych < 0.9),
        world.pick(rng, "cmhc_psych", pc),
        np.where(smi & ~home_cmhc & (psych < 0.6), world.pick(rng, "ibh_psych", pc), none),
    )
    cm = rng.random(n)
    cc_eligible = bh_engaged & ~smi & (flags["dep"] | flags["dm"])
    team["care-manager"] = np.where(
        smi & home_cmhc & (cm < p.care_manager_share_smi),
        world.pick(rng, "cmhc_cm", pc),
        np.where(cc_eligible & (cm < 0.5), world.pick(rng, "cc_cm", pc), none),
    )
    team["peer-specialist"] = np.where(
        smi & home_cmhc & (rng.random(n) < 0.15), world.pick(rng, "peer", pc), none
    )
    team["sud"] = np.where(part2, world.pick(rng, "sud", pc), none)
    return team
