"""Operational records outside the analytic contract: names and addresses, identifiers,
contacts, appointments (with no-shows), clinical notes and consent directives.

They go to the operational database and to FHIR, never to the analytic Parquet tables.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tandem.synth import encounters as E
from tandem.synth import names
from tandem.synth.arrow import const, ids, ints, take
from tandem.synth.population import NEVER, PAYERS
from tandem.synth.tables import Context

CANCEL_REASONS = np.array(
    ["patient request", "transportation", "clinician unavailable", "feeling better", "weather"]
)
NOTE_TYPES = np.array(["psychotherapy", "progress", "care-management", "discharge-summary"])
NOTE_TITLES = np.array(
    ["Psychotherapy note", "Progress note", "Care management contact", "Discharge summary"]
)
NOTE_TEXTS = np.array(
    [
        "Synthetic psychotherapy process note. Session content summarised for the treating clinician only.",
        "Synthetic progress note. Symptoms reviewed, plan continued; see problem list and medications.",
        "Synthetic care management note. Outreach completed; barriers reviewed; next contact scheduled.",
        "Synthetic discharge summary. Admitted for stabilisation; discharged home with outpatient follow-up.",
    ]
)


def _choose(rng, values, n: int) -> pa.Array:
    return pa.array(
        np.asarray(values, dtype=object)[rng.integers(0, len(values), n)], type=pa.string()
    )


def details(ctx: Context, rng) -> pa.Table:
    """Names, address and phone for the chunk's patients."""
    pop = ctx.pop
    n = pop.n
    female = pop.sex == 0
    given = np.where(
        female,
        np.asarray(names.FEMALE, dtype=object)[rng.integers(0, len(names.FEMALE), n)],
        np.asarray(names.MALE, dtype=object)[rng.integers(0, len(names.MALE), n)],
    )
    middle = np.where(
        female,
        np.asarray(names.FEMALE, dtype=object)[rng.integers(0, len(names.FEMALE), n)],
        np.asarray(names.MALE, dtype=object)[rng.integers(0, len(names.MALE), n)],
    )
    middle = np.where(rng.random(n) < 0.5, middle, "")
    town = rng.integers(0, len(names.TOWNS), n)
    street = pc.binary_join_element_wise(
        pa.array(rng.integers(1, 9999, n)).cast(pa.string()),
        " ",
        _choose(rng, names.STREETS, n),
        " ",
        _choose(rng, names.STREET_SUFFIXES, n),
        "",
    )
    phone = ids("(518) 555-01", rng.integers(0, 100, n))
    phone = pc.replace_substring_regex(phone, r"-01(\d)$", r"-010\1")
    return pa.table(
        {
            "patient_id": ctx.patient_ids,
            "given_name": pa.array(given, type=pa.string()),
            "middle_name": pa.array(middle, type=pa.string()),
            "family_name": _choose(rng, names.FAMILY, n),
            "address_line": street,
            "city": pa.array([names.TOWNS[t][0] for t in range(len(names.TOWNS))]).take(
                pa.array(town)
            ),
            "state": const(names.STATE, n),
            "postal_code": pa.array([names.TOWNS[t][1] for t in range(len(names.TOWNS))]).take(
                pa.array(town)
            ),
            "phone": phone,
            "language": pa.array(np.where(pop.hispanic & (rng.random(n) < 0.3), "es", "en")),
        }
    )


