"""Compiling language nodes to SQLGlot expressions.

Shape of the generated SQL (see ``engines.sql`` for how it runs):

- Patient-level aggregates are *hoisted*: computed once per patient as columns ``v<k>`` of
  stage tables built on top of ``patients`` (stage k holds every aggregate whose inputs are
  in stages < k). Anything else refers to them as ``p.v<k>``.
  Over per-patient rows they are decorrelated (``grouped``): one ``GROUP BY patient_id``
  (or ``ROW_NUMBER()`` pick) per frame, LEFT JOINed onto the previous stage.
- Every other aggregate (one correlated with an outer row) is a correlated scalar subquery
  over its frame, flattened to one ``FROM table AS t<n> WHERE patient AND predicates``;
  annotated columns are inlined as their expressions.
- The row-local part of each frame (``shared_prefix``) is handed to ``materialize`` and read
  from the table or view it returns.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from tandem.measures import lang_nodes as n
from tandem.measures.engines.dialects import Dialect
from tandem.measures.engines.in_memory import constant_folder
from tandem.measures.engines.sql_decorrelate import decorrelated
from tandem.measures.lang_walk import (
    PATIENT_VAR,
    Key,
    Walker,
    children,
    frame_steps,
    sources,
    structural_key,
    walk,
)

PATIENT_ALIAS = "p"
CURRENT = -1  # scope key: the alias of the innermost query being compiled
VS_TABLE = "tandem_valueset_codes"
# dialects whose value-set tests are literal lists (see ``Compiler._inline_valueset``)
INLINE_VALUESETS = ("duckdb",)
# aggregates correlated by more than equalities written as joins (``sql_decorrelate``):
# Spark otherwise plans cartesian products. (DuckDB decorrelates well itself: the same
# rewrite of range-correlated ``exists`` made its suite slower; Spark plans those as hash
# existence joins.)
DECORRELATE: dict[str, tuple[type, ...]] = {"spark": (n.Count, n.Agg, n.Pick)}
INLINE_VALUESET_LIMIT = 2000

_CMP = {"eq": exp.EQ, "ne": exp.NEQ, "lt": exp.LT, "le": exp.LTE, "gt": exp.GT, "ge": exp.GTE}
_ARITH = {"add": exp.Add, "sub": exp.Sub, "mul": exp.Mul}


@dataclass
class VarInfo:
    alias: str
    annotations: dict[str, tuple[int, n.Expr]] = field(default_factory=dict)


Scope = dict[int, VarInfo]


@dataclass
class Prefix:
    """A frame's row-local part stored as a table: rows of steps ``[1, upto)`` that pass
    their row-local conjuncts; ``residual`` holds the other conjuncts per ``where`` step."""

    table: str
    upto: int
    residual: dict[int, list[n.Expr]]


def _disjuncts(e: n.Expr) -> list[n.Expr]:
    if isinstance(e, n.BinOp) and e.op == "or":
        return _disjuncts(e.left) + _disjuncts(e.right)
    return [e]


def _same_field(a: n.Expr, b: n.Expr) -> bool:
    return (
        isinstance(a, n.Field)
        and isinstance(b, n.Field)
        and a.row.var_id == b.row.var_id
        and a.name == b.name
    )


def _conjuncts(e: n.Expr) -> list[n.Expr]:
    if isinstance(e, n.BinOp) and e.op == "and":
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


def _flatten_and(conds: list[exp.Expression]) -> list[exp.Expression]:
    """The conjuncts of ``conds`` (parentheses and ANDs unwrapped)."""
    out: list[exp.Expression] = []
    stack = list(reversed(conds))
    while stack:
        c = stack.pop()
        if isinstance(c, exp.Paren):
            stack.append(c.this)
        elif isinstance(c, exp.And):
            stack.extend([c.expression, c.this])
        else:
            out.append(c)
    return out


def columns_read(exprs: list[n.Expr]) -> dict[str, set[str]]:
    """The columns of each analytic table the expressions read (with every frame's id,
    ``patient_id`` and ``code``)."""
    needed: dict[str, set[str]] = {}
    for e in exprs:
        for x in walk(e):
            if isinstance(x, n.Field):
                needed.setdefault(n.root_table(x.row.frame).table_name, set()).add(x.name)
            for frame, _ in sources(x):
                root = n.root_table(frame)
                always = {root.id_column, "patient_id", "code"}
                needed.setdefault(root.table_name, set()).update(always)
    return needed


def _struct(xs: list[exp.Expression]) -> exp.Expression:
    return exp.Struct(
        expressions=[
            exp.PropertyEQ(this=exp.to_identifier(f"k{i}"), expression=x) for i, x in enumerate(xs)
        ]
    )


def _reads(alias: str, parts: list[exp.Expression]) -> bool:
    """Some column of ``parts`` (at any depth) belongs to ``alias``."""
    return any(c.table == alias for x in parts for c in x.find_all(exp.Column))


def _named_source(name: str) -> Callable[[str], Any]:
    return lambda alias: named_table(name).as_(alias, copy=False)


def union_all(selects: list[Any]) -> Any:
    """``selects[0] UNION ALL selects[1] ...`` (one select: itself)."""
    out = selects[0]
    for other in selects[1:]:
        out = exp.union(out, other, distinct=False, copy=False)
    return out


def _all(conds: list[exp.Expression]) -> Any:
    return exp.and_(*conds, copy=False) if conds else exp.Boolean(this=True)


def col(alias: str, name: str) -> exp.Column:
    return exp.column(name, table=alias, quoted=True)


# Builders that neither parse strings nor copy trees (SQLGlot's defaults do both, which
# dominated compile time): every node the compiler builds is fresh and used once.


def named_table(name: str) -> exp.Table:
    """A table by its plain (unquoted, unqualified) name."""
    return exp.Table(this=exp.to_identifier(name))


def one() -> exp.Select:
    return exp.select(exp.Literal.number(1), copy=False)


def left_join(select: exp.Select, source: exp.Expression, on: exp.Expression) -> exp.Select:
    select.append("joins", exp.Join(this=source, on=on, side="LEFT"))
    return select


class Compiler:
    """Turns expressions into SQLGlot for one dialect and one set of table names."""

    def __init__(
        self,
        dialect: Dialect,
        table_ref: Any,
        params: dict[str, Any],
        walker: Walker,
        valuesets: dict[str, frozenset[tuple[str, str]]] | None = None,
    ) -> None:
        self.d = dialect
        # the members of each value set, for dialects that test membership with literal
        # lists (``INLINE_VALUESETS``); None: always read the value-set table
        self.valuesets = valuesets
        self.table_ref = table_ref  # callable: analytic table name -> exp.Table
        self.params = params
        self.walker = walker
        self.hoisted: dict[int, str] = {}  # id(aggregate) -> column name in the stage
        # the first aggregate of each structure, and the repeats (id -> first; see plan_stages)
        self._canonical: dict[Key, n.Expr] = {}
        self._same: dict[int, tuple[n.Expr, n.Expr]] = {}
        self._aliases = itertools.count(1)
        self._constant: dict[int, tuple[n.Expr, bool]] = {}
        self._folder = constant_folder(params, walker)
        # Spark cannot see columns two query levels up: correlate with the nearest query and
        # join the current patient stage into every frame instead of reaching for ``p``.
        self.local_patient = dialect.name == "spark"
        self.stage_table: exp.Expression | None = None
        # Row-local frame prefixes are stored once as tables (see ``shared_prefix``):
        # ``materialize(select) -> table name``; None compiles every frame inline.
        self.materialize: Callable[[exp.Select, bool], str] | None = None
        self.on_use: Callable[[list[str]], None] | None = None  # reads of stored prefixes
        self._correlated = 0  # depth of correlated subqueries being compiled
        # the patient stage holds a cohort: grouped frames join it to read only its patients
        self.restricted = False
        self._prefixes: dict[int, tuple[n.Frame, Prefix | None]] = {}
        # Spark: an aggregate correlated with an outer row by more than equalities becomes a
        # LEFT JOIN of a grouped subquery (``sql_decorrelate``), added to the query that
        # reads the outer row: the source each query alias reads, and the joins waiting
        self.decorrelate = DECORRELATE.get(dialect.name, ())
        self.sources: dict[str, Callable[[str], Any]] = {}
        self.pending: dict[str, list[exp.Join]] = {}
        self.columns_needed: dict[str, set[str]] = {}

    def is_constant(self, e: n.Expr) -> bool:
        """No row, no aggregate, no value set: the same value for every patient."""
        key = id(e)
        if key not in self._constant:
            if isinstance(e, (n.Field, n.InValueSet, *n.AGGREGATES)):
                value = False
            else:
                value = all(self.is_constant(c) for c in children(e))
            self._constant[key] = (e, value)  # keep e alive: ids of freed nodes are reused
        return self._constant[key][1]

    def decided(self, e: n.Expr) -> n.Expr | bool | None:
        """An ``and``/``or`` one constant side decides (a parameter flag, a folded date test):
        its value (``False`` for ``x & FALSE``, ``True`` for ``x | TRUE``) or the other side
        (``x & TRUE``, ``x | FALSE``); None otherwise. The same three-valued logic: a null
        constant decides nothing. The side not computed is never compiled, so its frames are
        neither stored nor read (FUH's ``count_visits_with_mh_dx`` off: no diagnosis join)."""
        if not isinstance(e, n.BinOp) or e.op not in ("and", "or"):
            return None
        for side, other in ((e.left, e.right), (e.right, e.left)):
            if not self.is_constant(side):
                continue
            value = self._folder.eval(side, {})
            if value is None:
                continue
            if e.op == "and":
                return other if value else False
            return True if value else other
        return None

    def live_children(self, e: n.Expr) -> list[n.Expr]:
        """``children`` without the side of an ``and``/``or`` that ``decided`` drops."""
        decided = self.decided(e)
        if decided is None:
            return list(children(e))
        return [] if isinstance(decided, bool) else [decided]

    # --- hoisting --------------------------------------------------------------------------
    def plan_stages(self, outputs: list[n.Expr]) -> list[list[n.Expr]]:
        """Patient-level aggregates grouped by stage (inputs always in earlier stages).

        An aggregate built again with the same structure (``lang_walk.structural_key``: a
        measure's groups and strata repeat tests) is not planned: it reads the column of the
        first one once that is hoisted (``hoist``)."""
        level: dict[int, int] = {}
        nodes: dict[int, n.Expr] = {}

        def visit(e: n.Expr) -> int:
            key = id(e)
            if key in level:
                return level[key]
            if key in self.hoisted:  # computed by an earlier stage
                level[key] = 0
                return 0
            patient_level = isinstance(e, n.AGGREGATES) and self.walker.is_patient_level(e)
            if patient_level:
                first = self._canonical.setdefault(structural_key(e), e)
                if first is not e:
                    self._same[key] = (e, first)  # keep e alive: ids are reused
                    if id(first) in self.hoisted:
                        self.hoisted[key] = self.hoisted[id(first)]
                        level[key] = 0
                        return 0
                    level[key] = visit(first)
                    return level[key]
            below = max((visit(c) for c in self.live_children(e)), default=0)
            if patient_level:
                below += 1
                nodes[key] = e
            level[key] = below
            return below

        for e in outputs:
            visit(e)
        stages: list[list[n.Expr]] = [[] for _ in range(max(level.values(), default=0))]
        for key, e in nodes.items():
            stages[level[key] - 1].append(e)
        return stages

    def hoist(self, names: dict[int, str]) -> None:
        """Aggregates computed by a stage (``id`` -> column), and their repeats."""
        self.hoisted.update(names)
        for key, (_, first) in self._same.items():
            if key not in self.hoisted and id(first) in self.hoisted:
                self.hoisted[key] = self.hoisted[id(first)]

    # --- expressions -----------------------------------------------------------------------
    def expr(self, e: n.Expr, scope: Scope) -> exp.Expression:  # noqa: C901 - dispatch
        key = id(e)
        if key in self.hoisted:
            return col(scope[PATIENT_VAR].alias, self.hoisted[key])
        d = self.d
        if not isinstance(e, n.Lit | n.Param) and self.is_constant(e):
            # e.g. period_start.add_months(6): fold with the oracle's own rules
            return d.literal(self._folder.eval(e, {}), e.dtype)
        if isinstance(e, n.Lit):
            return d.literal(e.value, e.dtype)
        if isinstance(e, n.Param):
            return d.literal(self.params[e.name], e.dtype)
        if isinstance(e, n.Field):
            return self.field(e, scope)
        if isinstance(e, n.BinOp):
            return self.binop(e, scope)
        if isinstance(e, n.Not):
            return exp.Not(this=exp.Paren(this=self.expr(e.arg, scope)))
        if isinstance(e, n.IsNull):
            return exp.Is(this=self.expr(e.arg, scope), expression=exp.Null())
        if isinstance(e, n.In):
            arg = self.expr(e.arg, scope)
            if not e.values:
                return exp.Case(
                    ifs=[exp.If(this=exp.Is(this=arg, expression=exp.Null()), true=exp.Null())],
                    default=d.literal(False, "bool"),
                )
            vals = [d.literal(v, n.literal_dtype(v)) for v in e.values]
            return exp.In(this=arg, expressions=vals)
        if isinstance(e, n.InValueSet):
            return self.in_valueset(e, scope)
        if isinstance(e, n.Func):
            return self.func(e, scope)
        if isinstance(e, n.AnyOf):
            parts = [exp.Paren(this=self.expr(b, scope)) for b in e.branches.values()]
            return exp.Paren(this=exp.or_(*parts, copy=False)) if len(parts) > 1 else parts[0]
        return self.aggregate(e, scope)

    def field(self, e: n.Field, scope: Scope) -> exp.Expression:
        var = e.row.var_id
        if var not in scope:
            raise ValueError(
                f"column {e.name!r} refers to a row of {e.row.frame.table_name} that is not in "
                "scope here (did you derive two frames from separate q.table() calls?)"
            )
        info = scope[var]
        if e.name in info.annotations:
            _, aexpr = info.annotations[e.name]
            return exp.Paren(this=self.expr(aexpr, scope))
        return col(info.alias, e.name)

    def binop(self, e: n.BinOp, scope: Scope) -> exp.Expression:
        decided = self.decided(e)
        if isinstance(decided, bool):
            return self.d.literal(decided, "bool")
        if decided is not None:
            return self.expr(decided, scope)
        if e.op == "or" and (merged := self.any_valueset(e, scope)) is not None:
            return merged
        if e.op == "or" and (merged := self.any_exists(e, scope)) is not None:
            return merged
        a, b = self.expr(e.left, scope), self.expr(e.right, scope)
        if e.op == "and":
            return exp.And(this=exp.Paren(this=a), expression=exp.Paren(this=b))
        if e.op == "or":
            return exp.Paren(this=exp.Or(this=exp.Paren(this=a), expression=exp.Paren(this=b)))
        if e.op in _CMP:
            if e.operand_dtype == "timestamp":
                a = self.d.to_timestamp(a, e.left.dtype)
                b = self.d.to_timestamp(b, e.right.dtype)
            elif e.operand_dtype == "str" and e.op not in ("eq", "ne"):
                a, b = self._order_key(a, "str"), self._order_key(b, "str")  # byte order
            cmp: Any = _CMP[e.op](this=a, expression=b)
            return cmp
        if e.op == "div":
            den = exp.Nullif(this=b, expression=exp.Literal.number(0))
            return exp.Paren(this=exp.Div(this=self.d.to_float(a), expression=den))
        return exp.Paren(this=_ARITH[e.op](this=a, expression=b))

    def in_valueset(
        self, e: n.InValueSet, scope: Scope, also: tuple[str, ...] = ()
    ) -> exp.Expression:
        """Membership of ``(system, code)`` in ``e.valueset`` (or any of ``also``): false, not
        null, when either is null."""
        system, code = self.expr(e.system, scope), self.expr(e.code, scope)
        inline = self._inline_valueset((e.valueset, *also), system, code)
        if inline is not None:
            return inline
        ids = [exp.Literal.string(v) for v in (e.valueset, *also)]
        alias = f"vs{next(self._aliases)}"
        which = (
            exp.EQ(this=col(alias, "valueset_id"), expression=ids[0])
            if len(ids) == 1
            else exp.In(this=col(alias, "valueset_id"), expressions=ids)
        )
        if self.d.name == "duckdb":
            # a hash semi-join over the value-set table (DuckDB runs EXISTS per set as a
            # slower mark join); COALESCE: IN over a null code is null, EXISTS is false
            sub = exp.select(col(alias, "system"), col(alias, "code"), copy=False)
            sub = sub.from_(self.table_ref(VS_TABLE).as_(alias, copy=False)).where(
                which, copy=False
            )
            member = exp.In(
                this=exp.Tuple(expressions=[system, code]), query=exp.Subquery(this=sub)
            )
            return exp.Coalesce(this=member, expressions=[exp.Boolean(this=False)])
        cond = exp.and_(
            which,
            exp.EQ(this=col(alias, "system"), expression=system),
            exp.EQ(this=col(alias, "code"), expression=code),
            copy=False,
        )
        sub = one().from_(self.table_ref(VS_TABLE).as_(alias, copy=False)).where(cond, copy=False)
        return exp.Exists(this=sub)

    def _inline_valueset(
        self, ids: tuple[str, ...], system: exp.Expression, code: exp.Expression
    ) -> exp.Expression | None:
        """Membership as literal lists, ``COALESCE(code IN (...), FALSE) AND
        COALESCE(system = '...', FALSE)`` (one system) or with an exact per-system test
        (several): DuckDB filters such conjuncts while scanning, without a join, about four
        times faster than a semi-join against the value-set table. None when this dialect
        does not inline, or the sets are larger than ``INLINE_VALUESET_LIMIT`` codes."""
        if self.valuesets is None or self.d.name not in INLINE_VALUESETS:
            return None
        members: set[tuple[str, str]] = set()
        for vid in ids:
            members |= self.valuesets[vid]
        if len(members) > INLINE_VALUESET_LIMIT:
            return None
        false = exp.Boolean(this=False)
        if not members:
            return false
        by_system: dict[str, list[str]] = {}
        for sys_, c in sorted(members):
            by_system.setdefault(sys_, []).append(c)

        def codes_in(x: exp.Expression, codes: list[str]) -> exp.Expression:
            return exp.In(this=x, expressions=[exp.Literal.string(c) for c in codes])

        all_codes = sorted({c for _, c in members})
        in_codes = exp.Coalesce(this=codes_in(code, all_codes), expressions=[false])
        if len(by_system) == 1:
            (only,) = by_system
            right: Any = exp.EQ(this=system, expression=exp.Literal.string(only))
        else:
            right = exp.or_(
                *(
                    exp.and_(
                        exp.EQ(this=system.copy(), expression=exp.Literal.string(sys_)),
                        codes_in(code.copy(), codes),
                        copy=False,
                    )
                    for sys_, codes in by_system.items()
                ),
                copy=False,
            )
        same_system = exp.Coalesce(this=right, expressions=[false.copy()])
        return exp.Paren(this=exp.and_(in_codes, same_system, copy=False))

    def any_valueset(self, e: n.BinOp, scope: Scope) -> exp.Expression | None:
        """``a.code_in(X) | a.code_in(Y) | ...`` on the same columns as one membership test."""
        parts = _disjuncts(e)
        first = parts[0]
        if not isinstance(first, n.InValueSet):
            return None
        same = all(
            isinstance(p, n.InValueSet)
            and _same_field(p.system, first.system)
            and _same_field(p.code, first.code)
            for p in parts
        )
        if not same:
            return None
        others = tuple(p.valueset for p in parts[1:])  # type: ignore[attr-defined]
        return self.in_valueset(first, scope, others)

    def func(self, e: n.Func, scope: Scope) -> exp.Expression:
        d = self.d
        args = [self.expr(a, scope) for a in e.args]
        types = [a.dtype for a in e.args]
        name = e.name
        if name == "to_date":
            return d.to_date(args[0], types[0])
        if name == "to_timestamp":
            return d.to_timestamp(args[0], types[0])
        if name in ("year", "month", "day"):
            return d.part(name, d.to_date(args[0], types[0]))
        if name == "add_days":
            return d.add_days(args[0], args[1], types[0])
        if name == "add_months":
            return d.add_months(args[0], args[1], types[0])
        if name == "days_between":
            return d.days_between(args[0], types[0], args[1], types[1])
        if name == "age_years":
            return d.age_years(args[0], types[0], args[1], types[1])
        if name == "coalesce":
            return exp.Coalesce(this=args[0], expressions=args[1:])
        if name == "abs":
            return exp.Abs(this=args[0])
        if name in ("floor", "ceil", "trunc"):
            return d.rounding(name, args[0])
        if name == "case":
            return exp.Case(ifs=[exp.If(this=args[0], true=args[1])], default=args[2])
        if name in ("greatest", "least"):
            a, b = args
            pick_a = (
                exp.GTE(this=a, expression=b)
                if name == "greatest"
                else exp.LTE(this=a, expression=b)
            )
            either_null = exp.or_(
                exp.Is(this=a, expression=exp.Null()),
                exp.Is(this=b, expression=exp.Null()),
                copy=False,
            )
            return exp.Case(
                ifs=[exp.If(this=either_null, true=exp.Null()), exp.If(this=pick_a, true=a)],
                default=b,
            )
        raise NotImplementedError(name)

    # --- frames and aggregates -------------------------------------------------------------
    def frame(
        self, frame: n.Frame, scope: Scope, own_row: n.Row | None, grouped: str | None = None
    ) -> tuple[Any, Scope]:
        """(FROM source, WHERE conditions, alias) and the scope with the frame's rows bound.

        ``grouped``: the frame is read for all patients at once (grouped by ``patient_id``):
        no correlation with an outer patient; the patient stage is joined as alias ``grouped``.
        """
        alias = f"t{next(self._aliases)}"
        inner: Scope = dict(scope)
        annotations: dict[str, tuple[int, n.Expr]] = {}
        outer = scope[CURRENT] if self.local_patient else scope[PATIENT_VAR]
        per_patient = "patient_id" in n.root_table(frame).columns  # else sites, practitioners
        conds: list[exp.Expression] = []
        if per_patient and grouped is None:
            conds.append(
                exp.EQ(this=col(alias, "patient_id"), expression=col(outer.alias, "patient_id"))
            )
        join = None
        if grouped is not None:
            assert self.stage_table is not None and per_patient
            on = exp.EQ(this=col(grouped, "patient_id"), expression=col(alias, "patient_id"))
            join = (self.stage_table.copy().as_(grouped, copy=False), on)  # type: ignore[attr-defined]
            inner[PATIENT_VAR] = VarInfo(grouped)
        elif self.local_patient:
            assert self.stage_table is not None
            palias = f"p{next(self._aliases)}"
            mine = col(alias, "patient_id") if per_patient else col(outer.alias, "patient_id")
            on = exp.EQ(this=col(palias, "patient_id"), expression=mine)
            join = (self.stage_table.copy().as_(palias, copy=False), on)  # type: ignore[attr-defined]
            inner[PATIENT_VAR] = VarInfo(palias)
        inner[CURRENT] = VarInfo(alias)
        table = None
        steps = frame_steps(frame)
        shared = self.shared_prefix(frame)
        if shared is not None:
            table = named_table(shared.table).as_(alias, copy=False)
            self.sources[alias] = _named_source(shared.table)
            for step in steps[1 : shared.upto]:  # annotations are columns of the stored table
                inner[step.row.var_id] = VarInfo(alias)  # type: ignore[attr-defined]
                for c in shared.residual.get(id(step), []):
                    conds.append(exp.Paren(this=self.expr(c, inner)))
            steps = steps[shared.upto :]
        for step in steps:
            if isinstance(step, n.Table):
                table = self.table_ref(step.table_name).as_(alias, copy=False)
                self.sources[alias] = self._ref_source(step.table_name)
                continue
            assert isinstance(step, n.Where | n.Annotate)
            inner[step.row.var_id] = VarInfo(alias, dict(annotations))
            if isinstance(step, n.Where):
                conds.append(exp.Paren(this=self.expr(step.predicate, inner)))
            elif isinstance(step, n.Annotate):
                for name, x in step.exprs.items():
                    annotations[name] = (step.row.var_id, x)
        if own_row is not None:
            inner[own_row.var_id] = VarInfo(alias, dict(annotations))
        return ((table, join), conds, alias), inner

    # --- shared frame prefixes -------------------------------------------------------------
    def _row_local(self, x: n.Expr, chain: set[int]) -> bool:
        """``x`` reads only rows of the frame's own chain and constants: the same value for
        every patient and outer row, so it can be computed once for all patients."""
        if not self.walker.free_vars(x) <= chain:
            return False
        return not any(
            isinstance(node, n.AGGREGATES) and self.walker.is_patient_level(node)
            for node in walk(x)  # a per-patient value: hoisted into the patient stage
        )

    def shared_prefix(self, frame: n.Frame) -> Prefix | None:
        """The frame's row-local part, stored once per distinct SQL as a table.

        Covers the leading ``with_columns`` steps that are row-local and, up to the first one
        that is not, every row-local conjunct of the ``where`` steps (filters commute; a row
        passes a WHERE when every conjunct is true). None when nothing would be filtered.
        """
        found = self._shared_prefix(frame)
        if found is not None and self.on_use is not None:
            # read inside a correlated subquery: joined per outer row, so worth storing
            self.on_use([found.table] * (2 if self._correlated else 1))
        return found

    def _shared_prefix(self, frame: n.Frame) -> Prefix | None:
        if self.materialize is None:
            return None
        key = id(frame)
        if key in self._prefixes:
            return self._prefixes[key][1]
        steps = frame_steps(frame)
        if len(steps) > 2:
            nested = self._prefix_on_parent(steps)
            if nested is not None:
                self._prefixes[key] = (frame, nested)
                return nested
        chain: set[int] = set()
        upto = 1
        local: list[tuple[n.Frame, list[n.Expr]]] = []  # (step, its row-local conjuncts)
        residual: dict[int, list[n.Expr]] = {}
        for step in steps[1:]:
            chain.add(step.row.var_id)  # type: ignore[attr-defined]
            split = self._split(step, chain)
            if split is None:
                break
            mine, residual[id(step)] = split
            local.append((step, mine))
            upto += 1
        result = None
        if any(conds for _, conds in local):
            table = self._store_prefix(steps[0], local)  # type: ignore[arg-type]
            result = Prefix(table, upto, residual)
        self._prefixes[key] = (frame, result)  # keep frame alive: ids of freed nodes are reused
        return result

    def _prefix_on_parent(self, steps: list[n.Frame]) -> Prefix | None:
        """When the parent frame is stored whole, this frame's row-local part is a filter
        of the parent's table (frames are usually built one ``where`` on another)."""
        parent = self._shared_prefix(steps[-2])
        if parent is None or parent.upto != len(steps) - 1:
            return None
        step = steps[-1]
        split = self._split(step, {x.row.var_id for x in steps[1:]})  # type: ignore[attr-defined]
        if split is None:  # a with_columns step that reads the patient or an outer row
            return parent
        mine, residual = split
        residuals = {**parent.residual, id(step): residual}  # filters commute
        if isinstance(step, n.Where) and not mine:
            return Prefix(parent.table, len(steps), residuals)
        assert self.materialize is not None
        with self._fresh_aliases():
            alias = "t0"
            row = VarInfo(alias)
            scope: Scope = {PATIENT_VAR: row, CURRENT: row}
            for x in steps[1:]:
                scope[x.row.var_id] = row  # type: ignore[attr-defined]
            self.sources[alias] = _named_source(parent.table)
            cols: list[Any] = [exp.Star()]
            if isinstance(step, n.Annotate):
                cols += [
                    self.expr(x, scope).as_(nm, quoted=True, copy=False)
                    for nm, x in step.exprs.items()
                ]
            conds: list[exp.Expression] = [exp.Paren(this=self.expr(c, scope)) for c in mine]
            source = named_table(parent.table).as_(alias, copy=False)
            select = self.attach(exp.select(*cols, copy=False).from_(source, copy=False), alias)
            select = select.where(_all(conds), copy=False)
        if self.on_use is not None:
            self.on_use([parent.table])
        per_patient = "patient_id" in steps[0].columns
        return Prefix(self.materialize(select, per_patient), len(steps), residuals)

    def _split(self, step: n.Frame, chain: set[int]) -> tuple[list[n.Expr], list[n.Expr]] | None:
        """(row-local conjuncts, the others) of a ``where`` step; ``([], [])`` for a
        ``with_columns`` step that is row-local, None for one that is not."""
        if isinstance(step, n.Annotate):
            local = all(self._row_local(x, chain) for x in step.exprs.values())
            return ([], []) if local else None
        assert isinstance(step, n.Where)
        parts = _conjuncts(step.predicate)
        mine = [c for c in parts if self._row_local(c, chain)]
        return mine, [c for c in parts if not any(c is m for m in mine)]

    @contextlib.contextmanager
    def _fresh_aliases(self) -> Iterator[None]:
        """Aliases from 1 again: the same SQL for the same prefix, wherever it is used."""
        saved = self._aliases, self.sources, self.pending
        self._aliases = itertools.count(1)
        self.sources, self.pending = {}, {}
        try:
            yield
            assert not self.pending, f"joins never added to their query: {list(self.pending)}"
        finally:
            self._aliases, self.sources, self.pending = saved

    def _store_prefix(self, table: n.Table, local: list[tuple[n.Frame, list[n.Expr]]]) -> str:
        assert self.materialize is not None
        with self._fresh_aliases():
            alias = "t0"
            scope: Scope = {PATIENT_VAR: VarInfo(alias), CURRENT: VarInfo(alias)}
            self.sources[alias] = self._ref_source(table.table_name)
            conds: list[exp.Expression] = []
            annotations: dict[str, tuple[int, n.Expr]] = {}
            for step, mine in local:
                scope[step.row.var_id] = VarInfo(alias, dict(annotations))  # type: ignore[attr-defined]
                conds.extend(exp.Paren(this=self.expr(c, scope)) for c in mine)
                if isinstance(step, n.Annotate):
                    for name, x in step.exprs.items():
                        annotations[name] = (step.row.var_id, x)
            wanted = self.columns_needed.get(table.table_name)
            names = (
                list(table.columns) if wanted is None else [c for c in table.columns if c in wanted]
            )
            cols: list[Any] = [col(alias, c).as_(c, quoted=True, copy=False) for c in names]
            for name, (_var, x) in annotations.items():
                cols.append(self.expr(x, scope).as_(name, quoted=True, copy=False))
            source = self.table_ref(table.table_name).as_(alias, copy=False)
            select = self.attach(exp.select(*cols, copy=False).from_(source, copy=False), alias)
            select = select.where(_all(conds), copy=False)
        return self.materialize(select, "patient_id" in table.columns)

    def select_from(
        self, select: exp.Select, source: tuple[Any, Any], conds: list[exp.Expression]
    ) -> exp.Select:
        """``select`` FROM a frame (``frame``'s source) WHERE ``conds``, with the joins its
        correlated aggregates wait for; the patient stage joined for Spark only when read."""
        table, join = source
        select = self.attach(select.from_(table, copy=False), table.alias)
        if join is not None and _reads(join[0].alias, [*conds, *select.expressions]):
            select = select.join(join[0], on=join[1], copy=False)
        return select.where(_all(conds), copy=False)

    def attach(self, select: exp.Select, alias: str) -> exp.Select:
        """Add the joins waiting for the query that reads ``alias`` (see ``decorrelate``)."""
        for join in self.pending.pop(alias, []):
            select.append("joins", join)
        return select

    def _ref_source(self, name: str) -> Callable[[str], Any]:
        return lambda alias: self.table_ref(name).as_(alias, copy=False)

    def aggregate(self, e: n.Expr, scope: Scope) -> exp.Expression:
        """An aggregate as a correlated scalar subquery (one value per outer row)."""
        self._correlated += 1
        try:
            return self._aggregate(e, scope)
        finally:
            self._correlated -= 1

    def _aggregate(self, e: n.Expr, scope: Scope) -> exp.Expression:
        own = getattr(e, "row", None)
        (table, conds, alias), inner = self.frame(e.frame, scope, own)  # type: ignore[attr-defined]
        if isinstance(e, self.decorrelate):
            joined = decorrelated(self, e, scope, table, conds, alias, inner)
            if joined is not None:
                return joined
        id_col = col(alias, e.frame.id_column)  # type: ignore[attr-defined]
        if isinstance(e, n.Exists):
            outer = {v.alias for v in scope.values()} - {alias}
            semi = self._exists_as_in(table, conds, alias, outer)
            if semi is not None:
                return semi
            return exp.Exists(this=self.select_from(one(), table, conds))
        if isinstance(e, n.Count):
            value: exp.Expression = exp.Count(this=exp.Distinct(expressions=[id_col]))
        elif isinstance(e, n.Agg):
            # Aggregate a plain column of a derived table: SQLite otherwise misassigns an
            # aggregate whose argument holds a subquery reaching an outer query.
            vals = f"a{next(self._aliases)}"
            inner_sel = self.select_from(
                exp.select(self.expr(e.value, inner).as_("v", copy=False)), table, conds
            )
            derived = exp.Subquery(this=inner_sel, alias=vals)
            v: Any = col(vals, "v")
            if e.kind == "count_distinct":
                value = exp.Count(this=exp.Distinct(expressions=[v]))
            elif e.kind == "sum":
                value = exp.Coalesce(this=exp.Sum(this=v), expressions=[exp.Literal.number(0)])
            else:
                v = self._order_key(v, e.value.dtype)  # PostgreSQL: byte order for text
                value = exp.Min(this=v) if e.kind == "min" else exp.Max(this=v)
            return exp.Subquery(this=exp.select(value, copy=False).from_(derived, copy=False))
        elif isinstance(e, n.Pick):
            return self.pick(e, table, conds, alias, inner)
        elif isinstance(e, n.CoveredDays):
            return self.covered_days(e, table, conds, scope, inner)
        else:
            raise TypeError(type(e).__name__)
        sub = self.select_from(exp.select(value, copy=False), table, conds)
        return exp.Subquery(this=sub)

    def _exists_as_in(
        self, table: Any, conds: list[exp.Expression], alias: str, outer: set[str]
    ) -> exp.Expression | None:
        """DuckDB: ``EXISTS`` correlated only by equalities (``inner.x = outer.y AND ...``) as
        an uncorrelated ``COALESCE((outer.y, ...) IN (SELECT inner.x, ... WHERE rest),
        FALSE)``: one hash semi-join, where DuckDB otherwise first collects the distinct
        outer values (an encounter's diagnoses: ``c.encounter_id = e.encounter_id``).
        None when another form of correlation is present."""
        keys = self._equality_keys(table, conds, alias, outer)
        return None if keys is None else self._semi_join([(table, *keys)])

    def _equality_keys(
        self, table: Any, conds: list[exp.Expression], alias: str, outer: set[str]
    ) -> tuple[list[tuple[exp.Expression, exp.Expression]], list[exp.Expression]] | None:
        """DuckDB: ``([(inner key, outer value)...], other conditions)`` of a frame related
        to the outer rows only by equalities, None otherwise."""
        if self.d.name != "duckdb" or table[1] is not None:
            return None

        def tables(x: exp.Expression) -> set[str]:
            return {c.table for c in x.find_all(exp.Column)}

        pairs: list[tuple[exp.Expression, exp.Expression]] = []
        rest: list[exp.Expression] = []
        for c in _flatten_and(conds):
            used = tables(c)
            if not used & outer:
                rest.append(c)
                continue
            if not isinstance(c, exp.EQ) or c.find(exp.Select) is not None:
                return None
            left, right = c.this, c.expression
            if tables(left) == {alias} and not tables(right) & ({alias} | (used - outer)):
                pairs.append((left, right))
            elif tables(right) == {alias} and not tables(left) & ({alias} | (used - outer)):
                pairs.append((right, left))
            else:
                return None
        if not pairs:
            return None
        pairs.sort(key=lambda p: p[1].sql(dialect=self.d.name))
        return pairs, rest

    def _semi_join(
        self,
        frames: list[tuple[Any, list[tuple[exp.Expression, exp.Expression]], list[exp.Expression]]],
    ) -> exp.Expression:
        """Outer values (the same in every frame) among the inner keys of any of the frames:
        one hash semi-join over their union."""
        false = exp.Boolean(this=False)
        outs = [o for _, o in frames[0][1]]
        guard = None
        selects = []
        for table, pairs, rest in frames:
            inner_keys = [i for i, _ in pairs]
            if len(pairs) > 1:
                # several keys: one struct per row. Structs with null fields compare equal,
                # where ``=`` is null: rows with a null key are kept out on both sides.
                rest = rest + [
                    exp.Not(this=exp.Is(this=i.copy(), expression=exp.Null())) for i in inner_keys
                ]
            key = inner_keys[0] if len(pairs) == 1 else _struct(inner_keys)
            selects.append(self.select_from(exp.select(key, copy=False), table, rest))
        if len(outs) > 1:
            guard = exp.or_(
                *(exp.Is(this=o.copy(), expression=exp.Null()) for o in outs), copy=False
            )
        probe = outs[0] if len(outs) == 1 else _struct(outs)
        member = exp.In(this=probe, query=exp.Subquery(this=union_all(selects)))
        found = exp.Coalesce(this=member, expressions=[false])
        if guard is None:
            return found
        return exp.Case(ifs=[exp.If(this=guard, true=false.copy())], default=found)

    def any_exists(self, e: n.BinOp, scope: Scope) -> exp.Expression | None:
        """DuckDB: ``a.exists() | b.exists() | ...`` of frames related to the outer row as
        one test over the union of their rows: a semi-join on the same keys (an encounter's
        diagnoses from conditions or claims), else one ``EXISTS`` over ``UNION ALL``; DuckDB
        then builds one hash table and probes the outer rows once instead of per frame."""
        if self.d.name != "duckdb":
            return None
        parts = _disjuncts(e)
        exists = [
            p
            for p in parts
            if isinstance(p, n.Exists) and id(p) not in self.hoisted and not self.is_constant(p)
        ]
        if len(exists) < 2:
            return None
        compiled = []
        self._correlated += 1
        try:
            for x in exists:
                (table, conds, alias), _ = self.frame(x.frame, scope, None)
                compiled.append((table, conds, alias))
        finally:
            self._correlated -= 1
        outer = {v.alias for v in scope.values()}
        keyed = [self._equality_keys(t, c, a, outer - {a}) for t, c, a in compiled]
        same = all(k is not None for k in keyed) and (
            len({tuple(o.sql(dialect=self.d.name) for _, o in k[0]) for k in keyed if k}) == 1
        )
        merged: exp.Expression
        if same:
            frames = [(t, *k) for (t, _, _), k in zip(compiled, keyed, strict=True) if k]
            merged = self._semi_join(frames)
        else:
            merged = exp.Exists(
                this=union_all([self.select_from(one(), t, c) for t, c, _ in compiled])
            )
        others = [self.expr(p, scope) for p in parts if not any(p is x for x in exists)]
        if not others:
            return merged
        return exp.Paren(this=exp.or_(*(exp.Paren(this=x) for x in [merged, *others]), copy=False))

    # --- decorrelated patient-level aggregates ----------------------------------------------
    def groupable(self, e: n.Expr) -> bool:
        """Patient-level aggregates over per-patient rows, computed by GROUP BY patient."""
        if not isinstance(e, n.Exists | n.Count | n.Agg | n.Pick):
            return False
        return "patient_id" in n.root_table(e.frame).columns

    def grouped(
        self, aggs: list[n.Expr], names: dict[int, str]
    ) -> list[tuple[exp.Select, list[tuple[str, exp.Expression]]]]:
        """One ``SELECT patient_id, ... GROUP BY patient_id`` (or first-row pick) per frame.

        Returns (query, [(column, value for patients without rows)]) per query; the caller
        LEFT JOINs each query onto the patient stage on ``patient_id``.
        """
        by_frame: dict[tuple[str, int], list[n.Expr]] = {}  # the aggregates keep ids alive
        for e in aggs:
            source: Any = e.picked if isinstance(e, n.Pick) else e.frame  # type: ignore[attr-defined]
            kind = "pick" if isinstance(e, n.Pick) else "agg"
            by_frame.setdefault((kind, id(source)), []).append(e)
        out = []
        for (kind, _), members in by_frame.items():
            if kind == "pick":
                out.append(self._grouped_pick(members, names))  # type: ignore[arg-type]
            else:
                out.append(self._grouped_agg(members, names))
        return out

    def _grouped_source(
        self, frame: n.Frame, rows: list[n.Row]
    ) -> tuple[Any, list[exp.Expression], str, Scope, str]:
        palias = f"g{next(self._aliases)}"
        scope: Scope = {PATIENT_VAR: VarInfo(palias), CURRENT: VarInfo(palias)}
        own = rows[0] if rows else None
        (table, conds, alias), inner = self.frame(frame, scope, own, grouped=palias)
        for r in rows[1:]:
            inner[r.var_id] = inner[own.var_id]  # type: ignore[union-attr]
        return table, conds, alias, inner, palias

    def _with_source(
        self, select: exp.Select, table: Any, conds: list[exp.Expression], palias: str
    ) -> exp.Select:
        """FROM the frame, joining the patient stage only when the conditions read it."""
        source, join = table
        select = self.attach(select.from_(source, copy=False), source.alias)
        if self.restricted or _reads(palias, [*conds, *select.expressions]):
            select = select.join(join[0], on=join[1], copy=False)
        return select.where(_all(conds), copy=False)

    def _grouped_agg(
        self, members: list[n.Expr], names: dict[int, str]
    ) -> tuple[exp.Select, list[tuple[str, exp.Expression]]]:
        frame = members[0].frame  # type: ignore[attr-defined]
        rows = [e.row for e in members if isinstance(e, n.Agg)]
        table, conds, alias, inner, palias = self._grouped_source(frame, rows)
        cols: list[Any] = [col(alias, "patient_id").as_("patient_id", copy=False)]
        defaults: list[tuple[str, exp.Expression]] = []
        zero = exp.Literal.number(0)
        for e in members:
            name = names[id(e)]
            if isinstance(e, n.Exists):
                value: exp.Expression = exp.Boolean(this=True)
                defaults.append((name, exp.Boolean(this=False)))
            elif isinstance(e, n.Count):
                ident = col(alias, e.frame.id_column)
                value = exp.Count(this=exp.Distinct(expressions=[ident]))
                defaults.append((name, zero))
            else:
                assert isinstance(e, n.Agg)
                v = self.expr(e.value, inner)
                if e.kind == "count_distinct":
                    value = exp.Count(this=exp.Distinct(expressions=[v]))
                    defaults.append((name, zero))
                elif e.kind == "sum":
                    value = exp.Sum(this=v)
                    defaults.append((name, zero))
                else:
                    v = self._order_key(v, e.value.dtype)
                    value = exp.Min(this=v) if e.kind == "min" else exp.Max(this=v)
                    defaults.append((name, exp.Null()))
            cols.append(value.as_(name, quoted=True, copy=False))
        select = self._with_source(exp.select(*cols, copy=False), table, conds, palias)
        return select.group_by(col(alias, "patient_id"), copy=False), defaults

    def _grouped_pick(
        self, members: list[n.Pick], names: dict[int, str]
    ) -> tuple[exp.Select, list[tuple[str, exp.Expression]]]:
        """The first row per patient in the pick's order (the order of ``pick``). Keys are
        computed as columns first, then ranked (SQLite cannot order by correlated terms)."""
        e = members[0]
        table, conds, alias, inner, palias = self._grouped_source(e.frame, [e.row])
        values = [names[id(m)] for m in members]
        cols = [col(alias, "patient_id").as_("patient_id", copy=False)]
        cols += [
            self.expr(m.value, inner).as_(v, quoted=True, copy=False)
            for m, v in zip(members, values, strict=True)
        ]
        cols += [self.expr(k, inner).as_(f"k{i}", copy=False) for i, k in enumerate(e.keys)]
        cols.append(col(alias, e.frame.id_column).as_("tandem_id", copy=False))
        has_code = "code" in e.frame.columns
        if has_code:
            code = exp.Coalesce(this=col(alias, "code"), expressions=[exp.Literal.string("")])
            cols.append(code.as_("tandem_code", copy=False))
        rows = f"r{next(self._aliases)}"
        base = exp.Subquery(
            this=self._with_source(exp.select(*cols, copy=False), table, conds, palias), alias=rows
        )
        desc = e.last
        order = [
            exp.Ordered(
                this=self._order_key(col(rows, f"k{i}"), k.dtype), desc=desc, nulls_first=not desc
            )
            for i, k in enumerate(e.keys)
        ]
        if e.nulls != "skip":
            order[0].set("nulls_first", (e.nulls == "first") != desc)
        order.append(exp.Ordered(this=self._order_key(col(rows, "tandem_id"), "str"), desc=desc))
        if has_code:
            order.append(
                exp.Ordered(this=self._order_key(col(rows, "tandem_code"), "str"), desc=desc)
            )
        rank = exp.Window(
            this=exp.RowNumber(),
            partition_by=[col(rows, "patient_id")],
            order=exp.Order(expressions=order),
        )
        ranked_cols = [col(rows, "patient_id").as_("patient_id", copy=False)]
        ranked_cols += [col(rows, v).as_(v, quoted=True, copy=False) for v in values]
        ranked_sel = exp.select(*ranked_cols, rank.as_("tandem_rank", copy=False)).from_(
            base, copy=False
        )
        if e.nulls == "skip":
            ranked_sel = ranked_sel.where(
                exp.Not(this=exp.Is(this=col(rows, "k0"), expression=exp.Null())), copy=False
            )
        ranked = f"r{next(self._aliases)}"
        outer_cols = [col(ranked, "patient_id").as_("patient_id", copy=False)]
        outer_cols += [col(ranked, v).as_(v, quoted=True, copy=False) for v in values]
        select = (
            exp.select(*outer_cols, copy=False)
            .from_(exp.Subquery(this=ranked_sel, alias=ranked), copy=False)
            .where(
                exp.EQ(this=col(ranked, "tandem_rank"), expression=exp.Literal.number(1)),
                copy=False,
            )
        )
        return select, [(v, exp.Null()) for v in values]

    def _order_key(self, x: exp.Expression, dtype: str) -> exp.Expression:
        if self.d.name == "postgres" and dtype == "str":
            return exp.Collate(this=x, expression=exp.Identifier(this="C", quoted=True))
        return x

    def pick(
        self, e: n.Pick, table: Any, conds: list[exp.Expression], alias: str, inner: Scope
    ) -> exp.Expression:
        """Sort keys and value are computed in a derived table and ordered as plain columns
        (SQLite cannot resolve outer references inside ORDER BY subqueries)."""
        cols = [self.expr(e.value, inner).as_("value", copy=False)]
        cols += [self.expr(k, inner).as_(f"k{i}", copy=False) for i, k in enumerate(e.keys)]
        cols.append(col(alias, e.frame.id_column).as_("id", copy=False))
        has_code = "code" in e.frame.columns
        if has_code:
            code = exp.Coalesce(this=col(alias, "code"), expressions=[exp.Literal.string("")])
            cols.append(code.as_("code", copy=False))
        rows = f"r{next(self._aliases)}"
        derived = exp.Subquery(
            this=self.select_from(exp.select(*cols, copy=False), table, conds),
            alias=rows,
        )
        desc = e.last
        order = [
            exp.Ordered(
                this=self._order_key(col(rows, f"k{i}"), k.dtype), desc=desc, nulls_first=not desc
            )
            for i, k in enumerate(e.keys)
        ]
        if e.nulls != "skip":  # the first key's nulls sort as asked (in ascending terms)
            order[0].set("nulls_first", (e.nulls == "first") != desc)
        order.append(exp.Ordered(this=self._order_key(col(rows, "id"), "str"), desc=desc))
        if has_code:
            order.append(exp.Ordered(this=self._order_key(col(rows, "code"), "str"), desc=desc))
        sub = (
            exp.select(col(rows, "value"), copy=False)
            .from_(derived, copy=False)
            .where(
                exp.Not(this=exp.Is(this=col(rows, "k0"), expression=exp.Null()))
                if e.nulls == "skip"
                else exp.Boolean(this=True),
                copy=False,
            )
            .order_by(*order, copy=False)
            .limit(1, copy=False)
        )
        return exp.Subquery(this=sub)

    def covered_days(
        self,
        e: n.CoveredDays,
        table: Any,
        conds: list[exp.Expression],
        scope: Scope,
        inner: Scope,
    ) -> exp.Expression:
        """Union length by "gaps and islands": each span adds the days past the running max."""
        d = self.d
        lo, hi = self.expr(e.lo, scope), self.expr(e.hi, scope)

        def clip(part: n.CoveredPart, table: Any, conds: list[Any], inner: Scope) -> exp.Select:
            greatest = self.func(n.Func("greatest", (part.start, e.lo)), inner)
            least = self.func(n.Func("least", (part.end, e.hi)), inner)
            return self.select_from(
                exp.select(greatest.as_("s", copy=False), least.as_("e", copy=False)),
                table,
                conds,
            )

        parts = [clip(e.parts[0], table, conds, inner)]
        for part in e.parts[1:]:  # more frames: UNION ALL of their spans
            (table2, conds2, _), inner2 = self.frame(part.frame, scope, part.row)
            parts.append(clip(part, table2, conds2, inner2))
        clipped = union_all(parts)
        a1, a2 = f"c{next(self._aliases)}", f"c{next(self._aliases)}"
        window = exp.Window(
            this=exp.Max(this=col(a1, "e")),
            order=exp.Order(
                expressions=[exp.Ordered(this=col(a1, "s")), exp.Ordered(this=col(a1, "e"))]
            ),
            spec=exp.WindowSpec(
                kind="ROWS",
                start="UNBOUNDED",
                start_side="PRECEDING",
                end="1",
                end_side="PRECEDING",
            ),
        )
        spans = (
            exp.select(col(a1, "s"), col(a1, "e"), window.as_("pm", copy=False))
            .from_(exp.Subquery(this=clipped, alias=a1), copy=False)
            .where(exp.LTE(this=col(a1, "s"), expression=col(a1, "e")), copy=False)
        )
        s2, e2, pm = col(a2, "s"), col(a2, "e"), col(a2, "pm")
        after_pm = d.add_days(pm, exp.Literal.number(1), "date")
        start_new = exp.Case(
            ifs=[exp.If(this=exp.GT(this=s2, expression=after_pm), true=s2)], default=after_pm
        )
        one = exp.Literal.number(1)
        contrib = exp.Case(
            ifs=[
                exp.If(
                    this=exp.Is(this=pm, expression=exp.Null()),
                    true=exp.Add(this=d.days_between(s2, "date", e2, "date"), expression=one),
                ),
                exp.If(this=exp.LTE(this=e2, expression=pm), true=exp.Literal.number(0)),
            ],
            default=exp.Add(this=d.days_between(start_new, "date", e2, "date"), expression=one),
        )
        total = exp.select(
            exp.Coalesce(this=exp.Sum(this=contrib), expressions=[exp.Literal.number(0)]),
            copy=False,
        ).from_(exp.Subquery(this=spans, alias=a2), copy=False)
        bounds_null = exp.or_(
            exp.Is(this=lo, expression=exp.Null()),
            exp.Is(this=hi, expression=exp.Null()),
            copy=False,
        )
        return exp.Case(
            ifs=[exp.If(this=bounds_null, true=exp.Null())], default=exp.Subquery(this=total)
        )
