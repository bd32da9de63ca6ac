"""Writes of measure results. Each records an audit event; none commits.

Patient-level rows are written in bulk, never one ORM object per row: ``COPY … FROM STDIN`` on
PostgreSQL, ``executemany`` batches on SQLite, with the JSON columns encoded once by orjson
(issue 10: storing 5,000 patients' results took most of 26 s row by row). The rows are the
same as an ORM ``bulk_create`` would write; the caller's transaction (``run.run_measures``
opens one per run) makes a failure leave nothing half-written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import orjson
from django.db import connection
from django.utils import timezone

from tandem.audit import services as audit
from tandem.measures.lang_results import MeasureResult, PatientResult
from tandem.measures.models import MeasurePatientResult, MeasureRun

BATCH = 2000  # rows per executemany (SQLite) or COPY write (PostgreSQL)
CHUNK = 5000  # patients turned into rows at a time (bounded memory)
COLUMNS = (
    "run_id",
    "patient_id",
    "group",
    "populations",
    "evidence",
    "reasons",
    "strata",
    "in_initial_population",
    "in_numerator",
    "sensitivity",
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _json(value: Any) -> str:
    """JSON text as Django's JSONField stores it (dates in ISO form, NaN as null)."""
    return orjson.dumps(value, default=str).decode()


def store_run(
    *,
    by: Any,
    measure: str,
    version: str,
    result: MeasureResult,
    period: tuple[dt.date, dt.date],
    started_at: dt.datetime,
    sensitivity: str = "normal",
    label_of: Callable[[PatientResult], str] | None = None,
) -> MeasureRun:
    """Store a run and one row per patient and group (the patient's place and evidence).

    ``measure`` is the measure key (CMS122), ``version`` the version evaluated (CMS122v13).
    Rows are labelled ``sensitivity``, or, given ``label_of``, each patient in an initial
    population by ``label_of(patient)`` (TANDEM-CONSENT: substance-use for SUD patients).
    """
    run = MeasureRun.objects.create(
        measure=measure,
        version=version,
        period_start=period[0],
        period_end=period[1],
        engine=result.engine,
        started_at=started_at,
        finished_at=timezone.now(),
        patients=len(result),
        summary=_jsonable([row.__dict__ for row in result.summary]),
    )
    rows = _rows(result, sensitivity, label_of)
    write = _copy if connection.vendor == "postgresql" else _insert
    written = write(run.pk, rows)
    audit.record(
        actor=by,
        entry=audit.Entry(
            "write:store_measure_run",
            "written",
            None,
            "measure_results",
            "operations",
            f"run={run.pk} measure={measure} version={version} rows={written}",
        ),
    )
    return run


Tail = tuple[Any, ...]  # a row's values after run_id and patient_id, in COLUMNS order


def _rows(
    result: MeasureResult,
    sensitivity: str,
    label_of: Callable[[PatientResult], str] | None = None,
) -> Iterator[tuple[int, Tail, bool]]:
    """``(patient_id, tail, shared)`` per patient and group, in patient order. Patients in no
    initial population all have the same tail (nothing to report but their id): it is built
    once and ``shared``; the others are built :data:`CHUNK` at a time (bounded memory)."""
    ids = result.patient_ids
    inside = result.in_some_population()
    outside = np.flatnonzero(~inside)
    shared = _tails(result.patients_at([int(outside[0])])[0], sensitivity) if outside.size else []
    for start in range(0, len(ids), CHUNK):
        stop = min(start + CHUNK, len(ids))
        built = iter(result.patients_at(np.flatnonzero(inside[start:stop]) + start))
        for i in range(start, stop):
            pid = int(ids[i])
            if inside[i]:
                patient = next(built)
                label = label_of(patient) if label_of else sensitivity
                for tail in _tails(patient, label):
                    yield pid, tail, False
            else:
                for tail in shared:
                    yield pid, tail, True


def _tails(patient: PatientResult, sensitivity: str) -> list[Tail]:
    strata = _json(patient.strata)
    return [
        (
            group,
            _json({code: int(v or 0) for code, v in populations.items()}),
            _json(patient.evidence.get(group, {})),
            _json(patient.reasons.get(group, {})),
            strata,
            bool(populations.get("initial-population")),
            bool(populations.get("numerator")),
            sensitivity,
        )
        for group, populations in patient.populations.items()
    ]


def _table() -> str:
    return connection.ops.quote_name(MeasurePatientResult._meta.db_table)


def _column_list() -> str:
    return ", ".join(connection.ops.quote_name(c) for c in COLUMNS)


def _text(value: Any) -> str:
    """A value in COPY's text format."""
    if value is True or value is False:
        return "t" if value else "f"
    text = str(value)
    if "\\" in text or "\n" in text or "\r" in text or "\t" in text:
        text = text.translate(_ESCAPES)
    return text


_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy(run_id: int, rows: Iterator[tuple[int, Tail, bool]]) -> int:
    """PostgreSQL: ``COPY … FROM STDIN`` (text format, written in blocks) in the connection's
    transaction."""
    written = 0
    lines: list[str] = []
    shared: dict[int, str] = {}  # id(tail) -> its text, for the tails many patients share
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {_table()} ({_column_list()}) FROM STDIN") as copy,
    ):
        for pid, tail, is_shared in rows:
            text = shared.get(id(tail)) if is_shared else None
            if text is None:
                text = "\t".join(_text(v) for v in tail)
                if is_shared:
                    shared[id(tail)] = text
            lines.append(f"{run_id}\t{pid}\t{text}\n")
            if len(lines) == BATCH:
                copy.write("".join(lines))
                written += len(lines)
                lines = []
        if lines:
            copy.write("".join(lines))
            written += len(lines)
    return written


def _insert(run_id: int, rows: Iterator[tuple[int, Tail, bool]]) -> int:
    """SQLite (and any other database): ``executemany`` in batches of :data:`BATCH` rows."""
    marks = ", ".join(["%s"] * len(COLUMNS))
    sql = f"INSERT INTO {_table()} ({_column_list()}) VALUES ({marks})"  # noqa: S608
    written = 0
    with connection.cursor() as cursor:
        batch: list[tuple[Any, ...]] = []
        for pid, tail, _ in rows:
            batch.append((run_id, pid, *tail))
            if len(batch) == BATCH:
                cursor.executemany(sql, batch)
                written += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            written += len(batch)
    return written
