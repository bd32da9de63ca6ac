"""Bulk writers for the synthetic population: Arrow tables in, database rows out.

The writer (:mod:`tandem.synth.database`) turns each generator chunk into Arrow tables whose
columns are exactly a model's database columns, then hands them to a :class:`Sink`:

* :class:`PostgresSink` streams them with ``COPY … FROM STDIN (FORMAT csv)`` (psycopg 3
  ``cursor.copy``), the CSV made by Arrow's C++ writer in slices of :data:`BATCH` rows, so no
  Python object is made per row. The foreign keys of the tables it fills are dropped for the
  load and added back, *validated*, before the transaction commits (one join per constraint
  instead of one trigger call per row: ~20x faster, and every row is still checked — a bad
  reference fails the whole load). Indexes are kept. Dropping a foreign key takes an exclusive
  lock on both its tables until the commit, so run large loads while the server is idle.
* :class:`InsertSink` (SQLite, the demo) sends the same slices through ``executemany``.

Ids of the rows other rows point at (patients, encounters, medication orders) are allocated
up front — from the table's sequence on PostgreSQL, past the largest id on SQLite — so the
writer never reads back what it wrote. Check constraints (sensitivity labels…) apply as ever.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.db import connection, models
from django.utils import timezone

BATCH = 50_000  # rows per COPY slice / executemany batch: bounds the Python-side memory
INSERT_BATCH = 5_000


def frame(model: type[models.Model], columns: dict[str, Any], n: int) -> pa.Table:
    """A table with every concrete column of ``model`` (by ``attname``), in model order.

    ``columns`` maps attnames to Arrow arrays (or one scalar for every row); a missing column
    takes the field's default (``auto_now(_add)``: now; otherwise its default or NULL).
    The primary key is included only when given. Code-list displays are cut to the column.
    """
    now = timezone.now()
    names, arrays = [], []
    for f in model._meta.concrete_fields:
        if f.attname in columns:
            value = columns[f.attname]
        elif f.primary_key:
            continue
        elif getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False):
            value = now
        elif f.has_default():
            value = f.get_default()
        else:
            value = None
        arr = _array(value, n)
        if isinstance(f, models.CharField) and f.name.endswith(("display", "value_text")):
            arr = pc.utf8_slice_codeunits(arr, 0, f.max_length or 0)  # CPT/VSAC displays
        if isinstance(f, models.JSONField) and not pa.types.is_string(arr.type):
            arr = pa.array([None if v is None else f.get_prep_value(v) for v in arr.to_pylist()])
        names.append(f.column)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, names=names)


def _array(value: Any, n: int) -> pa.Array:
    if isinstance(value, pa.ChunkedArray):
        return value.combine_chunks()
    if isinstance(value, pa.Array):
        return value
    if value is None:
        return pa.nulls(n)
    if isinstance(value, dict | list):
        import json

        return pa.array([json.dumps(value)] * n, pa.string())
    return pa.array([value] * n)


class Sink:
    """Where the writer's tables go; one per load, inside the load's transaction."""

    def prepare(self, models_: Sequence[type[models.Model]]) -> None:
        """Called once before the first write, with every model the load will fill."""

    def ids(self, model: type[models.Model], n: int) -> pa.Array:
        raise NotImplementedError

    def write(self, model: type[models.Model], table: pa.Table) -> int:
        raise NotImplementedError

    def finish(self) -> None:
        """Called once after the last write, still inside the transaction."""


class InsertSink(Sink):
    """Batched ``executemany`` (SQLite): values in the text forms Django stores there."""

    def __init__(self) -> None:
        self.next_id: dict[str, int] = {}

    def ids(self, model: type[models.Model], n: int) -> pa.Array:
        table = model._meta.db_table
        if table not in self.next_id:
            self.next_id[table] = self._last_id(table) + 1
        first = self.next_id[table]
        self.next_id[table] = first + n
        return pa.array(range(first, first + n), pa.int64())

    def _last_id(self, table: str) -> int:
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX(id) FROM {qn(table)}")  # noqa: S608 (model's table)
            last = cursor.fetchone()[0] or 0
            if connection.vendor == "sqlite":  # AUTOINCREMENT never reuses a deleted id
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                row = cursor.fetchone()
                last = max(last, row[0] if row else 0)
        return int(last)

    def write(self, model: type[models.Model], table: pa.Table) -> int:
        if not table.num_rows:
            return 0
        qn = connection.ops.quote_name
        sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 (names from the model)
            qn(model._meta.db_table),
            ", ".join(qn(c) for c in table.column_names),
            ", ".join(["%s"] * table.num_columns),
        )
        with connection.cursor() as cursor:
            for batch in table.to_batches(max_chunksize=INSERT_BATCH):
                cols = [_sqlite_value(c).to_pylist() for c in batch.columns]
                cursor.executemany(sql, list(zip(*cols, strict=True)))
        return table.num_rows


def _sqlite_value(col: pa.Array) -> pa.Array:
    """Datetimes as Django's SQLite text (UTC, ``YYYY-MM-DD HH:MM:SS``), dates as ISO text."""
    if pa.types.is_timestamp(col.type):
        if col.type.tz is not None:
            col = col.cast(pa.timestamp("us"))
        return pc.strftime(col.cast(pa.timestamp("s"), safe=False), "%Y-%m-%d %H:%M:%S")
    if pa.types.is_date(col.type):
        return col.cast(pa.string())
    return col


