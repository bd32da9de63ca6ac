"""Processes of care recorded at visits, for one chunk: the data the process eCQMs read.

- current medications documented at visits (CMS68: a procedure 428191000124101);
- suicide risk assessments at MDD visits of children and adolescents (CMS177: 225337009);
- follow-up after a BMI outside 18.5-25 (CMS69: diet or exercise counselling with the weight
  finding as its reason);
- a counselling procedure at every SUD treatment visit (CMS137: Substance Use Disorder
  Treatment; Part 2 program visits and the treatment of new episodes);
- referrals to specialists from primary care, and the specialist's consult report coming back
  to the referring clinician as a completed Task based on the referral (CMS50).

Rates are ``Parameters`` fields (docs/synth.md lists them with their sources). Everything is
drawn per row with NumPy, like the rest of the generator.
"""

from __future__ import annotations

import numpy as np

from tandem.synth import encounters as E
from tandem.synth.parameters import Parameters
from tandem.synth.population import Population
from tandem.synth.vocab import Vocabulary

Frame = dict[str, np.ndarray]
PROCEDURE_FIELDS = ("pid", "day", "minute", "enc", "code", "prog", "reason")
MEDICAL = (E.PC, E.PSYCH, E.ED, E.IPP, E.IPM)


def procedure_frame(pid, day, minute, enc, code, prog, reason=-1) -> Frame:
    n = len(pid)
    full = lambda x: np.broadcast_to(np.asarray(x), (n,)).astype(np.int32)  # noqa: E731
    return {
        "pid": full(pid),
        "day": full(day),
        "minute": full(minute),
        "enc": full(enc),
        "code": full(code),
        "prog": full(prog),
        "reason": full(reason),
    }


def concat(frames: list[Frame]) -> Frame:
    """Procedure frames stacked; a frame without ``reason`` has none (-1)."""
    out: Frame = {}
    for k in PROCEDURE_FIELDS:
        parts = [f[k] if k in f else np.full(len(f["pid"]), -1, np.int32) for f in frames]
        out[k] = np.concatenate(parts).astype(np.int32)
    return out


def procedures(rng, pop: Population, enc: Frame, obs: Frame, v: Vocabulary, p: Parameters):
    """Medication documentation, suicide risk assessments, BMI follow-up, SUD counselling."""
    n_enc = len(enc["pid"])
    idx = np.arange(n_enc, dtype=np.int32)
    kind = enc["kind"]
    frames: list[Frame] = []

    def at(sel: np.ndarray, code, offset: int, reason=-1) -> None:
        frames.append(
            procedure_frame(
                enc["pid"][sel],
                enc["day"][sel],
                enc["minute"][sel] + offset,
                sel,
                code,
                enc["prog"][sel],
                reason,
            )
        )

    # CMS68: current medications documented (not at care-management calls or Part 2 visits)
    rate = np.where(
        np.isin(kind, MEDICAL),
        p.medication_documentation_at_visit,
        np.where(kind == E.BH, p.medication_documentation_at_therapy, 0.0),
    )
    at(idx[rng.random(n_enc) < rate], v.codes_of("medication-documentation")[0], 2)

    # CMS177: suicide risk assessment at MDD visits of patients under 18 at some point
    mdd = np.setdiff1d(v.codes_of("depression"), v.codes_of("depression", "F34.1"))
    young = pop.age[enc["pid"]] < 19
    visit = np.isin(kind, (E.PC, E.BH, E.PSYCH)) & np.isin(enc["dx"], mdd) & young
    sel = idx[visit & (rng.random(n_enc) < p.suicide_risk_assessment)]
    at(sel, v.codes_of("suicide-risk-assessment")[0], 8)

    # CMS69: follow-up of an adult BMI outside 18.5-25 at the visit that measured it
    bmi_code = v.codes_of("body-measures", "39156-5")[0]
    value = obs["value"]
    rows = np.flatnonzero(
        (obs["code"] == bmi_code)
        & (obs["enc"] >= 0)
        & pop.adult[obs["pid"]]
        & ((value >= 25) | (value < 18.5))
    )
    rows = rows[rng.random(len(rows)) < p.bmi_follow_up_at_visit]
    value = value[rows]
    counsel = v.codes_of("bmi-follow-up")
    over, obese, under = v.codes_of("weight-reasons", "E66.3", "E66.9", "R63.6")
    frames.append(
        procedure_frame(
            obs["pid"][rows],
            obs["day"][rows],
            obs["minute"][rows] + 6,
            obs["enc"][rows],
            np.where(value < 18.5, counsel[4], counsel[rng.integers(0, 4, len(rows))]),
            obs["prog"][rows],
            np.where(value < 18.5, under, np.where(value < 30, over, obese)),
        )
    )

    # CMS137: a counselling procedure at every SUD treatment visit
    sel = idx[(kind == E.SUD) | (enc["ep"] == E.SUD_TREATMENT)]
    alcohol = pop.flags["alc"] & ~pop.flags["opi"] & ~pop.flags["stim"]
    codes = v.codes_of("sud-counseling")
    code = np.where(alcohol[enc["pid"][sel]], codes[2], codes[rng.integers(0, 2, len(sel))])
    at(sel, code, 5)
    return concat(frames)


def referrals(rng, pop: Population, enc: Frame, v: Vocabulary, p: Parameters) -> Frame:
    """Referrals to specialists from PC visits, chosen by the patient's conditions."""
    n_enc = len(enc["pid"])
    sel = np.flatnonzero(
        (enc["kind"] == E.PC) & (rng.random(n_enc) < p.specialist_referral_at_pc_visit)
    )
    pid = enc["pid"][sel]
    m = len(sel)
    spec = v.codes_of("specialist-referrals")
    cardio, endo, eye, foot, diet = spec[:5]
    other = spec[5:]
    u = rng.random(m)
    diabetic = np.array([endo, eye, foot])[rng.integers(0, 3, m)]
    code = np.where(
        pop.flags["cvd"][pid] & (u < 0.5),
        cardio,
        np.where(
            pop.flags["dm"][pid] & (u < 0.6),
            diabetic,
            np.where(
                pop.flags["obese"][pid] & (u < 0.3), diet, other[rng.integers(0, len(other), m)]
            ),
        ),
    )
    return {
        "pid": pid,
        "day": enc["day"][sel],
        "minute": enc["minute"][sel] + 20,
        "enc": sel.astype(np.int32),
        "code": code.astype(np.int32),
        "cat": np.ones(m, np.int32),
        "prog": enc["prog"][sel],
    }


def reports(rng, pop: Population, requests: Frame, v: Vocabulary, p: Parameters) -> Frame:
    """Consult reports received for referrals (rows of ``requests`` with category referral).

    ``ref`` is the referral's row in ``requests`` (the Task's basedOn). The report arrives
    7-60 days after the referral, in clinic hours, if the patient's record is still open.
    """
    ref = np.flatnonzero(requests["cat"] == 1)
    ref = ref[rng.random(len(ref)) < p.referral_report_received]
    pid = requests["pid"][ref]
    day = requests["day"][ref] + rng.integers(7, 61, len(ref))
    keep = day <= pop.hi[pid]
    ref, pid, day = ref[keep], pid[keep], day[keep]
    m = len(ref)
    return {
        "pid": pid,
        "ref": ref.astype(np.int64),
        "day": day.astype(np.int32),
        "minute": (8 * 60 + rng.integers(0, 36, m) * 15).astype(np.int32),
        "code": np.full(m, v.codes_of("consult-note")[0], np.int32),
        "prog": requests["prog"][ref],
    }
