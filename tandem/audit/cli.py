"""``tandem audit export``: the audit trail as CSV or as a FHIR AuditEvent Bundle, on stdout.

Registered under ``tandem audit`` by :mod:`tandem.core.cli` (which owns ``verify`` and
``anchor``). Run at the console, the export is audited as the system's (``audit-export``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import zoneinfo
from typing import Any

from tandem.core.lib.cli import UsageError


def _patient_id(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 2**63:
        raise argparse.ArgumentTypeError(f"expected a patient id (a whole number), got {value!r}")
    return int(value)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def register(audit_sub: Any) -> None:
    export = audit_sub.add_parser(
        "export",
        help="write audit events to stdout as CSV or a FHIR AuditEvent Bundle (BALP shape)",
    )
    export.add_argument("--format", choices=("csv", "fhir"), required=True, dest="fmt")
    export.add_argument("--patient", type=_patient_id, metavar="ID", help="one patient's events")
    export.add_argument(
        "--since", type=_date, metavar="DATE", help="events on or after this day (YYYY-MM-DD)"
    )
    export.set_defaults(func=cmd_audit_export)


def cmd_audit_export(args: argparse.Namespace) -> int:
    from django.conf import settings

    from tandem.audit import exports, queries
    from tandem.audit import services as audit
    from tandem.core.lib.db import require_tables

    require_tables("audit_auditevent", "audit_auditchainhead", kind="audit")
    if args.patient is not None and not queries.patient_exists(args.patient):
        raise UsageError(f"no patient with id {args.patient}")
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    filters = queries.Filters(
        patient_ids=(args.patient,) if args.patient is not None else None,
        since=dt.datetime.combine(args.since, dt.time(), tzinfo=zone) if args.since else None,
    )
    filters, count = queries.frozen(filters)
    audit.record(
        actor=None,
        entry=audit.Entry(
            "audit-export",
            "shown",
            args.patient,
            "audit-log",
            "operations",
            f"format={args.fmt} {filters.as_detail()} events={count} console",
        ),
    )
    out = sys.stdout
    try:
        for chunk in exports.chunks(args.fmt, queries.iterate(filters)):
            out.write(chunk)
        out.flush()
    except BrokenPipeError:  # `| head`: the reader has gone; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0
