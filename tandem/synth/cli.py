"""``tandem synth``: generate a synthetic population into the database, Parquet or FHIR NDJSON.

    tandem synth --patients N --seed S [--sites K] [--start YYYY-MM-DD --end YYYY-MM-DD]
                 --format db|parquet|fhir [--out PATH] [--append] [--report]

Bad input is refused with one line on stderr and exit status 2: that includes a database that
cannot take the population (unreachable, missing, not migrated, already populated without
``--append``). A database write is one transaction: when it fails, nothing stays behind.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

from tandem.core.lib.cli import UsageError


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {number}")
    return number


SEED_MAX = 2**63 - 1  # fits the site codes (synth-<seed>-<n>, 30 characters)


def _seed(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if not 0 <= number <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"expected 0 to {SEED_MAX}, got {number}")
    return number


def _out(value: str) -> Path:
    if not value.strip():
        raise argparse.ArgumentTypeError("expected a directory, got an empty path")
    return Path(value)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {value!r}") from None


def _sites(value: str) -> int:
    number = _count(value)
    if not 3 <= number <= 200:
        raise argparse.ArgumentTypeError(f"expected 3 to 200 sites, got {number}")
    return number


def register(sub: Any) -> None:
    p = sub.add_parser(
        "synth",
        help="generate a synthetic population (database, Parquet or FHIR NDJSON)",
        description="Generate a deterministic synthetic population of PC and BH patients.",
    )
    p.add_argument("--patients", type=_count, required=True, help="number of patients")
    p.add_argument(
        "--seed",
        type=_seed,
        required=True,
        help="random seed, 0 to 2^63-1 (same seed, same output)",
    )
    p.add_argument("--sites", type=_sites, default=4, help="number of sites, 3-200 (default 4)")
    p.add_argument(
        "--start", type=_date, default=None, help="period start (default: 3 years before --end)"
    )
    p.add_argument("--end", type=_date, default=None, help="period end (default: today)")
    p.add_argument(
        "--format",
        choices=("db", "parquet", "fhir"),
        default="parquet",
        help="output (default parquet)",
    )
    p.add_argument("--out", type=_out, default=None, help="output directory (parquet, fhir)")
    p.add_argument(
        "--append",
        action="store_true",
        help="add the population to a database that already holds patients (db)",
    )
    p.add_argument(
        "--report", action="store_true", help="print realised rates next to the parameters"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_synth, needs_django=False)


def _period(args: argparse.Namespace) -> tuple[dt.date, dt.date]:
    from tandem.synth.generator import EARLIEST_START, LATEST_END, default_period

    if args.start and args.end:
        start, end = args.start, args.end
    elif args.end:
        start, end = default_period(args.end)
    elif args.start:
        end = dt.date.today()
        start = args.start
    else:
        start, end = default_period()
    if end <= start:
        raise UsageError(f"--end ({end}) must come after --start ({start})")
    bounds = f"the period must lie within {EARLIEST_START}..{LATEST_END}"
    if start < EARLIEST_START:
        what = "--start" if args.start else "the default start (3 years before --end)"
        raise UsageError(f"{what} {start} is too early: {bounds}")
    if end > LATEST_END:
        raise UsageError(f"--end {end} is too late: {bounds}")
    return start, end


def _writable(out: Path | None) -> Path:
    if out is None:
        raise UsageError("--out PATH is required for --format parquet and fhir")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".tandem-write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK):
        raise UsageError(f"cannot write to {out}")
    return out


def cmd_synth(args: argparse.Namespace) -> int:
    start, end = _period(args)
    if args.append and args.format != "db":
        raise UsageError("--append only applies to --format db")
    progress = not args.no_progress
    common = {
        "patients": args.patients,
        "seed": args.seed,
        "start": start,
        "end": end,
        "sites": args.sites,
        "progress": progress,
    }
    if args.format == "db":
        report = _write_database(common, append=args.append)
    elif args.format == "parquet":
        from tandem.synth.parquet import write_parquet

        report = write_parquet(out=_writable(args.out), **common)
    else:
        from tandem.synth.fhir import write_fhir

        report = write_fhir(out=_writable(args.out), **common)
    total = sum(report.rows.values())
    print(
        f"synthetic population: {args.patients} patients, {total} rows -> {report.output} "
        f"in {report.seconds:.1f} s (seed {args.seed}, {start}..{end})"
    )
    if args.report:
        _print_report(report)
    return 0


def _write_database(common: dict[str, Any], *, append: bool) -> Any:
    from tandem.cli import setup_django

    setup_django()
    from django.db import DatabaseError

    from tandem.core.lib.db import reason
    from tandem.synth.database import DatabaseNotEmpty, PopulationExists, write_population

    where = _database_ready()
    try:
        return write_population(**common, append=append)
    except DatabaseNotEmpty as exc:
        raise UsageError(
            f"the database already holds {exc.patients:,} patients; "
            "pass --append to add another population"
        ) from None
    except PopulationExists as exc:
        raise UsageError(str(exc)) from None
    except DatabaseError as exc:  # one transaction: rolled back
        raise UsageError(f"writing to {where} failed, nothing was written: {reason(exc)}") from None


def _database_ready() -> str:
    """Check that the configured database answers, has Tandem's tables and is migrated.

    Returns how to name it in messages (never with its password); otherwise refuses with a
    :class:`UsageError` that says what to do. Connection and missing tables are
    ``tandem.core.lib.db.require_tables``'s answer; a SQLite file is never created here.
    """
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    from tandem.core.lib.db import describe, reason, require_tables
    from tandem.core.models import Site
    from tandem.registry.models import Patient

    where = describe()
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():  # type: ignore[attr-defined]
        folder = Path(connection.settings_dict["NAME"]).parent
        if not folder.is_dir():
            raise UsageError(
                f"{where} cannot be opened: directory {folder} does not exist (TANDEM_DATABASE_URL)"
            )
    require_tables(Site._meta.db_table, Patient._meta.db_table, kind="Tandem")
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        raise UsageError(f"cannot use {where}: {reason(exc)}") from None
    if pending:
        raise UsageError(
            f"{where} is not fully migrated ({len(pending)} migrations to apply); "
            "run `tandem migrate`"
        )
    return where


def _print_report(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from tandem.synth.parameters import DEFAULT
    from tandem.synth.report import rows

    table = Table(title="Realised rates vs parameters")
    for col in ("Metric", "Parameter / target", "Realised"):
        table.add_column(col, justify="left" if col == "Metric" else "right")
    for metric, param, realised in rows(report.stats, DEFAULT):
        table.add_row(metric, param, realised)
    counts = Table(title="Rows written")
    counts.add_column("Table")
    counts.add_column("Rows", justify="right")
    for name, n in sorted(report.rows.items()):
        counts.add_row(name, f"{n:,}")
    console = Console()
    console.print(table)
    console.print(counts)
