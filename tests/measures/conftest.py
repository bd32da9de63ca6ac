"""Shared fixtures for the measure language: one ``engine`` fixture runs a test on every engine.

Spec tests give small tables and expected per-patient values; the ``engine`` fixture is
parametrised over memory (the oracle), DuckDB, SQLite, PostgreSQL and Spark. PostgreSQL uses a
database created for this test session (``tandem_spec_<pid>``) and dropped at the end; when no
server answers the PostgreSQL cases skip, unless ``TANDEM_REQUIRE_POSTGRES=1``. Spark cases
skip when PySpark or Java is missing and carry the ``spark`` mark (``-m "not spark"`` for a
quick run: a local Spark session takes ~15 s to start and each case ~2 s).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pytest

from tandem.measures import schema
from tandem.measures.evaluation import run_outputs
from tandem.measures.lang_nodes import Expr

PG_ADMIN_URL = os.environ.get(
    "TANDEM_SPEC_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ENGINES = ["memory", "duckdb", "sqlite", "postgres", "spark"]
PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))


def make_table(name: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """An analytic table from partial rows: unspecified columns are null, ids are filled in."""
    columns = [c for c, _ in schema.TABLES[name]]
    id_col = columns[0]
    full = []
    for i, row in enumerate(rows, start=1):
        unknown = set(row) - set(columns)
        if unknown:
            raise KeyError(f"{name} has no columns {sorted(unknown)}")
        r = {c: row.get(c) for c in columns}
        if r[id_col] is None:
            r[id_col] = f"{name[:3]}-{i}"
        full.append(r)
    return pa.Table.from_pylist(full, schema=schema.arrow_schema(name))


def make_tables(**tables: Sequence[Mapping[str, Any]]) -> dict[str, pa.Table]:
    """``make_tables(patients=[...], encounters=[...])``; patients default to those referenced."""
    out = {name: make_table(name, rows) for name, rows in tables.items()}
    if "patients" not in out:
        pids = sorted(
            {r["patient_id"] for rows in tables.values() for r in rows if r.get("patient_id")}
        )
        out["patients"] = make_table("patients", [{"patient_id": p} for p in pids])
    return out


class EngineRunner:
    """Runs expressions on one engine and returns ``{patient_id: value}``."""

    def __init__(self, name: str, connection: Any = None) -> None:
        self.name = name
        self.connection = connection

    def __repr__(self) -> str:
        return f"<engine {self.name}>"

    def run_many(
        self,
        outputs: Mapping[str, Expr],
        tables: Mapping[str, pa.Table],
        valuesets: Mapping[str, frozenset[tuple[str, str]]] | None = None,
        *,
        period: tuple[dt.date, dt.date] | None = PERIOD,
        parameters: Mapping[str, Any] | None = None,
    ) -> dict[str, dict[str, Any]]:
        return run_outputs(
            dict(outputs),
            tables,
            valuesets or {},
            engine=self.name,
            period=period,
            parameters=parameters,
            connection=self.connection,
        )

    def run(
        self, expr: Expr, tables: Mapping[str, pa.Table], valuesets: Any = None, **kw: Any
    ) -> dict[str, Any]:
        out = self.run_many({"x": expr}, tables, valuesets, **kw)
        return {pid: row["x"] for pid, row in out.items()}


@pytest.fixture(scope="session")
def postgres_connection() -> Iterator[Any]:
    """A connection to a fresh database for this session, dropped afterwards."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception as err:  # noqa: BLE001 - any failure means "no server here"
        if os.environ.get("TANDEM_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (TANDEM_REQUIRE_POSTGRES=1) but not reachable: {err}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(err).__name__})")
    name = f"tandem_spec_{os.getpid()}"
    admin.execute(f"DROP DATABASE IF EXISTS {name}")
    admin.execute(f"CREATE DATABASE {name}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    con = psycopg.connect(url, autocommit=True)
    try:
        yield con
    finally:
        con.close()
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    try:
        from tandem.measures.engines.spark import spark_available
    except ImportError:
        pytest.skip("Spark engine not built")
    reason = spark_available()
    if reason:
        pytest.skip(reason)
    from tandem.measures.engines.spark import local_session

    session = local_session()
    yield session
    session.stop()


@pytest.fixture(
    params=[
        pytest.param(name, marks=[pytest.mark.spark] if name == "spark" else []) for name in ENGINES
    ]
)
def engine(request: pytest.FixtureRequest) -> EngineRunner:
    name = request.param
    if name == "postgres":
        return EngineRunner(name, request.getfixturevalue("postgres_connection"))
    if name == "spark":
        return EngineRunner(name, request.getfixturevalue("spark_session"))
    return EngineRunner(name)
