"""Differential run: Tandem against fqm-execution (the reference CQL engine), patient by patient.

A synthetic population is exported with ``tandem synth --format fhir`` (QI-Core profiled NDJSON),
then evaluated twice for each CMS measure's 2025 version (the version the published 2025 ELM
in ``../shared/conformance/ecqm-qicore-2024`` is the logic of):

- by fqm-execution (``tools/fqm``: the npm package at the pinned version, installed with
  ``npm ci --prefix tools/fqm``; its runner builds each measure bundle from the shared folder's
  Measure, Libraries and ValueSets and evaluates every patient);
- by Tandem: the same NDJSON read by Tandem's FHIR importer, then ``definitions.evaluate`` on
  the chosen engine with the same value set expansions.

Every patient's every population of every group is compared (groups by position; episode-based
groups, CMS68 and CMS177, by the number of episodes). The table lists, per measure, the
patients, the initial-population and numerator counts each engine found and the patients that
agree and disagree; then every disagreement. The exit status is 1 when any patient disagrees.

    .venv/bin/python benchmarks/fqm_differential.py --patients 800 --seed 7
    .venv/bin/python benchmarks/fqm_differential.py --patients 200 --measures CMS2,CMS159

Measures are the CMS measures whose 2025 version is implemented (``--measures`` picks some).
``--json FILE`` writes the comparison (tests/measures/test_fqm_differential.py reads it).
The shared folder is ``../shared`` beside the repository, or ``TANDEM_SHARED_DIR``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TANDEM_SHARED_DIR") or ROOT.parent / "shared")
CONTENT = SHARED / "conformance" / "ecqm-qicore-2024"
RUNNER = ROOT / "tools" / "fqm" / "run.js"
PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
# The synthetic history: two years before the measurement period (look-backs, index events)
# and a half year after it (data after the period must not count).
SYNTH_PERIOD = (dt.date(2023, 1, 1), dt.date(2026, 6, 30))
POPULATIONS = (
    "initial-population",
    "denominator",
    "denominator-exclusion",
    "denominator-exception",
    "numerator",
    "numerator-exclusion",
)


@dataclass
class Disagreement:
    measure: str
    patient: str
    group: int  # 1-based
    population: str
    tandem: int
    reference: int


@dataclass
class MeasureComparison:
    key: str
    version: str
    library: str
    patients: int = 0
    agree: int = 0
    disagree: int = 0
    tandem_counts: dict[str, int] = field(default_factory=dict)  # group 1, summed
    reference_counts: dict[str, int] = field(default_factory=dict)
    disagreements: list[Disagreement] = field(default_factory=list)
    reference_errors: list[dict[str, str]] = field(default_factory=list)
    seconds_tandem: float = 0.0
    seconds_reference: float = 0.0


def implemented_measures(keys: Sequence[str] | None = None) -> list[tuple[str, Any]]:
    """(key, 2025 version) of the CMS measures whose 2025 version has a builder and whose
    published Measure is in the shared folder; ``keys`` restricts (an unknown key is an error)."""
    from tandem.measures import definitions

    out = []
    wanted = [definitions.get(k).key for k in keys] if keys else None
    for info in definitions.REGISTRY.values():
        first = info.versions[0]
        if first.year != PERIOD[0].year or (wanted is not None and info.key not in wanted):
            continue
        if first.implemented and (CONTENT / "measures" / f"{first.library}.json").is_file():
            out.append((info.key, first))
        elif wanted is not None:
            raise SystemExit(f"{info.key}: its 2025 version {first.id} is not implemented")
    return out


def synth(out: Path, patients: int, seed: int) -> float:
    """``tandem synth --format fhir`` into ``out``; returns the seconds it took."""
    began = time.perf_counter()
    start, end = SYNTH_PERIOD
    subprocess.run(
        [sys.executable, "-m", "tandem", "synth", "--patients", str(patients), "--seed",
         str(seed), "--start", start.isoformat(), "--end", end.isoformat(), "--format", "fhir",
         "--out", str(out), "--no-progress"],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - began


def run_reference(
    data: Path, libraries: Sequence[str], out: Path, log: Path, jobs: int = 1
) -> dict[str, Any]:
    """fqm-execution's results (``tools/fqm/run.js``), the measures shared among ``jobs``
    runner processes (one CPU each); their console noise goes to ``log`` (``.<n>`` each)."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node (Node.js >= 20) is not on PATH: the reference engine needs it")
    if not (RUNNER.parent / "node_modules" / "fqm-execution").is_dir():
        raise SystemExit("tools/fqm/node_modules is missing: run `npm ci --prefix tools/fqm`")
    parts = [list(libraries[i::jobs]) for i in range(max(1, min(jobs, len(libraries))))]
    running = []
    for n, part in enumerate(parts):
        part_out, part_log = out.with_suffix(f".{n}.json"), log.with_suffix(f".{n}.log")
        args = [node, str(RUNNER), "--content", str(CONTENT), "--data", str(data),
                "--out", str(part_out), "--start", PERIOD[0].isoformat(),
                "--end", PERIOD[1].isoformat()]  # fmt: skip
        for library in part:
            args += ["--measure", library]
        with part_log.open("wb") as err:
            running.append((subprocess.Popen(args, stdout=err, stderr=err), part_out, part_log))
    result: dict[str, Any] = {"measures": {}}
    for process, part_out, part_log in running:
        if process.wait() != 0:
            tail = part_log.read_text(errors="replace").strip().splitlines()[-20:]
            raise SystemExit("fqm-execution runner failed:\n" + "\n".join(tail))
        part_result = json.loads(part_out.read_text())
        result["measures"].update(part_result.pop("measures"))
        result.update(part_result)
    return result


