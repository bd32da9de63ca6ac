"""Shapes of the generated SQL that matter for speed (results are pinned by the engine tests):
``and``/``or`` decided by a constant (a parameter flag) never compile the other side, and on
DuckDB a correlated ``EXISTS`` filter is a semi-join (``NOT EXISTS`` an anti-join)."""

from __future__ import annotations

import datetime as dt

from sqlglot import exp, parse_one

from tandem.measures import language as q
from tandem.measures.engines.sql import SQLEngine
from tandem.measures.engines.sql_semijoin import exists_as_semi_joins
from tandem.measures.evaluation import run_outputs
from tests.measures.conftest import make_tables

ENC = q.table("encounters").status_in("finished")
DX = q.table("conditions").where(lambda c: c.code == "F32.9")


def visit(pid: str, eid: str, day: int) -> dict:
    start = dt.datetime(2025, 3, day, 9)
    return {
        "encounter_id": eid,
        "patient_id": pid,
        "status": "finished",
        "start": start,
        "end": start,
    }


def dx(pid: str, cid: str, day: int) -> dict:
    return {
        "condition_id": cid,
        "patient_id": pid,
        "code": "F32.9",
        "onset": dt.datetime(2025, 3, day),
    }


TABLES = make_tables(
    encounters=[visit("p1", "e1", 10), visit("p1", "e2", 1), visit("p2", "e3", 5)],
    conditions=[dx("p1", "c1", 5), dx("p2", "c2", 20)],
)


def run(engine: SQLEngine, outputs: dict, params: dict | None = None) -> dict:
    return run_outputs(outputs, TABLES, {}, engine=engine, parameters=params)


def test_a_side_a_false_flag_decides_is_never_compiled() -> None:
    flag = q.param("with_dx", "bool")
    outputs = {"x": ENC.exists() & (flag & DX.exists()), "y": (~flag) | DX.exists()}
    engine = SQLEngine("duckdb")
    off = run(engine, outputs, {"with_dx": False})
    assert not any("conditions" in sql for sql in engine.last_sql)
    assert off == {"p1": {"x": False, "y": True}, "p2": {"x": False, "y": True}}
    on = run(engine, outputs, {"with_dx": True})
    assert any("conditions" in sql for sql in engine.last_sql)
    assert on == {"p1": {"x": True, "y": True}, "p2": {"x": True, "y": True}}


def test_a_correlated_exists_filter_is_a_semi_join_on_duckdb() -> None:
    # encounters with a diagnosis recorded on or before them; the others
    diagnosed = ENC.where(lambda e: DX.where(lambda c: c.onset <= e.start).exists())
    undiagnosed = ENC.where(lambda e: ~DX.where(lambda c: c.onset <= e.start).exists())
    outputs = {
        "with": diagnosed.count(),
        "without": undiagnosed.count(),
        "ids": diagnosed.first_by(lambda e: e.start).encounter_id,
    }
    engine = SQLEngine("duckdb")
    got = run(engine, outputs)
    assert got == {
        "p1": {"with": 1, "without": 1, "ids": "e1"},
        "p2": {"with": 0, "without": 1, "ids": None},
    }
    text = "\n".join(s for s in engine.last_sql if not s.startswith("DROP"))
    assert "SEMI JOIN" in text and "ANTI JOIN" in text
    assert "EXISTS(" not in text
    assert run(SQLEngine("sqlite"), outputs) == got


def test_a_membership_filter_on_several_keys_is_a_join_on_the_columns() -> None:
    # an exists related only by equalities compiles to a membership of the (encounter,
    # patient) key; as a filter it is a semi-join (anti-join) on the two columns, not a
    # struct hashed whole. A null key matches nothing: the negation keeps it.
    tables = make_tables(
        encounters=[
            visit("p1", "e1", 10),
            visit("p1", "e2", 1),
            visit("p2", "e3", 5),
            {**visit("p2", "e4", 6), "encounter_id": None},
        ],
        conditions=[
            {**dx("p1", "c1", 5), "encounter_id": "e1"},
            {**dx("p1", "c3", 5), "encounter_id": None},
            {**dx("p2", "c2", 20), "encounter_id": "e1"},  # another patient's encounter id
        ],
    )

    def coded(e: q.Row) -> q.Expr:
        return DX.where(lambda c: c.encounter_id == e.encounter_id).exists()

    outputs = {
        "with": ENC.where(coded).count(),
        "without": ENC.where(lambda e: ~coded(e)).count(),
    }
    engine = SQLEngine("duckdb")
    got = run_outputs(outputs, tables, {}, engine=engine)
    assert got == {"p1": {"with": 1, "without": 1}, "p2": {"with": 0, "without": 2}}
    text = "\n".join(s for s in engine.last_sql if not s.startswith("DROP"))
    assert "SEMI JOIN (SELECT" in text and "ANTI JOIN (SELECT" in text
    assert "{'k0'" not in text  # no struct key left
    for other in ("sqlite", "memory"):
        assert run_outputs(outputs, tables, {}, engine=other) == got


