"""Acute care for one chunk: ED visits, psychiatric and medical admissions, and the
follow-up visits after them (FUH/FUM), with routine visits held back for 30 days so the
follow-up rates match their parameters."""

from __future__ import annotations

import numpy as np

from tandem.synth.encounters import (
    AMB,
    BH,
    ED,
    EMER,
    IMP,
    IPM,
    IPP,
    PSYCH,
    Frame,
    _frame,
    _rows,
    _site_of,
    _weighted,
    take,
)


def _emergency(rng, pop, world, v, p) -> Frame:
    rate = np.where(pop.smi, p.ed_visits_per_year_smi, p.ed_visits_per_year)
    rate = rate * np.where(pop.flags["sud"], 1.8, 1.0)
    pid, day = _rows(rng, pop, rate, pop.lo, pop.hi)
    m = len(pid)
    mh_p = np.where(pop.smi[pid], p.ed_mh_share_smi, np.where(pop.bh_dx[pid] >= 0, 0.15, 0.0))
    mh = rng.random(m) < mh_p
    sud = ~mh & pop.flags["sud"][pid] & (day >= pop.onset["sud"][pid]) & (rng.random(m) < 0.3)
    reasons = v.codes_of("common-reasons", "R07.9", "R10.9", "J06.9", "T14.90XA", "M54.50")
    si = v.codes_of("common-reasons", "R45.851")[0]
    dx = np.where(
        mh,
        np.where(rng.random(m) < 0.15, si, pop.bh_dx[pid]),
        np.where(sud, pop.codes["sud"][pid], _weighted(rng, reasons, (3, 3, 2, 3, 2), m)),
    )
    code = _weighted(rng, v.codes_of("emergency-department"), (1, 2, 4, 4, 2), m)
    prog = np.full(m, world.prog("ed"), dtype=np.int32)
    f = _frame(
        rng,
        pid,
        day,
        ED,
        code,
        EMER,
        np.where(mh, 2, 0),
        world.hospital,
        world.pick(rng, "ed", pop.pc[pid]),
        prog,
        dx,
        minutes=(120, 480),
    )
    f["minute"] = rng.integers(0, 24 * 60, m).astype(np.int32)
    f["end_minute"] = f["minute"] + rng.integers(120, 480, m).astype(np.int32)
    f["disp"][:] = 1
    return f


def _admissions(rng, pop, world, v, p) -> tuple[Frame, Frame]:
    out = []
    for kind, rate, los_mean in (
        (
            IPP,
            np.where(
                pop.smi,
                p.psych_admissions_per_year_smi,
                np.where(pop.flags["dep"], p.psych_admissions_per_year_bh, 0.0),
            ),
            p.psych_los_mean_days,
        ),
        (
            IPM,
            p.medical_admissions_per_year
            * np.where(pop.smi, 2.0, 1.0)
            * np.where(pop.adult, 1.0, 0.3),
            4.0,
        ),
    ):
        pid, day = _rows(rng, pop, rate * np.ones(pop.n), pop.lo, pop.hi)
        m = len(pid)
        los = (1 + rng.gamma(2.0, (los_mean - 1) / 2, m)).astype(np.int32)
        keep = day + los <= pop.hi[pid]
        pid, day, los = pid[keep], day[keep], los[keep]
        m = len(pid)
        if kind == IPP:
            dx = pop.bh_dx[pid]
            prog, pool = world.prog("ip_psych"), "ip_psych"
        else:
            medical = np.where(
                pop.codes["cvd"][pid] >= 0, pop.codes["cvd"][pid], pop.codes["dm"][pid]
            )
            dx = np.where(medical >= 0, medical, v.codes_of("common-reasons", "J18.9")[0])
            prog, pool = world.prog("ip_med"), "hospitalist"
        code = _weighted(rng, v.codes_of("inpatient", "99221", "99222", "99223"), (1, 2, 3), m)
        f = _frame(
            rng,
            pid,
            day,
            kind,
            code,
            IMP,
            2 if kind == IPP else 0,
            world.hospital,
            world.pick(rng, pool, pop.pc[pid]),
            np.full(m, prog, dtype=np.int32),
            dx,
        )
        f["end_day"] = (day + los).astype(np.int32)
        f["end_minute"] = rng.integers(9 * 60, 15 * 60, m).astype(np.int32)
        f["disp"][:] = 1
        f["setting"][:] = 0
        out.append(f)
    return out[0], out[1]


def _followups(rng, pop, world, v, p, index: Frame, p7: float, p30: float, psy) -> Frame:
    """MH follow-up visits after discharges or ED visits: within 7 days, 8-30 days, or none."""
    m = len(index["pid"])
    u = rng.random(m)
    gap = np.where(u < p7, rng.integers(1, 8, m), np.where(u < p30, rng.integers(8, 31, m), -1))
    pid = index["pid"]
    day = index["end_day"] + gap
    keep = (gap > 0) & (day <= pop.hi[pid])
    pid, day = pid[keep], day[keep]
    cmhc = pop.home_cmhc[pid]
    prog = np.where(cmhc, world.prog("cmhc_mh"), world.prog("ibh", pop.pc[pid]))
    prac = np.where(
        pop.team["bh-clinician"][pid] >= 0,
        pop.team["bh-clinician"][pid],
        np.where(
            cmhc, world.pick(rng, "cmhc_bh", pop.pc[pid]), world.pick(rng, "ibh", pop.pc[pid])
        ),
    )
    code = _weighted(rng, psy, (5, 3, 2), len(pid))
    f = _frame(rng, pid, day, BH, code, AMB, 2, _site_of(world, prog), prac, prog, pop.bh_dx[pid])
    f["ep"][:] = -2  # a follow-up visit, not routine
    return f


def _quiet_after(frames: list[Frame], events: list[tuple[np.ndarray, np.ndarray]]) -> list[Frame]:
    """Drop routine BH visits in the 30 days after a discharge or MH ED visit.

    Follow-up after an acute episode is then exactly what ``_followups`` draws (FUH/FUM rates
    match their parameters) instead of being swamped by routine CMHC visits.
    """
    pid = np.concatenate([e[0] for e in events]).astype(np.int64)
    day = np.concatenate([e[1] for e in events]).astype(np.int64)
    keys = np.sort(pid * 100_000 + day)
    out = []
    for f in frames:
        routine = np.isin(f["kind"], (BH, PSYCH)) & (f["ep"] == -1)
        base = f["pid"].astype(np.int64) * 100_000 + f["day"]
        hit = np.searchsorted(keys, base - 1, side="right") > np.searchsorted(
            keys, base - 30, side="left"
        )
        out.append(take(f, np.flatnonzero(~(routine & hit))))
    return out
