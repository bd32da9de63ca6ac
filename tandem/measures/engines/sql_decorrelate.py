"""Spark: aggregates correlated with an outer row by more than equalities, as joins.

A correlated scalar subquery such as FUH's first follow-up visit of each discharge,

    (SELECT MIN(v.start) FROM visits v
     WHERE v.patient_id = e.patient_id AND v.start > e.end AND v.start <= e.end + 30)

is decorrelated by Spark itself through a *domain* of the outer values that the
non-equality predicates read (``e.end``), without the patient: the domain is then joined to
every visit of every patient by the range predicates alone, a cartesian product (SPARK-36114;
FUH and FUM ran for hours at 100,000 patients). The compiler writes the decorrelated form
itself, with the patient in the domain, so that every join is an equi-join on ``patient_id``:

    LEFT JOIN (
      SELECT r.k0, r.k1, MIN(r.pv) AS v
      FROM (SELECT d.k0, d.k1, CAST(v.start AS DATE) AS pv
            FROM (SELECT DISTINCT e.patient_id AS k0, e.end AS k1 FROM <e's source> e) d
            JOIN visits v ON v.patient_id = d.k0
            WHERE v.start > d.k1 AND v.start <= d.k1 + 30) r
      GROUP BY r.k0, r.k1
    ) x ON x.k0 = e.patient_id AND x.k1 <=> e.end

is added to the query that reads ``e`` (``Compiler.pending``, joined by ``Compiler.attach``),
and the aggregate's value is ``x.v`` (``COALESCE(x.v, 0)`` for counts and sums).
``first_by``/``last_by`` rank the rows per domain tuple in the pick's order. The domain is
every row of ``e``'s source of a patient with a row in the frame (and in the cohort when the
stage holds one), a superset of the rows asked about; the LEFT JOIN matches at most one row
per outer row, so results are unchanged.

Applies to ``count``, ``min``/``max``/``sum``/``count_distinct`` and ``first_by``/``last_by``
correlated with the nearest enclosing query's row (Spark cannot read further out anyway).
``exists`` (Spark plans a hash existence join with the range as a join condition),
equality-only correlation (Spark joins on those columns) and ``covered_days`` keep the
correlated form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlglot import exp

from tandem.measures import lang_nodes as n

if TYPE_CHECKING:
    from tandem.measures.engines.sql_compile import Compiler, Scope


def decorrelated(
    c: Compiler,
    e: n.Expr,
    scope: Scope,
    table: tuple[Any, Any],
    conds: list[exp.Expression],
    alias: str,
    inner: Scope,
) -> exp.Expression | None:
    """The aggregate ``e`` (its frame compiled as ``table``, ``conds``, ``alias``) as a
    column of a LEFT JOIN waiting for the outer query; None to keep the correlated form."""
    from tandem.measures.engines.sql_compile import CURRENT, _all, _flatten_and, _reads, col

    if not isinstance(e, n.Count | n.Agg | n.Pick):
        return None
    outer = scope[CURRENT].alias
    source = c.sources.get(outer)
    if source is None or "patient_id" not in n.root_table(e.frame).columns:
        return None
    if _only_equalities(_flatten_and(conds), alias, outer):
        return None  # Spark joins on the equal columns itself
    waiting = len(c.pending.get(alias, []))
    parts = _parts(c, e, alias, inner)
    everything = [*conds, *parts.values()]
    # only the nearest query's row may be read from outside; joins waiting for a query other
    # than this frame's are outside too
    elsewhere = {v.alias for k, v in scope.items() if k != CURRENT} - {outer}
    elsewhere |= {j.this.alias for a, js in c.pending.items() if a != alias for j in js}
    if any(_reads(a, everything) for a in elsewhere):
        if alias in c.pending:  # the caller compiles the parts again
            del c.pending[alias][waiting:]
        return None

    names = ["patient_id"]  # the domain: the patient, then every outer column read
    for part in everything:
        for column in part.find_all(exp.Column):
            if column.table == outer and column.name not in names:
                names.append(column.name)
    dom, rows_alias, x = (f"{p}{next(c._aliases)}" for p in ("d", "r", "x"))
    for part in everything:
        for column in list(part.find_all(exp.Column)):
            if column.table == outer:
                column.replace(col(dom, f"k{names.index(column.name)}"))
    width = len(names)

    domain = exp.select(
        *(col(outer, nm).as_(f"k{i}", copy=False) for i, nm in enumerate(names)), copy=False
    )
    domain = domain.from_(source(outer), copy=False).distinct(copy=False)
    # only outer rows of patients with a row in the frame can match (few, often)
    frame_table, stage_join = table
    patients = exp.select(col("f", "patient_id"), copy=False).from_(
        frame_table.copy().as_("f", copy=False), copy=False
    )
    domain = domain.where(
        exp.In(this=col(outer, "patient_id"), query=exp.Subquery(this=patients)), copy=False
    )
    if c.restricted and c.stage_table is not None:  # the stage holds the cohort
        on = exp.EQ(this=col("s", "patient_id"), expression=col(outer, "patient_id"))
        domain = domain.join(c.stage_table.copy().as_("s", copy=False), on=on, copy=False)

    rows = exp.select(
        *(col(dom, f"k{i}").as_(f"k{i}", copy=False) for i in range(width)), copy=False
    )
    for name, value in parts.items():
        rows.append("expressions", value.as_(name, copy=False))
    rows = rows.from_(exp.Subquery(this=domain, alias=dom), copy=False)
    on = exp.EQ(this=col(alias, "patient_id"), expression=col(dom, "k0"))
    rows = c.attach(rows.join(frame_table, on=on, copy=False), frame_table.alias)
    if stage_join is not None and _reads(stage_join[0].alias, everything):
        rows = rows.join(stage_join[0], on=stage_join[1], copy=False)
    rows = rows.where(_all(conds), copy=False)

    keys = [col(rows_alias, f"k{i}") for i in range(width)]
    if isinstance(e, n.Pick):
        grouped = _first_row(c, e, rows, rows_alias, width)
        default = None
    else:
        value = _aggregate(e, rows_alias)
        grouped = exp.select(*keys, value.as_("v", copy=False), copy=False)
        grouped = grouped.from_(exp.Subquery(this=rows, alias=rows_alias), copy=False)
        grouped = grouped.group_by(*(k.copy() for k in keys), copy=False)
        default = _default(e)

    match: list[exp.Expression] = [exp.EQ(this=col(x, "k0"), expression=col(outer, "patient_id"))]
    match += [
        exp.NullSafeEQ(this=col(x, f"k{i}"), expression=col(outer, nm))
        for i, nm in enumerate(names)
        if i > 0
    ]
    join = exp.Join(
        this=exp.Subquery(this=grouped, alias=x), on=exp.and_(*match, copy=False), side="LEFT"
    )
    c.pending.setdefault(outer, []).append(join)
    out: exp.Expression = col(x, "v")
    if default is not None:
        out = exp.Coalesce(this=out, expressions=[default])
    return out


def _parts(c: Compiler, e: n.Expr, alias: str, inner: Scope) -> dict[str, exp.Expression]:
    """The per-row values the aggregate reads, compiled in the frame's scope."""
    from tandem.measures.engines.sql_compile import col

    if isinstance(e, n.Count):
        return {"pid": col(alias, e.frame.id_column)}
    if isinstance(e, n.Agg):
        return {"pv": c.expr(e.value, inner)}
    assert isinstance(e, n.Pick)
    out = {"pv": c.expr(e.value, inner)}
    for i, k in enumerate(e.keys):
        out[f"pk{i}"] = c.expr(k, inner)
    out["pid"] = col(alias, e.frame.id_column)
    if "code" in e.frame.columns:
        code = exp.Coalesce(this=col(alias, "code"), expressions=[exp.Literal.string("")])
        out["pcode"] = code
    return out


