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