def test_a_membership_is_a_join_only_as_a_filter_of_its_own_query() -> None:
    member = (
        "CASE WHEN t0.a IS NULL OR t0.b IS NULL THEN FALSE ELSE COALESCE({'k0': t0.a, 'k1': "
        "t0.b} IN (SELECT {'k0': t1.a, 'k1': t1.b} FROM x AS t1 UNION ALL SELECT {'k0': t2.a, "
        "'k1': t2.b} FROM y AS t2), FALSE) END"
    )
    sql = (
        f"SELECT * FROM a AS t0 WHERE NOT ({member}) AND (t0.z OR {member})"
        " AND COALESCE(t0.c IN (SELECT t3.c FROM z AS t3 WHERE t3.d = t0.d), FALSE)"
        " AND COALESCE(t0.e IN (SELECT t4.e FROM w AS t4), FALSE) AND t0.f IN (SELECT 1)"
    )
    tree = exists_as_semi_joins(parse_one(sql, read="duckdb"))
    joins = tree.args.get("joins") or []
    assert [j.args.get("kind") for j in joins] == ["ANTI", "SEMI"]
    anti, semi = (j.sql(dialect="duckdb") for j in joins)
    assert 'SELECT t1.a AS "k0", t1.b AS "k1" FROM x AS t1 UNION ALL' in anti
    assert anti.endswith('ON "tandem_m1"."k0" = t0.a AND "tandem_m1"."k1" = t0.b')
    assert semi.endswith('ON "tandem_m2"."k0" = t0.e')
    where = tree.args["where"].sql(dialect="duckdb")
    assert "t0.z OR" in where  # inside an OR: a value, stays
    assert "t3.d = t0.d" in where  # correlated: stays
    assert "t0.f IN (SELECT 1)" in where  # a bare IN: DuckDB's own semi-join already


def test_only_filters_reading_the_query_itself_become_joins() -> None:
    sql = (
        "SELECT *, EXISTS(SELECT 1 FROM b AS t1 WHERE t1.k = t0.k) AS flag FROM a AS t0 "
        "WHERE EXISTS(SELECT 1 FROM b AS t2 WHERE t2.k = t0.k AND t2.x IN (SELECT 1)) "
        "AND NOT EXISTS(SELECT 1 FROM b AS t3 WHERE t3.k = t0.k AND t3.y > t0.y) "
        "AND (t0.z OR EXISTS(SELECT 1 FROM b AS t4 WHERE t4.k = t0.k)) "
        "AND EXISTS(SELECT 1 FROM b AS t5 WHERE t5.k = (SELECT max(k) FROM c WHERE c.k = t0.k))"
    )
    tree = exists_as_semi_joins(parse_one(sql, read="duckdb"))
    joins = [j.args.get("kind") for j in tree.args.get("joins") or []]
    assert joins == ["SEMI", "ANTI"]
    where = tree.args["where"].sql(dialect="duckdb")
    assert "t4" in where and "t5" in where  # inside an OR; related through a subquery
    assert isinstance(tree.expressions[1].this, exp.Exists)  # a value, not a filter
    # the inner-only condition (with its uncorrelated subquery) stays with the inner rows
    semi = tree.args["joins"][0]
    assert "IN (SELECT 1)" in semi.this.sql(dialect="duckdb")
    assert semi.args["on"].sql(dialect="duckdb") == "t2.k = t0.k"


