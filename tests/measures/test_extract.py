"""Streamed extraction of the analytic tables (issue 10: bounded memory at 100,000 patients).

The old extract fetched each table whole (``fetchall``): Tandem peaked at 2.6 GB, and the
observations SELECT made a PostgreSQL backend hash every observation under one key until the
kernel killed it at 6.4 GB. These tests check the structure that prevents both, without timing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import duckdb
import psycopg
import pytest
from django.db import connection

from tandem.measures import extract, queries, schema
from tests import builders as b

pytestmark = pytest.mark.django_db

ROWS = 7


@pytest.fixture
def observations(team):
    for i in range(ROWS):
        b.observation(patient=team.pat, value_num=6.0 + i / 10)
    b.observation(
        patient=team.pat, code="8480-6", value_num=128, panel_code="85354-9", panel_id="bp-1"
    )
    b.observation(
        patient=team.pat, code="8462-4", value_num=82, panel_code="85354-9", panel_id="bp-1"
    )
    return team


def test_it_streams_a_table_in_batches_of_bounded_size(observations, monkeypatch):
    monkeypatch.setattr(extract, "BATCH_ROWS", 3)

    stream = queries.extract_batches(user=None, table="observations")

    assert isinstance(stream, Iterator)  # a stream, not a list of the whole table
    parts = list(stream)
    assert len(parts) >= 3
    assert all(0 < part.num_rows <= 3 for part in parts)
    assert all(part.schema == schema.arrow_schema("observations") for part in parts)
    whole = extract.to_table("observations", parts)
    assert whole.equals(queries.analytic_tables(user=None)["observations"])


def test_text_values_survive_the_stream(team):
    b.condition(patient=team.pat, code="F20.9", program=team.bh_program, onset=None)
    from tandem.screening.models import AssessmentResponse

    AssessmentResponse.objects.create(
        patient=team.pat,
        instrument="phq9",
        total_score=9,
        effective_at=dt.datetime(2025, 2, 3, 4, 5, 6, 789000, tzinfo=dt.UTC),
        answers={"44260-8": 1, "note": 'a "quoted", comma\nand a line'},
    )

    tables = queries.analytic_tables(user=None)

    [assessment] = tables["assessments"].to_pylist()
    assert json.loads(assessment["items_json"])["note"] == 'a "quoted", comma\nand a line'
    assert assessment["effective"] == dt.datetime(2025, 2, 3, 4, 5, 6, 789000)
    [condition] = tables["conditions"].to_pylist()
    assert condition["onset"] is None and condition["code"] == "F20.9"
    [patient] = tables["patients"].to_pylist()
    assert patient["deceased"] is False


def test_the_tables_stream_into_a_duckdb_file(observations, tmp_path, monkeypatch):
    monkeypatch.setattr(extract, "BATCH_ROWS", 2)
    con = duckdb.connect(str(tmp_path / "a.duckdb"))

    rows = queries.analytic_database(user=None, duckdb=con)

    assert set(rows) == set(schema.TABLES)
    in_arrow = queries.analytic_tables(user=None)["observations"]
    in_duckdb = con.sql("SELECT * FROM observations").to_arrow_table()
    assert rows["observations"] == in_arrow.num_rows == in_duckdb.num_rows
    assert in_duckdb.schema == in_arrow.schema
    assert in_duckdb.sort_by("observation_id").equals(in_arrow.sort_by("observation_id"))


def _second_connection() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(
        host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], dbname=s["NAME"], autocommit=True
    )


def test_postgresql_sends_the_rows_with_copy(observations, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL streams with COPY")
    monkeypatch.setattr(extract, "BATCH_ROWS", 1)
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    stream = queries.extract_batches(user=None, table="observations")

    first = next(stream)  # one batch read, the COPY not finished on the client's side
    with _second_connection() as other:
        [(query, state)] = other.execute(
            "SELECT query, state FROM pg_stat_activity WHERE pid = %s", [backend]
        ).fetchall()
    rest = list(stream)

    assert first.num_rows == 1 and rest
    assert query.startswith("COPY (")  # streamed out as produced: no cursor, no fetchall
    assert state in ("active", "idle in transaction")


def test_the_panel_row_test_reads_panel_rows_only(observations):
    """The anti-join's inner side must exclude the non-panel rows (empty ``panel_id``), else a
    hash join puts them all under one key and the backend's memory grows without bound."""
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL plan")
    select = queries._all_selects("postgresql", None)["observations"]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_nestloop = off")  # the plan 100,000 patients got
        cursor.execute("SET LOCAL enable_mergejoin = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {select}")
        [(plan,)] = cursor.fetchall()

    inner = [n for n in _nodes(plan[0]["Plan"]) if n.get("Alias") == "h"]
    assert inner
    for node in inner:
        conditions = " ".join(str(node.get(k, "")) for k in ("Filter", "Index Cond"))
        assert "panel_id)::text <> ''" in conditions, node


def _nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)
