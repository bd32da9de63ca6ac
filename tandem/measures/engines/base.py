"""What every engine shares: inputs made canonical, value-set resolution, output values.

An engine computes, for every patient of the ``patients`` table, a set of named patient-level
expressions (``outputs``) and returns ``{patient_id: {name: value}}`` with canonical Python
values (``bool``, ``int``, ``float``, ``str``, ``datetime.date``, ``datetime.datetime`` or
``None``). Everything above that (population scoring, evidence, summaries) is engine-neutral.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tandem.measures import schema
from tandem.measures.lang_nodes import Expr

ValueSets = Mapping[str, frozenset[tuple[str, str]]]
Results = dict[str, dict[str, Any]]


ARROW_TYPES = {
    "bool": pa.bool_(),
    "int": pa.int64(),
    "float": pa.float64(),
    "str": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}
"""The Arrow type of each language type in engine results."""


class Engine(Protocol):
    """An engine computes the outputs for every patient.

    ``run`` returns ``{patient_id: {name: value}}``; engines that can hand over columns
    (the SQL engines) also have ``run_table``, returning the same as an Arrow table
    (``results_table``'s shape). ``evaluation`` prefers ``run_table``.
    """

    name: str

    def run(
        self,
        outputs: dict[str, Expr],
        tables: dict[str, pa.Table] | None,
        valuesets: dict[str, frozenset[tuple[str, str]]],
        params: dict[str, Any],
    ) -> Results: ...


def results_table(rows: Any, keys: list[str], outputs: Mapping[str, Expr]) -> pa.Table:
    """Engine rows ``(patient_id, value per key...)`` as an Arrow table of canonical types:
    ``patient_id`` then one column per output, sorted by ``patient_id``."""
    rows = sorted(rows, key=lambda r: str(r[0]))
    columns = {"patient_id": pa.array([str(r[0]) for r in rows], pa.string())}
    for i, key in enumerate(keys, start=1):
        dtype = outputs[key].dtype
        values = [canonical(r[i], dtype) for r in rows]
        columns[key] = pa.array(values, ARROW_TYPES[dtype])
    return mark_sorted(pa.table(columns))


def conform_results(
    table: pa.Table, keys: list[str], outputs: Mapping[str, Expr], *, sort: bool = True
) -> pa.Table:
    """An engine's Arrow result (``patient_id`` first, then the outputs in ``keys`` order)
    cast to the canonical types and (``sort``) sorted by ``patient_id``."""
    columns = {"patient_id": table.column(0).cast(pa.string())}
    for i, key in enumerate(keys, start=1):
        columns[key] = table.column(i).cast(ARROW_TYPES[outputs[key].dtype])
    out = pa.table(columns)
    return mark_sorted(out.sort_by("patient_id")) if sort else out


SORTED = {b"tandem.sorted_by": b"patient_id"}
# ``expand_rows``: the outputs of patients outside the engine's population are null
OUTSIDE_NULL = {b"tandem.outside_population": b"null"}


def mark_sorted(table: pa.Table) -> pa.Table:
    """Record that ``table`` is sorted by ``patient_id`` (``is_sorted`` reads it back)."""
    return table.replace_schema_metadata({**(table.schema.metadata or {}), **SORTED})


def is_sorted(table: pa.Table) -> bool:
    return (table.schema.metadata or {}).get(b"tandem.sorted_by") == b"patient_id"


def expand_rows(everyone: pa.Array, table: pa.Table, positions: Any = None) -> pa.Table:
    """``table`` (rows of some patients, in any order) as one row per patient of
    ``everyone`` (sorted ids), with null outputs for the patients it does not list.
    ``positions``: each row's index in ``everyone`` when already known (numpy integers)."""
    if positions is None:
        where = pc.index_in(everyone, value_set=table.column("patient_id"))
    else:
        rows = np.full(len(everyone), -1, dtype=np.int64)
        rows[np.asarray(positions, dtype=np.int64)] = np.arange(table.num_rows, dtype=np.int64)
        where = pa.array(rows, mask=rows < 0)
    columns = [everyone] + [table.column(i).take(where) for i in range(1, table.num_columns)]
    out = pa.table(columns, names=table.column_names)
    return out.replace_schema_metadata({**SORTED, **OUTSIDE_NULL})


def outside_null(table: pa.Table) -> bool:
    return (table.schema.metadata or {}).get(b"tandem.outside_population") == b"null"


def table_results(table: pa.Table) -> Results:
    """``{patient_id: {name: value}}`` from a results table."""
    names = table.column_names[1:]
    out: Results = {}
    for row in table.to_pylist():
        out[row["patient_id"]] = {k: row[k] for k in names}
    return out


def prepare_tables(
    tables: Mapping[str, pa.Table] | None, only: set[str] | None = None
) -> dict[str, pa.Table]:
    """The analytic tables (all, or ``only`` these), conformed; missing tables are empty."""
    tables = dict(tables or {})
    unknown = set(tables) - set(schema.TABLES)
    if unknown:
        raise KeyError(f"unknown analytic tables: {sorted(unknown)}")
    return {
        name: schema.conform(name, tables[name]) if name in tables else schema.empty(name)
        for name in schema.TABLES
        if only is None or name in only
    }


def valueset_key(ref: str) -> str:
    """The bare id of a value-set reference: URL tail, ``urn:oid:`` and ``|version`` removed."""
    ref = ref.strip().split("|", 1)[0].rstrip("/")
    ref = ref.rsplit("/", 1)[-1]
    return ref.removeprefix("urn:oid:")


def resolve_valuesets(
    needed: set[str], mapping: ValueSets
) -> dict[str, frozenset[tuple[str, str]]]:
    """Each referenced value set (id, OID, ``urn:oid:`` or canonical URL) -> its codes.

    An exact key wins; otherwise references and mapping keys are compared by their bare id.
    """
    by_key: dict[str, str] = {}
    for k in mapping:
        by_key.setdefault(valueset_key(k), k)
    out: dict[str, frozenset[tuple[str, str]]] = {}
    missing = []
    for ref in sorted(needed):
        key = ref if ref in mapping else by_key.get(valueset_key(ref))
        if key is None:
            missing.append(ref)
        else:
            out[ref] = frozenset(mapping[key])
    if missing:
        raise KeyError(f"value sets not provided: {missing}")
    return out


def canonical(value: Any, dtype: str) -> Any:
    """An engine's raw value as the canonical Python value of the language type."""
    if value is None:
        return None
    if dtype == "bool":
        return bool(value)
    if dtype == "int":
        return int(value)
    if dtype == "float":
        return float(value)
    if dtype == "str":
        return str(value)
    if dtype == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value)[:10])
    if dtype == "timestamp":
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=None)
        if isinstance(value, dt.date):
            return dt.datetime.combine(value, dt.time())
        return dt.datetime.fromisoformat(str(value))
    raise ValueError(dtype)
