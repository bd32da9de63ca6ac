"""Medication episodes, orders, dispenses and LAI administrations for one chunk.

An episode is one patient on one drug between two days. Its fills are spaced by the days
supply plus an exponential gap whose mean makes the expected proportion of days covered equal
the patient's target PDC (drawn from a Beta distribution): adherence varies between patients
and gaps are realistic (a few long ones, many short ones).
"""

from __future__ import annotations

import numpy as np

from tandem.synth.parameters import Parameters
from tandem.synth.population import Population
from tandem.synth.vocab import Vocabulary
from tandem.synth.world import World

CLASSES = ("antipsychotic", "antidepressant", "diabetes", "antihypertensive", "statin", "moud")
AP, AD, DM, HTN, STATIN, MOUD = range(6)
LAI_DAYS = {"402010": 14, "1650971": 90}  # risperidone microspheres q2w; paliperidone q3m

Frame = dict[str, np.ndarray]


def _pick(rng, pool: np.ndarray, weights, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return pool[rng.choice(len(pool), n, p=w / w.sum())].astype(np.int32)


def _prescriber(
    rng, pop: Population, world: World, pid: np.ndarray, prefer: str, fallback: str
) -> np.ndarray:
    first = pop.team[prefer][pid]
    second = pop.team["pcp"][pid]
    pool = world.pick(rng, fallback, pop.pc[pid])
    return np.where(first >= 0, first, np.where(second >= 0, second, pool)).astype(np.int32)


def build_episodes(
    rng, pop: Population, world: World, v: Vocabulary, p: Parameters, sud_window
) -> Frame:
    n = pop.n
    parts: list[Frame] = []
    window = pop.hi - pop.lo

    def episode(mask, cls, code, ds, pdc, start, stop, prac):
        idx = np.flatnonzero(mask)
        parts.append(
            {
                "pid": idx.astype(np.int32),
                "cls": np.full(len(idx), cls, np.int32),
                "code": np.asarray(code)[idx].astype(np.int32),
                "ds": np.asarray(ds)[idx].astype(np.int32),
                "pdc": np.asarray(pdc)[idx],
                "start": np.asarray(start)[idx].astype(np.int32),
                "stop": np.asarray(stop)[idx].astype(np.int32),
                "prac": np.asarray(prac)[idx].astype(np.int32),
            }
        )

    everyone = np.arange(n, dtype=np.int32)
    prevalent_start = pop.lo + rng.integers(0, 30, n)
    random_start = pop.lo + (rng.random(n) * np.maximum(window - 30, 1)).astype(np.int32)

    # antipsychotics
    sga = v.codes_of("antipsychotics-oral-sga")
    fga = v.codes_of("antipsychotics-oral-fga")
    lai = v.codes_of("antipsychotics-lai")
    sga_w = (10, 6, 8, 5, 9, 4, 10, 5, 3, 3, 4, 3, 2, 2)
    lai_p = p.lai_share * np.where(pop.smi_group == 0, 1.5, np.where(pop.smi_group == 2, 0.4, 1.0))
    u = rng.random(n)
    is_lai = pop.on_ap & pop.adult & (u < lai_p)
    is_fga = pop.on_ap & pop.adult & ~is_lai & (rng.random(n) < p.fga_share)
    kids = v.codes_of("antipsychotics-oral-sga", "312830", "349545")
    code = np.where(
        is_lai,
        _pick(rng, lai, (3, 3, 2, 2, 2, 1), n),
        np.where(is_fga, _pick(rng, fga, (5, 2, 2, 1, 1, 1), n), _pick(rng, sga, sga_w, n)),
    )
    code = np.where(pop.adult, code, kids[rng.integers(0, 2, n)])
    ds = np.full(n, 30, np.int32)
    for c, days in LAI_DAYS.items():
        ds = np.where(code == v.codes_of("antipsychotics-lai", c)[0], days, ds)
    ds = np.where(is_lai & (ds == 30), 28, ds)
    a, b = p.antipsychotic_pdc_beta
    pdc = np.where(is_lai, rng.beta(8, 1.2, n), rng.beta(a, b, n))
    start = np.where(rng.random(n) < 0.8, prevalent_start, random_start)
    stop = np.where(
        rng.random(n) < 0.12,
        start + (rng.random(n) * np.maximum(pop.hi - start, 1)).astype(np.int32),
        pop.hi,
    )
    episode(
        pop.on_ap,
        AP,
        code,
        ds,
        pdc,
        start,
        stop,
        _prescriber(rng, pop, world, everyone, "psychiatrist", "cmhc_psych"),
    )

    # antidepressants (new starts mostly: AMM / CMS128 need an index start)
    ad_codes = v.codes_of(
        "antidepressants",
        "312941",
        "310385",
        "200371",
        "349332",
        "993541",
        "856377",
        "311725",
        "313585",
        "596934",
    )
    ad_p = np.where(pop.flags["dep"], p.antidepressant_use, np.where(pop.flags["anx"], 0.35, 0.0))
    ad_p = np.where(pop.smi_group == 3, 0.8, np.where(pop.smi_group == 2, 0.2, ad_p))
    on_ad = (rng.random(n) < ad_p) & (window > 30)
    code = _pick(rng, ad_codes, (10, 7, 6, 7, 6, 4, 4, 4, 4), n)
    start = np.where(rng.random(n) < 0.2, prevalent_start, random_start)
    u = rng.random(n)
    dur = np.where(
        u < p.antidepressant_early_stop,
        rng.integers(15, 58, n),
        np.where(
            rng.random(n) < p.antidepressant_continuation,
            rng.integers(200, 720, n),
            rng.integers(90, 175, n),
        ),
    )
    stop = np.minimum(start + dur, pop.hi)
    prefer = np.where(pop.smi, "psychiatrist", "pcp")
    prac = np.where(
        prefer == "psychiatrist",
        _prescriber(rng, pop, world, everyone, "psychiatrist", "cmhc_psych"),
        _prescriber(rng, pop, world, everyone, "pcp", "pcp"),
    )
    episode(on_ad, AD, code, np.full(n, 30), rng.beta(12, 1.0, n), start, stop, prac)

    # chronic physical-health medicines, prescribed in primary care
    pcp = _prescriber(rng, pop, world, everyone, "pcp", "pcp")
    for mask, cls, lst, w in (
        (pop.flags["dm"] & (rng.random(n) < p.diabetes_med_use), DM, "diabetes-medications", (1,)),
        (
            pop.flags["htn"] & (rng.random(n) < p.antihypertensive_use),
            HTN,
            "antihypertensives",
            (4, 4, 2),
        ),
        (pop.adult & (rng.random(n) < _statin_p(pop, p)), STATIN, "statins", (2, 4, 3)),
    ):
        code = _pick(rng, v.codes_of(lst), w, n)
        ds = np.where(rng.random(n) < 0.4, 90, 30)
        start = prevalent_start
        if cls == STATIN:  # most statins for LDL >= 190 alone start during the period
            new = pop.flags["ldl190"] & ~pop.flags["cvd"] & (rng.random(n) < 0.8)
            start = np.where(new, random_start, prevalent_start)
        episode(mask, cls, code, ds, rng.beta(4, 1.5, n), start, pop.hi, pcp)

    # MOUD in the Part 2 program
    moud = pop.part2 & pop.flags["opi"] & (rng.random(n) < p.moud_use)
    code = np.full(n, v.codes_of("sud-medications", "1010604")[0])
    sud_prac = world.pick(rng, "sud_psych", pop.pc)
    episode(
        moud,
        MOUD,
        code,
        np.full(n, 14),
        rng.beta(4, 1.5, n),
        sud_window[0],
        sud_window[1],
        sud_prac,
    )

    eps = {k: np.concatenate([f[k] for f in parts]) for k in parts[0]}
    keep = eps["stop"] >= eps["start"]
    return {k: a[keep] for k, a in eps.items()}


def _statin_p(pop: Population, p: Parameters) -> np.ndarray:
    """Each patient's chance of a statin: CVD first, then LDL >= 190, then diabetes by age."""
    dm = np.where(pop.age >= 40, p.statin_use, p.statin_use * 0.4)
    return np.where(
        pop.flags["cvd"],
        p.statin_use_cvd,
        np.where(pop.flags["ldl190"], p.statin_use_high_ldl, np.where(pop.flags["dm"], dm, 0.0)),
    )


def build_fills(rng, eps: Frame) -> Frame:
    """Dispenses for every episode: first fill on the start day, then supply + gap."""
    m = len(eps["pid"])
    max_n = ((eps["stop"] - eps["start"]) // np.maximum(eps["ds"], 1) + 2).astype(np.int64)
    rep = np.repeat(np.arange(m, dtype=np.int32), max_n)
    first = np.zeros(len(rep), dtype=bool)
    first_idx = np.cumsum(max_n) - max_n
    first[first_idx] = True
    mean_gap = eps["ds"][rep] * (1 / np.clip(eps["pdc"][rep], 0.05, 1) - 1)
    inc = np.where(first, 0, eps["ds"][rep] + np.round(rng.exponential(1.0, len(rep)) * mean_gap))
    cs = np.cumsum(inc)
    offset = cs - np.repeat(cs[first_idx], max_n)
    day = eps["start"][rep] + offset.astype(np.int32)
    keep = day <= eps["stop"][rep]
    return {"ep": rep[keep], "day": day[keep].astype(np.int32)}
