"""``tandem measure export``: stored runs as a QRDA Category III file or FHIR MeasureReports.

    tandem measure export --format qrda3 --period 2026-01-01..2026-12-31 \\
        --tin 123456789 --cehrt-id 0015HQR8VC3TF2B [--program MIPS_GROUP] [--npi N] > qrda3.xml
    tandem measure export --format qrda3 --run 12 --run 13 ... --out qrda3.xml
    tandem measure export --format measurereport --period 2026-01-01..2026-12-31

With ``--period`` and no ``--run``, the latest stored run of each CMS eCQM for exactly that
period; ``--run ID`` (repeatable) picks runs. The counts are read from the stored patient-level
results through ``consent.gate.population_scope`` (a population read for operations, audited
once) and leave as aggregates only. Bad input — unknown run ids, runs of different periods, two
runs of one measure, a run of a measure with no eCQM version, nothing selected, a TIN, NPI or
CEHRT id CMS would refuse — is a one-line :class:`UsageError` (exit status 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from tandem.core.lib.cli import UsageError
from tandem.measures import definitions, qrda
from tandem.measures.definitions.versions import MeasureVersion, fmt_period

FORMATS = ("qrda3", "measurereport")
PERIOD_HELP = "START..END: the latest run of each CMS eCQM for exactly this period"


def register(sub: Any) -> None:
    """Add ``export`` to the ``tandem measure`` subcommands."""
    p = sub.add_parser(
        "export", help="stored runs as a QRDA Category III file (CMS) or FHIR MeasureReports"
    )
    p.add_argument("--format", choices=FORMATS, default="qrda3")
    p.add_argument("--period", help=PERIOD_HELP)
    p.add_argument(
        "--run", action="append", type=int, metavar="ID", help="a stored run (repeatable)"
    )
    p.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    p.add_argument("--program", default=qrda.DEFAULT_PROGRAM, choices=list(qrda.PROGRAMS),
                   help=f"CMS program (default {qrda.DEFAULT_PROGRAM})")  # fmt: skip
    p.add_argument("--tin", default="", help="the practice's Taxpayer Identification Number")
    p.add_argument("--npi", default="", help="the clinician's NPI (individual reporting)")
    p.add_argument("--cehrt-id", default="", help="the CMS EHR Certification ID (15 characters)")
    p.add_argument("--organization", default="Tandem", help="the reporting organization's name")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from django.db import transaction

    from tandem.measures import queries

    submitter = qrda.Submitter(
        program=args.program,
        tin=args.tin,
        npi=args.npi,
        cehrt_id=args.cehrt_id,
        organization=args.organization,
    )
    if args.format == "qrda3":
        submitter.check()  # before anything is read
    with transaction.atomic():
        runs = select_runs(run_ids=args.run or [], period=args.period)
        period = runs[0]["period"]
        tallies = queries.export_aggregates(
            user=None,
            run_ids=[r["id"] for r in runs],
            detail=f"measure export {args.format} runs={','.join(str(r['id']) for r in runs)}",
        )
    results = [_results(r, tallies.get(r["id"], {})) for r in runs]
    if args.format == "qrda3":
        out = qrda.document(results, period, submitter)
    else:
        out = measure_reports(results, period)
    if args.out:
        Path(args.out).write_bytes(out)
    else:
        sys.stdout.buffer.write(out)
    return 0


def select_runs(*, run_ids: list[int], period: str | None) -> list[dict[str, Any]]:
    """The runs to export (``id``, ``version``, ``period``), checked: one period, one run per
    measure, each of a version with a published eCQM identifier. UsageError otherwise."""
    from tandem.measures.cli import parse_period
    from tandem.measures.models import MeasureRun

    wanted = parse_period(period) if period else None
    fields = ("pk", "measure", "version", "period_start", "period_end")
    if run_ids:
        found = {r[0]: r for r in MeasureRun.objects.filter(pk__in=run_ids).values_list(*fields)}
        missing = [str(i) for i in run_ids if i not in found]
        if missing:
            raise UsageError(f"unknown run id {', '.join(missing)}")
        rows = [found[i] for i in dict.fromkeys(run_ids)]
    elif wanted:
        rows = _latest(wanted, fields)
        if not rows:
            raise UsageError(f"no stored run of a CMS eCQM for {fmt_period(wanted)}")
    else:
        raise UsageError("nothing to export: name runs with --run ID or a --period")
    runs = [
        {"id": pk, "measure": m, "version": _version(pk, v), "period": (start, end)}
        for pk, m, v, start, end in rows
    ]
    _check_one_period(runs, wanted)
    _check_one_per_measure(runs)
    return runs


def _latest(period, fields) -> list[tuple]:
    """The newest run of each measure with an eCQM version, over exactly ``period``."""
    from tandem.measures.models import MeasureRun

    newest: dict[str, tuple] = {}
    stored = MeasureRun.objects.filter(period_start=period[0], period_end=period[1])
    for row in stored.order_by("-finished_at", "-pk").values_list(*fields):
        if row[1] not in newest and _ecqm(row[2]) is not None:
            newest[row[1]] = row
    return sorted(newest.values(), key=lambda r: r[0])


def _ecqm(version_id: str) -> MeasureVersion | None:
    try:
        version = definitions.find_version(version_id)
    except KeyError:
        return None
    return version if version.library in qrda.published() else None


def _version(run_id: int, version_id: str) -> MeasureVersion:
    version = _ecqm(version_id)
    if version is None:
        raise UsageError(
            f"run {run_id} is of {version_id}, which has no eCQM version identifier: "
            "QRDA III and MeasureReport export report CMS eCQMs only"
        )
    return version


def _check_one_period(runs: list[dict[str, Any]], wanted) -> None:
    periods = {r["period"] for r in runs} | ({wanted} if wanted else set())
    if len(periods) > 1:
        listing = "; ".join(
            f"run {r['id']} {fmt_period(r['period'])}"
            for r in runs
            if r["period"] != runs[0]["period"] or r is runs[0]
        )
        asked = f" (--period {fmt_period(wanted)})" if wanted else ""
        raise UsageError(
            f"runs of different periods{asked}: {listing}; one file reports one period"
        )


def _check_one_per_measure(runs: list[dict[str, Any]]) -> None:
    seen: dict[str, int] = {}
    for r in runs:
        key = r["version"].key
        if key in seen:
            raise UsageError(f"runs {seen[key]} and {r['id']} are both {key}: export one run each")
        seen[key] = r["id"]


def _results(run: dict[str, Any], tallies: dict[str, dict[str, qrda.Tally]]) -> qrda.MeasureResults:
    version: MeasureVersion = run["version"]
    groups = {g: tallies.get(g, {}) for g in _group_ids(version, tallies)}
    return qrda.MeasureResults(run["id"], version.id, version.library, groups)


def _group_ids(version: MeasureVersion, tallies: dict[str, Any]) -> list[str]:
    """Tandem's group ids in the measure's order (the published groups' order)."""
    if version.implemented:
        return version.group_ids
    return sorted(tallies)


def _population(code: str, count: int) -> dict[str, Any]:
    system = "http://terminology.hl7.org/CodeSystem/measure-population"
    return {"code": {"coding": [{"system": system, "code": code}]}, "count": count}


def measure_reports(results: list[qrda.MeasureResults], period) -> bytes:
    """A FHIR Bundle with one summary MeasureReport per run (aggregates only)."""
    span = {"start": period[0].isoformat(), "end": period[1].isoformat()}
    entries = []
    for r in results:
        version = definitions.find_version(r.version_id)
        facts = qrda.published()[r.library]
        groups = []
        for tallies, group in zip(r.groups.values(), facts["groups"], strict=False):
            groups.append(
                {
                    "id": group["id"],
                    "population": [
                        {"id": pid, **_population(code, tallies.get(code, qrda.Tally()).count)}
                        for code, pid in group["populations"].items()
                    ],
                    **_score(tallies),
                }
            )
        report = {
            "resourceType": "MeasureReport",
            "id": f"{version.key}-run-{r.run_id}",
            "status": "complete",
            "type": "summary",
            "measure": version.canonical,
            "period": span,
            "group": groups,
        }
        entries.append({"fullUrl": f"urn:tandem:MeasureReport/{report['id']}", "resource": report})
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    return orjson.dumps(bundle, option=orjson.OPT_INDENT_2) + b"\n"


def _score(tallies: dict[str, qrda.Tally]) -> dict[str, Any]:
    rate = qrda.performance_rate(tallies)
    return {} if rate is None else {"measureScore": {"value": round(rate, 6)}}
