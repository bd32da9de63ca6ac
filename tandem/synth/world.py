"""The care delivery system: organization, sites, programs and practitioners.

Layout by ``sites`` (K >= 3):
- K = 3: one primary care clinic (with integrated BH), a CMHC that also runs the Part 2 SUD
  program, a hospital with an ED.
- K = 4: as 3, with the Part 2 SUD program on its own site.
- K >= 5: K-4 primary care clinics, a co-located BH site serving them, a CMHC, the SUD
  program, a hospital.
Staff numbers scale with the population (``Parameters.patients_per_*``). Everything here is
deterministic in ``seed``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from tandem.core.lib.npi import npi_check_digit
from tandem.synth import names
from tandem.synth.parameters import Parameters


@dataclass(frozen=True)
class SiteSpec:
    id: str
    code: str
    name: str
    kind: str
    go_live: dt.date | None


@dataclass(frozen=True)
class ProgramSpec:
    id: int
    site: int
    name: str
    kind: str
    is_part2: bool = False


@dataclass
class World:
    seed: int
    sites: list[SiteSpec]
    programs: list[ProgramSpec]
    pc_sites: list[int]  # site indices of primary care clinics
    cmhc: int
    sud_site: int
    hospital: int
    # role -> program index (per PC clinic for "pc", "cc", "ibh")
    program: dict[str, list[int]] = field(default_factory=dict)
    prac_id: list[str] = field(default_factory=list)
    prac_given: list[str] = field(default_factory=list)
    prac_family: list[str] = field(default_factory=list)
    prac_discipline: list[str] = field(default_factory=list)
    prac_npi: list[str] = field(default_factory=list)
    prac_site: list[int] = field(default_factory=list)
    prac_program: list[int] = field(default_factory=list)
    # pool name -> per PC clinic (or single) arrays of practitioner indices
    pools: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def prog(self, role: str, pc: np.ndarray | int = 0) -> np.ndarray:
        return np.asarray(self.program[role], dtype=np.int32)[pc]

    def pick(self, rng: np.random.Generator, pool: str, pc: np.ndarray) -> np.ndarray:
        """A random practitioner of ``pool`` for each row, at the row's PC clinic position."""
        lists = self.pools[pool]
        out = np.empty(len(pc), dtype=np.int32)
        for k, members in enumerate(lists):
            mask = pc == k if len(lists) > 1 else np.ones(len(pc), dtype=bool)
            n = int(mask.sum())
            if n:
                out[mask] = members[rng.integers(0, len(members), n)]
        return out


def _npis(seed: int, n: int) -> list[str]:
    base = (seed * 104729) % 10**8
    out = []
    for i in range(n):
        body = f"2{(base + i) % 10**8:08d}"
        out.append(body + str(npi_check_digit(body)))
    return out


