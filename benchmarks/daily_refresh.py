"""Benchmark: the daily refresh's measure step (or the whole refresh) on the operational database.

Runs, in a subprocess against ``TANDEM_DATABASE_URL`` (a database already holding the
population, e.g. ``tandem synth --format db --patients 100000`` into PostgreSQL, with value sets
loaded), either

- ``--step measures`` (default): ``tandem measure run --all --period P --store``, or
- ``--step refresh``: ``tandem jobs run daily-refresh`` (measures stored, then cohorts, risk
  and worklists rebuilt),

and reports the wall time, Tandem's CPU time (user + system: on a shared machine the wall time
says more about the other jobs than about Tandem), Tandem's peak resident memory (the child's ``ru_maxrss``, as
``/usr/bin/time -v`` reports it), the peak resident memory of any PostgreSQL backend (every
``postgres`` process sampled with ``ps`` every ``--every`` seconds; a server-side hash or sort
that grows without bound shows here), and the load average before and after (the machine may
be shared: say so next to the figures).

    TANDEM_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/tandem_bench \\
        .venv/bin/python benchmarks/daily_refresh.py --step measures

Target (issue 10): 100,000 patients on PostgreSQL (default settings) in <= 5 minutes, Tandem
<= 2 GB resident, no PostgreSQL backend growing without bound. Figures in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TANDEM = ROOT / ".venv" / "bin" / "tandem"


def command(step: str, period: str) -> list[str]:
    if step == "refresh":
        return [str(TANDEM), "jobs", "run", "daily-refresh"]
    return [str(TANDEM), "measure", "run", "--all", "--period", period, "--store"]


def postgres_rss() -> dict[int, int]:
    """Resident memory (KiB) of every process named ``postgres``, by pid."""
    out = subprocess.run(
        ["ps", "-C", "postgres", "-o", "pid=,rss="], capture_output=True, text=True, check=False
    ).stdout
    sizes = {}
    for line in out.splitlines():
        pid, _, rss = line.strip().partition(" ")
        if pid and rss.strip():
            sizes[int(pid)] = int(rss.strip())
    return sizes


class Sampler(threading.Thread):
    """Samples the PostgreSQL backends' memory until stopped; keeps each one's peak."""

    def __init__(self, every: float) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.baseline = postgres_rss()  # processes alive before the run (others' sessions)
        self.peaks: dict[int, int] = {}
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.every):
            for pid, rss in postgres_rss().items():
                self.peaks[pid] = max(self.peaks.get(pid, 0), rss)
            self.samples += 1

    def stop(self) -> None:
        self._done.set()
        self.join()

    def peak(self, *, new_only: bool) -> int:
        values = [v for pid, v in self.peaks.items() if not new_only or pid not in self.baseline]
        return max(values, default=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", choices=["measures", "refresh"], default="measures")
    parser.add_argument("--period", default="2025-01-01..2025-12-31")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between ps samples")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not os.environ.get("TANDEM_DATABASE_URL"):
        print("set TANDEM_DATABASE_URL to the database holding the population", file=sys.stderr)
        return 2
    argv = command(args.step, args.period)
    load_before = os.getloadavg()
    sampler = Sampler(args.every)
    sampler.start()
    started = time.monotonic()
    child = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    sampler.stop()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = {
        "command": " ".join(["tandem", *argv[1:]]),
        "exit_status": child.returncode,
        "wall_s": round(wall, 1),
        "tandem_cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "tandem_max_rss_mib": round(usage.ru_maxrss / 1024),
        "postgres_backend_max_rss_mib": round(sampler.peak(new_only=True) / 1024),
        "postgres_any_max_rss_mib": round(sampler.peak(new_only=False) / 1024),
        "ps_samples": sampler.samples,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:30} {value}")
    if child.returncode != 0:
        print(child.stdout[-2000:], child.stderr[-4000:], sep="\n", file=sys.stderr)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
