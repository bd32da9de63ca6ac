"""Load benchmark: the production server under a care team's day (issue 10, performance).

    TANDEM_DATABASE_URL=postgresql://…/tandem_bench TANDEM_VAR_DIR=/tmp/bench/var \\
        .venv/bin/python benchmarks/load_test.py [--users 50] [--duration 180] \\
        [--saturation-users 20] [--saturation-duration 90] [--port 8781] [--out DIR] \\
        [--workers 2] [--threads 4]

1. Prepares the database it is pointed at (a migrated database with a population, e.g. 100,000
   patients from ``tandem synth --format db``): the demo persona logins, linked to the busiest
   synthetic practitioners by the demo's own code (``tandem.workspace.demo.ensure_personas``);
   with ``--refresh``, the daily refresh when none has succeeded yet (worklists need it) and
   the demo's seeds; a personal access token for the care manager (``worklists:read
   patients:read``). It collects each persona's inputs — open worklist items, their patients
   and family names, through the same queries the pages use — into ``DIR/inputs.json``.
2. Starts ``tandem serve`` (the production server: ``--workers 2`` gunicorn processes of
   ``--threads 4`` threads by default; ``--workers 1`` is waitress alone) with
   ``TANDEM_JOBS_WORKERS=0`` so no scheduled refresh runs during the measurement, and waits for
   its port.
3. Runs Locust headless (``benchmarks/load/locustfile.py``) twice: ``--users`` users with 1-5 s
   between actions, then ``--saturation-users`` users with no think time. Locust's CSV files go
   to ``DIR``; the script prints per action: requests, failures, median, p95, p99 and the
   throughput, and whether every action's p95 is within ``--p95-target`` ms (exit status 1
   if not).

Needs the ``bench`` extra (Locust). Passwords stay in ``TANDEM_VAR_DIR`` and ``DIR/inputs.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
LOCUSTFILE = Path(__file__).resolve().parent / "load" / "locustfile.py"
ACTORS = ("care-manager", "pcp", "bh-clinician", "psychiatrist")  # treatment roles


def main() -> int:
    args = _parse()
    if "TANDEM_DATABASE_URL" not in os.environ:
        print("set TANDEM_DATABASE_URL to the benchmark database", file=sys.stderr)
        return 2
    out = Path(args.out or tempfile.mkdtemp(prefix="tandem-load-"))
    out.mkdir(parents=True, exist_ok=True)
    inputs = out / "inputs.json"
    inputs.write_text(json.dumps(prepare(refresh=args.refresh), indent=1))
    inputs.chmod(0o600)
    summary = json.loads(inputs.read_text())
    print(f"inputs: {inputs} ({_describe(summary)})", flush=True)
    server = _serve(args.port, args.threads, args.workers, out / "server.log")
    try:
        runs = [
            ("think", args.users, args.duration, "1"),
            ("saturation", args.saturation_users, args.saturation_duration, "0"),
        ]
        results = {}
        for label, users, seconds, think in runs:
            if users <= 0:
                continue
            results[label] = _locust(label, users, seconds, think, args, out, inputs)
    finally:
        server.terminate()
        server.wait(timeout=30)
    ok = _report(results, args.p95_target)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print(f"CSV and results: {out}")
    return 0 if ok else 1


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--users", type=int, default=50)
    # Users sign in as they start (a deliberately slow password hash each): at 5 a second the
    # sign-ins queued ahead of the measured actions for the first ~25 s of a run; at 2 a
    # second there is no queue when the statistics are reset (once every user has started).
    p.add_argument("--spawn-rate", type=float, default=2.0, help="users started per second")
    p.add_argument("--duration", type=int, default=180, help="seconds (with think time)")
    p.add_argument("--saturation-users", type=int, default=20)
    p.add_argument("--saturation-duration", type=int, default=90)
    p.add_argument("--port", type=int, default=8781)
    p.add_argument("--threads", type=int, default=4, help="threads per server process")
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="server processes (tandem serve --workers: 1 is waitress, more is gunicorn)",
    )
    p.add_argument("--p95-target", type=float, default=100.0, help="ms")
    p.add_argument("--refresh", action="store_true", help="run the daily refresh if needed")
    p.add_argument("--out", default=None)
    return p.parse_args()


def prepare(*, refresh: bool) -> dict[str, Any]:
    """Persona logins, a token and each persona's inputs (runs in this process, then closes)."""
    from tandem.cli import setup_django

    setup_django()
    from django.db import connection, transaction

    from tandem.tokens import services as tokens
    from tandem.workspace import demo

    with transaction.atomic():
        logins = {p.key: (p.username, pw) for p, pw in demo.ensure_personas()}
    users = demo.persona_users()
    if refresh:
        from tandem.workspace import queries as workspace_queries

        needed = not workspace_queries.daily_refresh_succeeded()
        demo.bring_to_life(personas=users, refresh=needed, say=print)
    with transaction.atomic():
        issued = tokens.create_token(
            by=None,
            user=users["care-manager"],
            name="load benchmark",
            scopes=["worklists:read", "patients:read"],
            expires_in_days=1,
        )
    personas = [_inputs(key, users[key], *logins[key]) for key in ACTORS if key in users]
    from tandem.outreach import queries

    keys = [listed.key for listed in queries.worklists()]
    from django.conf import settings

    connection.close()
    return {
        "personas": personas,
        "token": issued.secret,
        "api_worklists": keys,
        "time_zone": settings.TIME_ZONE,  # the form's times are read in it (locustfile)
    }