def run_tandem(
    data: Path, measures: Sequence[tuple[str, Any]], engine: str
) -> dict[str, tuple[list[bool], dict[str, list[dict[str, int]]], float]]:
    """Per measure key: (episode-based flag per group, {patient: [populations per group]},
    seconds). The NDJSON is read once by Tandem's FHIR importer."""
    from tandem.importers.fhir import load_fhir
    from tandem.measures import definitions
    from tandem.measures import valuesets as vs_module

    tables = load_fhir([data]).tables
    valuesets = vs_module.load(CONTENT / "valuesets")
    out = {}
    for key, version in measures:
        began = time.perf_counter()
        rows = definitions.evaluate(
            key, tables, PERIOD, version=version.id, engine=engine, valuesets=valuesets
        )
        episodic = [g.episode_based for g in version.measure().groups]
        patients = {r["id"]: [g["populations"] for g in r["groups"]] for r in rows}
        out[key] = (episodic, patients, time.perf_counter() - began)
    return out


def _reference_groups(groups: list[dict[str, Any]], episodic: list[bool]) -> list[dict[str, int]]:
    return [
        g.get("episodes", {}) if i < len(episodic) and episodic[i] else g["populations"]
        for i, g in enumerate(groups)
    ]


def compare(
    key: str,
    version: Any,
    episodic: list[bool],
    tandem: Mapping[str, list[dict[str, int]]],
    reference: Mapping[str, Any],
) -> MeasureComparison:
    """Patient by patient, group by group (by position), population by population; a
    population missing on one side counts as 0, a patient missing from Tandem's rows too."""
    c = MeasureComparison(key, version.id, version.library)
    c.reference_errors = reference.get("errors", [])
    for pid, ref_groups in sorted(reference["patients"].items()):
        theirs = _reference_groups(ref_groups, episodic)
        ours = tandem.get(pid, [])
        c.patients += 1
        bad = False
        for gi in range(max(len(theirs), len(ours))):
            t = ours[gi] if gi < len(ours) else {}
            r = theirs[gi] if gi < len(theirs) else {}
            for code in POPULATIONS:
                tv, rv = int(t.get(code, 0)), int(r.get(code, 0))
                if gi == 0:
                    c.tandem_counts[code] = c.tandem_counts.get(code, 0) + tv
                    c.reference_counts[code] = c.reference_counts.get(code, 0) + rv
                if tv != rv:
                    bad = True
                    c.disagreements.append(Disagreement(key, pid, gi + 1, code, tv, rv))
        c.agree += not bad
        c.disagree += bad
    return c


