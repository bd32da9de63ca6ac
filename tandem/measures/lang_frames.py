"""Rows, frames and aggregates of the measure language (see ``lang_nodes`` for scalars).

A frame is the current patient's rows of one analytic table, filtered (``Where``) and
annotated (``Annotate``); aggregates turn a frame into one value per patient or, when its
lambdas mention an outer row, one value per outer row.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from tandem.measures import schema
from tandem.measures.lang_nodes import (
    NUMERIC,
    TEMPORAL,
    Expr,
    Field,
    InValueSet,
    arrow_dtype,
    lift,
)

_ids = itertools.count(1)


class Row:
    """The current row of a frame inside a ``where``/``with_columns``/aggregate lambda."""

    frame: Frame
    var_id: int

    def __init__(self, frame: Frame) -> None:
        object.__setattr__(self, "frame", frame)
        object.__setattr__(self, "var_id", next(_ids))

    def __getattr__(self, name: str) -> Field:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.col(name)

    def col(self, name: str) -> Field:
        cols = self.frame.columns
        if name == "id":
            name = self.frame.id_column
        if name not in cols:
            raise AttributeError(
                f"{self.frame.table_name} has no column {name!r}; columns: {sorted(cols)}"
            )
        return Field(self, name, cols[name])

    def code_in(self, valueset: str) -> Expr:
        """The row's ``system``/``code`` is in the value set."""
        return InValueSet(self.col("system"), self.col("code"), valueset)

    def value_in(self, valueset: str) -> Expr:
        """The row's coded value (``value_system``/``value_code``) is in the value set."""
        return InValueSet(self.col("value_system"), self.col("value_code"), valueset)

    def reason_in(self, valueset: str) -> Expr:
        """The row's ``reason_system``/``reason_code`` is in the value set."""
        return InValueSet(self.col("reason_system"), self.col("reason_code"), valueset)

    def has_code(self, system: str, code: str) -> Expr:
        return (self.col("system") == system) & (self.col("code") == code)


TIME_COLUMNS = {
    "patients": "birth_date",
    "encounters": "start",
    "conditions": "onset",
    "observations": "effective_start",
    "medication_requests": "authored",
    "medication_dispenses": "when_handed_over",
    "medication_administrations": "effective_start",
    "procedures": "performed_start",
    "service_requests": "authored",
    "device_requests": "authored",
    "assessments": "effective",
    "coverage": "start_date",
    "claims": "billable_start",
    "tasks": "execution_end",
    "allergies": "onset_start",
    "adverse_events": "occurred",
    "care_team": "start_date",
    "consent_directives": "start_date",
}
"""The column ``Frame.evidence`` sorts by, per table."""


class Frame:
    """Rows of one analytic table for the current patient, filtered and annotated.

    Frames are immutable: ``where`` and ``with_columns`` return new frames. Aggregates
    (``exists``, ``count``, ``first_by``...) turn a frame into one value per patient, or, when
    the frame's lambdas mention an outer row, one value per outer row (correlation).
    """

    table_name: str
    columns: dict[str, str]
    id_column: str

    def where(self, predicate: Callable[[Row], Expr]) -> Frame:
        if not callable(predicate):
            raise TypeError("where() takes a lambda: frame.where(lambda r: r.code == 'X')")
        row = Row(self)
        pred = predicate(row)
        if not isinstance(pred, Expr) or pred.dtype != "bool":
            raise TypeError("where() needs a lambda returning a boolean expression")
        return Where(self, row, pred)

    def with_columns(self, **columns: Callable[[Row], Any]) -> Frame:
        row = Row(self)
        exprs = {name: lift(fn(row)) for name, fn in columns.items()}
        for name in exprs:
            if name in self.columns:
                raise ValueError(f"column {name!r} already exists")
        return Annotate(self, row, exprs)

    # --- shortcuts -----------------------------------------------------------------------
    def code_in(self, valueset: str) -> Frame:
        return self.where(lambda r: r.code_in(valueset))

    def status_in(self, *statuses: str) -> Frame:
        return self.where(lambda r: r.status.isin(statuses))

    # --- aggregates ----------------------------------------------------------------------
    def exists(self) -> Expr:
        return Exists(self)

    def count(self) -> Expr:
        """Number of distinct row ids (several codings of one resource count once)."""
        return Count(self)

    def count_distinct(self, fn: Callable[[Row], Expr]) -> Expr:
        row = Row(self)
        return Agg("count_distinct", self, row, fn(row))

    def min(self, fn: Callable[[Row], Expr]) -> Expr:
        row = Row(self)
        return Agg("min", self, row, fn(row))

    def max(self, fn: Callable[[Row], Expr]) -> Expr:
        row = Row(self)
        return Agg("max", self, row, fn(row))

    def sum(self, fn: Callable[[Row], Expr]) -> Expr:
        row = Row(self)
        return Agg("sum", self, row, fn(row))

    def first_by(self, *keys: Callable[[Row], Expr], nulls: str = "skip") -> Picked:
        """The first row by ``keys``; ``nulls``: "skip" rows whose first key is null (default),
        or sort them "first" (CQL's ascending order) or "last"."""
        return Picked(self, keys, last=False, nulls=nulls)

    def last_by(self, *keys: Callable[[Row], Expr], nulls: str = "skip") -> Picked:
        """The last row by ``keys``; ``nulls`` as for ``first_by``."""
        return Picked(self, keys, last=True, nulls=nulls)

    def evidence(
        self, name: str, *, last: bool = True, key: Callable[[Row], Expr] | None = None
    ) -> dict[str, Expr]:
        """Evidence values for the latest (or earliest) row: ``<name>_id``, ``_code``, ``_date``.

        ``key`` defaults to the table's main time column (``TIME_COLUMNS``); ``_code`` is
        present when the table has a ``code`` column.
        """
        if key is None:
            column = TIME_COLUMNS[self.table_name]

            def key(r: Row) -> Expr:
                return r.col(column)

        picked = self.last_by(key) if last else self.first_by(key)
        out = {f"{name}_id": picked.get(lambda r: r.col(self.id_column))}
        if "code" in self.columns:
            out[f"{name}_code"] = picked.get(lambda r: r.col("code"))
        out[f"{name}_date"] = picked.get(lambda r: key(r))
        return out

    def covered_days(
        self,
        start: Callable[[Row], Expr],
        end: Callable[[Row], Expr],
        *,
        within: tuple[Any, Any],
    ) -> Expr:
        """Days in ``within`` (inclusive dates) covered by the union of [start, end] per row.

        Several frames at once (dispensings and clinic injections): ``q.covered_days``.
        """
        part = CoveredPart(self, start, end)
        return CoveredDays([part], lift(within[0]), lift(within[1]))