def identifiers(ctx: Context, enc: dict) -> pa.Table:
    pop, w = ctx.pop, ctx.world
    tag = w.sites[0].code.split("-")[1]
    home = np.where(pop.home_cmhc, w.cmhc, np.asarray(w.pc_sites)[pop.pc])
    hospital_pts = np.unique(enc["pid"][np.isin(enc["kind"], (E.ED, E.IPP, E.IPM))])
    parts = [(np.arange(pop.n), home)]
    extra_pc = np.flatnonzero(pop.home_cmhc & (pop.team["pcp"] >= 0))
    parts.append((extra_pc, np.asarray(w.pc_sites)[pop.pc[extra_pc]]))
    parts.append((hospital_pts, np.full(len(hospital_pts), w.hospital)))
    sud = np.flatnonzero(pop.part2)
    parts.append((sud, np.full(len(sud), w.sud_site)))
    pid = np.concatenate([p for p, _ in parts]).astype(np.int64)
    site = np.concatenate([s for _, s in parts]).astype(np.int64)
    pid, keep = np.unique(pid * 1000 + site, return_index=True)
    pid, site = pid // 1000, pid % 1000
    systems = pa.array([f"urn:tandem:synth:{s.code}:mrn" for s in w.sites])
    mrn = {
        "patient_id": ctx.pids(pid),
        "kind": const("mrn", len(pid)),
        "system": systems.take(pa.array(site)),
        "value": ids("", (site + 1) * 10**9 + pop.gidx[pid] + 1),
        "site": ints(site),
    }
    mcd = np.flatnonzero(np.isin(PAYERS[pop.payer], ("medicaid", "dual")))
    medicaid = {
        "patient_id": ctx.pids(mcd),
        "kind": const("medicaid", len(mcd)),
        "system": const(f"urn:tandem:synth:{tag}:medicaid", len(mcd)),
        "value": ids("M", (pop.gidx[mcd] + 1) * 10 + (w.seed % 10)),
        "site": ints(np.full(len(mcd), -1)),
    }
    return pa.concat_tables([pa.table(mrn), pa.table(medicaid)])


def contacts(ctx: Context, rng, share: float) -> pa.Table:
    pop = ctx.pop
    idx = np.flatnonzero(rng.random(pop.n) < share)
    n = len(idx)
    name = pc.binary_join_element_wise(
        _choose(rng, names.FEMALE + names.MALE, n), _choose(rng, names.FAMILY, n), " "
    )
    guardian = pop.smi[idx] & (rng.random(n) < 0.05)
    return pa.table(
        {
            "patient_id": ctx.pids(idx),
            "kind": pa.array(
                np.where(
                    guardian, "guardian", np.where(rng.random(n) < 0.5, "next-of-kin", "emergency")
                )
            ),
            "name": name,
            "relationship": _choose(rng, names.RELATIONSHIPS, n),
            "phone": ids("(518) 555-01", rng.integers(10, 100, n)),
        }
    )


def appointments(ctx: Context, rng, enc: dict, enc_ids: pa.Array, p) -> pa.Table:
    pop = ctx.pop
    booked = np.flatnonzero(np.isin(enc["kind"], (E.PC, E.BH, E.PSYCH, E.SUD)))
    bh = enc["kind"][booked] != E.PC
    ns_p = np.where(bh, p.no_show_bh, p.no_show_pc)
    ns_ratio = ns_p / (1 - ns_p - p.cancel_rate)
    cancel_ratio = p.cancel_rate / (1 - ns_p - p.cancel_rate)
    parts = []
    for label, ratio in (("fulfilled", None), ("noshow", ns_ratio), ("cancelled", cancel_ratio)):
        sel = booked if ratio is None else booked[rng.random(len(booked)) < ratio]
        day = enc["day"][sel] - (0 if ratio is None else rng.integers(7, 29, len(sel)))
        keep = day >= pop.lo[enc["pid"][sel]]
        sel, day = sel[keep], day[keep]
        parts.append((sel, day, np.full(len(sel), label, dtype=object)))
    # upcoming appointments after the period end for living, engaged patients
    last = np.zeros(pop.n, dtype=bool)
    last[enc["pid"][booked]] = True
    upcoming = np.flatnonzero(last & (pop.death_day == NEVER) & (rng.random(pop.n) < 0.5))
    sel_up = np.searchsorted(enc["pid"][booked], upcoming)  # first booked visit of each patient
    sel_up = booked[np.clip(sel_up, 0, len(booked) - 1)]
    parts.append(
        (
            sel_up,
            ctx.span + rng.integers(1, 61, len(sel_up)),
            np.full(len(sel_up), "booked", dtype=object),
        )
    )
    sel = np.concatenate([s for s, _, _ in parts])
    day = np.concatenate([d for _, d, _ in parts])
    status = np.concatenate([s for _, _, s in parts])
    n = len(sel)
    minute = enc["minute"][sel]
    link = np.where(status == "fulfilled", sel, -1)
    reason = np.where(
        status == "cancelled", CANCEL_REASONS[rng.integers(0, len(CANCEL_REASONS), n)], ""
    )
    service = np.array(
        ["primary care", "behavioral health", "psychiatry", "", "", "", "", "SUD treatment"]
    )[enc["kind"][sel]]
    return pa.table(
        {
            "appointment_id": ctx.next_ids("appointments", "ap", n),
            "patient_id": ctx.pids(enc["pid"][sel]),
            "status": pa.array(status, type=pa.string()),
            "start": ctx.clock.ts(day, minute),
            "end": ctx.clock.ts(day, minute + 30),
            "service_type": pa.array(service),
            "site": ints(enc["site"][sel]),
            "practitioner": ints(enc["prac"][sel]),
            "encounter_id": take(enc_ids, link),
            "cancel_reason": pa.array(reason, type=pa.string()),
            "program": ints(enc["prog"][sel]),
        }
    )


