"""Encounters of one chunk: PC and BH visits, care management, SUD program, ED, admissions.

Visits are drawn as Poisson counts per patient over the patient's event window and spread
uniformly inside it (``np.repeat`` of patient numbers; no per-patient loop). Depression
treatment episodes (monthly BH visits that carry a PHQ-9) and post-discharge follow-ups are
built on top. Every row gets its principal diagnosis (``dx``), program, site and clinician.
"""

from __future__ import annotations

import numpy as np

from tandem.synth.parameters import Parameters
from tandem.synth.population import Population
from tandem.synth.vocab import Vocabulary
from tandem.synth.world import World

PC, BH, PSYCH, CM, ED, IPP, IPM, SUD = range(8)
KIND_NAMES = ("pc", "bh", "psych", "care-management", "ed", "ip-psych", "ip-medical", "sud")
CLASSES = np.array(["AMB", "VR", "EMER", "IMP"])
AMB, VR, EMER, IMP = range(4)
SETTINGS = np.array([None, "pc", "bh"], dtype=object)
# ``ep`` of visits outside depression episodes: -1 routine, -2 follow-up after an acute
# episode (acute.py), SUD_TREATMENT a treatment visit of a new SUD episode
SUD_TREATMENT = -3
FIELDS = (
    "pid",
    "day",
    "minute",
    "end_day",
    "end_minute",
    "kind",
    "code",
    "cls",
    "setting",
    "site",
    "prac",
    "prog",
    "disp",
    "dx",
    "ep",
)

Frame = dict[str, np.ndarray]


def concat(frames: list[Frame]) -> Frame:
    frames = [f for f in frames if len(f["pid"])]
    if not frames:
        return {k: np.zeros(0, dtype=np.int32) for k in FIELDS}
    return {k: np.concatenate([f[k] for f in frames]) for k in frames[0]}


def take(frame: Frame, idx: np.ndarray) -> Frame:
    return {k: v[idx] for k, v in frame.items()}


