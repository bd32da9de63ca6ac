"""Benchmark: ``tandem synth`` to Parquet — wall time and peak resident memory.

Runs the real command in a subprocess and reads the child's peak RSS from
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``.

    .venv/bin/python benchmarks/synth_parquet.py --patients 1000000 --seed 1 --out /tmp/synth-1m

Targets (docs/architecture.md): 1,000,000 patients in <= 10 minutes and <= 4 GB RSS on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "tandem-synth-bench"
    )
    parser.add_argument("--start", default="2023-01-01")
    parser.add_argument("--end", default="2025-12-31")
    args = parser.parse_args()
    command = [
        str(ROOT / ".venv" / "bin" / "tandem"),
        "synth",
        "--patients",
        str(args.patients),
        "--seed",
        str(args.seed),
        "--start",
        args.start,
        "--end",
        args.end,
        "--format",
        "parquet",
        "--out",
        str(args.out),
        "--no-progress",
    ]
    began = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - began
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rows = json.loads((args.out / "manifest.json").read_text())["rows"]
    size = sum(p.stat().st_size for p in args.out.glob("*.parquet"))
    result = {
        "patients": args.patients,
        "seconds": round(seconds, 1),
        "patients_per_second": round(args.patients / seconds),
        "peak_rss_mib": round(peak_kib / 1024),
        "rows": sum(rows.values()),
        "parquet_mib": round(size / 2**20),
        "command": " ".join(command),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