def run(
    *,
    patients: int,
    seed: int,
    keys: Sequence[str] | None,
    engine: str,
    work: Path,
    jobs: int = 1,
) -> tuple[list[MeasureComparison], dict[str, float]]:
    measures = implemented_measures(keys)
    if not measures:
        raise SystemExit("no CMS measure with an implemented 2025 version to compare")
    data = work / "fhir"
    timings = {"synth": synth(data, patients, seed)}
    began = time.perf_counter()
    reference = run_reference(
        data, [v.library for _, v in measures], work / "fqm.json", work / "fqm.log", jobs
    )
    timings["reference"] = time.perf_counter() - began
    began = time.perf_counter()
    ours = run_tandem(data, measures, engine)
    timings["tandem"] = time.perf_counter() - began
    results = []
    for key, version in measures:
        episodic, rows, seconds = ours[key]
        ref = reference["measures"][version.library]
        c = compare(key, version, episodic, rows, ref)
        c.seconds_tandem, c.seconds_reference = seconds, float(ref.get("seconds", 0.0))
        results.append(c)
    return results, timings


def table(results: Sequence[MeasureComparison], patients: int) -> str:
    head = (
        f"{'measure':<10} {'version':<10} {'patients':>8} {'IP T/ref':>11} {'NUMER T/ref':>12} "
        f"{'agree':>6} {'disagree':>8} {'fqm s':>7} {'Tandem s':>8}"
    )
    lines = [head, "-" * len(head)]
    for c in results:
        ip = f"{c.tandem_counts.get('initial-population', 0)}/" + str(
            c.reference_counts.get("initial-population", 0)
        )
        num = f"{c.tandem_counts.get('numerator', 0)}/{c.reference_counts.get('numerator', 0)}"
        lines.append(
            f"{c.key:<10} {c.version:<10} {c.patients:>8} {ip:>11} {num:>12} {c.agree:>6} "
            f"{c.disagree:>8} {c.seconds_reference:>7.1f} {c.seconds_tandem:>8.2f}"
        )
    lines.append(f"({patients} synthetic patients; IP and NUMER of group 1, T = Tandem)")
    return "\n".join(lines)


def disagreements(results: Sequence[MeasureComparison], limit: int = 50) -> str:
    lines = []
    for c in results:
        for e in c.reference_errors[:5]:
            lines.append(f"{c.key}: fqm-execution error for {e.get('patient')}: {e.get('error')}")
        for d in c.disagreements[:limit]:
            lines.append(
                f"{d.measure} patient {d.patient} group {d.group} {d.population}: "
                f"Tandem {d.tandem}, fqm-execution {d.reference}"
            )
        if len(c.disagreements) > limit:
            lines.append(f"{c.key}: ... {len(c.disagreements) - limit} more")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--patients", type=int, default=800, help="synthetic patients (default 800)")
    p.add_argument("--seed", type=int, default=7, help="synthetic population seed (default 7)")
    p.add_argument("--measures", default="", help="comma-separated keys (default: all 2025)")
    p.add_argument("--engine", default="duckdb", help="Tandem engine (default duckdb)")
    p.add_argument("--jobs", type=int, default=1, help="fqm-execution processes (default 1)")
    p.add_argument("--json", type=Path, default=None, help="write the comparison as JSON")
    p.add_argument("--keep", type=Path, default=None, help="keep the export and results here")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
    keys = [k.strip() for k in args.measures.split(",") if k.strip()] or None
    with tempfile.TemporaryDirectory(prefix="fqm-diff-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if (work / "fhir").exists():
            shutil.rmtree(work / "fhir")
        results, timings = run(
            patients=args.patients,
            seed=args.seed,
            keys=keys,
            engine=args.engine,
            work=work,
            jobs=args.jobs,
        )
    print(table(results, args.patients))
    print(
        f"synth {timings['synth']:.1f} s, fqm-execution {timings['reference']:.1f} s, "
        f"Tandem ({args.engine}, load + evaluate) {timings['tandem']:.1f} s; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    listed = disagreements(results)
    if listed:
        print("\nDisagreements (patient, group, population):\n" + listed)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "patients": args.patients,
                    "seed": args.seed,
                    "timings": timings,
                    "measures": [c.__dict__ | {"disagreements": [d.__dict__ for d in
                                 c.disagreements]} for c in results],
                },
                indent=1,
            )
        )  # fmt: skip
    return 1 if any(c.disagree or c.reference_errors for c in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
