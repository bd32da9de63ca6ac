"""FHIR R4 files -> the analytic tables, streaming with bounded memory.

>>> result = load_fhir("path/to/dir-or-file.ndjson")
>>> result.tables["observations"]          # pyarrow.Table conforming to tandem.measures.schema
>>> result.skipped                         # Counter: resource type -> count not loaded

Rows are gathered per table in column lists and turned into Arrow record batches every
``batch_rows`` rows, so memory holds one batch of Python objects plus the (compact) Arrow
tables. Two things need another resource: Encounter.diagnosis sets ``encounter_id``/``rank`` on
the Conditions it references (applied at the end, by id), and a ``medicationReference`` to a
separate Medication that has not been read yet (such requests wait until the end).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tandem.importers.fhir.elements import MissingElement, codings
from tandem.importers.fhir.flatten import FLATTENERS, MEDICATION_USERS, Context, needs_medication
from tandem.importers.fhir.reader import InvalidResource, read
from tandem.measures import schema


@dataclass
class LoadResult:
    """The tables plus what was not loaded."""

    tables: dict[str, pa.Table]
    resources: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    invalid: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.resources} resources loaded"]
        if self.skipped:
            parts.append(
                "skipped " + ", ".join(f"{n} {t}" for t, n in sorted(self.skipped.items()))
            )
        if self.invalid:
            parts.append(f"{len(self.invalid)} invalid")
        return "; ".join(parts)


class _TableBuilder:
    """Column lists for one table, turned into a record batch every ``batch_rows`` rows and
    kept (``batches``) or handed to ``sink`` (streaming to a file)."""

    def __init__(
        self,
        table: str,
        batch_rows: int,
        sink: Callable[[pa.RecordBatch], None] | None = None,
    ) -> None:
        self.table = table
        self.sink = sink
        self.schema = schema.arrow_schema(table)
        self.names = self.schema.names
        self.batch_rows = batch_rows
        self.cols: dict[str, list[Any]] = {n: [] for n in self.names}
        self.n = 0
        self.batches: list[pa.RecordBatch] = []

    def add(self, row: dict[str, Any]) -> None:
        get = row.get
        for name, col in self.cols.items():
            col.append(get(name))
        self.n += 1
        if self.n >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if not self.n:
            return
        arrays = [pa.array(self.cols[f.name], type=f.type) for f in self.schema]
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        if self.sink is not None:
            self.sink(batch)
        else:
            self.batches.append(batch)
        self.cols = {n: [] for n in self.names}
        self.n = 0

    def table_(self) -> pa.Table:
        self.flush()
        if not self.batches:
            return schema.empty(self.table)
        return schema.conform(self.table, pa.Table.from_batches(self.batches, self.schema))


def _apply_diagnoses(table: pa.Table, diagnoses: dict[str, tuple[str, int | None]]) -> pa.Table:
    """Set ``encounter_id``/``rank`` on the conditions an Encounter.diagnosis references."""
    if not diagnoses or table.num_rows == 0:
        return table
    ids = pa.array(list(diagnoses), pa.string())
    encounters = pa.array([v[0] for v in diagnoses.values()], pa.string())
    ranks = pa.array([v[1] for v in diagnoses.values()], pa.int32())
    idx = pc.index_in(table.column("condition_id"), value_set=ids)
    hit = pc.is_valid(idx)
    for name, values in (("encounter_id", encounters), ("rank", ranks)):
        new = pc.if_else(hit, pc.take(values, idx), table.column(name))
        table = table.set_column(table.schema.get_field_index(name), name, new)
    return table


def _add_years(birth: dt.date, years: float) -> dt.datetime:
    whole, months = int(years), int(round((years - int(years)) * 12))
    total = birth.year * 12 + birth.month - 1 + whole * 12 + months
    y, m = divmod(total, 12)
    day = min(birth.day, calendar.monthrange(y, m + 1)[1])
    return dt.datetime(y, m + 1, day)


def _apply_ages(
    conditions: pa.Table,
    patients: pa.Table,
    ages: dict[str, tuple[str, float | None, float | None]],
) -> pa.Table:
    """onsetAge / abatementAge -> timestamps from the patient's birth date (QICoreCommon):
    onset = birth + age; abatement = the last moment before birth + (age + 1 year)."""
    if not ages or conditions.num_rows == 0:
        return conditions
    births = dict(
        zip(
            patients.column("patient_id").to_pylist(),
            patients.column("birth_date").to_pylist(),
            strict=True,
        )
    )
    fixes: dict[str, tuple[dt.datetime | None, dt.datetime | None]] = {}
    for cid, (pid, onset_age, abatement_age) in ages.items():
        birth = births.get(pid)
        if birth is None:
            continue
        onset = _add_years(birth, onset_age) if onset_age is not None else None
        abatement = (
            _add_years(birth, abatement_age + 1) - dt.timedelta(microseconds=1)
            if abatement_age is not None
            else None
        )
        fixes[cid] = (onset, abatement)
    if not fixes:
        return conditions
    ids = pa.array(list(fixes), pa.string())
    idx = pc.index_in(conditions.column("condition_id"), value_set=ids)
    for pos, name in ((0, "onset"), (1, "abatement")):
        values = pa.array([v[pos] for v in fixes.values()], pa.timestamp("us"))
        new = pc.coalesce(pc.take(values, idx), conditions.column(name))
        conditions = conditions.set_column(conditions.schema.get_field_index(name), name, new)
    return conditions


def _stream(
    paths: str | Path | Iterable[str | Path],
    builders: dict[str, _TableBuilder],
    result: LoadResult,
    skip_invalid: bool,
    progress: Callable[[int], None] | None,
    resolve_medication_references: bool,
) -> Context:
    """Read, flatten and hand every row to its table builder; returns the cross-resource
    context (Encounter.diagnosis links, condition ages) still to apply."""
    ctx = Context(resolve_medication_references=resolve_medication_references)
    waiting: list[tuple[dict[str, Any], str]] = []

    def flatten(res: dict[str, Any], where: str) -> None:
        fn = FLATTENERS[res["resourceType"]]
        try:
            rows = list(fn(res, ctx))
        except MissingElement as exc:
            msg = f"{where}: {exc}"
            if not skip_invalid:
                raise InvalidResource(msg) from None
            result.invalid.append(msg)
            return
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            msg = f"{where}: malformed {res.get('resourceType')} ({type(exc).__name__}: {exc})"
            if not skip_invalid:
                raise InvalidResource(msg) from None
            result.invalid.append(msg)
            return
        for table, row in rows:
            builders[table].add(row)
        result.resources += 1

    stream = read(paths, skip_invalid=skip_invalid, errors=result.invalid)
    for seen, (res, where) in enumerate(stream, start=1):
        rtype = res.get("resourceType")
        if rtype == "Medication":
            if res.get("id"):
                ctx.medications[str(res["id"])] = codings(res.get("code"))
            result.resources += 1
        elif rtype in FLATTENERS:
            if rtype in MEDICATION_USERS and needs_medication(res, ctx):
                waiting.append((res, where))
            else:
                flatten(res, where)
        else:
            result.skipped[str(rtype)] += 1
        if progress and seen % 10_000 == 0:
            progress(seen)
    for res, where in waiting:
        flatten(res, where)
    for builder in builders.values():
        builder.flush()
    return ctx


def load_fhir(
    paths: str | Path | Iterable[str | Path],
    *,
    skip_invalid: bool = False,
    batch_rows: int = 50_000,
    progress: Callable[[int], None] | None = None,
    resolve_medication_references: bool = True,
) -> LoadResult:
    """Read every FHIR resource under ``paths`` into the analytic tables.

    Invalid input (unparseable JSON, a resource without a required element) raises
    :class:`tandem.core.lib.cli.UsageError` with one line naming file (and line for NDJSON);
    with ``skip_invalid=True`` it is recorded in ``result.invalid`` and loading goes on.
    ``progress`` is called with the number of resources read, every 10,000 resources.
    ``resolve_medication_references=False`` leaves a medication given as a reference (to a
    contained or separate Medication) without a code, as the 2024 eCQM logic reads it.
    """
    builders = {t: _TableBuilder(t, batch_rows) for t in schema.TABLES}
    result = LoadResult(tables={})
    ctx = _stream(paths, builders, result, skip_invalid, progress, resolve_medication_references)
    result.tables = {t: b.table_() for t, b in builders.items()}
    result.tables["conditions"] = _apply_ages(
        _apply_diagnoses(result.tables["conditions"], ctx.diagnoses),
        result.tables["patients"],
        ctx.ages,
    )
    return result


def write_parquet(
    paths: str | Path | Iterable[str | Path],
    out_dir: str | Path,
    *,
    skip_invalid: bool = False,
    batch_rows: int = 10_000,
    progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """Like :func:`load_fhir`, but stream every table to ``out_dir/<table>.parquet``.

    Memory stays bounded whatever the input size: one batch per table, the Medication lookup,
    the condition links from Encounter.diagnosis, and the requests waiting for a Medication
    that comes later. ``result.tables`` is empty; read the files (``--source parquet:DIR``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    writers: dict[str, pq.ParquetWriter] = {}

    def sink_for(table: str) -> Callable[[pa.RecordBatch], None]:
        name = "conditions.partial" if table == "conditions" else table

        def write(batch: pa.RecordBatch) -> None:
            if table not in writers:
                writers[table] = pq.ParquetWriter(out / f"{name}.parquet", batch.schema)
            writers[table].write_batch(batch)

        return write

    builders = {t: _TableBuilder(t, batch_rows, sink_for(t)) for t in schema.TABLES}
    result = LoadResult(tables={})
    try:
        ctx = _stream(paths, builders, result, skip_invalid, progress, True)
    finally:
        for w in writers.values():
            w.close()
    for table in schema.TABLES:
        if table not in writers and table != "conditions":
            pq.write_table(schema.empty(table), out / f"{table}.parquet")
    patients = pq.read_table(out / "patients.parquet", columns=["patient_id", "birth_date"])
    partial = out / "conditions.partial.parquet"
    with pq.ParquetWriter(out / "conditions.parquet", schema.arrow_schema("conditions")) as w:
        if partial.exists():
            for batch in pq.ParquetFile(partial).iter_batches(batch_size=batch_rows):
                t = pa.Table.from_batches([batch])
                w.write_table(_apply_ages(_apply_diagnoses(t, ctx.diagnoses), patients, ctx.ages))
            partial.unlink()
    return result


def load(
    paths: str | Path | Iterable[str | Path], *, skip_invalid: bool = False
) -> dict[str, pa.Table]:
    """Shortcut: just the tables of :func:`load_fhir`."""
    return load_fhir(paths, skip_invalid=skip_invalid).tables


__all__ = ["LoadResult", "load", "load_fhir", "write_parquet"]
