"""FHIR R4 files -> the analytic tables, streaming with bounded memory.

>>> result = load_fhir("path/to/dir-or-file.ndjson")
>>> result.tables["observations"]          # pyarrow.Table conforming to tandem.measures.schema
>>> result.skipped                         # Counter: resource type -> count not loaded

Rows are gathered per table in column lists and turned into Arrow record batches every
``batch_rows`` rows, so memory holds one batch of Python objects plus the (compact) Arrow
tables. Two things need another resource: Encounter.diagnosis sets ``encounter_id``/``rank`` on
the Conditions it references (applied at the end, by id), and a ``medicationReference`` to a
separate Medication that has not been read yet (such requests wait until the end). Ages
(Condition onset/abatementAge, AllergyIntolerance onsetAge) become times from the patient's
birth date at the end too.
"""

from __future__ import annotations

import calendar
import datetime as dt
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tandem.core.lib.cli import UsageError
from tandem.importers.fhir.errors import KEEP, InvalidElement, InvalidInput
from tandem.importers.fhir.flatten import FLATTENERS, Context
from tandem.importers.fhir.medications import MEDICATION_USERS, medication_codes, needs_medication
from tandem.importers.fhir.reader import Place, Reader
from tandem.measures import schema


@dataclass
class LoadResult:
    """The tables plus what was not loaded."""

    tables: dict[str, pa.Table]
    resources: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    # with skip_invalid: one located line per invalid line, file or resource (the first KEEP)
    invalid: list[str] = field(default_factory=list)
    invalid_count: int = 0  # all of them

    def summary(self) -> str:
        parts = [f"{self.resources} resources loaded"]
        if self.skipped:
            parts.append(
                "skipped " + ", ".join(f"{n} {t}" for t, n in sorted(self.skipped.items()))
            )
        if self.invalid_count:
            parts.append(f"{self.invalid_count} invalid skipped")
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


def _add_years(birth: dt.date, years: float) -> dt.datetime | None:
    """``birth`` plus an age; ``None`` past the last representable day (year 9999)."""
    whole, months = int(years), int(round((years - int(years)) * 12))
    total = birth.year * 12 + birth.month - 1 + whole * 12 + months
    y, m = divmod(total, 12)
    if y > dt.MAXYEAR:
        return None
    day = min(birth.day, calendar.monthrange(y, m + 1)[1])
    return dt.datetime(y, m + 1, day)


def _births(patients: pa.Table) -> dict[str, dt.date | None]:
    return dict(
        zip(
            patients.column("patient_id").to_pylist(),
            patients.column("birth_date").to_pylist(),
            strict=True,
        )
    )


def _set_times(
    table: pa.Table,
    id_column: str,
    fixes: dict[str, tuple[dt.datetime | None, dt.datetime | None]],
    columns: tuple[str, str],
) -> pa.Table:
    """Set the two time ``columns`` of the rows whose id is in ``fixes`` (where not null)."""
    if not fixes:
        return table
    ids = pa.array(list(fixes), pa.string())
    idx = pc.index_in(table.column(id_column), value_set=ids)
    for pos, name in enumerate(columns):
        values = pa.array([v[pos] for v in fixes.values()], pa.timestamp("us"))
        new = pc.coalesce(pc.take(values, idx), table.column(name))
        table = table.set_column(table.schema.get_field_index(name), name, new)
    return table


def _apply_ages(
    conditions: pa.Table,
    patients: pa.Table,
    ages: dict[str, tuple[str, float | None, float | None]],
) -> pa.Table:
    """onsetAge / abatementAge -> timestamps from the patient's birth date (QICoreCommon):
    onset = birth + age; abatement = the last moment before birth + (age + 1 year)."""
    if not ages or conditions.num_rows == 0:
        return conditions
    births = _births(patients)
    fixes: dict[str, tuple[dt.datetime | None, dt.datetime | None]] = {}
    for cid, (pid, onset_age, abatement_age) in ages.items():
        birth = births.get(pid)
        if birth is None:
            continue
        onset = _add_years(birth, onset_age) if onset_age is not None else None
        after = _add_years(birth, abatement_age + 1) if abatement_age is not None else None
        abatement = after - dt.timedelta(microseconds=1) if after is not None else None
        fixes[cid] = (onset, abatement)
    return _set_times(conditions, "condition_id", fixes, ("onset", "abatement"))


