"""Observations, assessments, lab orders, referrals and procedures for one chunk.

Vitals, smoking status, PHQ-9 screens and AUDIT-C hang off primary care visits; PHQ-9/GAD-7
trajectories off treatment-episode visits (improving for responders, stalling otherwise);
labs are scheduled per patient-year (so monitoring gaps follow engagement), each with an order.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tandem.synth import encounters as E
from tandem.synth.parameters import QUANTITIES, Parameters
from tandem.synth.population import Population
from tandem.synth.vocab import LOINC, Vocabulary
from tandem.synth.world import World

CATEGORIES = np.array(["vital-signs", "laboratory", "survey", "social-history"])
VITAL, LAB, SURVEY, SOCIAL = range(4)
INSTRUMENTS = ("phq9", "gad7", "auditc")
Frame = dict[str, np.ndarray]


def _obs(pid, day, minute, enc, code, cat, value, prog, *, panel=-1, vcode=-1) -> Frame:
    """One row per observation; the unit is not chosen here but follows the code (`units`)."""
    n = len(pid)
    full = lambda x, t=np.int32: np.broadcast_to(np.asarray(x), (n,)).astype(t)  # noqa: E731
    return {
        "pid": full(pid),
        "day": full(day),
        "minute": full(minute),
        "enc": full(enc),
        "code": full(code),
        "cat": full(cat),
        "value": full(value, np.float64),
        "prog": full(prog),
        "panel": full(panel),
        "vcode": full(vcode),
    }


def units(vocab: Vocabulary, code: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Each row's UCUM unit, looked up from its code in ``parameters.QUANTITIES``.

    The unit follows the code, never the code path that drew the value: an HbA1c drawn next to
    a glucose is still in %. A number whose code has no entry there is a bug, not a row.
    """
    table = np.array(
        [
            QUANTITIES[c].unit if s == LOINC and c in QUANTITIES else None
            for s, c in zip(vocab.systems, vocab.codes, strict=True)
        ],
        dtype=object,
    )
    has_unit = np.array([u is not None for u in table], dtype=bool)
    orphan = ~np.isnan(value) & ~has_unit[code]
    if orphan.any():
        missing = sorted({vocab.codes[i] for i in code[orphan]})
        raise ValueError(f"numeric results of {missing} have no unit in parameters.QUANTITIES")
    return table[code]


def _cat(frames: list[Frame]) -> Frame:
    """Frames stacked; empty ones too (a small chunk or a short period may have no rows)."""
    return {k: np.concatenate([f[k] for f in frames]) for k in frames[0]}


def _items(rng, total: np.ndarray, n_items: int, last_rare: bool, p_last: float) -> np.ndarray:
    """Item answers (0-3) that sum to ``total``; the last item (PHQ-9 item 9) is rarely > 0."""
    m = len(total)
    items = np.zeros((m, n_items), dtype=np.int32)
    rest = total.copy()
    if last_rare:
        nine = np.where((total >= 10) & (rng.random(m) < p_last), rng.integers(1, 3, m), 0)
        nine = np.maximum(nine, total - 3 * (n_items - 1))
        items[:, -1] = nine
        rest = total - nine
        k = n_items - 1
    else:
        k = n_items
    base, rem = rest // k, rest % k
    ranks = rng.random((m, k)).argsort(axis=1).argsort(axis=1)
    items[:, :k] = base[:, None] + (ranks < rem[:, None])
    return items


def items_json(codes: list[str], items: np.ndarray) -> pa.Array:
    pieces: list = []
    for j, code in enumerate(codes):
        pieces.append(("{" if j == 0 else ",") + f'"{code}":')
        pieces.append(pa.array(items[:, j]).cast(pa.string()))
    pieces.append("}")
    return pc.binary_join_element_wise(*pieces, "")


