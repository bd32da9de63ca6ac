"""Benchmark: ``tandem synth --format db`` into the database of ``TANDEM_DATABASE_URL``.

    TANDEM_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/tandem_bench \\
        .venv/bin/python benchmarks/synth_db.py --patients 100000 --seed 1 [--fresh]

``--fresh`` (PostgreSQL) drops and re-creates that database and runs ``tandem migrate`` first
(not timed). The load runs in a child process; the script reports its wall time, CPU time
(user + system), peak resident memory (``getrusage(RUSAGE_CHILDREN).ru_maxrss``), rows
written and the load average before and after — on a shared machine, CPU time says more than
wall time. The PostgreSQL server's own work (COPY, indexes, validating foreign keys) is not in
the child's CPU time; it is in the wall time.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

TANDEM = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "tandem"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--patients", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--fresh", action="store_true", help="drop, create and migrate the database")
    args = p.parse_args()
    url = os.environ.get("TANDEM_DATABASE_URL", "")
    if not url:
        print("set TANDEM_DATABASE_URL to the benchmark database", file=sys.stderr)
        return 2
    if args.fresh:
        _fresh(url)
    cmd = [str(TANDEM), "synth", "--format", "db", "--patients", str(args.patients)]
    cmd += ["--seed", str(args.seed), "--no-progress"]
    load_before = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)  # migrate's CPU is not counted
    began = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(done.stdout.strip() or done.stderr.strip())
    if done.returncode:
        return done.returncode
    rows = re.search(r"(\d+) rows", done.stdout)
    print(
        f"patients {args.patients:,}  wall {wall:.1f} s  CPU {_cpu(usage) - _cpu(before):.1f} s"
        f"  peak RSS {usage.ru_maxrss / 1024:,.0f} MiB  rows {int(rows.group(1)) if rows else 0:,}"
        f"  load average {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    return 0


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _fresh(url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise SystemExit("--fresh needs a PostgreSQL TANDEM_DATABASE_URL")
    name = parsed.path.lstrip("/")
    conn = ["-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 5432)]
    conn += ["-U", parsed.username or "postgres"]
    subprocess.run(["dropdb", *conn, "--if-exists", name], check=True)
    subprocess.run(["createdb", *conn, name], check=True)
    subprocess.run([str(TANDEM), "migrate"], check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(main())