def notes(ctx: Context, rng, enc: dict, enc_ids: pa.Array, p) -> pa.Table:
    kind = enc["kind"]
    u = rng.random(len(kind))
    note = np.full(len(kind), -1)
    note = np.where((kind == E.BH) & (u < p.psychotherapy_note_share), 0, note)
    note = np.where(((kind == E.PSYCH) & (u < 0.5)) | (kind == E.SUD), 1, note)
    note = np.where((kind == E.CM) & (u < 0.5), 2, note)
    note = np.where(kind == E.IPP, 3, note)
    sel = np.flatnonzero(note >= 0)
    t = note[sel]
    n = len(sel)
    day = np.where(t == 3, enc["end_day"][sel], enc["day"][sel])
    return pa.table(
        {
            "note_id": ctx.next_ids("notes", "n", n),
            "patient_id": ctx.pids(enc["pid"][sel]),
            "note_type": pa.array(NOTE_TYPES[t]),
            "title": pa.array(NOTE_TITLES[t]),
            "text": pa.array(NOTE_TEXTS[t]),
            "author": ints(enc["prac"][sel]),
            "authored": ctx.clock.ts(day, enc["minute"][sel] + 45),
            "encounter_id": take(enc_ids, sel),
            "program": ints(enc["prog"][sel]),
        }
    )


def consents(ctx: Context, rng, p) -> pa.Table:
    pop = ctx.pop
    has_pcp = pop.team["pcp"] >= 0
    sud = np.flatnonzero(pop.part2 & has_pcp & (rng.random(pop.n) < p.part2_consent_to_pcp))
    mh = np.flatnonzero(pop.home_cmhc & has_pcp & (rng.random(pop.n) < p.mh_consent_to_pcp))
    pid = np.concatenate([sud, mh])
    n = len(pid)
    is_sud = np.arange(n) < len(sud)
    start = pop.lo[pid] + (rng.random(n) * np.maximum(pop.hi[pid] - pop.lo[pid], 1)).astype(
        np.int32
    )
    return pa.table(
        {
            "consent_id": ctx.next_ids("consents", "cn", n),
            "patient_id": ctx.pids(pid),
            "category": pa.array(np.where(is_sud, "substance-use", "mental-health")),
            "recipient_kind": pa.array(np.where(is_sud, "person", "role")),
            "recipient_practitioner": ints(np.where(is_sud, pop.team["pcp"][pid], -1)),
            "recipient_role": pa.array(np.where(is_sud, "", "pcp")),
            "purpose": const("treatment", n),
            "start_date": ctx.clock.date(start),
            "status": const("active", n),
        }
    )
