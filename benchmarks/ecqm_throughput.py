"""Benchmark: eCQM throughput (CMS2, CMS122) — load + evaluate on a multiplied official deck.

Each official test case (``../shared/conformance/ecqm-qicore-2024/tests/<Measure>/<case>/``,
read at run time, never copied) is repeated until ``--patients`` patients exist; every copy
rewrites every resource id and every reference, so copies are distinct patients. The copies
are written as one NDJSON file in a temporary directory, then ``load_fhir`` and
``evaluate(..., engine=...)`` are timed. Every copy's populations are checked against the
case's expected MeasureReport (the deck defects in ``KNOWN_DECK_DEFECTS`` excepted).

    .venv/bin/python benchmarks/ecqm_throughput.py --patients 100000 --engine duckdb

Target (docs/architecture.md): >= 2,000 patients/s end to end on 100k patients, identical to
the official expected results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
DECKS = ROOT.parent / "shared" / "conformance" / "ecqm-qicore-2024" / "tests"
VALUESETS = DECKS.parent / "valuesets"  # the expansions the decks were written against
PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
SUFFIX_MARK = "\u00a7COPY\u00a7"  # placeholder for the per-copy id suffix in the templates


def _tag(value: Any, patient: str) -> Any:
    """Append SUFFIX_MARK to every resource id and every reference (``Type/id``, ``urn:uuid:``).

    Patient references all point at the case's patient: the conformance harness attributes
    every resource of a case folder to the case's patient (see ``conformance._case_tables``).
    """
    if isinstance(value, list):
        return [_tag(v, patient) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, v in value.items():
        if key == "id" and isinstance(v, str) and "resourceType" in value:
            out[key] = (patient if value["resourceType"] == "Patient" else v) + SUFFIX_MARK
        elif key == "reference" and isinstance(v, str) and v.startswith("Patient/"):
            out[key] = f"Patient/{patient}{SUFFIX_MARK}"
        elif key == "reference" and isinstance(v, str) and not v.startswith("#"):
            out[key] = v + SUFFIX_MARK
        else:
            out[key] = _tag(v, patient)
    return out


def _templates(case: Any) -> list[str]:
    """The case's resources as NDJSON lines with SUFFIX_MARK where the copy suffix goes."""
    lines = []
    for path in sorted(case.path.glob("*.json")):
        if path.name.startswith("MeasureReport"):
            continue
        res = orjson.loads(path.read_bytes())
        entries = (
            [e["resource"] for e in res.get("entry") or () if "resource" in e]
            if res.get("resourceType") == "Bundle"
            else [res]
        )
        for r in entries:
            lines.append(orjson.dumps(_tag(r, case.patient_id)).decode())
    return lines


def write_deck(cases: list[Any], patients: int, out: Path) -> dict[str, Any]:
    """Write ``patients`` patients (cases repeated) to ``out``; return {patient id: case}."""
    templates = [(case, "\n".join(_templates(case)) + "\n") for case in cases]
    owner: dict[str, Any] = {}
    written = resources = 0
    with out.open("w", encoding="utf-8") as fh:
        copy = 0
        while written < patients:
            for n, (case, text) in enumerate(templates):
                if written >= patients:
                    break
                # unique across cases too: the decks reuse resource ids from case to case
                # ("Condition-1"), and FHIR ids are unique per resource type in one load
                suffix = f"-x{copy}c{n}"
                fh.write(text.replace(SUFFIX_MARK, suffix))
                resources += text.count("\n")
                owner[case.patient_id + suffix] = case
                written += 1
            copy += 1
    return {"owner": owner, "resources": resources}


def verify(
    measure: Any, result: Any, owner: dict[str, Any], key: str, known: dict[str, str]
) -> dict[str, Any]:
    from tandem.measures.conformance import POPULATIONS

    got = {p.patient_id: p for p in result.patients}
    checked = mismatched = known_copies = missing = 0
    bad: list[str] = []
    for pid, case in owner.items():
        p = got.get(pid)
        if p is None:
            missing += 1
            continue
        ok = True
        for gi, expected in enumerate(case.expected):
            pops = p.populations.get(measure.groups[gi].id, {}) if gi < len(measure.groups) else {}
            for pop in POPULATIONS:
                if expected.get(pop, 0) != int(bool(pops.get(pop, False))):
                    ok = False
        if ok:
            checked += 1
        elif case.case_id in known:
            known_copies += 1
        else:
            mismatched += 1
            if len(bad) < 5:
                bad.append(f"{pid} ({case.case_id})")
    extra = len(set(got) - set(owner))
    return {
        "copies_matching_expected": checked,
        "copies_of_known_deck_defects": known_copies,
        "mismatched": mismatched,
        "missing_patients": missing,
        "unexpected_patients": extra,
        "examples": bad,
        "identical": mismatched == 0 and missing == 0 and extra == 0,
    }


def run_one(key: str, patients: int, engine: str, tmp: Path) -> dict[str, Any]:
    from tandem.importers.fhir import load_fhir
    from tandem.measures import conformance, definitions
    from tandem.measures import valuesets as vs_module
    from tandem.measures.evaluation import evaluate

    info = definitions.get(key)
    cases = [c for c in conformance.load_cases(DECKS / info.name) if c.patient_id]
    path = tmp / f"{key}.ndjson"
    began = time.perf_counter()
    deck = write_deck(cases, patients, path)
    prep = time.perf_counter() - began
    version = info.select(PERIOD)  # the 2025 version: the decks test it
    measure = version.measure()
    valuesets = vs_module.load(VALUESETS) if VALUESETS.is_dir() else vs_module.for_year(2025)
    vs_module.require(version, valuesets)

    began = time.perf_counter()
    tables = load_fhir([path], resolve_medication_references=False).tables
    t_load = time.perf_counter() - began
    began = time.perf_counter()
    result = evaluate(measure, tables, valuesets, period=PERIOD, engine=engine)
    t_eval = time.perf_counter() - began
    check = verify(measure, result, deck["owner"], key, conformance.KNOWN_DECK_DEFECTS.get(key, {}))
    total = t_load + t_eval
    return {
        "measure": key,
        "engine": engine,
        "deck_cases": len(cases),
        "patients": patients,
        "resources": deck["resources"],
        "ndjson_mib": round(path.stat().st_size / 2**20, 1),
        "write_deck_s": round(prep, 1),
        "load_s": round(t_load, 2),
        "evaluate_s": round(t_eval, 2),
        "end_to_end_s": round(total, 2),
        "load_patients_per_s": round(patients / t_load),
        "evaluate_patients_per_s": round(patients / t_eval),
        "end_to_end_patients_per_s": round(patients / total),
        "verification": check,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=5_000, help="patients per measure")
    parser.add_argument("--measures", default="CMS2,CMS122", help="comma-separated keys")
    parser.add_argument("--engine", default="duckdb", help="duckdb (default), memory, sqlite")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
    sys.path.insert(0, str(ROOT))
    results = []
    with tempfile.TemporaryDirectory(prefix="tandem-ecqm-bench-") as tmp:
        for key in args.measures.split(","):
            results.append(run_one(key.strip(), args.patients, args.engine, Path(tmp)))
            print(json.dumps(results[-1], indent=2), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mib": round(peak), "loadavg": os.getloadavg()}))
    ok = all(r["verification"]["identical"] for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
