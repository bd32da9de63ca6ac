"""`tandem valuesets …`: load, list and package value sets."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _year(text: str) -> int:
    if not (text.isdigit() and 2000 <= int(text) <= 2100):
        raise argparse.ArgumentTypeError(f"not a performance year: {text!r} (e.g. 2026)")
    return int(text)


def register(sub: Any) -> None:
    parser = sub.add_parser("valuesets", help="load, list or package value sets")
    actions = parser.add_subparsers(dest="valueset_command", metavar="ACTION")
    actions.required = True
    load = actions.add_parser(
        "load",
        help="load FHIR ValueSet expansions (a file or a directory of JSON files); they take "
        "precedence over the expansions shipped with Tandem",
    )
    load.add_argument("path", type=Path)
    load.add_argument(
        "--year",
        type=_year,
        help="the performance year these expansions are for (default: any year)",
    )
    load.set_defaults(func=cmd_load)
    listing = actions.add_parser(
        "list", help="list the value sets in the database and the shipped expansions"
    )
    listing.set_defaults(func=cmd_list)
    package = actions.add_parser(
        "package",
        help="(maintainers) rebuild the expansions shipped for a performance year from a folder "
        "of FHIR ValueSet expansions: exactly the value sets that year's measure versions read",
    )
    package.add_argument("--year", type=_year, required=True)
    package.add_argument("--from", dest="source", type=Path, required=True, metavar="DIR")
    package.set_defaults(func=cmd_package)


def cmd_load(args: argparse.Namespace) -> int:
    from django.db import transaction

    from tandem.core.lib.cli import UsageError
    from tandem.terminology import services

    if not args.path.exists():
        raise UsageError(f"{args.path}: no such file or directory")
    with transaction.atomic():
        stored = services.load_expansions(by=None, path=args.path, performance_year=args.year)
    when = f" for {args.year}" if args.year else ""
    print(f"loaded {len(stored)} value sets{when} from {args.path}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from django.db.models import Count

    from tandem.terminology import packaged
    from tandem.terminology.models import ValueSet

    for vs in ValueSet.objects.annotate(n=Count("codes")).order_by("source", "name", "version"):
        for_year = str(vs.performance_year or "any")
        print(f"{vs.source:7} {vs.identifier:55} {vs.version:22} {for_year:4} {vs.n:6}  {vs.name}")
    for shipped in packaged.years():
        src = packaged.source(shipped)
        print(
            f"shipped {shipped}: {len(packaged.expansions(shipped))} value sets from "
            f"{src.get('repository', '?')} at {src.get('commit', '?')} ({src.get('licence', '?')})"
        )
    return 0


def cmd_package(args: argparse.Namespace) -> int:
    from tandem.core.lib.cli import UsageError
    from tandem.measures import definitions
    from tandem.terminology import packaged
    from tandem.terminology.expansions import ExpansionError

    versions = [
        v
        for info in definitions.REGISTRY.values()
        for v in info.versions
        if v.year == args.year and v.implemented
    ]
    if not versions:
        raise UsageError(f"no implemented measure version is for {args.year}")
    oids = {oid for v in versions for oid in v.valuesets if not oid.startswith("tandem:")}
    try:
        written, absent = packaged.build(args.year, args.source, oids)
    except ExpansionError as exc:
        raise UsageError(str(exc)) from None
    print(f"{packaged.path_for(args.year)}: {written} value sets for {len(versions)} versions")
    if absent:
        raise UsageError(f"{args.source} has no expansion of: {', '.join(absent)}")
    return 0
