"""DuckDB: ``WHERE ... AND [NOT] EXISTS (correlated subquery)`` as a SEMI (ANTI) JOIN.

A frame filtered by the existence of related rows (an encounter with a diagnosis whose onset
precedes its end, a discharge without a readmission within 30 days) compiles to a conjunct
``EXISTS (SELECT 1 FROM inner AS t1 WHERE t1.patient_id = t0.patient_id AND <range>)``.
DuckDB runs a correlated ``EXISTS`` whose correlation is more than equalities as a dependent
join: it stores the outer rows, groups their distinct correlated values, joins those to the
inner rows and marks the outer rows back — at 1 M patients a prefix of 2.6 M encounters spent
most of its 1.0 s there. Written as ``FROM outer AS t0 SEMI JOIN inner AS t1 ON <the same
conditions>`` it is one hash join on ``patient_id`` that stops at the first match (0.37 s;
``benchmarks/README.md``, "Measure suite").

Only a conjunct of a WHERE (a filter: ``EXISTS`` true keeps the row, as a semi-join does;
``NOT EXISTS`` as an anti-join keeps rows without a match, whatever the nulls) is rewritten,
and only when the subquery reads one source without joins, grouping or limits, and its
conditions read that source and the rows of the query that holds the WHERE (no column of a
query further out). Conditions on the inner rows alone stay in a derived table's WHERE (they
may hold uncorrelated subqueries: value-set lists, semi-joins); the conditions that relate
inner and outer rows become the ON clause and must hold no subquery.
"""

from __future__ import annotations

from sqlglot import exp


def exists_as_semi_joins(select: exp.Expression) -> exp.Expression:
    """Rewrite, in place, every SELECT of ``select`` (at any depth); returns ``select``."""
    for query in list(select.find_all(exp.Select)):
        _rewrite(query)
    return select


def _conjuncts(e: exp.Expression) -> list[exp.Expression]:
    out: list[exp.Expression] = []
    stack = [e]
    while stack:
        c = stack.pop()
        if isinstance(c, exp.Paren):
            stack.append(c.this)
        elif isinstance(c, exp.And):
            stack.extend([c.expression, c.this])
        else:
            out.append(c)
    return out


def _unwrap(e: exp.Expression) -> exp.Expression:
    while isinstance(e, exp.Paren):
        e = e.this
    return e


def _aliases_read(e: exp.Expression) -> set[str]:
    return {c.table for c in e.find_all(exp.Column)}


def _aliases_declared(e: exp.Expression) -> set[str]:
    """Aliases of the sources of subqueries inside ``e`` (their columns are their own)."""
    names = {t.name for t in e.find_all(exp.TableAlias)}
    names |= {t.alias_or_name for t in e.find_all(exp.Table)}
    return names


def _source_alias(source: exp.Expression) -> str:
    return source.alias if isinstance(source, exp.Table | exp.Subquery) else ""


def _rewrite(query: exp.Select) -> None:
    where = query.args.get("where")
    from_ = query.args.get("from_")
    if where is None or from_ is None:
        return
    outer = {_source_alias(from_.this)}
    outer |= {_source_alias(j.this) for j in query.args.get("joins") or []}
    outer.discard("")
    if not outer:
        return
    keep: list[exp.Expression] = []
    joins: list[exp.Join] = []
    for conjunct in _conjuncts(where.this):
        join = _as_join(conjunct, outer)
        if join is None:
            keep.append(conjunct)
        else:
            joins.append(join)
    if not joins:
        return
    for join in joins:
        query.append("joins", join)
    query.set("where", exp.Where(this=exp.and_(*keep, copy=False)) if keep else None)


def _as_join(conjunct: exp.Expression, outer: set[str]) -> exp.Join | None:
    anti = False
    test = _unwrap(conjunct)
    if isinstance(test, exp.Not):
        test, anti = _unwrap(test.this), True
    if not isinstance(test, exp.Exists):
        return None
    sub = test.this
    if not isinstance(sub, exp.Select) or any(
        sub.args.get(k) for k in ("joins", "group", "having", "limit", "qualify", "distinct")
    ):
        return None
    from_ = sub.args.get("from_")
    if from_ is None:
        return None
    source = from_.this
    alias = _source_alias(source)
    if not alias or alias in outer:
        return None
    inner_only: list[exp.Expression] = []
    related: list[exp.Expression] = []
    where = sub.args.get("where")
    for c in _conjuncts(where.this) if where is not None else []:
        read = _aliases_read(c)
        if read <= {alias} | _aliases_declared(c):
            inner_only.append(c)
        elif read <= {alias} | outer and c.find(exp.Select) is None:
            related.append(c)
        else:
            return None  # reads a query further out, or relates rows through a subquery
    if not related:
        return None
    target: exp.Expression = source
    if inner_only:
        body = exp.select(exp.Star(), copy=False).from_(source, copy=False)
        body = body.where(exp.and_(*inner_only, copy=False), copy=False)
        target = exp.Subquery(this=body, alias=exp.TableAlias(this=exp.to_identifier(alias)))
    on = exp.and_(*related, copy=False)
    return exp.Join(this=target, on=on, kind="ANTI" if anti else "SEMI")


__all__ = ["exists_as_semi_joins"]
