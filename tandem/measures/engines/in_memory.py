"""The in-memory engine: plain Python, patient by patient. It DEFINES the language's meaning.

Every other engine is tested against this one. Keep it obvious rather than fast.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections import defaultdict
from typing import Any

import pyarrow as pa

from tandem.measures import lang_nodes as n
from tandem.measures.engines.base import Results, prepare_tables
from tandem.measures.lang_walk import PATIENT_VAR, Walker

Row = dict[str, Any]
Env = dict[int, Row]


# --- the date rules (reference definitions) -------------------------------------------------


def add_months(value: dt.date, months: int) -> dt.date:
    """Calendar months; a day past the end of the target month clamps to its last day."""
    total = value.year * 12 + (value.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    day = min(value.day, calendar.monthrange(year, month)[1])
    return value.replace(year=year, month=month, day=day)


def age_years(birth: dt.date, on: dt.date) -> int:
    """Completed years: the birthday (month, day) must have been reached in ``on``'s year."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def as_date(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def as_timestamp(value: dt.date) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "eq":
        return bool(a == b)
    if op == "ne":
        return bool(a != b)
    if op == "lt":
        return bool(a < b)
    if op == "le":
        return bool(a <= b)
    if op == "gt":
        return bool(a > b)
    return bool(a >= b)


def _func(name: str, args: list[Any]) -> Any:
    if name == "coalesce":
        return next((a for a in args if a is not None), None)
    if name == "case":
        return args[1] if args[0] is True else args[2]
    if any(a is None for a in args):
        return None
    a = args[0]
    if name == "to_date":
        return as_date(a)
    if name == "to_timestamp":
        return as_timestamp(a)
    if name in ("year", "month", "day"):
        return getattr(a, name)
    if name == "add_days":
        return a + dt.timedelta(days=args[1])
    if name == "add_months":
        return add_months(a, args[1])
    if name == "days_between":
        return (as_date(args[1]) - as_date(a)).days
    if name == "age_years":
        return age_years(as_date(a), as_date(args[1]))
    if name == "greatest":
        return max(args)
    if name == "least":
        return min(args)
    if name == "abs":
        return abs(a)
    if name == "floor":
        return math.floor(a)
    if name == "ceil":
        return math.ceil(a)
    if name == "trunc":
        return math.trunc(a)
    raise NotImplementedError(name)


class InMemoryEngine:
    """Evaluates outputs patient by patient over Python rows."""

    name = "memory"

    def run(
        self,
        outputs: dict[str, n.Expr],
        tables: dict[str, pa.Table] | None,
        valuesets: dict[str, frozenset[tuple[str, str]]],
        params: dict[str, Any],
    ) -> Results:
        data = prepare_tables(tables)
        by_patient: dict[str, dict[str, list[Row]]] = {}
        dimensions: dict[str, list[Row]] = {}
        for name, table in data.items():
            if "patient_id" not in table.column_names:
                dimensions[name] = table.to_pylist()  # sites, practitioners: every row
                continue
            groups: dict[str, list[Row]] = defaultdict(list)
            for row in table.to_pylist():
                groups[row["patient_id"]].append(row)
            by_patient[name] = groups
        results: Results = {}
        walker = Walker()
        for prow in data["patients"].to_pylist():
            pid = prow["patient_id"]
            ev = _PatientEval(pid, by_patient, valuesets, params, walker, dimensions)
            env: Env = {PATIENT_VAR: prow}
            results[pid] = {key: ev.eval(expr, env) for key, expr in outputs.items()}
        return results


