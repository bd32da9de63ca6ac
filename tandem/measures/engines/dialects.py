"""Date rules and literals, written once per SQL dialect (DuckDB, SQLite, PostgreSQL).

The rules themselves are defined in ``engines.in_memory`` (the oracle) and pinned by
``tests/measures/spec/test_dates.py``:

- ``add_months``: clamp to the target month's last day (DuckDB and PostgreSQL interval
  arithmetic already clamp; SQLite overflows, so it is built from "start of month").
- ``age_years``: year difference minus one when (month, day) of the birthday is not reached.
- ``days_between``: difference of calendar dates.

SQLite stores dates as ``YYYY-MM-DD`` text and timestamps as ``YYYY-MM-DD HH:MM:SS.ffffff``
text (fixed width, so text order is time order).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlglot import exp

SQL_TYPES = {
    "duckdb": {
        "bool": "BOOLEAN",
        "int": "BIGINT",
        "float": "DOUBLE",
        "str": "VARCHAR",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
    },
    "postgres": {
        "bool": "BOOLEAN",
        "int": "BIGINT",
        "float": "DOUBLE PRECISION",
        "str": "TEXT",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
    },
    "spark": {
        "bool": "BOOLEAN",
        "int": "BIGINT",
        "float": "DOUBLE",
        "str": "STRING",
        "date": "DATE",
        "timestamp": "TIMESTAMP_NTZ",
    },
    "sqlite": {
        "bool": "INTEGER",
        "int": "INTEGER",
        "float": "REAL",
        "str": "TEXT",
        "date": "TEXT",
        "timestamp": "TEXT",
    },
}


_DATA_TYPES: dict[str, exp.DataType] = {}


def _cast(x: exp.Expression, to: str) -> exp.Expression:
    """``CAST(x AS to)``; the type is parsed once (``exp.cast`` copies it, and ``x``)."""
    data_type = _DATA_TYPES.get(to)
    if data_type is None:
        data_type = _DATA_TYPES[to] = exp.DataType.build(to)
    return exp.cast(x, data_type)


def _fn(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _int(n: exp.Expression) -> exp.Expression:
    return _cast(n, "INT")


def _s(value: str) -> exp.Expression:
    return exp.Literal.string(value)


def sqlite_timestamp_text(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


class Dialect:
    """Builds SQLGlot expressions for one dialect."""

    def __init__(self, name: str) -> None:
        if name not in SQL_TYPES:
            raise ValueError(f"no SQL dialect {name!r}")
        self.name = name
        self.types = SQL_TYPES[name]

    @property
    def sqlite(self) -> bool:
        return self.name == "sqlite"

    # --- literals ------------------------------------------------------------------------
    def literal(self, value: Any, dtype: str) -> exp.Expression:
        if value is None:
            if self.sqlite:
                return exp.Null()
            return _cast(exp.Null(), self.types[dtype])
        if dtype == "bool":
            if self.sqlite:
                return exp.Literal.number(1 if value else 0)
            return exp.Boolean(this=bool(value))
        if dtype in ("int", "float"):
            return exp.Literal.number(repr(value) if dtype == "float" else int(value))
        if dtype == "str":
            return _s(str(value))
        if dtype == "date":
            text = (
                value.isoformat()
                if not isinstance(value, dt.datetime)
                else value.date().isoformat()
            )
            return _s(text) if self.sqlite else _cast(_s(text), "DATE")
        if dtype == "timestamp":
            if not isinstance(value, dt.datetime):
                value = dt.datetime.combine(value, dt.time())
            text = sqlite_timestamp_text(value)
            return _s(text) if self.sqlite else _cast(_s(text), self.types["timestamp"])
        raise ValueError(dtype)

    def to_float(self, x: exp.Expression) -> exp.Expression:
        return _cast(x, "REAL" if self.sqlite else "DOUBLE")

    def rounding(self, name: str, x: exp.Expression) -> exp.Expression:
        """floor / ceil / trunc to a whole number (SQLite has no FLOOR/CEIL without the math
        extension: built from CAST, which truncates there)."""
        if self.sqlite:
            t = _cast(x, "INTEGER")
            if name == "trunc":
                return t
            one = exp.Literal.number(1)
            if name == "floor":
                down = exp.Sub(this=t, expression=one)
                return exp.Case(
                    ifs=[exp.If(this=exp.LT(this=x, expression=t), true=down)], default=t
                )
            up = exp.Add(this=t, expression=one)
            return exp.Case(ifs=[exp.If(this=exp.GT(this=x, expression=t), true=up)], default=t)
        if name == "trunc":
            zero = exp.Literal.number(0)
            x = exp.Case(
                ifs=[exp.If(this=exp.GTE(this=x, expression=zero), true=exp.Floor(this=x))],
                default=exp.Ceil(this=x),
            )
        else:
            x = exp.Floor(this=x) if name == "floor" else exp.Ceil(this=x)
        return _cast(x, "BIGINT")

    # --- dates ---------------------------------------------------------------------------
    def to_date(self, x: exp.Expression, dtype: str) -> exp.Expression:
        if dtype == "date":
            return x
        return _fn("date", x) if self.sqlite else _cast(x, "DATE")

    def to_timestamp(self, x: exp.Expression, dtype: str) -> exp.Expression:
        if dtype == "timestamp":
            return x
        if self.sqlite:
            return exp.DPipe(this=x, expression=_s(" 00:00:00.000000"))
        return _cast(x, self.types["timestamp"])

    def part(self, name: str, x: exp.Expression) -> exp.Expression:
        if self.sqlite:
            fmt = {"year": "%Y", "month": "%m", "day": "%d"}[name]
            return _cast(_fn("strftime", _s(fmt), x), "INTEGER")
        return _cast(exp.Extract(this=exp.Var(this=name.upper()), expression=x), "INT")

    def _null_if_null(self, n: exp.Expression, value: exp.Expression) -> exp.Expression:
        """SQLite's printf turns a null count into 0: keep null instead."""
        is_null = exp.Is(this=n, expression=exp.Null())
        return exp.Case(ifs=[exp.If(this=is_null, true=exp.Null())], default=value)

    def add_days(self, x: exp.Expression, n: exp.Expression, dtype: str) -> exp.Expression:
        if self.sqlite:
            moved = _fn("date", x, _fn("printf", _s("%+d days"), n))
            moved = moved if dtype == "date" else self._keep_time(moved, x)
            return self._null_if_null(n, moved)
        if self.name == "duckdb":
            if dtype == "date":
                return exp.Add(this=x, expression=_int(n))
            return exp.Add(this=x, expression=_fn("to_days", _int(n)))
        if self.name == "spark":
            if dtype == "date":
                return _fn("date_add", x, _int(n))
            return exp.Add(this=x, expression=_fn("make_dt_interval", _int(n)))
        day = exp.Interval(this=_s("1"), unit=exp.Var(this="DAY"))
        if dtype == "date":
            return exp.Add(this=x, expression=_int(n))
        return exp.Add(this=x, expression=exp.Mul(this=_int(n), expression=day))

    def add_months(self, x: exp.Expression, n: exp.Expression, dtype: str) -> exp.Expression:
        if self.sqlite:
            d = _fn("date", x)
            first = _fn("date", d, _s("start of month"), _fn("printf", _s("%+d months"), n))
            day_offset = exp.Sub(this=self.part("day", d), expression=exp.Literal.number(1))
            candidate = _fn("date", first, _fn("printf", _s("+%d days"), day_offset))
            month_end = _fn("date", first, _s("+1 month"), _s("-1 day"))
            moved = _fn("min", candidate, month_end)
            moved = moved if dtype == "date" else self._keep_time(moved, x)
            return self._null_if_null(n, moved)
        if self.name == "duckdb":
            moved = exp.Add(this=x, expression=_fn("to_months", _int(n)))
        elif self.name == "spark":
            if dtype == "date":
                return _fn("add_months", x, _int(n))
            zero = exp.Literal.number(0)
            return exp.Add(this=x, expression=_fn("make_ym_interval", zero, _int(n)))
        else:
            month = exp.Interval(this=_s("1"), unit=exp.Var(this="MONTH"))
            moved = exp.Add(this=x, expression=exp.Mul(this=_int(n), expression=month))
        return _cast(moved, "DATE") if dtype == "date" else moved

    def _keep_time(self, new_date: exp.Expression, ts: exp.Expression) -> exp.Expression:
        return exp.DPipe(this=new_date, expression=_fn("substr", ts, exp.Literal.number(11)))

    def days_between(
        self, a: exp.Expression, a_type: str, b: exp.Expression, b_type: str
    ) -> exp.Expression:
        da, db = self.to_date(a, a_type), self.to_date(b, b_type)
        if self.sqlite:
            diff = exp.Sub(this=_fn("julianday", db), expression=_fn("julianday", da))
            return _cast(diff, "INTEGER")
        if self.name == "duckdb":
            return _fn("date_diff", _s("day"), da, db)
        if self.name == "spark":
            return _fn("datediff", db, da)
        return exp.Sub(this=db, expression=da)

    def age_years(
        self, birth: exp.Expression, b_type: str, on: exp.Expression, o_type: str
    ) -> exp.Expression:
        b, o = self.to_date(birth, b_type), self.to_date(on, o_type)
        hundred = exp.Literal.number(100)

        def md(d: exp.Expression) -> exp.Expression:
            return exp.Add(
                this=exp.Mul(this=self.part("month", d), expression=hundred),
                expression=self.part("day", d),
            )

        not_yet = exp.Case(
            ifs=[exp.If(this=exp.LT(this=md(o), expression=md(b)), true=exp.Literal.number(1))],
            default=exp.Literal.number(0),
        )
        years = exp.Sub(this=self.part("year", o), expression=self.part("year", b))
        return exp.Sub(this=exp.Paren(this=years), expression=not_yet)