class Table(Frame):
    def __init__(self, name: str) -> None:
        if name not in schema.TABLES:
            raise KeyError(f"unknown analytic table {name!r}; see tandem.measures.schema")
        self.table_name = name
        self.columns = {c: arrow_dtype(t) for c, t in schema.TABLES[name]}
        self.id_column = schema.TABLES[name][0][0]


class Where(Frame):
    def __init__(self, parent: Frame, row: Row, predicate: Expr) -> None:
        self.parent, self.row, self.predicate = parent, row, predicate
        self.table_name, self.columns = parent.table_name, parent.columns
        self.id_column = parent.id_column


class Annotate(Frame):
    def __init__(self, parent: Frame, row: Row, exprs: dict[str, Expr]) -> None:
        self.parent, self.row, self.exprs = parent, row, exprs
        self.table_name, self.id_column = parent.table_name, parent.id_column
        self.columns = {**parent.columns, **{n: e.dtype for n, e in exprs.items()}}


def root_table(frame: Frame) -> Table:
    while not isinstance(frame, Table):
        frame = frame.parent  # type: ignore[attr-defined]
    return frame


# --- aggregates ----------------------------------------------------------------------------


class Exists(Expr):
    dtype = "bool"

    def __init__(self, frame: Frame) -> None:
        self.frame = frame


class Count(Expr):
    dtype = "int"

    def __init__(self, frame: Frame) -> None:
        self.frame = frame


class Agg(Expr):
    def __init__(self, kind: str, frame: Frame, row: Row, value: Expr) -> None:
        self.kind, self.frame, self.row, self.value = kind, frame, row, lift(value)
        if kind == "count_distinct":
            self.dtype = "int"
        elif kind == "sum":
            if self.value.dtype not in NUMERIC:
                raise TypeError("sum needs numbers")
            self.dtype = self.value.dtype
        else:
            self.dtype = self.value.dtype


class Picked:
    """The first or last row of a frame by sort keys; read its columns as attributes.

    Rows whose first key is null are skipped unless ``nulls`` says where they sort; other
    keys sort nulls as the smallest values. Ties break on the row id, then the code (both
    ascending for ``first_by``, descending for ``last_by``), so every engine picks the same row.
    """

    def __init__(
        self,
        frame: Frame,
        keys: tuple[Callable[[Row], Expr], ...],
        last: bool,
        nulls: str = "skip",
    ) -> None:
        if not keys:
            raise TypeError("first_by/last_by need at least one sort key")
        if nulls not in ("skip", "first", "last"):
            raise ValueError('nulls must be "skip", "first" or "last"')
        self.frame, self.last, self.row, self.nulls = frame, last, Row(frame), nulls
        self.keys = tuple(lift(k(self.row)) for k in keys)

    def __getattr__(self, name: str) -> Expr:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.get(lambda r: r.col(name))

    def get(self, fn: Callable[[Row], Any]) -> Expr:
        """A value computed from the picked row (null when the frame is empty)."""
        return Pick(self, lift(fn(self.row)))

    def exists(self) -> Expr:
        return Exists(self.frame)


class Pick(Expr):
    def __init__(self, picked: Picked, value: Expr) -> None:
        self.picked, self.value, self.dtype = picked, value, value.dtype
        self.frame, self.row, self.keys, self.last = (
            picked.frame,
            picked.row,
            picked.keys,
            picked.last,
        )
        self.nulls = picked.nulls


class CoveredPart:
    """One source of day spans for ``CoveredDays``: a frame and its [start, end] dates."""

    def __init__(
        self, frame: Frame, start: Callable[[Row], Any], end: Callable[[Row], Any]
    ) -> None:
        self.frame, self.row = frame, Row(frame)
        s, e = lift(start(self.row)), lift(end(self.row))
        if s.dtype not in TEMPORAL or e.dtype not in TEMPORAL:
            raise TypeError("covered_days needs dates")
        self.start, self.end = s.date, e.date


class CoveredDays(Expr):
    """Days in [lo, hi] covered by the union of the spans of every part (one or more frames)."""

    dtype = "int"

    def __init__(self, parts: list[CoveredPart], lo: Expr, hi: Expr) -> None:
        if lo.dtype not in TEMPORAL or hi.dtype not in TEMPORAL:
            raise TypeError("covered_days needs dates")
        self.parts, self.lo, self.hi = parts, lo.date, hi.date
        first = parts[0]
        self.frame, self.row, self.start, self.end = first.frame, first.row, first.start, first.end


AGGREGATES = (Exists, Count, Agg, Pick, CoveredDays)
