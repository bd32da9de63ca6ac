"""Medication requests, dispenses and LAI administrations as Arrow tables.

An episode longer than one prescription is ordered in renewals: each order covers its days'
supply times (1 + refills) — about a year of 30- or 90-day fills — and each dispense points at
the renewal that covers its day, as a pharmacy fills the current prescription.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tandem.synth import medications as M
from tandem.synth.arrow import const, floats, ints, take
from tandem.synth.tables import Context


def medications(
    ctx: Context, eps: dict, fills: dict, rng
) -> tuple[pa.Table, pa.Table, pa.Table, dict]:
    pop, w = ctx.pop, ctx.world
    m = len(eps["pid"])
    # an episode is ordered in renewals: each order covers its days' supply times (1 + refills)
    refills = np.where(eps["ds"] >= 90, 3, 11)
    covers = eps["ds"] * (1 + refills)
    n_orders = np.maximum((eps["stop"] - eps["start"]) // covers + 1, 1)
    first_order = np.cumsum(n_orders) - n_orders
    oep = np.repeat(np.arange(m), n_orders)  # order -> episode
    k = np.arange(len(oep)) - first_order[oep]
    o_start = eps["start"][oep] + k * covers[oep]
    o_stop = np.minimum(eps["stop"][oep], o_start + covers[oep] - 1)
    n = len(oep)
    req_ids = ctx.next_ids("medication_requests", "m", n)
    oc = ctx.codes(eps["code"][oep])
    ap_lai = np.isin(eps["code"], ctx.vocab.codes_of("antipsychotics-lai"))
    freq = np.where(ap_lai, np.nan, 1.0)
    qty = np.where(ap_lai, 1.0, eps["ds"].astype(float))
    prac_prog = np.asarray(w.prac_program, dtype=np.int32)[eps["prac"]]
    prog = np.where(eps["cls"] == M.MOUD, w.prog("sud"), prac_prog)
    reason = np.select(
        [
            eps["cls"] == M.AP,
            eps["cls"] == M.AD,
            eps["cls"] == M.DM,
            eps["cls"] == M.HTN,
            eps["cls"] == M.STATIN,
        ],
        [
            pop.bh_dx[eps["pid"]],
            pop.bh_dx[eps["pid"]],
            pop.codes["dm"][eps["pid"]],
            pop.codes["htn"][eps["pid"]],
            np.where(
                pop.codes["cvd"][eps["pid"]] >= 0,
                pop.codes["cvd"][eps["pid"]],
                np.where(
                    pop.codes["dm"][eps["pid"]] >= 0,
                    pop.codes["dm"][eps["pid"]],
                    pop.codes["fh"][eps["pid"]],
                ),
            ),
        ],
        pop.codes["sud"][eps["pid"]],
    )
    r = ctx.codes(reason[oep])
    authored_day = o_start - rng.integers(0, 4, n)
    ongoing = (k == n_orders[oep] - 1) & (eps["stop"][oep] >= ctx.span - 30)
    requests = pa.table(
        {
            "request_id": req_ids,
            "patient_id": ctx.pids(eps["pid"][oep]),
            "status": pa.array(np.where(ongoing, "active", "completed")),
            "intent": const("order", n),
            "do_not_perform": pa.repeat(pa.scalar(False), n),
            "category": const("community", n),
            "system": oc["system"],
            "code": oc["code"],
            "authored": ctx.clock.ts(authored_day, 10 * 60),
            "period_start": ctx.clock.ts(o_start),
            "period_end": ctx.clock.ts(o_stop, 23 * 60 + 59),
            "days_supply": ints(eps["ds"][oep]),
            "quantity": floats(qty[oep]),
            "refills": ints(refills[oep]),
            "dose_quantity": floats(np.ones(n)),
            "frequency_per_day": floats(freq[oep]),
            "reason_system": r["system"],
            "reason_code": r["code"],
            "prescriber_id": take(ctx.prac_ids, eps["prac"][oep]),
            "encounter_id": const(None, n),
            "display": oc["display"],
            "program": ints(prog[oep]),
            "class": pa.array(np.array(M.CLASSES)[eps["cls"][oep]]),
        }
    )
    ep = fills["ep"]
    # each fill is a dispense of the renewal covering its day
    renewal = np.minimum((fills["day"] - eps["start"][ep]) // covers[ep], n_orders[ep] - 1)
    order_of_fill = first_order[ep] + renewal
    n = len(ep)
    fc = ctx.codes(eps["code"][ep])
    minute = rng.integers(9 * 60, 18 * 60, n)
    dispenses = pa.table(
        {
            "dispense_id": ctx.next_ids("medication_dispenses", "d", n),
            "patient_id": ctx.pids(eps["pid"][ep]),
            "status": const("completed", n),
            "system": fc["system"],
            "code": fc["code"],
            "when_prepared": ctx.clock.ts(fills["day"], minute),
            "when_handed_over": ctx.clock.ts(fills["day"], minute + 60),
            "days_supply": ints(eps["ds"][ep]),
            "quantity": floats(qty[ep]),
            "dose_quantity": floats(np.ones(n)),
            "frequency_per_day": floats(freq[ep]),
            "prescriber_id": take(ctx.prac_ids, eps["prac"][ep]),
            "request_id": req_ids.take(pa.array(order_of_fill)),
            "display": fc["display"],
            "program": ints(prog[ep]),
        }
    )
    lai = np.flatnonzero(ap_lai[ep])
    k = len(lai)
    admin = pa.table(
        {
            "administration_id": ctx.next_ids("medication_administrations", "ma", k),
            "patient_id": dispenses.column("patient_id").take(pa.array(lai)),
            "status": const("completed", k),
            "system": fc["system"].take(pa.array(lai)),
            "code": fc["code"].take(pa.array(lai)),
            "effective_start": ctx.clock.ts(fills["day"][lai], minute[lai] + 90),
            "effective_end": ctx.clock.ts(fills["day"][lai], minute[lai] + 100),
            "program": ints(prog[ep][lai]),
        }
    )
    injections = {
        "pid": eps["pid"][ep][lai],
        "day": fills["day"][lai],
        "minute": minute[lai] + 90,
        "enc": np.full(k, -1, np.int32),
        "code": np.full(k, ctx.vocab.codes_of("injection")[0], np.int32),
        "prog": prog[ep][lai],
    }
    return requests, dispenses, admin, injections
