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

An ``EXISTS`` used as a value (a column of a SELECT list: CMS68's numerator of each
qualifying encounter) is the same dependent join. When the query reads one source (semi-joins
aside) and the relation to it is more than equalities, the value is written as membership of
the outer row's correlated columns among the source rows that have a match::

    COALESCE((t0.a, t0.b) IN (SELECT t0.a, t0.b FROM source AS t0 SEMI JOIN inner AS t1
                              ON <the same conditions>), FALSE)

— the conditions read only those columns of the outer row, so a row is a member exactly when
it has a match. Every relating condition must be a comparison whose outer columns pass only
through casts and arithmetic (null in, null out): a null outer column then matches nothing in
either form (CMS68's prefix at 1 M: 2.3–2.6 s → 1.6–1.7 s, same rows).
"""

from __future__ import annotations

from sqlglot import exp

from tandem.measures.engines.sql_compile import _flatten_and


def exists_as_semi_joins(select: exp.Expression) -> exp.Expression:
    """Rewrite, in place, every SELECT of ``select`` (at any depth); returns ``select``."""
    for query in list(select.find_all(exp.Select)):
        _rewrite(query)
        _rewrite_values(query)
    return select


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
    for conjunct in _flatten_and([where.this]):
        join = _as_join(conjunct, outer)
        if join is None:
            join = _membership_as_join(conjunct, outer, f"tandem_m{len(joins) + 1}")
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
    parts = _split(test, outer)
    if parts is None:
        return None
    target, related = parts
    on = exp.and_(*related, copy=False)
    return exp.Join(this=target, on=on, kind="ANTI" if anti else "SEMI")


def _membership_as_join(conjunct: exp.Expression, outer: set[str], name: str) -> exp.Join | None:
    """A conjunct ``[NOT] COALESCE(key IN (SELECT ...), FALSE)`` — the compiler's form of an
    ``exists`` related only by equalities (``Compiler._semi_join``), a value-set membership
    against the value-set table, optionally behind ``CASE WHEN <a key column is null> THEN
    FALSE ELSE ... END`` — as a SEMI (ANTI) JOIN on the key's columns. A key of several columns
    is a struct (or a row) that DuckDB hashes as one value, in a mark join whose marks a
    filter then reads; the join on the columns themselves is cheaper (10 M encounters tested
    against 19 M (encounter, patient) keys of diagnoses and procedures at 1 M patients:
    1.9-2.2 s as a struct, 1.5 s as a semi-join). Same
    rows: a key with a null column has no match in either form (the guard says false; ``=``
    is never true on a null), so a semi-join drops it and an anti-join keeps it, as the
    conjunct and its negation do."""
    anti = False
    test = _unwrap(conjunct)
    if isinstance(test, exp.Not):
        test, anti = _unwrap(test.this), True
    guard: exp.Expression | None = None
    if isinstance(test, exp.Case):
        ifs = test.args.get("ifs") or []
        default = test.args.get("default")
        if len(ifs) != 1 or not _is_false(ifs[0].args.get("true")) or default is None:
            return None
        guard, test = ifs[0].this, _unwrap(default)
    # a bare ``key IN (...)`` conjunct is DuckDB's own semi-join already; COALESCE hides it
    if not isinstance(test, exp.Coalesce):
        return None
    if len(test.expressions) != 1 or not _is_false(test.expressions[0]):
        return None
    test = _unwrap(test.this)
    if not isinstance(test, exp.In) or not isinstance(test.args.get("query"), exp.Subquery):
        return None
    probe = _unwrap(test.this)
    keys = _fields(probe)
    if not keys or any(not isinstance(k, exp.Column) or k.table not in outer for k in keys):
        return None
    if guard is not None and not _null_guard(guard, keys):
        return None
    body = test.args["query"].this
    selects = _union_selects(body)
    if not selects:
        return None
    fields = [_select_fields(select) for select in selects]
    if any(len(f) != len(keys) for f in fields):
        return None
    if not _aliases_read(body) <= _aliases_declared(body):
        return None  # correlated: reads the outer query
    for select, values in zip(selects, fields, strict=True):
        select.set(
            "expressions",
            [exp.alias_(v, f"k{i}", quoted=True, copy=False) for i, v in enumerate(values)],
        )
    target = exp.Subquery(this=body, alias=exp.TableAlias(this=exp.to_identifier(name)))
    on = exp.and_(
        *(
            exp.EQ(this=exp.column(f"k{i}", table=name, quoted=True), expression=k.copy())
            for i, k in enumerate(keys)
        ),
        copy=False,
    )
    return exp.Join(this=target, on=on, kind="ANTI" if anti else "SEMI")


def _is_false(e: exp.Expression | None) -> bool:
    return isinstance(e, exp.Boolean) and not e.this


def _fields(e: exp.Expression) -> list[exp.Expression]:
    """The values of a key: a struct's fields, a row's items, else the value itself."""
    if isinstance(e, exp.Struct):
        out = []
        for f in e.expressions:
            if not isinstance(f, exp.PropertyEQ):
                return []
            out.append(_unwrap(f.expression))
        return out
    if isinstance(e, exp.Tuple):
        return [_unwrap(x) for x in e.expressions]
    return [e]


def _select_fields(select: exp.Select) -> list[exp.Expression]:
    """What a SELECT of one key lists, field by field (a struct's fields; the columns)."""
    items = select.expressions
    if len(items) == 1 and isinstance(_unwrap(items[0]), exp.Struct):
        return _fields(_unwrap(items[0]))
    if any(isinstance(i, exp.Star) or isinstance(_unwrap(i), exp.Struct) for i in items):
        return []
    return [i.this if isinstance(i, exp.Alias) else i for i in items]


def _union_selects(body: exp.Expression) -> list[exp.Select]:
    """The SELECTs of ``a UNION ALL b ...`` (of a lone SELECT: itself); a set operation of
    another kind yields nothing, so the caller leaves the conjunct alone."""
    if isinstance(body, exp.Union):
        if body.args.get("distinct"):
            return []
        left, right = _union_selects(body.this), _union_selects(body.expression)
        return left + right if left and right else []
    if isinstance(body, exp.Select) and not any(
        body.args.get(k) for k in ("group", "having", "limit", "distinct", "qualify")
    ):
        return [body]
    return []


def _null_guard(guard: exp.Expression, keys: list[exp.Expression]) -> bool:
    """``guard`` is ``k IS NULL OR ...`` of the key's columns only."""
    names = {(k.table, k.name) for k in keys if isinstance(k, exp.Column)}
    stack = [_unwrap(guard)]
    while stack:
        g = stack.pop()
        if isinstance(g, exp.Or):
            stack += [_unwrap(g.this), _unwrap(g.expression)]
            continue
        if not isinstance(g, exp.Is) or not isinstance(g.expression, exp.Null):
            return False
        column = _unwrap(g.this)
        if not isinstance(column, exp.Column) or (column.table, column.name) not in names:
            return False
    return True


def _rewrite_values(query: exp.Select) -> None:
    """``EXISTS`` in the SELECT list as membership among the source's matching rows."""
    from_ = query.args.get("from_")
    if from_ is None or any(
        j.args.get("kind") not in ("SEMI", "ANTI") for j in query.args.get("joins") or []
    ):
        return
    source = from_.this
    alias = _source_alias(source)
    if not alias:
        return
    for item in query.expressions:
        for test in list(item.find_all(exp.Exists)):
            if test.find_ancestor(exp.Select) is not query:
                continue  # the EXISTS of a subquery: its own scope
            parts = _split(test, {alias})
            if parts is None:
                continue
            target, related = parts
            if all(_column_equality(c) for c in related):
                continue  # equalities: DuckDB decorrelates these with a plain hash join
            if not all(_null_rejecting(c, alias) for c in related):
                continue
            names = sorted(
                {c.name for r in related for c in r.find_all(exp.Column) if c.table == alias}
            )
            columns = [exp.column(name, table=alias, quoted=True) for name in names]
            rows = exp.select(*columns, copy=False).from_(source.copy(), copy=False)
            rows = rows.join(
                target, on=exp.and_(*related, copy=False), join_type="SEMI", copy=False
            )
            key = (
                columns[0].copy()
                if len(columns) == 1
                else exp.Tuple(expressions=[c.copy() for c in columns])
            )
            member = exp.In(this=key, query=exp.Subquery(this=rows))
            test.replace(exp.Coalesce(this=member, expressions=[exp.Boolean(this=False)]))


_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_NULL_IN_NULL_OUT = (exp.Paren, exp.Cast, exp.TryCast, exp.Add, exp.Sub, exp.Mul)


def _column_equality(c: exp.Expression) -> bool:
    c = _unwrap(c)
    return isinstance(c, exp.EQ) and all(
        isinstance(_unwrap(side), exp.Column) for side in (c.this, c.expression)
    )


def _null_rejecting(c: exp.Expression, alias: str) -> bool:
    """A comparison that is null whenever a column of ``alias`` it reads is null."""
    c = _unwrap(c)
    if not isinstance(c, _COMPARISONS):
        return False
    for column in c.find_all(exp.Column):
        if column.table != alias:
            continue
        node = column.parent
        while node is not c:
            if not isinstance(node, _NULL_IN_NULL_OUT):
                return False
            node = node.parent
    return True


def _split(test: exp.Exists, outer: set[str]) -> tuple[exp.Expression, list[exp.Expression]] | None:
    """(the inner source, filtered by its own conditions; the conditions relating inner and
    outer rows), or None when the subquery has another shape."""
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
    for c in _flatten_and([where.this]) if where is not None else []:
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
    return target, related


__all__ = ["exists_as_semi_joins"]