def _apply_allergy_ages(
    allergies: pa.Table, patients: pa.Table, ages: dict[str, tuple[str, float]]
) -> pa.Table:
    """AllergyIntolerance.onsetAge -> the interval QICoreCommon's toInterval gives an Age:
    from birth + age to the last moment before birth + (age + 1 year)."""
    if not ages or allergies.num_rows == 0:
        return allergies
    births = _births(patients)
    fixes: dict[str, tuple[dt.datetime | None, dt.datetime | None]] = {}
    for aid, (pid, age) in ages.items():
        birth = births.get(pid)
        if birth is None:
            continue
        after = _add_years(birth, age + 1)
        end = after - dt.timedelta(microseconds=1) if after is not None else None
        fixes[aid] = (_add_years(birth, age), end)
    return _set_times(allergies, "allergy_id", fixes, ("onset_start", "onset_end"))


class _Problems:
    """The invalid input met so far: the first :data:`KEEP` messages and the count."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.count = 0

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.kept) < KEEP:
            self.kept.append(message)


def _label(res: dict[str, Any]) -> str:
    """``Observation/abc`` (or just the type when the id is unusable)."""
    rid = res.get("id")
    rtype = res["resourceType"]
    return f"{rtype}/{rid}" if isinstance(rid, str) and rid else rtype


def _paths_label(paths: str | Path | Iterable[str | Path]) -> str:
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        return "no input"
    return str(items[0]) if len(items) == 1 else f"{items[0]} (and {len(items) - 1} more)"


def _stream(
    paths: str | Path | Iterable[str | Path],
    builders: dict[str, _TableBuilder],
    result: LoadResult,
    skip_invalid: bool,
    progress: Callable[[int], None] | None,
    resolve_medication_references: bool,
) -> Context:
    """Read, check and flatten every resource and hand its rows to its table builder;
    returns the cross-resource context (Encounter.diagnosis links, condition ages) still to
    apply.

    Invalid input is reported with its place (``file:line: Type/id: problem``). Without
    ``skip_invalid`` the first problem stops the loading, but the reading and checking go on
    to the end so that the refusal can say how many problems there are; then
    :class:`InvalidInput` is raised. With ``skip_invalid`` the problems land in
    ``result.invalid`` and the valid resources are loaded.
    """
    ctx = Context(resolve_medication_references=resolve_medication_references)
    problems = _Problems()
    reader = Reader(paths, problems.add)
    waiting: list[tuple[dict[str, Any], str]] = []

    def invalid(res: dict[str, Any], where: str, problem: str) -> None:
        problems.add(f"{where}: {_label(res)}: {problem}")

    def flatten(res: dict[str, Any], place: Place, where: str | None = None) -> None:
        try:
            rows = list(FLATTENERS[res["resourceType"]](res, ctx))
        except InvalidElement as exc:
            invalid(res, where or reader.where(place, res), str(exc))
            return
        except (TypeError, ValueError, AttributeError, KeyError, IndexError, ArithmeticError):
            # A shape no check foresaw: still one located line, never Python's words.
            invalid(res, where or reader.where(place, res), "an element has an unexpected shape")
            return
        if problems.count and not skip_invalid:
            return  # refusing: go on checking, load nothing
        for table, row in rows:
            builders[table].add(row)
        result.resources += 1

    for seen, (res, place) in enumerate(reader, start=1):
        rtype = res["resourceType"]
        if rtype in FLATTENERS:
            if rtype in MEDICATION_USERS and needs_medication(res, ctx):
                waiting.append((res, reader.where(place, res)))
            else:
                flatten(res, place)
        elif rtype == "Medication":
            try:
                mid, codes = medication_codes(res)
            except InvalidElement as exc:
                invalid(res, reader.where(place, res), str(exc))
            else:
                ctx.medications[mid] = codes
                result.resources += 1
        else:
            result.skipped[rtype] += 1
        if progress and seen % 10_000 == 0:
            progress(seen)
    for res, where in waiting:
        flatten(res, None, where)
    result.invalid, result.invalid_count = problems.kept, problems.count
    if problems.count and not skip_invalid:
        raise InvalidInput(problems.kept, problems.count)
    if not result.resources:
        raise UsageError(_nothing_loaded(paths, reader, result))
    for builder in builders.values():
        builder.flush()
    return ctx


def _nothing_loaded(
    paths: str | Path | Iterable[str | Path], reader: Reader, result: LoadResult
) -> str:
    label = _paths_label(paths)
    if result.invalid_count:
        return f"{label}: no valid FHIR resource ({result.invalid_count} invalid)"
    if result.skipped:
        kinds = ", ".join(f"{n} {t}" for t, n in sorted(result.skipped.items()))
        return f"{label}: no resource of a type Tandem loads (skipped {kinds})"
    files = "the file is empty" if reader.files == 1 else f"its {reader.files} files are empty"
    return f"{label}: no FHIR resources ({files})"


def load_fhir(
    paths: str | Path | Iterable[str | Path],
    *,
    skip_invalid: bool = False,
    batch_rows: int = 50_000,
    progress: Callable[[int], None] | None = None,
    resolve_medication_references: bool = True,
) -> LoadResult:
    """Read every FHIR resource under ``paths`` into the analytic tables.

    Invalid input (JSON that does not parse, a resource without a required element or with
    an element of the wrong type: see ``flatten``) refuses the load: :class:`InvalidInput`
    (a :class:`tandem.core.lib.cli.UsageError`) names the first problem with its file and line
    (``data/Observation.ndjson:17: Observation/abc: code is required``) and counts them all.
    With ``skip_invalid=True`` each is recorded in ``result.invalid`` (the first 1,000;
    ``result.invalid_count`` counts them) and the valid resources are loaded. Input with
    nothing to load (an empty file, a directory without FHIR files, only invalid resources)
    raises a ``UsageError`` saying so. ``progress`` is called with the number of resources
    read, every 10,000 resources.
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
    result.tables["allergies"] = _apply_allergy_ages(
        result.tables["allergies"], result.tables["patients"], ctx.allergy_ages
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
    The files are written in a scratch folder beside ``out_dir`` and moved into it at the end:
    a refused load writes nothing.
    """
    out = Path(out_dir)
    scratch = Path(
        tempfile.mkdtemp(prefix=".tandem-fhir-", dir=out.parent if out.parent.is_dir() else None)
    )
    try:
        result, ctx = _write_tables(paths, scratch, skip_invalid, batch_rows, progress)
        _finish_tables(scratch, ctx, batch_rows)
        out.mkdir(parents=True, exist_ok=True)
        for file in sorted(scratch.iterdir()):
            shutil.move(file, out / file.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def _write_tables(
    paths: str | Path | Iterable[str | Path],
    out: Path,
    skip_invalid: bool,
    batch_rows: int,
    progress: Callable[[int], None] | None,
) -> tuple[LoadResult, Context]:
    writers: dict[str, pq.ParquetWriter] = {}

    def sink_for(table: str) -> Callable[[pa.RecordBatch], None]:
        name = f"{table}.partial" if table in FINISHED_LATER else table

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
        if table not in writers and table not in FINISHED_LATER:
            pq.write_table(schema.empty(table), out / f"{table}.parquet")
    return result, ctx


# Tables written as <table>.partial.parquet, then completed from the whole input.
FINISHED_LATER = ("conditions", "allergies")


def _finish_tables(out: Path, ctx: Context, batch_rows: int) -> None:
    """<table>.partial.parquet -> <table>.parquet: the conditions get Encounter.diagnosis and
    their ages, the allergies their onset ages."""
    patients = pq.read_table(out / "patients.parquet", columns=["patient_id", "birth_date"])

    def finish(table: str, t: pa.Table) -> pa.Table:
        if table == "conditions":
            return _apply_ages(_apply_diagnoses(t, ctx.diagnoses), patients, ctx.ages)
        return _apply_allergy_ages(t, patients, ctx.allergy_ages)

    for table in FINISHED_LATER:
        partial = out / f"{table}.partial.parquet"
        with pq.ParquetWriter(out / f"{table}.parquet", schema.arrow_schema(table)) as w:
            if partial.exists():
                for batch in pq.ParquetFile(partial).iter_batches(batch_size=batch_rows):
                    w.write_table(finish(table, pa.Table.from_batches([batch])))
                partial.unlink()


def load(
    paths: str | Path | Iterable[str | Path], *, skip_invalid: bool = False
) -> dict[str, pa.Table]:
    """Shortcut: just the tables of :func:`load_fhir`."""
    return load_fhir(paths, skip_invalid=skip_invalid).tables


__all__ = ["InvalidInput", "LoadResult", "load", "load_fhir", "write_parquet"]