class _PatientEval:
    def __init__(
        self,
        pid: str,
        data: dict[str, dict[str, list[Row]]],
        valuesets: dict[str, frozenset[tuple[str, str]]],
        params: dict[str, Any],
        walker: Walker,
        dimensions: dict[str, list[Row]] | None = None,
    ) -> None:
        self.pid, self.data, self.valuesets, self.params = pid, data, valuesets, params
        self.dimensions = dimensions or {}
        self.walker = walker
        self.cache: dict[int, Any] = {}
        self.frame_cache: dict[int, list[Row]] = {}

    # --- expressions -----------------------------------------------------------------------
    def eval(self, e: n.Expr, env: Env) -> Any:
        if isinstance(e, n.AGGREGATES) and self.walker.is_patient_level(e):
            key = id(e)
            if key not in self.cache:
                self.cache[key] = self._eval(e, {PATIENT_VAR: env[PATIENT_VAR]})
            return self.cache[key]
        return self._eval(e, env)

    def _eval(self, e: n.Expr, env: Env) -> Any:  # noqa: C901 - one dispatch per node kind
        if isinstance(e, n.Lit):
            return e.value
        if isinstance(e, n.Param):
            if e.name not in self.params:
                raise KeyError(f"parameter {e.name!r} has no value")
            return self.params[e.name]
        if isinstance(e, n.Field):
            return env[e.row.var_id][e.name]
        if isinstance(e, n.BinOp):
            return self._binop(e, env)
        if isinstance(e, n.Not):
            v = self.eval(e.arg, env)
            return None if v is None else not v
        if isinstance(e, n.IsNull):
            return self.eval(e.arg, env) is None
        if isinstance(e, n.In):
            v = self.eval(e.arg, env)
            return None if v is None else v in e.values
        if isinstance(e, n.InValueSet):
            s, c = self.eval(e.system, env), self.eval(e.code, env)
            return s is not None and c is not None and (s, c) in self.valuesets[e.valueset]
        if isinstance(e, n.Func):
            return _func(e.name, [self.eval(a, env) for a in e.args])
        if isinstance(e, n.AnyOf):
            return _kleene_or([self.eval(b, env) for b in e.branches.values()])
        return self._aggregate(e, env)

    def _binop(self, e: n.BinOp, env: Env) -> Any:
        if e.op in ("and", "or"):
            vals = [self.eval(e.left, env), self.eval(e.right, env)]
            return _kleene_or(vals) if e.op == "or" else _kleene_and(vals)
        a, b = self.eval(e.left, env), self.eval(e.right, env)
        if a is None or b is None:
            return None
        if e.op in ("add", "sub", "mul", "div"):
            if e.op == "div":
                return None if b == 0 else a / b
            return a + b if e.op == "add" else a - b if e.op == "sub" else a * b
        if e.operand_dtype == "timestamp":
            a, b = as_timestamp(a), as_timestamp(b)
        return _compare(e.op, a, b)

    # --- frames ----------------------------------------------------------------------------
    def rows(self, frame: n.Frame, env: Env) -> list[Row]:
        cacheable = self.walker.is_patient_level_frame(frame)
        if cacheable and id(frame) in self.frame_cache:
            return self.frame_cache[id(frame)]
        if isinstance(frame, n.Table):
            if frame.table_name in self.dimensions:
                out = self.dimensions[frame.table_name]
            else:
                out = self.data.get(frame.table_name, {}).get(self.pid, [])
        elif isinstance(frame, n.Where):
            var = frame.row.var_id
            out = [
                r
                for r in self.rows(frame.parent, env)
                if self.eval(frame.predicate, {**env, var: r}) is True
            ]
        elif isinstance(frame, n.Annotate):
            var = frame.row.var_id
            out = []
            for r in self.rows(frame.parent, env):
                inner = {**env, var: r}
                out.append({**r, **{k: self.eval(x, inner) for k, x in frame.exprs.items()}})
        else:
            raise TypeError(frame)
        if cacheable:
            self.frame_cache[id(frame)] = out
        return out

    def _aggregate(self, e: n.Expr, env: Env) -> Any:
        if isinstance(e, n.Exists):
            return bool(self.rows(e.frame, env))
        if isinstance(e, n.Count):
            return len({r[e.frame.id_column] for r in self.rows(e.frame, env)})
        if isinstance(e, n.Agg):
            var = e.row.var_id
            vals = [self.eval(e.value, {**env, var: r}) for r in self.rows(e.frame, env)]
            vals = [v for v in vals if v is not None]
            if e.kind == "count_distinct":
                return len(set(vals))
            if e.kind == "sum":
                return sum(vals) if vals else 0
            if not vals:
                return None
            return min(vals) if e.kind == "min" else max(vals)
        if isinstance(e, n.Pick):
            return self._pick(e, env)
        if isinstance(e, n.CoveredDays):
            return self._covered_days(e, env)
        raise TypeError(f"unknown node {type(e).__name__}")

    def _pick(self, e: n.Pick, env: Env) -> Any:
        var = e.row.var_id
        has_code = "code" in e.frame.columns
        best: tuple[Any, ...] | None = None
        best_env: Env | None = None
        for r in self.rows(e.frame, env):
            inner = {**env, var: r}
            keys = [self.eval(k, inner) for k in e.keys]
            if keys[0] is None and e.nulls == "skip":
                continue
            first = (
                (keys[0] is None, keys[0]) if e.nulls == "last" else (keys[0] is not None, keys[0])
            )
            sort = (
                first,
                *[(k is not None, k) for k in keys[1:]],
                r[e.frame.id_column],
                (r.get("code") or "") if has_code else "",
            )
            if best is None or (sort > best if e.last else sort < best):
                best, best_env = sort, inner
        return None if best_env is None else self.eval(e.value, best_env)

    def _covered_days(self, e: n.CoveredDays, env: Env) -> Any:
        lo, hi = self.eval(e.lo, env), self.eval(e.hi, env)
        if lo is None or hi is None:
            return None
        spans = []
        for part in e.parts:
            var = part.row.var_id
            for r in self.rows(part.frame, env):
                inner = {**env, var: r}
                s, t = self.eval(part.start, inner), self.eval(part.end, inner)
                if s is None or t is None:
                    continue
                s, t = max(s, lo), min(t, hi)
                if s <= t:
                    spans.append((s, t))
        days: set[dt.date] = set()
        for s, t in spans:
            days.update(s + dt.timedelta(days=i) for i in range((t - s).days + 1))
        return len(days)


def constant_folder(params: dict[str, Any], walker: Walker) -> _PatientEval:
    """An evaluator for expressions without rows or aggregates (SQL constant folding)."""
    return _PatientEval("", {}, {}, params, walker)


def _kleene_and(vals: list[Any]) -> Any:
    if any(v is False for v in vals):
        return False
    return None if any(v is None for v in vals) else True


def _kleene_or(vals: list[Any]) -> Any:
    if any(v is True for v in vals):
        return True
    return None if any(v is None for v in vals) else False