def _inputs(key: str, user: Any, username: str, password: str) -> dict[str, Any]:
    """Open items of every worklist this persona sees (first pages), their patients and names."""
    from tandem.outreach import queries

    purpose = queries.purpose_of(user)
    worklists, items, patients, names = [], [], set(), set()
    for listed in queries.worklists():
        for page in (1, 2):
            filters = queries.Filters(state="open", page=page)
            result = queries.worklist_page(
                user=user,
                purpose=purpose,
                key=listed.key,
                filters=filters,
                page_size=50,
                detail="load benchmark setup",
            )
            for item in result.object_list:
                items.append(item.pk)
                patients.add(item.patient_id)
                names.add(item.patient.family_name)
                if item.site_id and len(worklists) < 40:
                    worklists.append({"key": listed.key, "site": item.site_id})
    if len(patients) < 100:  # no refresh yet, or short lists: the persona's caseload too
        from tandem.consent import gate

        caseload = list(gate.visible_patients(user=user, purpose=purpose).order_by("pk")[:200])
        gate.record_listing(user=user, patients=caseload, purpose=purpose, detail="load setup")
        patients.update(p.pk for p in caseload)
        names.update(p.family_name for p in caseload)
    worklists += [{"key": listed.key, "site": None} for listed in queries.worklists()]
    unique = list({(w["key"], w["site"]): w for w in worklists}.values())
    return {
        "key": key,
        "username": username,
        "password": password,
        "worklists": unique,
        "items": items if purpose == "treatment" else [],
        "patients": sorted(patients),
        "names": sorted(names),
    }


def _describe(summary: dict[str, Any]) -> str:
    return "; ".join(
        f"{p['key']}: {len(p['worklists'])} lists, {len(p['items'])} items, "
        f"{len(p['patients'])} patients"
        for p in summary["personas"]
    )


def _serve(port: int, threads: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"TANDEM_JOBS_WORKERS": "0"}
    cmd = [str(VENV / "tandem"), "serve", "--port", str(port), "--threads", str(threads)]
    cmd += ["--workers", str(workers)]
    server = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"tandem serve exited ({server.returncode}); see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise SystemExit(f"tandem serve did not open port {port}; see {log}")


def _locust(
    label: str,
    users: int,
    seconds: int,
    think: str,
    args: argparse.Namespace,
    out: Path,
    inputs: Path,
) -> dict[str, Any]:
    prefix = out / label
    cmd = [
        str(VENV / "locust"), "-f", str(LOCUSTFILE), "--headless",
        "--host", f"http://127.0.0.1:{args.port}",
        "-u", str(users), "-r", str(args.spawn_rate), "-t", f"{seconds}s",
        "--csv", str(prefix), "--only-summary", "--reset-stats",
    ]  # fmt: skip
    env = os.environ | {"LOAD_INPUTS": str(inputs), "LOAD_THINK": think}
    print(f"\n== {label}: {users} users for {seconds} s ==", flush=True)
    began = time.time()
    with (out / f"{label}.log").open("wb") as log:
        subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    rows = list(csv.DictReader((out / f"{label}_stats.csv").open()))
    return {
        "users": users,
        "seconds": seconds,
        "load_average": os.getloadavg(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(began)),
        "actions": {r["Name"]: _row(r) for r in rows if r["Name"] != "sign in (setup)"},
    }


def _row(r: dict[str, str]) -> dict[str, Any]:
    return {
        "requests": int(r["Request Count"]),
        "failures": int(r["Failure Count"]),
        "median_ms": float(r["Median Response Time"] or 0),
        "p95_ms": float(r["95%"] or 0),
        "p99_ms": float(r["99%"] or 0),
        "rps": float(r["Requests/s"] or 0),
    }


def _report(results: dict[str, Any], target: float) -> bool:
    ok = True
    for label, run in results.items():
        print(f"\n{label}: {run['users']} users, {run['seconds']} s, load {run['load_average']}")
        print(
            f"{'action':32} {'requests':>8} {'fail':>5} {'median':>7} {'p95':>7} {'p99':>7} "
            f"{'req/s':>7}"
        )
        for name, a in sorted(run["actions"].items()):
            flag = "" if name == "Aggregated" or a["p95_ms"] <= target else "  > target"
            if label == "think" and flag:
                ok = False
            print(
                f"{name:32} {a['requests']:>8} {a['failures']:>5} {a['median_ms']:>7.0f} "
                f"{a['p95_ms']:>7.0f} {a['p99_ms']:>7.0f} {a['rps']:>7.1f}{flag}"
            )
    return ok


if __name__ == "__main__":
    sys.exit(main())
