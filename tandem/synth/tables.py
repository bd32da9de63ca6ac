"""Arrow tables for one chunk, in the analytic contract (``tandem.measures.schema``).

Tables may carry extra columns the operational database and FHIR writers need
(``program``, ``display``, …); :data:`EXTRA_PREFIX` marks none of them — the Parquet writer
keeps exactly the contract's columns and drops the rest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tandem.synth import encounters as E
from tandem.synth import observations as O
from tandem.synth.arrow import Clock, const, floats, ids, ints, take
from tandem.synth.population import PAYERS, Population
from tandem.synth.vocab import Vocabulary
from tandem.synth.world import World

DISCHARGE_SYSTEM = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
I32 = pa.int32()
VALUE_TYPES = pa.array(["Quantity", "integer", "CodeableConcept"])
ROLES = ("pcp", "bh-clinician", "psychiatrist", "care-manager", "peer-specialist", "sud")


@dataclass
class Context:
    clock: Clock
    vocab: Vocabulary
    world: World
    pop: Population
    offsets: dict[str, int]
    span: int

    def __post_init__(self) -> None:
        self.v_sys, self.v_code, self.v_disp = self.vocab.arrow()
        self.prac_ids = pa.array(self.world.prac_id)
        self.site_ids = pa.array([s.id for s in self.world.sites])
        self.patient_ids = ids("p", self.pop.gidx + 1)

    def next_ids(self, table: str, prefix: str, n: int) -> pa.Array:
        first = self.offsets.get(table, 0)
        self.offsets[table] = first + n
        return ids(prefix, np.arange(first + 1, first + n + 1))

    def codes(self, idx: np.ndarray) -> dict[str, pa.Array]:
        return {
            "system": take(self.v_sys, idx),
            "code": take(self.v_code, idx),
            "display": take(self.v_disp, idx),
        }

    def pids(self, pid: np.ndarray) -> pa.Array:
        return self.patient_ids.take(pa.array(pid))


def encounters(ctx: Context, enc: dict) -> pa.Table:
    n = len(enc["pid"])
    codes = ctx.codes(enc["code"])
    has_disp = enc["disp"] > 0
    return pa.table(
        {
            "encounter_id": ctx.next_ids("encounters", "e", n),
            "patient_id": ctx.pids(enc["pid"]),
            "status": const("finished", n),
            "class_code": pa.array(E.CLASSES[enc["cls"]]),
            "setting": pa.array(E.SETTINGS[enc["setting"]], type=pa.string()),
            "system": codes["system"],
            "code": codes["code"],
            "start": ctx.clock.ts(enc["day"], enc["minute"]),
            "end": ctx.clock.ts(enc["end_day"], enc["end_minute"]),
            "site_id": take(ctx.site_ids, enc["site"]),
            "practitioner_id": take(ctx.prac_ids, enc["prac"]),
            "discharge_disposition_system": pa.array(
                np.where(has_disp, DISCHARGE_SYSTEM, np.array(None, dtype=object)), type=pa.string()
            ),
            "discharge_disposition": pa.array(
                np.where(has_disp, "home", np.array(None, dtype=object)), type=pa.string()
            ),
            "display": codes["display"],
            "kind": ints(enc["kind"]),
            "program": ints(enc["prog"]),
        }
    )


def conditions(ctx: Context, enc: dict, enc_ids: pa.Array, enc_table: pa.Table) -> pa.Table:
    pop, w = ctx.pop, ctx.world
    # problem list: one row per condition the patient has (onset before their last day)
    keys = ("smi", "dep", "anx", "sud", "dm", "htn", "cvd", "obese", "smoker", "fh")
    pid_parts, code_parts, onset_parts, prog_parts = [], [], [], []
    bh_prog = np.where(
        pop.home_cmhc,
        w.prog("cmhc_mh"),
        np.where(pop.bh_engaged, w.prog("ibh", pop.pc), w.prog("pc", pop.pc)),
    )
    pc_prog = w.prog("pc", pop.pc)
    for key in keys:
        code = pop.codes[key]
        onset = pop.onset[key]
        has = (code >= 0) & (onset <= pop.hi)
        prog = bh_prog if key in ("smi", "dep", "anx") else pc_prog
        if key == "sud":
            prog = np.where(pop.part2, w.prog("sud"), pc_prog)
        idx = np.flatnonzero(has)
        pid_parts.append(idx)
        code_parts.append(code[idx])
        onset_parts.append(onset[idx])
        prog_parts.append(prog[idx])
    pid = np.concatenate(pid_parts).astype(np.int32)
    code = np.concatenate(code_parts)
    onset = np.concatenate(onset_parts)
    prog = np.concatenate(prog_parts)
    m = len(pid)
    recorded = np.maximum(onset, pop.reg_day[pid])
    pl = ctx.codes(code)
    problem = {
        "patient_id": ctx.pids(pid),
        "system": pl["system"],
        "code": pl["code"],
        "clinical_status": const("active", m),
        "verification_status": const("confirmed", m),
        "category": const("problem-list-item", m),
        "onset": ctx.clock.ts(onset, 0),
        "abatement": const(None, m, pa.timestamp("us")),
        "recorded": ctx.clock.ts(recorded, 9 * 60),
        "encounter_id": const(None, m),
        "rank": const(None, m, pa.int32()),
        "display": pl["display"],
        "program": ints(prog),
        "recorder": ints(np.full(m, -1)),
    }
    n = len(enc["pid"])
    dx = ctx.codes(enc["dx"])
    diag = {
        "patient_id": enc_table.column("patient_id"),
        "system": dx["system"],
        "code": dx["code"],
        "clinical_status": const("active", n),
        "verification_status": const("confirmed", n),
        "category": const("encounter-diagnosis", n),
        "onset": enc_table.column("start"),
        "abatement": const(None, n, pa.timestamp("us")),
        "recorded": enc_table.column("start"),
        "encounter_id": enc_ids,
        "rank": pa.repeat(pa.scalar(1, pa.int32()), n),
        "display": dx["display"],
        "program": ints(enc["prog"]),
        "recorder": ints(enc["prac"]),
    }
    both = pa.concat_tables([pa.table(problem), pa.table(diag)]).combine_chunks()
    return both.add_column(0, "condition_id", ctx.next_ids("conditions", "c", m + n))


def claims(ctx: Context, enc: dict, enc_table: pa.Table) -> pa.Table:
    insured = PAYERS[ctx.pop.payer[enc["pid"]]] != "self-pay"
    sel = np.flatnonzero(insured)
    t = enc_table.take(pa.array(sel))
    n = len(sel)
    dx = ctx.codes(enc["dx"][sel])
    return pa.table(
        {
            "claim_id": ctx.next_ids("claims", "cl", n),
            "patient_id": t.column("patient_id"),
            "status": const("active", n),
            "use": const("claim", n),
            "encounter_id": t.column("encounter_id"),
            "sequence": pa.repeat(pa.scalar(1, pa.int32()), n),
            "system": dx["system"],
            "code": dx["code"],
            "billable_start": t.column("start"),
            "billable_end": t.column("end"),
        }
    )


def observations(ctx: Context, obs: dict, enc_ids: pa.Array) -> pa.Table:
    n = len(obs["pid"])
    first = ctx.offsets.get("observations", 0)
    ctx.offsets["observations"] = first + int(obs["oid"].max(initial=-1)) + 1
    c = ctx.codes(obs["code"])
    panel = ctx.codes(obs["panel"])
    value = ctx.codes(obs["vcode"])
    ts = ctx.clock.ts(obs["day"], obs["minute"])
    return pa.table(
        {
            "observation_id": ids("o", first + obs["oid"] + 1),
            "patient_id": ctx.pids(obs["pid"]),
            "status": const("final", n),
            "category": pa.array(O.CATEGORIES[obs["cat"]]),
            "system": c["system"],
            "code": c["code"],
            "panel_system": panel["system"],
            "panel_code": panel["code"],
            "effective_start": ts,
            "effective_end": const(None, n, pa.timestamp("us")),
            "issued": ts,
            "value_num": floats(obs["value"]),
            "value_unit": pa.array(O.units(ctx.vocab, obs["code"], obs["value"]), type=pa.string()),
            "value_system": value["system"],
            "value_code": value["code"],
            "value_bool": const(None, n, pa.bool_()),
            "value_type": value_type(obs),
            "reason_system": const(None, n),
            "reason_code": const(None, n),
            "encounter_id": take(enc_ids, obs["enc"]),
            "display": c["display"],
            "value_display": value["display"],
            "program": ints(obs["prog"]),
        }
    )


def value_type(obs: dict) -> pa.Array:
    """FHIR's name of each row's value[x]: survey totals are ``integer``, other numbers
    (labs, vitals) ``Quantity``, coded answers ``CodeableConcept``; null without a value."""
    number = ~np.isnan(obs["value"])
    kind = np.where(
        number, np.where(obs["cat"] == O.SURVEY, 1, 0), np.where(obs["vcode"] >= 0, 2, -1)
    )
    return take(VALUE_TYPES, kind)


def assessments(ctx: Context, a: dict, enc_ids: pa.Array, enc_prac: np.ndarray) -> pa.Table:
    n = len(a["pid"])
    c = ctx.codes(a["code"])
    return pa.table(
        {
            "assessment_id": ctx.next_ids("assessments", "a", n),
            "patient_id": ctx.pids(a["pid"]),
            "instrument": pa.array(np.array(O.INSTRUMENTS)[a["inst"]]),
            "system": c["system"],
            "code": c["code"],
            "total_score": floats(a["score"]),
            "effective": ctx.clock.ts(a["day"], a["minute"]),
            "items_json": a["items_json"],
            "encounter_id": take(enc_ids, a["enc"]),
            "program": ints(a["prog"]),
            "administered_by": ints(enc_prac[a["enc"]]),
        }
    )


def service_requests(ctx: Context, sr: dict, enc_ids: pa.Array) -> pa.Table:
    n = len(sr["pid"])
    c = ctx.codes(sr["code"])
    return pa.table(
        {
            "request_id": ctx.next_ids("service_requests", "s", n),
            "patient_id": ctx.pids(sr["pid"]),
            "status": const("completed", n),
            "intent": const("order", n),
            "do_not_perform": pa.repeat(pa.scalar(False), n),
            "category": pa.array(np.array(["laboratory", "referral"])[sr["cat"]]),
            "system": c["system"],
            "code": c["code"],
            "authored": ctx.clock.ts(sr["day"], sr["minute"]),
            "reason_system": const(None, n),
            "reason_code": const(None, n),
            "encounter_id": take(enc_ids, sr["enc"]),
            "display": c["display"],
            "program": ints(sr["prog"]),
        }
    )


def procedures(ctx: Context, pr: dict, enc_ids: pa.Array) -> pa.Table:
    n = len(pr["pid"])
    c = ctx.codes(pr["code"])
    reason = ctx.codes(pr["reason"])
    return pa.table(
        {
            "procedure_id": ctx.next_ids("procedures", "x", n),
            "patient_id": ctx.pids(pr["pid"]),
            "status": const("completed", n),
            "category": const(None, n),
            "system": c["system"],
            "code": c["code"],
            "performed_start": ctx.clock.ts(pr["day"], pr["minute"]),
            "performed_end": ctx.clock.ts(pr["day"], pr["minute"] + 10),
            "reason_system": reason["system"],
            "reason_code": reason["code"],
            "encounter_id": take(enc_ids, pr["enc"]),
            "display": c["display"],
            "program": ints(pr["prog"]),
        }
    )


TASK_MODEL_CHANGE = dt.date(2026, 1, 1)


def tasks(ctx: Context, t: dict, request_ids: pa.Array) -> pa.Table:
    """Consult reports received for referrals: completed Tasks based on the referral.

    The execution period is the quarter hour the report was filed; ``authored`` the same. A
    report received before ``TASK_MODEL_CHANGE`` is modelled as the 2025 eCQMs (QI-Core
    4.1.1) expect — ``Task.code`` the kind of report (Consult note) — and one received from
    then on as the 2026 eCQMs (QI-Core 6) do: ``Task.code`` ``fulfill``, the kind of report as
    its ``reasonCode`` and the referral as its ``focus`` too.
    """
    n = len(t["pid"])
    new = t["day"] >= (TASK_MODEL_CHANGE - ctx.clock.start).days
    fulfill = ctx.vocab.codes_of("task-codes")[0]
    c = ctx.codes(np.where(new, fulfill, t["code"]))
    reason = ctx.codes(np.where(new, t["code"], -1))
    based_on = request_ids.take(pa.array(t["ref"]))
    start = ctx.clock.ts(t["day"], t["minute"])
    return pa.table(
        {
            "task_id": ctx.next_ids("tasks", "t", n),
            "patient_id": ctx.pids(t["pid"]),
            "status": const("completed", n),
            "intent": const("order", n),
            "system": c["system"],
            "code": c["code"],
            "reason_system": reason["system"],
            "reason_code": reason["code"],
            "status_reason_system": const(None, n),
            "status_reason_code": const(None, n),
            "based_on_id": based_on,
            "focus_id": pc.if_else(pa.array(new), based_on, pa.scalar(None, pa.string())),
            "authored": start,
            "execution_start": start,
            "execution_end": ctx.clock.ts(t["day"], t["minute"] + 15),
            "encounter_id": const(None, n),
            "display": c["display"],
            "program": ints(t["prog"]),
        }
    )


def encounter_reasons(ctx: Context, enc_table: pa.Table, diagnosis_ids: pa.Array) -> pa.Table:
    """Each encounter's principal diagnosis, listed twice: as ``Encounter.diagnosis`` (rank 1)
    and as its ``reasonReference`` (the visit happened for it). ``diagnosis_ids`` are the
    encounter-diagnosis conditions, one per encounter in the same order."""
    n = enc_table.num_rows
    half = {
        "encounter_id": enc_table.column("encounter_id"),
        "patient_id": enc_table.column("patient_id"),
        "system": const(None, n),
        "code": const(None, n),
        "condition_id": diagnosis_ids,
    }
    diagnosis = pa.table(
        half | {"kind": const("diagnosis", n), "rank": pa.repeat(pa.scalar(1, pa.int32()), n)}
    )
    reason = pa.table(half | {"kind": const("reason-reference", n), "rank": const(None, n, I32)})
    return pa.concat_tables([diagnosis, reason])