def build(
    rng,
    pop: Population,
    enc: Frame,
    eps: dict,
    world: World,
    v: Vocabulary,
    p: Parameters,
    statin_start: np.ndarray,
):
    obs: list[Frame] = []
    n_enc = len(enc["pid"])
    enc_idx = np.arange(n_enc, dtype=np.int32)
    in_person_pc = (enc["kind"] == E.PC) & (enc["cls"] == E.AMB)
    pid_all = enc["pid"]

    # blood pressure panels (panel row + systolic + diastolic share one observation id)
    sel = enc_idx[in_person_pc & (rng.random(n_enc) < p.bp_at_pc_visit)]
    pid = pid_all[sel]
    htn = pop.flags["htn"][pid]
    controlled = (rng.random(pop.n) < p.hypertension_controlled)[pid]
    sys_mean = np.where(htn, np.where(controlled, 126, 148), 116 + 0.2 * pop.age[pid])
    sbp = np.round(rng.normal(sys_mean, 11)).clip(85, 220)
    dbp = np.round(sbp * 0.55 + rng.normal(8, 6, len(sel))).clip(45, 130)
    bp = v.codes_of("blood-pressure")
    args = (pid, enc["day"][sel], enc["minute"][sel] + 5, sel)
    prog = enc["prog"][sel]
    obs.append(_obs(*args, bp[0], VITAL, np.nan, prog))
    obs.append(_obs(*args, bp[1], VITAL, sbp, prog, panel=bp[0]))
    obs.append(_obs(*args, bp[2], VITAL, dbp, prog, panel=bp[0]))

    # BMI and weight
    sel = enc_idx[in_person_pc & (rng.random(n_enc) < p.bmi_at_pc_visit)]
    pid = pid_all[sel]
    bmi_base = np.where(
        pop.flags["obese"],
        rng.normal(36, 4.5, pop.n).clip(30, 60),
        rng.normal(25.5, 2.6, pop.n).clip(16, 29.9),
    )
    bmi_base = np.where(pop.adult, bmi_base, rng.normal(19, 3, pop.n).clip(13, 35))
    bmi = np.round(bmi_base[pid] + rng.normal(0, 0.6, len(sel)), 1)
    height = np.where(pop.sex == 1, 1.76, 1.63)[pid] * np.where(pop.adult[pid], 1.0, 0.85)
    body = v.codes_of("body-measures", "39156-5", "29463-7")
    args = (pid, enc["day"][sel], enc["minute"][sel] + 6, sel)
    obs.append(_obs(*args, body[0], VITAL, bmi, enc["prog"][sel]))
    obs.append(_obs(*args, body[1], VITAL, np.round(bmi * height**2, 1), enc["prog"][sel]))

    # smoking status
    sel = enc_idx[
        (enc["kind"] == E.PC)
        & pop.adult[pid_all]
        & (rng.random(n_enc) < p.smoking_status_at_pc_visit)
    ]
    pid = pid_all[sel]
    answers = v.codes_of("smoking-status-values")
    ex = rng.random(pop.n) < 0.25
    value = np.where(pop.flags["smoker"], answers[0], np.where(ex, answers[1], answers[2]))[pid]
    obs.append(
        _obs(
            pid,
            enc["day"][sel],
            enc["minute"][sel] + 7,
            sel,
            v.codes_of("smoking-status")[0],
            SURVEY,  # QI-Core "assessment performed"; the FHIR output adds social-history
            np.nan,
            enc["prog"][sel],
            vcode=value,
        )
    )

    assessments, survey = _instruments(rng, pop, enc, eps, v, p)
    obs.append(survey)
    labs, orders = _labs(rng, pop, world, v, p, statin_start)
    obs.append(labs)
    procedures, referrals = _procedures_and_referrals(rng, pop, enc, v, p, assessments)
    # one observation id per resource; the three blood-pressure rows share their panel's id
    m_bp = len(obs[0]["pid"])
    next_id = m_bp
    for k, f in enumerate(obs):
        m = len(f["pid"])
        if k < 3:
            f["oid"] = np.arange(m_bp, dtype=np.int64)
        else:
            f["oid"] = np.arange(next_id, next_id + m, dtype=np.int64)
            next_id += m
    return _cat(obs), assessments, _cat([orders, referrals]), procedures


