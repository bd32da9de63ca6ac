"""Patients, coverage spans and care-team memberships as Arrow tables."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tandem.synth.arrow import const, ids, ints, take
from tandem.synth.population import NEVER, PAYERS, RACES, SEXES
from tandem.synth.tables import ROLES, Context


def patients(ctx: Context) -> pa.Table:
    pop, w = ctx.pop, ctx.world
    home = np.where(pop.home_cmhc, w.cmhc, np.asarray(w.pc_sites)[pop.pc])
    dead = pop.death_day != NEVER
    return pa.table(
        {
            "patient_id": ctx.patient_ids,
            "birth_date": ctx.clock.date(pop.birth_day),
            "sex": pa.array(SEXES[pop.sex]),
            "gender_identity": const(None, pop.n),
            "race": pa.array(RACES[pop.race]),
            "ethnicity": pa.array(np.where(pop.hispanic, "2135-2", "2186-5")),
            "deceased": pa.array(dead),
            "death_date": ctx.clock.date(np.where(dead, pop.death_day, 0), mask=~dead),
            "site_id": take(ctx.site_ids, home),
            "pcp_id": take(ctx.prac_ids, np.where(dead, -1, pop.team["pcp"])),
            "payer": pa.array(
                np.where(PAYERS[pop.payer] == "self-pay", None, PAYERS[pop.payer]), type=pa.string()
            ),
            "home_site": ints(home),
            "pc_site": ints(np.asarray(w.pc_sites)[pop.pc]),
        }
    )


def coverage(ctx: Context, rng, gap_share: float) -> pa.Table:
    pop = ctx.pop
    insured = np.flatnonzero(PAYERS[pop.payer] != "self-pay")
    n = len(insured)
    lo, hi = pop.lo[insured], pop.hi[insured]
    start = np.minimum(pop.reg_day[insured], 0) - rng.integers(0, 730, n)
    gap = (rng.random(n) < gap_share) & (hi - lo > 200)
    gap_start = lo + (rng.random(n) * np.maximum(hi - lo - 150, 1)).astype(np.int32)
    gap_end = gap_start + rng.integers(30, 121, n)
    dead = pop.death_day[insured] != NEVER
    end2 = np.where(dead, pop.death_day[insured], -1)
    pid = np.concatenate([insured, insured[gap]])
    s = np.concatenate([start, gap_end[gap]])
    e = np.concatenate([np.where(gap, gap_start - 1, end2), end2[gap]])
    kind = PAYERS[pop.payer[pid]]
    m = len(pid)
    plan = np.select(
        [kind == "medicaid", kind == "dual", kind == "medicare"],
        ["Medicaid managed care", "Dual eligible special needs plan", "Medicare Advantage"],
        "Commercial PPO",
    )
    member = ids("M", (pop.gidx[pid] + 1) * 10 + (ctx.world.seed % 10))
    return pa.table(
        {
            "coverage_id": ctx.next_ids("coverage", "cv", m),
            "patient_id": ctx.pids(pid),
            "status": const("active", m),
            "payer": pa.array(kind),
            "plan": pa.array(plan),
            "member_id": member,
            "start_date": ctx.clock.date(s),
            "end_date": ctx.clock.date(np.maximum(e, s), mask=e < 0),
        }
    )


def care_team(ctx: Context) -> pa.Table:
    pop, w = ctx.pop, ctx.world
    pid_parts, prac_parts, role_parts = [], [], []
    for role in ROLES:
        idx = np.flatnonzero(pop.team[role] >= 0)
        pid_parts.append(idx)
        prac_parts.append(pop.team[role][idx])
        role_parts.append(
            np.full(len(idx), "bh-clinician" if role == "sud" else role, dtype=object)
        )
    pid = np.concatenate(pid_parts).astype(np.int32)
    prac = np.concatenate(prac_parts)
    m = len(pid)
    dead = pop.death_day[pid] != NEVER
    start = pop.reg_day[pid]
    return pa.table(
        {
            "membership_id": ctx.next_ids("care_team", "ct", m),
            "patient_id": ctx.pids(pid),
            "practitioner_id": take(ctx.prac_ids, prac),
            "role": pa.array(np.concatenate(role_parts), type=pa.string()),
            "start_date": ctx.clock.date(start),
            "end_date": ctx.clock.date(np.where(dead, pop.death_day[pid], 0), mask=~dead),
            "program": ints(np.asarray(w.prac_program, dtype=np.int32)[prac]),
        }
    )