def test_an_aggregate_built_twice_is_computed_once() -> None:
    # the same tests built again (a measure's groups and strata do): one column each
    def recent() -> q.Expr:
        return ENC.where(lambda e: e.start >= dt.datetime(2025, 3, 2)).count()

    def diagnosed() -> q.Expr:
        return ENC.where(lambda e: DX.where(lambda c: c.onset <= e.start).exists()).exists()

    outputs = {
        "a": recent(),
        "b": recent() + 1,
        "c": diagnosed(),
        "d": diagnosed() & (recent() >= 1),
        # a different bound: not the same aggregate
        "e": ENC.where(lambda e: e.start >= dt.datetime(2025, 3, 6)).count(),
    }
    for dialect in ("duckdb", "sqlite"):
        engine = SQLEngine(dialect)
        got = run(engine, outputs)
        assert got == {
            "p1": {"a": 1, "b": 2, "c": True, "d": True, "e": 1},
            "p2": {"a": 1, "b": 2, "c": False, "d": False, "e": 0},
        }, dialect
        text = "\n".join(s for s in engine.last_sql if s.startswith("CREATE"))
        # three patient-level aggregates: the two counts and the exists
        assert text.count("COUNT(DISTINCT") == 2, text
        assert len({s for s in engine.last_sql if "conditions" in s and "CREATE" in s}) <= 2


def test_structural_key_tells_bound_variables_apart_from_free_ones() -> None:
    from tandem.measures.lang_walk import structural_key

    a = ENC.where(lambda e: e.start >= q.param("period_start", "date")).exists()
    b = ENC.where(lambda e: e.start >= q.param("period_start", "date")).exists()
    c = ENC.where(lambda e: e.end >= q.param("period_start", "date")).exists()
    d = ENC.where(lambda e: e.start >= q.param("period_end", "date")).exists()
    assert structural_key(a) == structural_key(b)
    assert len({structural_key(x) for x in (a, c, d)}) == 3
    # nested: the inner frame binds its own row, the outer row is bound by the outer frame
    inner = [
        ENC.where(lambda e: DX.where(lambda c: c.onset <= e.start).exists()).exists()
        for _ in range(2)
    ]
    assert structural_key(inner[0]) == structural_key(inner[1])


def test_a_range_correlated_exists_used_as_a_value_is_a_membership_on_duckdb() -> None:
    # each encounter: is a diagnosis recorded on or before its start? (a value per row, as an
    # episode measure's numerator); e4 has no start: no diagnosis can precede it
    tables = make_tables(
        encounters=[
            visit("p1", "e1", 10),
            visit("p1", "e2", 1),
            visit("p2", "e3", 5),
            {**visit("p2", "e4", 25), "start": None},
        ],
        conditions=[dx("p1", "c1", 5), dx("p2", "c2", 20)],
    )
    flagged = ENC.with_columns(diagnosed=lambda e: DX.where(lambda c: c.onset <= e.start).exists())
    outputs = {
        "yes": flagged.where(lambda e: e.diagnosed).count(),
        "no": flagged.where(lambda e: ~e.diagnosed).count(),
    }
    expected = {"p1": {"yes": 1, "no": 1}, "p2": {"yes": 0, "no": 2}}
    for dialect in ("duckdb", "sqlite"):
        engine = SQLEngine(dialect)
        assert run_outputs(outputs, tables, {}, engine=engine) == expected, dialect
    text = "\n".join(s for s in engine.last_sql if s.startswith("CREATE"))
    assert "EXISTS(" in text  # SQLite keeps the correlated form
    engine = SQLEngine("duckdb")
    run_outputs(outputs, tables, {}, engine=engine)
    text = "\n".join(s for s in engine.last_sql if s.startswith("CREATE"))
    assert "EXISTS(" not in text and "SEMI JOIN" in text, text


def test_an_exists_value_that_a_null_outer_column_could_satisfy_stays_correlated() -> None:
    outer = parse_one(
        "SELECT t0.a, EXISTS(SELECT 1 FROM x AS t1 WHERE t1.p = t0.p "
        "AND COALESCE(t0.d, t1.d) >= t1.d) AS v FROM y AS t0"
    )
    exists_as_semi_joins(outer)
    assert outer.find(exp.Exists) is not None
    ranged = parse_one(
        "SELECT t0.a, EXISTS(SELECT 1 FROM x AS t1 WHERE t1.p = t0.p "
        "AND CAST(t0.d AS DATE) + 30 >= t1.d) AS v FROM y AS t0"
    )
    exists_as_semi_joins(ranged)
    assert ranged.find(exp.Exists) is None
    assert "IN (SELECT" in ranged.sql(dialect="duckdb")
