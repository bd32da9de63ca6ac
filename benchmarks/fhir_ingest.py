"""Benchmark: FHIR NDJSON ingest into the analytic store (``write_parquet`` streaming).

Input: synthetic FHIR R4 NDJSON from ``tandem synth --format fhir`` (one file per resource
type; generated into ``--data`` when missing). The ingest runs in a child process that
streams every file through ``tandem.importers.fhir.write_parquet`` into a temporary
directory and reports its wall time and its own peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``). Give several ``--patients`` values to see
that memory stays flat while the input grows.

    .venv/bin/python benchmarks/fhir_ingest.py --patients 2000,8000

Target (docs/architecture.md): >= 20,000 resources/s into the analytic store; bounded memory
for any file size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, resource, sys, time
from pathlib import Path
from tandem.importers.fhir import write_parquet
files = sorted(Path(sys.argv[1]).glob("*.ndjson"))
began = time.perf_counter()
result = write_parquet(files, sys.argv[2])
seconds = time.perf_counter() - began
print(json.dumps({
    "seconds": seconds,
    "summary": result.summary(),
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def ensure_fhir(path: Path, patients: int, seed: int) -> None:
    if any(path.glob("*.ndjson")):
        return
    print(f"generating FHIR NDJSON for {patients:,} patients into {path}", file=sys.stderr)
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "tandem"),
            "synth",
            "--patients",
            str(patients),
            "--seed",
            str(seed),
            "--format",
            "fhir",
            "--out",
            str(path),
            "--no-progress",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def ingest(src: Path) -> dict:
    resources = 0
    for f in src.glob("*.ndjson"):
        with f.open("rb") as fh:
            resources += sum(1 for _ in fh)
    size = sum(f.stat().st_size for f in src.glob("*.ndjson"))
    with tempfile.TemporaryDirectory(prefix="tandem-ingest-bench-") as out:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(src), out],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        child = json.loads(proc.stdout.strip().splitlines()[-1])
        parquet = sum(p.stat().st_size for p in Path(out).glob("*.parquet"))
    return {
        "resources": resources,
        "ndjson_mib": round(size / 2**20),
        "seconds": round(child["seconds"], 1),
        "resources_per_s": round(resources / child["seconds"]),
        "peak_rss_mib": round(child["peak_rss_mib"]),
        "parquet_mib": round(parquet / 2**20),
        "summary": child["summary"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--patients", default="1000", help="comma-separated synthetic population sizes"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="where the NDJSON inputs are kept (<data>/tandem-fhir-<patients>)",
    )
    args = parser.parse_args()
    for n in (int(s) for s in args.patients.split(",")):
        src = args.data / f"tandem-fhir-{n}"
        ensure_fhir(src, n, args.seed)
        row = {"patients": n, **ingest(src), "loadavg": os.getloadavg()}
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