def _instruments(rng, pop, enc, eps, v, p):
    n_enc = len(enc["pid"])
    enc_idx = np.arange(n_enc, dtype=np.int32)
    out: list[Frame] = []
    # episode trajectories
    sel = enc_idx[enc["ep"] >= 0]
    ep = enc["ep"][sel]
    t = (enc["day"][sel] - eps["start"][ep]).astype(float)
    base = eps["baseline"][ep].astype(float)
    target = np.where(
        eps["remitter"][ep],
        np.minimum(base * 0.15, 3),
        np.where(eps["responder"][ep], base * 0.35, base * 0.85),
    )
    score = np.round(target + (base - target) * np.exp(-t / 35) + rng.normal(0, 1.5, len(sel)))
    anxiety = eps["anxiety"][ep]
    score = np.where(anxiety, np.clip(np.round(score * 0.78), 0, 21), np.clip(score, 0, 27)).astype(
        np.int32
    )
    for inst, mask in ((0, ~anxiety), (1, anxiety)):
        out.append(
            {
                "sel": sel[mask],
                "inst": np.full(int(mask.sum()), inst, np.int32),
                "score": score[mask],
            }
        )
    # PHQ-9 screening in primary care
    adult_pc = (enc["kind"] == E.PC) & pop.adult[enc["pid"]]
    sel = enc_idx[adult_pc & (rng.random(n_enc) < p.phq9_screening_at_pc_visit)]
    pid = enc["pid"][sel]
    m = len(sel)
    dep = pop.flags["dep"][pid] | pop.smi[pid]
    score = np.where(dep, rng.normal(11, 5, m), rng.poisson(2.5, m) + rng.poisson(0.3, m) * 4)
    screen_score = np.clip(np.round(score), 0, 27).astype(np.int32)
    out.append({"sel": sel, "inst": np.zeros(m, np.int32), "score": screen_score})
    # ... and its result as the CMS2 finding (adult screen 73832-8, positive when PHQ-9 >= 10)
    result = v.codes_of("depression-screening-results", "428181000124104", "428171000124102")
    screen = _obs(
        pid,
        enc["day"][sel],
        enc["minute"][sel] + 11,
        sel,
        v.codes_of("depression-screening", "73832-8")[0],
        SURVEY,
        np.nan,
        enc["prog"][sel],
        vcode=np.where(screen_score >= 10, result[0], result[1]),
    )
    # AUDIT-C
    sel = enc_idx[adult_pc & (rng.random(n_enc) < 0.10)]
    pid = enc["pid"][sel]
    m = len(sel)
    score = np.where(pop.flags["alc"][pid], rng.integers(5, 13, m), rng.integers(0, 5, m))
    out.append({"sel": sel, "inst": np.full(m, 2, np.int32), "score": score.astype(np.int32)})
    a = {k: np.concatenate([f[k] for f in out]) for k in out[0]}
    s = a["sel"]
    a.update(
        pid=enc["pid"][s],
        day=enc["day"][s],
        minute=enc["minute"][s] + 10,
        enc=s,
        prog=enc["prog"][s],
    )
    totals = np.array(
        [
            v.codes_of("phq9-total")[0],
            v.codes_of("gad7-total")[0],
            v.codes_of("auditc", "75626-2")[0],
        ]
    )
    a["code"] = totals[a["inst"]]
    survey = _obs(
        a["pid"],
        a["day"],
        a["minute"],
        s,
        a["code"],
        SURVEY,
        a["score"].astype(float),
        a["prog"],
    )
    survey = _cat([survey, screen])
    order = np.argsort(a["inst"], kind="stable")
    a = {k: x[order] for k, x in a.items()}
    item_codes = {0: v.codes_of("phq9-items"), 1: v.codes_of("gad7-items")}
    arrays = []
    for inst in range(3):
        mask = a["inst"] == inst
        if inst in item_codes:
            codes = [v.codes[i] for i in item_codes[inst]]
            items = _items(rng, a["score"][mask], len(codes), inst == 0, p.phq9_item9_positive)
            arrays.append(items_json(codes, items))
        else:
            arrays.append(pa.nulls(int(mask.sum()), pa.string()))
    a["items_json"] = pa.concat_arrays([x.cast(pa.string()) for x in arrays])
    return a, survey


