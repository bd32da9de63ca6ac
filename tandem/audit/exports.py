"""Audit events as CSV (one row per event, every stored column) and as a FHIR Bundle.

Both stream: an export of a long trail never sits in memory. A cell that a spreadsheet would
run as a formula (starting ``=``, ``+``, ``-``, ``@``, tab or carriage return) is prefixed with
an apostrophe; usernames typed at a failed sign-in end up in details.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from tandem.audit import fhir
from tandem.audit.models import AuditEvent

COLUMNS = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_username",
    "action",
    "patient_id",
    "categories",
    "purpose",
    "outcome",
    "detail",
    "prev_hash",
    "hash",
)
FORMATS = ("csv", "fhir")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "fhir": "application/fhir+json"}
EXTENSIONS = {"csv": "csv", "fhir": "json"}


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _row(event: AuditEvent) -> list[str]:
    return [
        _cell(event.pk),
        event.occurred_at.isoformat(),
        _cell(event.actor_id),
        _cell(event.actor_username),
        _cell(event.action),
        _cell(event.patient_id),
        _cell(event.categories),
        _cell(event.purpose),
        _cell(event.outcome),
        _cell(event.detail),
        event.prev_hash,
        event.hash,
    ]


def csv_chunks(events: Iterable[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for n, event in enumerate(events, start=1):
        writer.writerow(_row(event))
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def chunks(fmt: str, events: Iterable[AuditEvent]) -> Iterator[str]:
    if fmt == "csv":
        return csv_chunks(events)
    return fhir.bundle_chunks(events)