def build_world(
    *, seed: int, sites: int, patients: int, start: dt.date, end: dt.date, params: Parameters
) -> World:
    if sites < 3:
        raise ValueError("at least 3 sites are needed (primary care, CMHC, hospital)")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 7])))
    tag = f"{seed % 100000}"
    n_pc = 1 if sites <= 4 else sites - 4
    span = (end - start).days

    def go_live() -> dt.date:
        return start + dt.timedelta(days=int(span * rng.uniform(0.3, 0.6)))

    specs: list[SiteSpec] = []

    def site(name: str, kind: str, live: bool) -> int:
        i = len(specs)
        specs.append(
            SiteSpec(
                f"site-{i + 1}", f"synth-{tag}-{i + 1}", name, kind, go_live() if live else None
            )
        )
        return i

    town = names.TOWNS
    pc_sites = [
        site(f"{town[k % len(town)][0]} Family Health Center", "primary-care", True)
        for k in range(n_pc)
    ]
    coloc = (
        site("Integrated Behavioral Health Suite", "co-located-bh", True) if sites >= 5 else None
    )
    cmhc = site("Riverbend Community Mental Health Center", "cmhc", True)
    sud_site = site("New Path Recovery Services", "sud-program", False) if sites >= 4 else cmhc
    hospital = site("Riverbend General Hospital", "hospital", False)

    programs: list[ProgramSpec] = []

    def program(site_idx: int, name: str, kind: str, part2: bool = False) -> int:
        programs.append(ProgramSpec(len(programs), site_idx, name, kind, part2))
        return len(programs) - 1

    role: dict[str, list[int]] = {"pc": [], "cc": [], "ibh": []}
    shared_ibh = (
        program(coloc, "Integrated behavioral health", "behavioral-health")
        if coloc is not None
        else None
    )
    for s in pc_sites:
        role["pc"].append(program(s, "Primary care", "primary-care"))
        role["cc"].append(program(s, "Collaborative care", "collaborative-care"))
        role["ibh"].append(
            shared_ibh
            if shared_ibh is not None
            else program(s, "Integrated behavioral health", "behavioral-health")
        )
    role["cmhc_mh"] = [program(cmhc, "Adult outpatient mental health", "behavioral-health")]
    role["cmhc_psych"] = [program(cmhc, "Psychiatry", "psychiatry")]
    role["cmhc_cm"] = [program(cmhc, "Case management", "behavioral-health")]
    role["sud"] = [program(sud_site, "Outpatient SUD treatment (Part 2)", "sud", True)]
    role["ed"] = [program(hospital, "Emergency department", "emergency")]
    role["ip_psych"] = [program(hospital, "Inpatient psychiatry", "inpatient")]
    role["ip_med"] = [program(hospital, "Medical inpatient", "inpatient")]

    world = World(seed, specs, programs, pc_sites, cmhc, sud_site, hospital, role)
    n = max(patients, 1)
    smi = n * params.smi_prevalence * 0.86

    def staff(pool: str, prog_idx: int, discipline: str, count: int) -> np.ndarray:
        start_i = len(world.prac_id)
        for _ in range(max(1, count)):
            female = rng.random() < 0.6
            world.prac_given.append(str(rng.choice(names.FEMALE if female else names.MALE)))
            world.prac_family.append(str(rng.choice(names.FAMILY)))
            world.prac_discipline.append(discipline)
            world.prac_site.append(programs[prog_idx].site)
            world.prac_program.append(prog_idx)
            world.prac_id.append(f"prac-{len(world.prac_id) + 1}")
        members = np.arange(start_i, len(world.prac_id), dtype=np.int32)
        world.pools.setdefault(pool, []).append(members)
        return members

    per_pc = n / n_pc
    for k in range(n_pc):
        pcps = staff("pcp", role["pc"][k], "pcp", math.ceil(per_pc / params.patients_per_pcp * 0.7))
        nps = staff("np", role["pc"][k], "np-pa", math.ceil(per_pc / params.patients_per_pcp * 0.3))
        world.pools["pcp"][k] = np.concatenate([pcps, nps])
        staff("nurse", role["pc"][k], "nurse", 1)
        staff(
            "cc_cm",
            role["cc"][k],
            "care-manager",
            math.ceil(per_pc * 0.03 / params.patients_per_care_manager),
        )
        if coloc is None or k == 0:
            bh = per_pc * 0.06 if coloc is None else n * 0.06
            sw = staff(
                "ibh",
                role["ibh"][k],
                "social-worker",
                math.ceil(bh / params.bh_patients_per_clinician * 0.7),
            )
            ps = staff(
                "ibh_psy",
                role["ibh"][k],
                "psychologist",
                math.ceil(bh / params.bh_patients_per_clinician * 0.3),
            )
            world.pools["ibh"][-1] = np.concatenate([sw, ps])
            world.pools.pop("ibh_psy")
            staff("ibh_psych", role["ibh"][k], "psychiatrist", 1)
    sw = staff(
        "cmhc_bh",
        role["cmhc_mh"][0],
        "social-worker",
        math.ceil(smi / params.bh_patients_per_clinician * 0.7),
    )
    ps = staff(
        "cmhc_psy",
        role["cmhc_mh"][0],
        "psychologist",
        math.ceil(smi / params.bh_patients_per_clinician * 0.3),
    )
    world.pools["cmhc_bh"] = [np.concatenate([sw, ps])]
    world.pools.pop("cmhc_psy")
    staff(
        "cmhc_psych",
        role["cmhc_psych"][0],
        "psychiatrist",
        math.ceil(smi / params.patients_per_psychiatrist),
    )
    staff(
        "cmhc_cm",
        role["cmhc_cm"][0],
        "care-manager",
        math.ceil(smi * 0.5 / params.patients_per_care_manager),
    )
    staff("peer", role["cmhc_cm"][0], "peer-specialist", math.ceil(smi / 400))
    staff(
        "sud",
        role["sud"][0],
        "social-worker",
        math.ceil(n * 0.02 / params.bh_patients_per_clinician),
    )
    staff("sud_psych", role["sud"][0], "psychiatrist", 1)
    staff("ed", role["ed"][0], "np-pa", math.ceil(n / 3000))
    staff("ip_psych", role["ip_psych"][0], "psychiatrist", math.ceil(n / 10000))
    staff("hospitalist", role["ip_med"][0], "pcp", math.ceil(n / 8000))
    world.prac_npi = _npis(seed, len(world.prac_id))
    return world
