"""``tandem jobs``: run the worker, run a job now, list the history.

tandem jobs worker                      the django-q2 cluster on its own (Ctrl-C stops it)
tandem jobs run daily-refresh [--as-of YYYY-MM-DD] [--verbose]
tandem jobs list [--limit N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from tandem.core.lib.cli import UsageError, positive_number


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def register(sub: Any) -> None:
    jobs = sub.add_parser("jobs", help="background jobs: the worker, the daily refresh, history")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)

    worker = jobs_sub.add_parser(
        "worker", help="run the job queue's worker (tandem serve runs one itself)"
    )
    worker.add_argument("--parent", type=int, default=None, help=argparse.SUPPRESS)
    worker.set_defaults(func=cmd_worker)

    run = jobs_sub.add_parser("run", help="run a job now, here, with a line per step")
    run.add_argument("job", choices=["daily-refresh"], help="the job to run")
    run.add_argument("--as-of", type=_date, default=None, help="the day it is for (default: today)")
    run.add_argument("--verbose", action="store_true", help="print every progress line")
    run.set_defaults(func=cmd_run)

    listing = jobs_sub.add_parser("list", help="the history of job runs, newest first")
    listing.add_argument("--limit", type=positive_number, default=20, help="runs to show")
    listing.set_defaults(func=cmd_list)


def cmd_worker(args: argparse.Namespace) -> int:
    from tandem.jobs import worker

    return worker.run_cluster(parent=args.parent)


def cmd_run(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from tandem.jobs import rules, services, worker

    today = timezone.localdate()
    if args.as_of is not None and args.as_of > today:
        raise UsageError(f"--as-of {args.as_of.isoformat()} is in the future (today is {today})")
    worker.check_database()

    def show(step: str, line: str, milestone: bool) -> None:
        if milestone or args.verbose:
            print(f"{step:10} {line}", flush=True)

    run = services.run_daily_refresh(by=None, as_of=args.as_of, on_progress=show)
    if run.status == rules.SUCCEEDED:
        print(f"daily refresh run #{run.pk} for {run.as_of} succeeded in {run.seconds:.1f} s")
        return 0
    print(f"daily refresh run #{run.pk} FAILED: {run.error.splitlines()[-1]}", file=sys.stderr)
    return 1


def cmd_list(args: argparse.Namespace) -> int:
    from tandem.jobs import queries, worker

    worker.check_database()
    runs = queries.history(limit=args.limit)
    if not runs:
        print("no job has run yet")
        return 0
    for run in runs:
        seconds = f"{run.seconds:.1f} s" if run.seconds is not None else "-"
        steps = " ".join(f"{s['key']}:{s['status']}" for s in run.steps)
        print(
            f"#{run.pk:<5} {run.job:14} {run.status:10} {run.trigger:9} as of {run.as_of}  "
            f"queued {queries.local(run.queued_at)}  {seconds:>9}  attempts {run.attempts}  "
            f"{steps}"
        )
        if run.error:
            print(f"       error: {run.error.splitlines()[-1]}")
    return 0
