"""A measure suite in one run (shared frame prefixes, cohorts) gives each measure's results
exactly as evaluating it alone on the in-memory oracle: populations, evidence, reasons,
strata and the summary, for all registered measures over a small synthetic population."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from tandem.measures import definitions, schema
from tandem.measures import language as q
from tandem.measures import valuesets as vs_module
from tandem.measures.engines.sql import Job, SQLEngine
from tandem.measures.evaluation import evaluate, evaluate_many
from tandem.synth.generator import Generator, SynthConfig
from tandem.synth.parquet import conformed
from tests.measures.conftest import make_tables

PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))


@pytest.fixture(scope="module")
def population() -> dict[str, pa.Table]:
    gen = Generator(
        SynthConfig(patients=160, seed=11, start=dt.date(2023, 1, 1), end=dt.date(2025, 12, 31)),
        operational=False,
    )
    chunks = [c.tables for c in gen.chunks()]
    return {
        name: pa.concat_tables([conformed(name, c[name]) for c in chunks if name in c])
        for name in schema.TABLES
        if any(name in c for c in chunks)
    }


@pytest.fixture(scope="module")
def oracle(population: dict[str, pa.Table]) -> dict[str, Any]:
    valuesets = vs_module.for_year(2025)  # shipped with Tandem
    return {
        key: evaluate(
            definitions.select(key, PERIOD).measure(),
            population,
            valuesets,
            period=PERIOD,
            engine="memory",
        )
        for key in definitions.REGISTRY
    }


def _facts(result: Any) -> list[Any]:
    return [(p.patient_id, p.populations, p.evidence, p.reasons, p.strata) for p in result.patients]


@pytest.mark.parametrize("engine", ["duckdb", "sqlite"])
def test_a_suite_in_one_run_matches_each_measure_alone(
    engine: str, population: dict[str, pa.Table], oracle: dict[str, Any]
) -> None:
    keys = list(definitions.REGISTRY)
    results = evaluate_many(
        [definitions.select(k, PERIOD).measure() for k in keys],
        population,
        vs_module.for_year(2025),
        period=PERIOD,
        engine=engine,
    )
    assert any(r.counts(r.summary[0].group)["initial-population"] for r in results)
    for key, result in zip(keys, results, strict=True):
        expected = oracle[key]
        assert _facts(result) == _facts(expected), key
        assert [row.__dict__ for row in result.summary] == [
            row.__dict__ for row in expected.summary
        ], key


def test_a_suite_on_postgres_matches_the_oracle(
    population: dict[str, pa.Table], oracle: dict[str, Any], postgres_connection: Any
) -> None:
    keys = ["CMS2", "SSD", "FUH", "TANDEM-UTIL"]
    results = evaluate_many(
        [definitions.select(k, PERIOD).measure() for k in keys],
        population,
        vs_module.for_year(2025),
        period=PERIOD,
        engine="postgres",
        connection=postgres_connection,
    )
    for key, result in zip(keys, results, strict=True):
        assert _facts(result) == _facts(oracle[key]), key


def test_duckdb_sql_without_sqlglots_copy_is_the_same_text(
    population: dict[str, pa.Table],
) -> None:
    """DuckDB's statements are generated with ``copy=False`` (speed, ``SQLEngine._sql``):
    every statement of a whole suite must read exactly as with SQLGlot's defensive copy."""
    import re

    from tandem.measures.engines.sql import SQLEngine
    from tandem.measures.engines.sql_semijoin import exists_as_semi_joins

    class Copying(SQLEngine):
        def _sql(self, select: Any) -> str:
            exists_as_semi_joins(select)
            return str(select.sql(dialect=self.name))  # SQLGlot's default: copy=True

    def statements(engine: SQLEngine) -> list[str]:
        evaluate_many(
            [definitions.select(k, PERIOD).measure() for k in definitions.REGISTRY],
            population,
            vs_module.for_year(2025),
            period=PERIOD,
            engine=engine,
        )
        # each run names its tables with a fresh prefix
        return [re.sub(r"tandem_[0-9a-f]{8}_", "tandem_X_", s) for s in engine.last_sql]

    copied = statements(Copying("duckdb"))
    assert len(copied) > 500
    assert statements(SQLEngine("duckdb")) == copied


def test_a_failure_while_scoring_a_measure_stops_the_run_and_leaves_nothing_behind() -> None:
    # scoring runs on a worker thread beside the database: its error is the caller's, and
    # the run's temporary tables and views are dropped as after any failure
    tables = make_tables(
        encounters=[
            {
                "encounter_id": "e1",
                "patient_id": "p1",
                "status": "finished",
                "start": dt.datetime(2025, 3, 1, 9),
            }
        ]
    )
    seen = q.table("encounters").status_in("finished")
    jobs = [Job({"n": seen.count()}, {}, seen.exists()) for _ in range(3)]
    con = duckdb.connect()
    finished: list[int] = []

    def finish(index: int, table: pa.Table) -> int:
        if index == 1:
            raise RuntimeError("scoring failed")
        finished.append(index)
        return int(table.num_rows)

    engine = SQLEngine("duckdb", connection=con)
    with pytest.raises(RuntimeError, match="scoring failed"):
        engine.run_tables(jobs, tables, {}, finish=finish)
    left = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'tandem_%' UNION ALL "
        "SELECT count(*) FROM duckdb_views() WHERE view_name LIKE 'tandem_%'"
    ).fetchall()
    assert left == [(0,), (0,)]
    assert finished in ([0], [0, 2])  # the job after the failure may have been scored
    assert engine.run_tables(jobs[:1], tables, {}, finish=finish) == [1]
