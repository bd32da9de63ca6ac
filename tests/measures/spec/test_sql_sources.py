"""SQL engines read existing tables or views (the operational database) by name or prefix."""

from __future__ import annotations

import datetime as dt
import sqlite3

import duckdb

from tandem.measures import evaluate_dataset
from tandem.measures import language as q

PHQ = q.table("observations").where(lambda o: o.code == "44261-6")
COLUMNS = {
    "last_phq": PHQ.last_by(lambda o: o.effective_start).value_num,
    "age": q.patient_age_on(q.date(2025, 1, 1)),
}
EXPECTED = [{"patient_id": "p1", "last_phq": 4.0, "age": 35}]


def create(execute, prefix: str, date: str, ts: str, text: str, real: str) -> None:
    execute(f"CREATE TABLE {prefix}patients (patient_id {text}, birth_date {date}, sex {text})")
    execute(
        f"CREATE TABLE {prefix}observations (observation_id {text}, patient_id {text}, "
        f"code {text}, effective_start {ts}, value_num {real})"
    )


def test_sqlite_reads_prefixed_tables_of_an_existing_database():
    con = sqlite3.connect(":memory:")
    create(con.execute, "a_", "TEXT", "TEXT", "TEXT", "REAL")
    con.execute("INSERT INTO a_patients VALUES ('p1', '1989-06-30', 'female')")
    con.executemany(
        "INSERT INTO a_observations VALUES (?, 'p1', '44261-6', ?, ?)",
        [("o1", "2025-01-05 10:00:00.000000", 12.0), ("o2", "2025-03-05 10:00:00.000000", 4.0)],
    )
    rows = evaluate_dataset(COLUMNS, None, {}, engine="sqlite", connection=con, table_prefix="a_")
    assert rows == EXPECTED
    # the engine cleans up after itself: only the source tables remain
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_temp_master WHERE type='table'")}
    assert names == set()


def test_duckdb_reads_tables_of_a_given_connection():
    con = duckdb.connect()
    create(con.execute, "", "DATE", "TIMESTAMP", "VARCHAR", "DOUBLE")
    con.execute("INSERT INTO patients VALUES ('p1', DATE '1989-06-30', 'female')")
    con.execute(
        "INSERT INTO observations VALUES ('o1', 'p1', '44261-6', TIMESTAMP '2025-01-05 10:00', 12), "
        "('o2', 'p1', '44261-6', TIMESTAMP '2025-03-05 10:00', 4)"
    )
    assert evaluate_dataset(COLUMNS, None, {}, engine="duckdb", connection=con) == EXPECTED


def test_postgres_reads_tables_in_a_schema(postgres_connection):
    con = postgres_connection
    con.execute("DROP SCHEMA IF EXISTS analytics CASCADE")
    con.execute("CREATE SCHEMA analytics")
    create(con.execute, "analytics.", "DATE", "TIMESTAMP", "TEXT", "DOUBLE PRECISION")
    con.execute("INSERT INTO analytics.patients VALUES ('p1', '1989-06-30', 'female')")
    con.execute(
        "INSERT INTO analytics.observations VALUES "
        "('o1', 'p1', '44261-6', %s, 12), ('o2', 'p1', '44261-6', %s, 4)",
        (dt.datetime(2025, 1, 5, 10), dt.datetime(2025, 3, 5, 10)),
    )
    try:
        rows = evaluate_dataset(
            COLUMNS, None, {}, engine="postgres", connection=con, table_prefix="analytics."
        )
        assert rows == EXPECTED
    finally:
        con.execute("DROP SCHEMA analytics CASCADE")