class PostgresSink(Sink):
    """``COPY FROM STDIN`` in CSV; foreign keys dropped for the load and re-added validated.

    With ``defer_indexes`` (a load at least as large as what the tables hold), the plain
    (non-unique) indexes are dropped too and built again at the end — one sort per index
    instead of one insertion per row; primary keys and unique indexes stay in place.
    """

    def __init__(self, *, defer_indexes: bool = False) -> None:
        self.dropped: list[tuple[str, str, str]] = []
        self.indexes: list[tuple[str, str]] = []
        self.tables: list[str] = []
        self.defer_indexes = defer_indexes

    def prepare(self, models_: Sequence[type[models.Model]]) -> None:
        self.tables = [m._meta.db_table for m in models_]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) "
                "ORDER BY 1, 2",
                [self.tables],
            )
            self.dropped = list(cursor.fetchall())
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # settle what is pending first
            for table, name, _ in self.dropped:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            if self.defer_indexes:
                cursor.execute(
                    "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                    "WHERE indrelid = ANY(%s::regclass[]) AND NOT indisunique AND NOT indisprimary "
                    "ORDER BY 1",
                    [self.tables],
                )
                self.indexes = list(cursor.fetchall())
                for name, _ in self.indexes:
                    cursor.execute(f"DROP INDEX {name}")

    def ids(self, model: type[models.Model], n: int) -> pa.Array:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [model._meta.db_table, n],
            )
            return pa.array([r[0] for r in cursor.fetchall()], pa.int64())

    def write(self, model: type[models.Model], table: pa.Table) -> int:
        if not table.num_rows:
            return 0
        qn = connection.ops.quote_name
        sql = "COPY {} ({}) FROM STDIN (FORMAT csv)".format(
            qn(model._meta.db_table), ", ".join(qn(c) for c in table.column_names)
        )
        table = _postgres_table(table)
        options = pacsv.WriteOptions(include_header=False)
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for batch in table.to_batches(max_chunksize=BATCH):
                buf = io.BytesIO()
                pacsv.write_csv(batch, buf, options)
                copy.write(buf.getbuffer())
        return table.num_rows

    def finish(self) -> None:
        with connection.cursor() as cursor:
            for _, definition in self.indexes:
                cursor.execute(definition)
            for table, name, definition in self.dropped:  # validates every row
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for table in self.tables:  # fresh planner statistics for the pages and the refresh
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def _postgres_table(table: pa.Table) -> pa.Table:
    """Naive timestamps are UTC: mark them so, and the CSV carries the ``Z``."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            col = table.column(i).cast(pa.timestamp("us", tz="UTC"))
            table = table.set_column(i, field.name, col)
    return table


def sink(*, defer_indexes: bool = False) -> Sink:
    """The sink for this database; ``defer_indexes``: see :class:`PostgresSink`."""
    if connection.vendor == "postgresql":
        return PostgresSink(defer_indexes=defer_indexes)
    return InsertSink()