def _labs(rng, pop, world, v, p, statin_start):
    n = pop.n
    frames: list[Frame] = []
    orders: list[Frame] = []
    pc_prog = world.prog("pc", pop.pc)
    # labs stop with primary care engagement, except for CMHC patients (their psychiatrist orders)
    hi_engaged = np.minimum(pop.hi, np.where(pop.pc_until <= pop.hi, pop.pc_until + 60, pop.hi))
    hi_engaged = np.where(pop.home_cmhc, pop.hi, hi_engaged)

    def schedule(rate, code_choice, value_fn, extra=None):
        days = np.maximum(hi_engaged - pop.lo + 1, 0)
        counts = rng.poisson(np.maximum(rate, 0) * days / 365.25)
        pid = np.repeat(np.arange(n, dtype=np.int32), counts)
        day = pop.lo[pid] + (rng.random(len(pid)) * np.maximum(days[pid], 1)).astype(np.int32)
        code = code_choice(len(pid))
        minute = rng.integers(7 * 60, 12 * 60, len(pid)).astype(np.int32)
        value = value_fn(pid, code, day)
        frames.append(_obs(pid, day, minute, -1, code, LAB, value, pc_prog[pid]))
        orders.append(
            {
                "pid": pid,
                "day": np.maximum(day - rng.integers(0, 8, len(pid)), pop.lo[pid]),
                "minute": minute,
                "enc": np.full(len(pid), -1, np.int32),
                "code": code,
                "cat": np.zeros(len(pid), np.int32),
                "prog": pc_prog[pid],
            }
        )
        if extra is not None:
            frames.append(_obs(pid, day, minute, -1, extra[0], LAB, extra[1](pid), pc_prog[pid]))

    dm = pop.flags["dm"]
    a1c, glu = v.codes_of("hba1c", "4548-4")[0], v.codes_of("glucose", "2345-7")[0]
    a1c_mean = np.where(pop.smi, 8.2, 7.6)
    schedule(
        np.where(dm, p.hba1c_tests_per_year, 0.0),
        lambda m: np.full(m, a1c),
        lambda pid, c, day: np.round(rng.normal(a1c_mean[pid], 1.4).clip(4.8, 14.5), 1),
    )
    screen = pop.on_ap & ~dm
    rate = np.where(
        screen,
        -np.log(1 - p.metabolic_screening),
        np.where(pop.adult & ~dm, -np.log(1 - p.general_lab_rate), 0.0),
    )
    schedule(
        rate,
        lambda m: np.where(rng.random(m) < 0.5, a1c, glu),
        lambda pid, c, day: np.where(
            c == a1c,
            np.round(rng.normal(5.5, 0.4, len(pid)).clip(4.2, 7.5), 1),
            np.round(rng.normal(98, 14, len(pid)).clip(60, 250)),
        ),
    )
    ldl, tc = v.codes_of("ldl-cholesterol", "13457-7")[0], v.codes_of("total-cholesterol")[0]
    at_risk = dm | pop.flags["cvd"] | pop.on_ap | pop.flags["ldl190"]
    rate = np.where(
        at_risk,
        -np.log(1 - p.lipid_testing),
        np.where(pop.adult, -np.log(1 - p.general_lab_rate), 0.0),
    )
    # severe hypercholesterolemia (LDL >= 190 mg/dL untreated) nearly halves on a statin
    high = pop.flags["ldl190"]
    ldl_vals: dict[str, np.ndarray] = {}

    def ldl_value(pid, c, day):
        treated = day >= statin_start[pid]
        mean = np.where(treated, np.where(high[pid], 125, 88), np.where(high[pid], 215, 118))
        ldl_vals["v"] = np.round(rng.normal(mean, 30).clip(30, 330))
        return ldl_vals["v"]

    schedule(
        rate,
        lambda m: np.full(m, ldl),
        ldl_value,
        # total = LDL + HDL + VLDL; the last two are never below ~35 mg/dL together
        extra=(
            tc,
            lambda pid: ldl_vals["v"] + np.round(rng.normal(72, 14, len(pid)).clip(35, 130)),
        ),
    )
    return _cat(frames), _cat(orders)


def _procedures_and_referrals(rng, pop, enc, v, p, assessments):
    n_enc = len(enc["pid"])
    enc_idx = np.arange(n_enc, dtype=np.int32)
    sel = enc_idx[
        (enc["kind"] == E.PC) & pop.flags["smoker"][enc["pid"]] & (rng.random(n_enc) < 0.25)
    ]
    counsel = v.codes_of("tobacco-cessation-counseling", "99406")[0]
    proc = {
        "pid": enc["pid"][sel],
        "day": enc["day"][sel],
        "minute": enc["minute"][sel] + 15,
        "enc": sel,
        "code": np.full(len(sel), counsel, np.int32),
        "prog": enc["prog"][sel],
    }
    a = assessments
    positive = (a["inst"] == 0) & (a["score"] >= 10) & (enc["kind"][a["enc"]] == E.PC)
    positive &= rng.random(len(positive)) < np.where(pop.bh_engaged[a["pid"]], 0.3, 0.6)
    s = np.flatnonzero(positive)
    codes = v.codes_of("depression-referrals", "306226009", "308477009", "390866009")
    ref = {
        "pid": a["pid"][s],
        "day": a["day"][s],
        "minute": a["minute"][s] + 5,
        "enc": a["enc"][s],
        "code": codes[rng.integers(0, 3, len(s))],
        "cat": np.ones(len(s), np.int32),
        "prog": a["prog"][s],
    }
    return proc, ref