def _aggregate(e: n.Expr, rows: str) -> exp.Expression:
    from tandem.measures.engines.sql_compile import col

    if isinstance(e, n.Count):
        return exp.Count(this=exp.Distinct(expressions=[col(rows, "pid")]))
    assert isinstance(e, n.Agg)
    v = col(rows, "pv")
    if e.kind == "count_distinct":
        return exp.Count(this=exp.Distinct(expressions=[v]))
    if e.kind == "sum":
        return exp.Sum(this=v)
    return exp.Min(this=v) if e.kind == "min" else exp.Max(this=v)


def _default(e: n.Expr) -> exp.Expression | None:
    """The value for outer rows without a matching row (null for min, max and picks)."""
    if isinstance(e, n.Count) or (isinstance(e, n.Agg) and e.kind in ("count_distinct", "sum")):
        return exp.Literal.number(0)
    return None


def _first_row(c: Compiler, e: n.Pick, rows: exp.Select, alias: str, width: int) -> exp.Select:
    """The picked value per domain tuple: the first row in the order of ``Compiler.pick``
    (keys, nulls as asked, then row id and code; rows without a first key skipped by
    default)."""
    from tandem.measures.engines.sql_compile import col

    desc = e.last
    order = [
        exp.Ordered(this=col(alias, f"pk{i}"), desc=desc, nulls_first=not desc)
        for i in range(len(e.keys))
    ]
    if e.nulls != "skip":
        order[0].set("nulls_first", (e.nulls == "first") != desc)
    order.append(exp.Ordered(this=col(alias, "pid"), desc=desc))
    if "code" in e.frame.columns:
        order.append(exp.Ordered(this=col(alias, "pcode"), desc=desc))
    keys = [col(alias, f"k{i}") for i in range(width)]
    rank = exp.Window(this=exp.RowNumber(), partition_by=keys, order=exp.Order(expressions=order))
    ranked = exp.select(
        *(k.copy() for k in keys),
        col(alias, "pv").as_("v", copy=False),
        rank.as_("tandem_rank", copy=False),
        copy=False,
    )
    ranked = ranked.from_(exp.Subquery(this=rows, alias=alias), copy=False)
    if e.nulls == "skip":
        first_key = exp.Not(this=exp.Is(this=col(alias, "pk0"), expression=exp.Null()))
        ranked = ranked.where(first_key, copy=False)
    top = f"{alias}t"
    out = exp.select(*(col(top, f"k{i}") for i in range(width)), col(top, "v"), copy=False)
    out = out.from_(exp.Subquery(this=ranked, alias=top), copy=False)
    return out.where(
        exp.EQ(this=col(top, "tandem_rank"), expression=exp.Literal.number(1)), copy=False
    )


def _only_equalities(conjuncts: list[exp.Expression], alias: str, outer: str) -> bool:
    """Every conjunct reading the outer row is ``inner expression = outer expression``."""
    from tandem.measures.engines.sql_compile import _reads

    for x in conjuncts:
        if not _reads(outer, [x]):
            continue
        if not isinstance(x, exp.EQ) or x.find(exp.Select) is not None:
            return False
        left, right = _reads(outer, [x.this]), _reads(outer, [x.expression])
        if left == right or _reads(outer, [x.expression if left else x.this]):
            return False
        if not _reads(alias, [x.expression if left else x.this]):
            return False
    return True
