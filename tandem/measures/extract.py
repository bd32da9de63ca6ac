"""Streamed extraction: a SELECT on the operational database as Arrow record batches.

Neither side ever holds a whole table (issue 10: at 100,000 patients the old ``fetchall``
made Tandem peak at 2.6 GB):

- PostgreSQL: ``COPY (SELECT …) TO STDOUT (FORMAT csv)`` read block by block and parsed by
  Arrow's streaming CSV reader into typed batches (no Python object per row; the server sends
  rows as its executor produces them, with no cursor state to keep);
- SQLite: the cursor is read ``fetchmany(BATCH_ROWS)`` at a time.

Every batch holds at most :data:`BATCH_ROWS` rows. :func:`write_duckdb` streams batches into a
DuckDB database file, where the DuckDB engine evaluates the measures (it spills to disk rather
than growing past its memory limit). Which SELECTs to run, and the consent gate in front of
them, stay in ``tandem.measures.queries``.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from tandem.measures import schema

BATCH_ROWS = 65_536  # rows per Arrow batch, both databases
CSV_BLOCK = 4 << 20  # bytes of CSV parsed at a time (PostgreSQL)


def batches(conn: Any, table: str, select: str) -> Iterator[pa.RecordBatch]:
    """The rows of ``select`` (the columns of analytic ``table``) as Arrow batches of at most
    :data:`BATCH_ROWS` rows. ``conn`` is a Django connection (PostgreSQL or SQLite)."""
    source = _copy_batches if conn.vendor == "postgresql" else _fetch_batches
    for batch in source(conn, table, select):
        yield from _bounded(batch)


def _bounded(batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
    for start in range(0, batch.num_rows, BATCH_ROWS):
        yield batch.slice(start, BATCH_ROWS)


def _copy_batches(conn: Any, table: str, select: str) -> Iterator[pa.RecordBatch]:
    target = schema.arrow_schema(table)
    conn.ensure_connection()
    with (
        conn.connection.cursor() as cursor,
        cursor.copy(f"COPY ({select}) TO STDOUT (FORMAT csv)") as copy,
    ):
        stream = _CopyStream(copy)
        if stream.empty():  # Arrow refuses an empty CSV: no rows, no batch
            return
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                column_names=target.names, use_threads=False, block_size=CSV_BLOCK
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=target,
                null_values=[""],
                strings_can_be_null=True,  # an unquoted empty field is NULL ...
                quoted_strings_can_be_null=False,  # ... a quoted one ("") an empty string
                true_values=["t"],
                false_values=["f"],
            ),
        )
        yield from reader


class _CopyStream(io.RawIOBase):
    """A read-only file over a psycopg ``Copy`` (``COPY … TO STDOUT``).

    libpq hands over one row per block; :meth:`read` joins blocks up to the size Arrow asks
    for (a ``readinto`` per row would have Arrow allocate a whole read buffer per row)."""

    def __init__(self, copy: Any) -> None:
        self._blocks = iter(copy)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def empty(self) -> bool:
        """True when the COPY sent no data at all (reads the first block ahead)."""
        if not self._pending:
            self._pending = bytes(next(self._blocks, b""))
        return not self._pending

    def read(self, size: int | None = -1) -> bytes:
        limit = size if size is not None and size >= 0 else sys.maxsize
        parts, have = [self._pending], len(self._pending)
        while have < limit:
            block = next(self._blocks, None)
            if block is None:
                break
            parts.append(bytes(block))
            have += len(block)
        data = b"".join(parts)
        self._pending = data[limit:] if have > limit else b""
        return data[:limit] if have > limit else data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _fetch_batches(conn: Any, table: str, select: str) -> Iterator[pa.RecordBatch]:
    target = schema.arrow_schema(table)
    with conn.cursor() as cursor:
        cursor.execute(select)
        while rows := cursor.fetchmany(BATCH_ROWS):
            yield to_batch(target, rows)


def to_batch(target: pa.Schema, rows: list[tuple]) -> pa.RecordBatch:
    """Database rows (SQLite's text timestamps and 0/1 booleans) as a typed Arrow batch."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in target]
    arrays = [
        pa.array([_convert(v, field.type) for v in values], type=field.type)
        for field, values in zip(target, columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def _convert(value: Any, typ: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_timestamp(typ):
        if isinstance(value, str):
            return dt.datetime.fromisoformat(value)
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if pa.types.is_date(typ) and isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    if pa.types.is_boolean(typ):
        return bool(value)
    if pa.types.is_string(typ) and not isinstance(value, str):
        return str(value)
    return value


def to_table(table: str, parts: Iterable[pa.RecordBatch]) -> pa.Table:
    """Batches of analytic ``table`` as one Arrow table (its contract schema)."""
    return pa.Table.from_batches(list(parts), schema=schema.arrow_schema(table))


def write_duckdb(con: Any, table: str, parts: Iterable[pa.RecordBatch]) -> int:
    """Create analytic ``table`` in the DuckDB connection ``con`` and append the batches one
    at a time; returns the number of rows."""
    if table not in schema.TABLES:  # the name goes into SQL: contract tables only
        raise KeyError(table)
    con.register("tandem_extract_empty", schema.empty(table))
    con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM tandem_extract_empty')  # noqa: S608
    con.unregister("tandem_extract_empty")
    rows = 0
    for batch in parts:
        con.register("tandem_extract_batch", pa.Table.from_batches([batch]))
        con.execute(f'INSERT INTO "{table}" SELECT * FROM tandem_extract_batch')  # noqa: S608
        con.unregister("tandem_extract_batch")
        rows += batch.num_rows
    return rows
