"""`tandem valuesets …`: load and list value sets in the operational database."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("valuesets", help="load or list value sets")
    actions = parser.add_subparsers(dest="valueset_command", metavar="ACTION")
    actions.required = True
    load = actions.add_parser(
        "load", help="load FHIR ValueSet expansions (a file or a directory of JSON files)"
    )
    load.add_argument("path", type=Path)
    load.set_defaults(func=cmd_load)
    listing = actions.add_parser("list", help="list the value sets in the database")
    listing.set_defaults(func=cmd_list)


def cmd_load(args: argparse.Namespace) -> int:
    from django.db import transaction

    from tandem.core.lib.cli import UsageError
    from tandem.terminology import services

    if not args.path.exists():
        raise UsageError(f"{args.path}: no such file or directory")
    with transaction.atomic():
        stored = services.load_expansions(by=None, path=args.path)
    print(f"loaded {len(stored)} value sets from {args.path}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from django.db.models import Count

    from tandem.terminology.models import ValueSet

    for vs in ValueSet.objects.annotate(n=Count("codes")).order_by("source", "name"):
        print(f"{vs.source:7} {vs.identifier:55} {vs.n:6}  {vs.name}")
    return 0
