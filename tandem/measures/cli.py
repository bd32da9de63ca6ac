"""The ``tandem measure`` command: list, evaluate and conformance-check measures.

``register(subparsers)`` adds the command to the top-level parser (``tandem.cli``); each
subcommand sets ``func=callable(args) -> int``. Bad input raises
:class:`tandem.core.lib.cli.UsageError` (printed on one line, exit status 2).

    tandem measure list
    tandem measure evaluate CMS2 --period 2025-01-01..2025-12-31 --source fhir:PATH
        [--version CMS2v14] [--engine memory|duckdb|sqlite|postgres|spark]
        [--format json|csv|measurereport] [--skip-invalid]
    tandem measure conformance --measure CMS159 [--period ...] [--version ...] [--engine ...]
        CASES_DIR

``--valuesets DIR`` (repeatable) names the FHIR ValueSet expansions to use. The measure
version is the one whose performance period covers ``--period``, unless ``--version`` (or a
version id given as the measure, ``CMS122v13``) picks one; see ``definitions.select``.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from tandem.core.lib.cli import UsageError
from tandem.measures import conformance, definitions, schema, valuesets
from tandem.measures.definitions.versions import MeasureVersion, fmt_period
from tandem.terminology.expansions import ExpansionError

ENGINES = ("memory", "duckdb", "sqlite", "postgres", "spark")
FORMATS = ("json", "csv", "measurereport")
DEFAULT_PERIOD = "2025-01-01..2025-12-31"
VERSION_HELP = (
    "measure version, e.g. CMS122v13 (default: the version whose performance period covers "
    "--period; see 'tandem measure list')"
)
VALUESETS_HELP = (
    "folder of FHIR ValueSet expansions, used instead of any other (repeatable; default: those "
    "loaded into the database, then those shipped with Tandem for the version's year)"
)


def parse_period(text: str) -> tuple[date, date]:
    """``2025-01-01..2025-12-31`` -> two dates (both inclusive)."""
    try:
        start_s, end_s = text.split("..", 1)
        start, end = date.fromisoformat(start_s.strip()), date.fromisoformat(end_s.strip())
    except ValueError:
        raise UsageError(f"--period {text!r}: expected START..END, e.g. {DEFAULT_PERIOD}") from None
    if end < start:
        raise UsageError(f"--period {text!r}: the end is before the start")
    return start, end


def load_source(source: str, *, skip_invalid: bool = False) -> dict[str, pa.Table]:
    """``fhir:PATH`` (file or directory of FHIR JSON/NDJSON) or ``parquet:DIR`` (one
    ``<table>.parquet`` per analytic table; missing tables are empty)."""
    kind, _, path = source.partition(":")
    if not path:
        raise UsageError(f"--source {source!r}: expected fhir:PATH, parquet:DIR or db")
    if kind == "fhir":
        return _load_fhir(path, skip_invalid=skip_invalid)
    if kind == "parquet":
        root = Path(path)
        if not root.is_dir():
            raise UsageError(f"--source {source!r}: {root} is not a directory")
        tables = {}
        for name in schema.TABLES:
            file = root / f"{name}.parquet"
            tables[name] = (
                schema.conform(name, pq.read_table(file)) if file.exists() else schema.empty(name)
            )
        return tables
    raise UsageError(f"--source {source!r}: unknown kind {kind!r} (fhir, parquet or db)")


SHOWN_INVALID = 20  # --skip-invalid: report lines on stderr before "... and N more"


def _load_fhir(path: str, *, skip_invalid: bool) -> dict[str, pa.Table]:
    """Load FHIR files. Invalid input refuses the load with its first problem and the count
    (one line); with ``skip_invalid`` each invalid line, file or resource is reported on
    stderr (the first :data:`SHOWN_INVALID`, then how many more) and skipped."""
    from tandem.importers.fhir import InvalidInput, load_fhir

    try:
        result = load_fhir(path, skip_invalid=skip_invalid)
    except InvalidInput as exc:
        raise UsageError(
            f"{exc.problems[0]} ({exc.count} invalid in all, nothing loaded; "
            "--skip-invalid loads the rest)"
        ) from None
    for line in result.invalid[:SHOWN_INVALID]:
        print(f"skipped invalid input: {line}", file=sys.stderr)
    if result.invalid_count > SHOWN_INVALID:
        more = result.invalid_count - SHOWN_INVALID
        print(f"skipped invalid input: ... and {more} more", file=sys.stderr)
    if result.skipped or result.invalid_count:
        print(result.summary(), file=sys.stderr)
    return result.tables


def _measure(key: str) -> definitions.MeasureInfo:
    try:
        return definitions.get(key)
    except KeyError:
        known = ", ".join(definitions.REGISTRY)
        raise UsageError(f"unknown measure {key!r} (known: {known})") from None


def _version(name: str, period: tuple[date, date], version: str | None) -> MeasureVersion:
    """The version to evaluate (a :class:`definitions.VersionError` is a one-line UsageError);
    an explicit version outside its performance period is used, with a note on stderr."""
    chosen = definitions.select(name, period, version)
    _note_outside(chosen, period)
    return chosen


def _note_outside(version: MeasureVersion, period: tuple[date, date]) -> None:
    if not version.covers(period):
        print(
            f"note: {version.id} is for the {version.period_label} performance period; "
            f"evaluating it over {fmt_period(period)} as asked",
            file=sys.stderr,
        )


def cmd_list(args: argparse.Namespace) -> int:
    """One line per version: key, version, performance period, title (or "not yet
    implemented") and the library (eCQM) or name it implements."""
    for info in definitions.REGISTRY.values():
        for v in info.versions:
            what = info.title if v.implemented else "not yet implemented"
            print(f"{info.key:13} {v.id:15} {v.period_label:22}  {what}  ({v.library})")
    return 0


def _json(
    results: Sequence[Mapping[str, Any]], version: MeasureVersion, period, *, part2: bool = False
) -> bytes:
    from tandem.consent import redisclosure

    summary: dict[str, Any] = {"patients": len(results), "groups": []}
    for gi, gid in enumerate(version.group_ids):
        counts = dict.fromkeys(conformance.POPULATIONS, 0)
        for p in results:
            for k, v in p["groups"][gi]["populations"].items():
                counts[k] = counts.get(k, 0) + int(v)
        eligible = (
            counts["denominator"]
            - counts["denominator-exclusion"]
            - counts["denominator-exception"]
        )
        rate = counts["numerator"] / eligible if eligible > 0 else None
        summary["groups"].append({"id": gid, "counts": counts, "rate": rate})
    doc = {
        "measure": version.key,
        "version": version.id,
        "period": {"start": period[0].isoformat(), "end": period[1].isoformat()},
        "patients": results,
        "summary": summary,
        **redisclosure.json_field(part2),
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str)


def _csv(results: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["patient_id", "group", *conformance.POPULATIONS])
    for p in results:
        for g in p["groups"]:
            w.writerow(
                [p["id"], g["id"], *(g["populations"].get(c, 0) for c in conformance.POPULATIONS)]
            )
    return out.getvalue()


def _population(code: str, count: int) -> dict[str, Any]:
    system = "http://terminology.hl7.org/CodeSystem/measure-population"
    return {"code": {"coding": [{"system": system, "code": code}]}, "count": count}


def _measure_report(
    results: Sequence[Mapping[str, Any]],
    version: MeasureVersion,
    period,
    part2: frozenset[str] | set[str] = frozenset(),
) -> bytes:
    """A FHIR Bundle: the summary MeasureReport, then one individual report per patient.

    Individual reports carry the patient's 0/1 per population and, as ``evaluatedResource``-
    style extension text, the evidence that decided it (ids, dates, values). ``measure`` is the
    version's canonical (``url|version`` for a published eCQM). The bundle and the reports
    of patients in ``part2`` (results that are 42 CFR Part 2 data) carry the Part 2 security
    labels and the redisclosure notice (``consent.redisclosure.label_fhir``).
    """
    from tandem.consent import redisclosure

    span = {"start": period[0].isoformat(), "end": period[1].isoformat()}
    groups = []
    for gi, gid in enumerate(version.group_ids):
        pops = [
            _population(
                code, sum(int(p["groups"][gi]["populations"].get(code, 0)) for p in results)
            )
            for code in conformance.POPULATIONS
        ]
        groups.append({"id": gid, "population": pops})
    summary = {
        "resourceType": "MeasureReport",
        "id": f"{version.key}-summary",
        "status": "complete",
        "type": "summary",
        "measure": version.canonical,
        "period": span,
        "group": groups,
    }
    entries = [{"fullUrl": f"urn:tandem:MeasureReport/{summary['id']}", "resource": summary}]
    for p in results:
        report = {
            "resourceType": "MeasureReport",
            "id": f"{version.key}-{p['id']}",
            "status": "complete",
            "type": "individual",
            "measure": version.canonical,
            "subject": {"reference": f"Patient/{p['id']}"},
            "period": span,
            "group": [
                {
                    "id": g["id"],
                    "population": [
                        _population(code, int(g["populations"].get(code, 0)))
                        for code in conformance.POPULATIONS
                    ],
                    **(
                        {
                            "extension": [
                                {
                                    "url": "https://tandem.health/fhir/StructureDefinition/evidence",
                                    "valueString": orjson.dumps(
                                        g["evidence"], default=str
                                    ).decode(),
                                }
                            ]
                        }
                        if g.get("evidence")
                        else {}
                    ),
                }
                for g in p["groups"]
            ],
        }
        if str(p["id"]) in part2:  # the report of a patient whose result is Part 2 data
            redisclosure.label_fhir(report)
        entries.append({"fullUrl": f"urn:tandem:MeasureReport/{report['id']}", "resource": report})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    if part2:
        redisclosure.label_fhir(bundle)
    return orjson.dumps(bundle, option=orjson.OPT_INDENT_2)


def _valuesets(
    args: argparse.Namespace, versions: Sequence[MeasureVersion], year: int | None
) -> valuesets.ValueSets:
    """The value sets for ``versions`` (all of performance year ``year``): ``--valuesets``
    folders if given, else the expansions shipped for that year; every value set the versions
    read must be there (:func:`valuesets.require`, a one-line error naming the missing)."""
    try:
        vs = valuesets.for_year(year, dirs=args.valuesets or ())
    except ExpansionError as exc:
        raise UsageError(f"{exc}; pass --valuesets DIR with FHIR ValueSet expansions") from None
    for version in versions:
        valuesets.require(version, vs)
    return vs


def _db_valuesets(
    args: argparse.Namespace, versions: Sequence[MeasureVersion], year: int | None
) -> valuesets.ValueSets:
    """As :func:`_valuesets`, with the expansions loaded into the database (``tandem valuesets
    load``) taking precedence over the shipped ones."""
    from tandem.terminology.queries import stored_expansions

    try:
        vs = valuesets.for_year(year, dirs=args.valuesets or (), stored=stored_expansions(year))
    except ExpansionError as exc:
        raise UsageError(str(exc)) from None
    for version in versions:
        valuesets.require(version, vs)
    return vs


def cmd_evaluate(args: argparse.Namespace) -> int:
    info = _measure(args.measure)
    period = parse_period(args.period)
    version = _version(args.measure, period, args.version)
    if args.source == "db":
        from tandem.measures import run

        vs = _db_valuesets(args, [version], version.year)
        source = run.engine_source(args.engine, user=None)
        results = definitions.evaluate(
            info.key,
            source.pop("tables"),
            period,
            version=version.id,
            engine=args.engine,
            valuesets=vs,
            label_of=run.label_of(info.key),
            **source,
        )
    else:
        vs = _valuesets(args, [version], version.year)
        tables = load_source(args.source, skip_invalid=args.skip_invalid)
        results = definitions.evaluate(
            info.key, tables, period, version=version.id, engine=args.engine, valuesets=vs
        )
    # Results of Part 2 data read from Tandem's database carry the 42 CFR 2.32 notice.
    from tandem.consent import redisclosure

    part2 = {str(r["id"]) for r in results if r.pop("label", None) == redisclosure.PART2}
    if args.format == "json":
        sys.stdout.buffer.write(_json(results, version, period, part2=bool(part2)) + b"\n")
    elif args.format == "csv":
        sys.stdout.write((redisclosure.csv_comment() if part2 else "") + _csv(results))
    else:
        sys.stdout.buffer.write(_measure_report(results, version, period, part2=part2) + b"\n")
    return 0


def cmd_conformance(args: argparse.Namespace) -> int:
    info = _measure(args.measure)
    period = parse_period(args.period)
    version = _version(args.measure, period, args.version)
    evaluate = definitions.conformance_evaluator(
        info.key,
        version=version.id,
        engine=args.engine,
        valuesets=_valuesets(args, [version], version.year),
    )
    report = conformance.run(info.key, args.cases_dir, evaluate, period=period)
    for m in report.mismatches:
        print(m.line())
    for e in report.errors:
        print(f"error: {e}")
    for m in report.known:
        reason = conformance.KNOWN_DECK_DEFECTS[info.key][m.case]
        print(f"known deck defect: {m.line()} ({reason})")
    print(f"{version.id} on {args.engine}: {report.summary()}")
    return 0 if report.failed == 0 else 1


def cmd_run(args: argparse.Namespace) -> int:
    from django.db import transaction
    from rich.progress import Progress

    from tandem.measures import run

    if not args.all and not args.measures and not args.version:
        raise UsageError("name measures to run, or --all")
    period = parse_period(args.period)
    names = _run_names(args, period)
    # Versions first (a period no version covers is named even with no value sets anywhere),
    # then every value set they read, before anything runs.
    chosen = run.choose_versions(names, period, skip_unversioned=args.all)
    vs = _db_valuesets(args, [v for _, v in chosen if not isinstance(v, str)], period[0].year)
    with transaction.atomic(), Progress(transient=True) as bar:
        task = bar.add_task("measures", total=len(names))
        outcomes = run.run_measures(
            by=None,
            keys=names,
            period=period,
            engine=args.engine,
            store=args.store,
            valuesets=vs,
            skip_unversioned=args.all,
            advance=lambda key: bar.update(task, advance=1, description=key),
        )
    for o in outcomes:
        if o.skipped:
            print(f"{o.measure:8} skipped: {o.skipped}")
            continue
        groups = "; ".join(
            f"{g}: IP {c.get('initial-population', 0)} DEN {c.get('denominator', 0)} "
            f"NUM {c.get('numerator', 0)}"
            for g, c in o.counts.items()
        )
        stored = f" (stored as run {o.run_id})" if o.run_id else ""
        print(f"{o.measure:8} {o.version:14} {o.patients} patients — {groups}{stored}")
    return 0


def _run_names(args: argparse.Namespace, period: tuple[date, date]) -> list[str]:
    """Measure keys (version chosen by period) or version ids (pinned) for ``measure run``:
    the measures named (or all), each ``--version`` pinning its measure's version."""
    names = {key: key for key in (definitions.REGISTRY if args.all else ())}
    for name in args.measures:
        info = _measure(name)
        pinned = [v.id for v in info.versions if v.id.upper() == name.upper()]
        names[info.key] = pinned[0] if pinned else info.key
    for vid in args.version or ():
        try:
            version = definitions.find_version(vid)
        except KeyError:
            raise UsageError(f"unknown measure version {vid!r}") from None
        named = names.get(version.key, version.key)
        if named.upper() not in (version.key, version.id.upper()):
            raise UsageError(f"two versions of {version.key} asked for: {named} and {version.id}")
        names[version.key] = version.id
    for key, name in names.items():
        if name != key:  # a pinned version
            _note_outside(definitions.find_version(name), period)
    return list(names.values())


def register(subparsers: Any) -> None:
    """Add ``measure`` and its subcommands to the top-level ``tandem`` parser."""
    measure = subparsers.add_parser(
        "measure", help="quality measures: list, evaluate, conformance, run"
    )
    sub = measure.add_subparsers(dest="measure_command", metavar="SUBCOMMAND", required=True)

    p = sub.add_parser("list", help="list the measures Tandem can evaluate")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("evaluate", help="evaluate one measure over a data source")
    p.add_argument("measure", metavar="MEASURE", help="measure id, e.g. CMS2")
    p.add_argument("--period", default=DEFAULT_PERIOD, help="START..END (inclusive dates)")
    p.add_argument("--source", required=True, help="fhir:PATH | parquet:DIR | db")
    p.add_argument("--version", metavar="VERSION", help=VERSION_HELP)
    p.add_argument("--engine", choices=ENGINES, default="duckdb")
    p.add_argument("--format", choices=FORMATS, default="json")
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="report each invalid FHIR resource (or line, or file) on stderr and load the rest",
    )
    p.add_argument("--valuesets", action="append", metavar="DIR", help=VALUESETS_HELP)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("conformance", help="run a measure against a deck of expected results")
    p.add_argument("--measure", required=True, help="measure id, e.g. CMS159")
    p.add_argument("--period", default=DEFAULT_PERIOD, help="START..END (inclusive dates)")
    p.add_argument("--version", metavar="VERSION", help=VERSION_HELP)
    p.add_argument("--engine", choices=ENGINES, default="duckdb")
    p.add_argument("--valuesets", action="append", metavar="DIR", help=VALUESETS_HELP)
    p.add_argument("cases_dir", metavar="CASES_DIR", help="folder with one sub-folder per case")
    p.set_defaults(func=cmd_conformance)

    p = sub.add_parser(
        "run", help="compute measures on the operational database; --store keeps the results"
    )
    p.add_argument("measures", nargs="*", metavar="MEASURE", help="measure ids (or --all)")
    p.add_argument("--all", action="store_true", help="every measure Tandem knows")
    p.add_argument("--period", default=DEFAULT_PERIOD, help="START..END (inclusive dates)")
    p.add_argument(
        "--version",
        action="append",
        metavar="VERSION",
        help="run this measure version (repeatable; e.g. --version CMS122v13)",
    )
    p.add_argument("--engine", choices=ENGINES, default="duckdb")
    p.add_argument("--store", action="store_true", help="store patient-level results")
    p.add_argument("--valuesets", action="append", metavar="DIR", help=VALUESETS_HELP)
    p.set_defaults(func=cmd_run)

    from tandem.measures import cli_export

    cli_export.register(sub)