def _rows(rng, pop: Population, rate: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    days = np.maximum(hi - lo + 1, 0)
    counts = rng.poisson(np.maximum(rate, 0) * days / 365.25)
    pid = np.repeat(np.arange(pop.n, dtype=np.int32), counts)
    day = lo[pid] + (rng.random(len(pid)) * np.maximum(days[pid], 1)).astype(np.int32)
    return pid, day


def _weighted(rng, pool: np.ndarray, weights, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return pool[rng.choice(len(pool), n, p=w / w.sum())].astype(np.int32)


def _frame(rng, pid, day, kind, code, cls, setting, site, prac, prog, dx, *, minutes=(30, 60)):
    n = len(pid)
    minute = (8 * 60 + rng.integers(0, 9 * 4, n) * 15).astype(np.int32)
    full = lambda v: np.broadcast_to(np.asarray(v), (n,)).astype(np.int32)  # noqa: E731
    return {
        "pid": pid.astype(np.int32),
        "day": day.astype(np.int32),
        "minute": minute,
        "end_day": day.astype(np.int32),
        "end_minute": minute + rng.integers(minutes[0], minutes[1] + 1, n).astype(np.int32),
        "kind": full(kind),
        "code": full(code),
        "cls": full(cls),
        "setting": full(setting),
        "site": full(site),
        "prac": full(prac),
        "prog": full(prog),
        "disp": full(0),
        "dx": full(dx),
        "ep": full(-1),
    }


def _site_of(world: World, prog: np.ndarray) -> np.ndarray:
    return np.array([p.site for p in world.programs], dtype=np.int32)[prog]


def _tele(rng, p: Parameters, n: int) -> np.ndarray:
    return np.where(rng.random(n) < p.telehealth_share, VR, AMB)


def _pc_dx(rng, pop: Population, vocab: Vocabulary, pid: np.ndarray) -> np.ndarray:
    """A principal diagnosis for a PC visit: one of the patient's conditions or a common reason."""
    common = vocab.codes_of("common-reasons", "Z00.00", "J06.9", "M54.50", "R10.9")
    kids = vocab.codes_of("common-reasons", "Z00.129")[0]
    cands = [pop.codes[k][pid] for k in ("dm", "htn", "cvd", "obese", "dep", "anx")]
    generic = np.where(pop.adult[pid], common[rng.integers(0, len(common), len(pid))], kids)
    cands.append(generic)
    stack = np.stack(cands, axis=1)
    score = np.where(stack >= 0, rng.random(stack.shape), -1.0)  # absent conditions never win
    score[:, -1] -= 0.5  # conditions are likelier than the generic reason
    return stack[np.arange(len(pid)), score.argmax(axis=1)]


def build_encounters(rng, pop: Population, world: World, vocab: Vocabulary, p: Parameters):
    """Return (encounters frame, episodes dict)."""
    v = vocab
    office = v.codes_of("office-visits", "99213", "99214", "99212", "99215", "99203", "99204")
    frames: list[Frame] = []
    n = pop.n
    ones = np.ones(n)

    # primary care
    rate = (
        p.pc_visits_per_year
        * np.where(pop.adult, 1.0, 0.6)
        * np.where(pop.team["pcp"] < 0, 0.4, 1.0)
    )
    pid, day = _rows(rng, pop, rate, pop.lo, np.minimum(pop.hi, pop.pc_until - 1))
    prac = np.where(
        pop.team["pcp"][pid] >= 0, pop.team["pcp"][pid], world.pick(rng, "pcp", pop.pc[pid])
    )
    prog = world.prog("pc", pop.pc[pid])
    code = _weighted(rng, office, (45, 30, 10, 5, 6, 4), len(pid))
    frames.append(
        _frame(
            rng,
            pid,
            day,
            PC,
            code,
            _tele(rng, p, len(pid)),
            1,
            _site_of(world, prog),
            prac,
            prog,
            _pc_dx(rng, pop, v, pid),
        )
    )

    # behavioural health: SMI at the CMHC or in integrated BH
    psy = v.codes_of("psychotherapy", "90834", "90837", "90832")
    rate = np.where(pop.smi, p.bh_visits_per_year_smi * np.where(pop.home_cmhc, 1.0, 0.4), 0.0)
    pid, day = _rows(rng, pop, rate, pop.lo, pop.hi)
    has_psych = pop.team["psychiatrist"][pid] >= 0
    is_med = has_psych & (rng.random(len(pid)) < 0.4)
    cmhc = pop.home_cmhc[pid]
    prog = np.where(
        is_med,
        np.where(cmhc, world.prog("cmhc_psych"), world.prog("ibh", pop.pc[pid])),
        np.where(cmhc, world.prog("cmhc_mh"), world.prog("ibh", pop.pc[pid])),
    )
    bh_prac = np.where(
        pop.team["bh-clinician"][pid] >= 0,
        pop.team["bh-clinician"][pid],
        np.where(
            cmhc, world.pick(rng, "cmhc_bh", pop.pc[pid]), world.pick(rng, "ibh", pop.pc[pid])
        ),
    )
    prac = np.where(is_med, pop.team["psychiatrist"][pid], bh_prac)
    code = np.where(
        is_med,
        _weighted(rng, office[:2], (6, 4), len(pid)),
        _weighted(rng, psy, (5, 3, 2), len(pid)),
    )
    f = _frame(
        rng,
        pid,
        day,
        BH,
        code,
        _tele(rng, p, len(pid)),
        2,
        _site_of(world, prog),
        prac,
        prog,
        pop.bh_dx[pid],
    )
    f["kind"] = np.where(is_med, PSYCH, BH).astype(np.int32)
    frames.append(f)

    # depression / anxiety treatment episodes (collaborative care with PHQ-9 / GAD-7)
    ep_frame, episodes = _episodes(rng, pop, world, v, p, psy)
    frames.append(ep_frame)

    # care management contacts
    cm = pop.team["care-manager"]
    pid, day = _rows(rng, pop, np.where(cm >= 0, 6.0, 0.0) * ones, pop.lo, pop.hi)
    cmhc = pop.home_cmhc[pid]
    prog = np.where(cmhc, world.prog("cmhc_cm"), world.prog("cc", pop.pc[pid]))
    codes_cmhc = v.codes_of("care-management", "99484")
    codes_cc = v.codes_of("care-management", "99493", "99492", "99484", "G2214")
    code = np.where(cmhc, codes_cmhc[0], _weighted(rng, codes_cc, (5, 1, 2, 2), len(pid)))
    frames.append(
        _frame(
            rng,
            pid,
            day,
            CM,
            code,
            np.where(rng.random(len(pid)) < 0.5, VR, AMB),
            np.where(cmhc, 2, 1),
            _site_of(world, prog),
            cm[pid],
            prog,
            pop.bh_dx[pid],
            minutes=(15, 30),
        )
    )

    # Part 2 SUD program
    start = np.maximum(
        pop.lo, pop.lo + (rng.random(n) * np.maximum(pop.hi - pop.lo - 90, 0)).astype(np.int32)
    )
    new_sud, start = _new_sud_episodes(rng, pop, world, v, p, office, psy, start)
    frames += new_sud
    stop = np.minimum(pop.hi, start + rng.integers(90, 720, n))
    pid, day = _rows(rng, pop, np.where(pop.part2, 18.0, 0.0) * ones, start, stop)
    sud_codes = v.codes_of("sud-treatment", "H0004", "H0005", "G2086", "G2087", "H0001")
    code = _weighted(rng, sud_codes, (5, 2, 1, 1, 1), len(pid))
    prog = np.full(len(pid), world.prog("sud"), dtype=np.int32)
    frames.append(
        _frame(
            rng,
            pid,
            day,
            SUD,
            code,
            AMB,
            2,
            world.sud_site,
            pop.team["sud"][pid],
            prog,
            pop.codes["sud"][pid],
        )
    )
    sud_window = (start, stop)

    from tandem.synth.acute import _admissions, _emergency, _followups, _quiet_after

    ed = _emergency(rng, pop, world, v, p)
    frames.append(_sud_after_ed(rng, pop, world, v, p, psy, ed))
    ipp, ipm = _admissions(rng, pop, world, v, p)
    frames += [ed, ipp, ipm]
    ed_mh = take(ed, np.flatnonzero(ed["setting"] == 2))
    ed["setting"][:] = 0
    frames = _quiet_after(frames, [(ipp["pid"], ipp["end_day"]), (ed_mh["pid"], ed_mh["day"])])
    frames.append(_followups(rng, pop, world, v, p, ipp, p.fuh_7day, p.fuh_30day, psy))
    frames.append(_followups(rng, pop, world, v, p, ed_mh, p.fum_7day, p.fum_30day, psy))
    enc = concat(frames)
    missing = np.flatnonzero(enc["dx"] < 0)
    enc["dx"][missing] = _pc_dx(rng, pop, v, enc["pid"][missing])
    order = np.lexsort((enc["minute"], enc["day"], enc["pid"]))
    return take(enc, order), episodes, sud_window


def _new_sud_episodes(rng, pop, world, v, p, office, psy, part2_start):
    """New SUD episodes (CMS137, HEDIS IET): the diagnosing visit and the treatment after it.

    A patient diagnosed during the period (``pop.sud_new``) has the diagnosis at a PC office
    visit (three in four) or an ED visit on ``onset["sud"]``. With ``sud_initiation`` a
    treatment visit follows 1-13 days later, and with ``sud_engagement`` two or three more
    (``_treatment_visits``). Regular Part 2 visits start after that window (engaged) or 60-180
    days after the diagnosis (late entry), so they neither initiate nor engage by chance.
    Returns the frames and the Part 2 start day of every patient.
    """
    n = pop.n
    new = pop.sud_new
    dx_day = pop.onset["sud"]
    init = new & (rng.random(n) < p.sud_initiation)
    engage = init & (rng.random(n) < p.sud_engagement)
    init_day = dx_day + rng.integers(1, 14, n)
    late = dx_day + rng.integers(60, 181, n)
    start = np.where(new, np.where(engage, init_day + 35, late), part2_start).astype(np.int32)

    pid = np.flatnonzero(new & (dx_day <= pop.hi)).astype(np.int32)
    at_ed = rng.random(len(pid)) < 0.25
    dx = pop.codes["sud"][pid]
    pc, ed = pid[~at_ed], pid[at_ed]
    prog = world.prog("pc", pop.pc[pc])
    prac = np.where(
        pop.team["pcp"][pc] >= 0, pop.team["pcp"][pc], world.pick(rng, "pcp", pop.pc[pc])
    )
    code = _weighted(rng, office[:2], (6, 4), len(pc))
    frames = [
        _frame(rng, pc, dx_day[pc], PC, code, AMB, 1, _site_of(world, prog), prac, prog, dx[~at_ed])
    ]
    code = _weighted(rng, v.codes_of("emergency-department"), (1, 2, 4, 4, 2), len(ed))
    f = _frame(
        rng,
        ed,
        dx_day[ed],
        ED,
        code,
        EMER,
        0,
        world.hospital,
        world.pick(rng, "ed", pop.pc[ed]),
        world.prog("ed"),
        dx[at_ed],
        minutes=(120, 480),
    )
    f["disp"][:] = 1
    frames.append(f)

    pid = np.flatnonzero(init).astype(np.int32)
    frames.append(_treatment_visits(rng, pop, world, v, psy, pid, init_day[pid], engage[pid]))
    return frames, start


def _treatment_visits(rng, pop, world, v, psy, pid, init_day, engage) -> Frame:
    """SUD treatment visits after an index diagnosis: the initiating visit on ``init_day``
    and, where ``engage``, two or three more 3-30 days after it; at the Part 2 program for its
    patients (H0001 then H0004), otherwise integrated BH psychotherapy. ``ep`` marks them
    ``SUD_TREATMENT`` (a counselling procedure is recorded at each)."""
    visits = np.where(engage, 1 + rng.integers(2, 4, len(pid)), 1)
    tpid = np.repeat(pid, visits).astype(np.int32)
    first = np.repeat(init_day, visits)
    j = np.arange(len(tpid)) - np.repeat(np.cumsum(visits) - visits, visits)
    day = first + np.where(j == 0, 0, rng.integers(3, 31, len(tpid)))
    keep = day <= pop.hi[tpid]
    tpid, j, day = tpid[keep], j[keep], day[keep]
    part2 = pop.part2[tpid]
    sud_codes = v.codes_of("sud-treatment", "H0001", "H0004")
    prog = np.where(part2, world.prog("sud"), world.prog("ibh", pop.pc[tpid]))
    bh_prac = np.where(
        pop.team["bh-clinician"][tpid] >= 0,
        pop.team["bh-clinician"][tpid],
        world.pick(rng, "ibh", pop.pc[tpid]),
    )
    f = _frame(
        rng,
        tpid,
        day,
        np.where(part2, SUD, BH),
        np.where(
            part2,
            np.where(j == 0, sud_codes[0], sud_codes[1]),
            psy[rng.integers(0, 2, len(tpid))],
        ),
        AMB,
        2,
        np.where(part2, world.sud_site, _site_of(world, prog)),
        np.where(part2, pop.team["sud"][tpid], bh_prac),
        prog,
        pop.codes["sud"][tpid],
    )
    f["ep"][:] = SUD_TREATMENT
    return f


def _sud_after_ed(rng, pop, world, v, p, psy, ed: Frame) -> Frame:
    """Treatment after ED visits for SUD (new episodes for CMS137 when nothing SUD-related
    happened in the 60 days before): initiated and engaged at the same rates as new
    diagnoses."""
    sel = np.flatnonzero(ed["dx"] == pop.codes["sud"][ed["pid"]])
    init = rng.random(len(sel)) < p.sud_initiation
    engage = init & (rng.random(len(sel)) < p.sud_engagement)
    sel, engage = sel[init], engage[init]
    init_day = ed["day"][sel] + rng.integers(1, 14, len(sel))
    return _treatment_visits(rng, pop, world, v, psy, ed["pid"][sel], init_day, engage)


def _episodes(rng, pop, world, v, p, psy) -> tuple[Frame, dict[str, np.ndarray]]:
    eligible = pop.bh_engaged & (~pop.smi | (pop.smi_group == 3)) & (pop.hi - pop.lo > 60)
    eligible &= pop.flags["dep"] | pop.flags["anx"] | (pop.smi_group == 3)
    n_ep = eligible.astype(np.int32) + (eligible & (rng.random(pop.n) < 0.25))
    ep_pid = np.repeat(np.arange(pop.n, dtype=np.int32), n_ep)
    m = len(ep_pid)
    lo, hi = pop.lo[ep_pid], pop.hi[ep_pid]
    start = lo + (rng.random(m) * np.maximum(hi - lo - 30, 1)).astype(np.int32)
    visits = rng.integers(3, 11, m)
    anxiety_only = (
        pop.flags["anx"][ep_pid] & ~pop.flags["dep"][ep_pid] & (pop.smi_group[ep_pid] != 3)
    )
    responder = rng.random(m) < p.phq9_response
    episodes = {
        "pid": ep_pid,
        "start": start.astype(np.int32),
        "baseline": np.clip(np.round(rng.normal(16, 4, m)), 10, 27).astype(np.int32),
        "responder": responder,
        "remitter": responder & (rng.random(m) < p.phq9_remission_given_response),
        "anxiety": anxiety_only,
    }
    ep = np.repeat(np.arange(m, dtype=np.int32), visits)
    k = np.arange(len(ep)) - np.repeat(np.cumsum(visits) - visits, visits)
    day = start[ep] + k * p.phq9_interval_days + rng.integers(-5, 6, len(ep)) * (k > 0)
    keep = day <= pop.hi[ep_pid[ep]]
    ep, day = ep[keep], day[keep]
    pid = ep_pid[ep]
    cmhc = pop.home_cmhc[pid]
    prog = np.where(cmhc, world.prog("cmhc_mh"), world.prog("ibh", pop.pc[pid]))
    prac = np.where(
        pop.team["bh-clinician"][pid] >= 0,
        pop.team["bh-clinician"][pid],
        world.pick(rng, "ibh", pop.pc[pid]),
    )
    code = _weighted(rng, psy, (5, 3, 2), len(pid))
    first = np.r_[True, ep[1:] != ep[:-1]]
    code = np.where(first, v.codes_of("psychiatric-evaluation", "90791")[0], code)
    f = _frame(
        rng,
        pid,
        day,
        BH,
        code,
        _tele(rng, p, len(pid)),
        2,
        _site_of(world, prog),
        prac,
        prog,
        pop.bh_dx[pid],
    )
    f["ep"] = ep
    return f, episodes
