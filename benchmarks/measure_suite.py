"""Benchmark: every registered measure over a synthetic population, DuckDB and Spark.

The synthetic Parquet tables (``tandem synth --format parquet``; generated into ``--data``
when missing) are loaded once into a DuckDB database file (not timed), which is then closed
and opened again, as ``tandem measure run`` opens a deployment's stored analytics file
(``--in-memory``: an in-memory database, not reopened); then the whole suite for the period
(every measure of ``definitions.REGISTRY`` in its version for ``--year``, with the value sets
shipped for that year) is evaluated there in one run, as ``tandem measure run --all`` would (``evaluation.evaluate_many``: ``tables=None``, ``connection=`` that database,
stored frame prefixes shared across measures), timed end to end: SQL, fetching the Arrow
results, scoring and summaries. ``--per-measure`` also times each measure alone, in two
parts: the engine (``measure_table``: compile, SQL, Arrow fetch) and ``lang_results.build``.

With ``--spark-patients N`` the first N patients are also written to Parquet, registered as
Spark temporary views (local mode, ``--spark-cores``) and each measure is evaluated on
Spark and on DuckDB over the same N patients; the per-patient populations of every measure
must be identical.

    .venv/bin/python benchmarks/measure_suite.py --patients 1000000 --data /tmp/bench/synth-1m
    .venv/bin/python benchmarks/measure_suite.py --patients 100000 --data /tmp/bench/synth-1m \
        --skip-duckdb-suite --spark-patients 100000

Target (docs/architecture.md): the whole suite on 1 M synthetic patients in <= 60 s on DuckDB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))


def ensure_data(path: Path, patients: int) -> None:
    if (path / "manifest.json").exists():
        return
    from tandem.synth.parquet import write_parquet

    print(f"generating {patients:,} patients into {path}", file=sys.stderr)
    write_parquet(out=path, patients=patients, seed=1)


def load_duckdb(con: Any, data: Path, limit: int | None) -> int:
    """Every analytic table into DuckDB (first ``limit`` patients); returns the row count."""
    from tandem.measures import schema

    total = 0
    for name in schema.TABLES:
        path = data / f"{name}.parquet"
        if not path.exists():
            con.register(f"_empty_{name}", schema.empty(name))
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _empty_{name}")
            continue
        src = f"read_parquet('{path}')"
        if name == "patients":
            lim = f" LIMIT {limit}" if limit else ""
            con.execute(f"CREATE OR REPLACE TABLE patients AS SELECT * FROM {src}{lim}")
        elif "patient_id" in schema.arrow_schema(name).names and limit:
            con.execute(
                f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {src} "
                "WHERE patient_id IN (SELECT patient_id FROM patients)"
            )
        else:
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {src}")
        total += con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
    return total


def evaluate_timed(key: str, engine: Any, valuesets: Any) -> tuple[dict[str, Any], Any]:
    """One measure: (times, result), timing SQL, value conversion and result building."""
    from tandem.measures import definitions, lang_results
    from tandem.measures.evaluation import measure_table

    measure = definitions.select(key, PERIOD).measure()
    outputs = measure.outputs()
    t0 = time.perf_counter()
    table = measure_table(measure, None, valuesets, period=PERIOD, engine=engine)
    t1 = time.perf_counter()
    result = lang_results.build(measure, table, PERIOD, engine.name)
    t2 = time.perf_counter()
    times = {
        "measure": key,
        "outputs": len(outputs),
        "sql_s": round(t1 - t0, 2),
        "build_s": round(t2 - t1, 2),
        "total_s": round(t2 - t0, 2),
        "patients": len(result),
    }
    return times, result


def populations(result: Any) -> Any:
    """Every patient's populations (an Arrow table; ``==`` compares contents)."""
    return result.populations_table()


def run_suite(
    engine: Any,
    valuesets: Any,
    keys: list[str],
    label: str,
    *,
    keep: bool = False,
    reference: dict | None = None,
) -> tuple[list, dict]:
    """Evaluate every measure; with ``keep``, also return the per-patient populations;
    with ``reference`` (populations by measure), report per measure whether they are equal."""
    rows, pops = [], {}
    for key in keys:
        times, result = evaluate_timed(key, engine, valuesets)
        times["engine"] = label
        rows.append(times)
        if keep:
            pops[key] = populations(result)
        if reference is not None:
            times["identical_to_reference"] = populations(result) == reference[key]
        del result
        print(json.dumps(times), flush=True)
    return rows, pops


def spark_session(cores: int, memory: str) -> Any:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("tandem-measure-suite-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(max(2, cores * 2)))
        .config("spark.driver.memory", memory)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000, help="patients for DuckDB")
    parser.add_argument("--data", type=Path, help="synthetic Parquet dir (generated if missing)")
    parser.add_argument("--measures", default="", help="comma-separated keys (default: all)")
    parser.add_argument(
        "--year",
        type=int,
        default=2025,
        help="performance year: each measure runs in its version for that year (default 2025, "
        "the last year the synthetic data of the published figures covers)",
    )
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    parser.add_argument(
        "--database",
        type=Path,
        default=Path(tempfile.gettempdir()) / "tandem-measure-suite.duckdb",
        help="DuckDB database file the tables are loaded into (replaced)",
    )
    parser.add_argument("--in-memory", action="store_true", help="load into memory instead")
    parser.add_argument("--skip-duckdb-suite", action="store_true", help="only the Spark check")
    parser.add_argument(
        "--per-measure", action="store_true", help="also time each measure alone (DuckDB)"
    )
    parser.add_argument("--spark-patients", type=int, default=0, help="0: no Spark run")
    parser.add_argument("--spark-cores", type=int, default=2)
    parser.add_argument("--spark-memory", default="6g")
    args = parser.parse_args()
    global PERIOD
    PERIOD = (dt.date(args.year, 1, 1), dt.date(args.year, 12, 31))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
    import duckdb

    from tandem.measures import definitions
    from tandem.measures import valuesets as vs_module
    from tandem.measures.evaluation import evaluate_many, get_engine

    data = args.data or Path(tempfile.gettempdir()) / f"tandem-suite-{args.patients}"
    ensure_data(data, args.patients)
    keys = [k for k in args.measures.split(",") if k] or list(definitions.REGISTRY)
    versions = [definitions.select(k, PERIOD) for k in keys]
    for version in versions:
        version.measure()  # build once, outside the timings
    valuesets = vs_module.for_year(args.year)
    for version in versions:
        vs_module.require(version, valuesets)
    report_versions = [v.id for v in versions]

    # the analytic tables in a DuckDB database file (as a deployment keeps them; DuckDB
    # compresses stored tables, not in-memory ones) or, with --in-memory, in memory
    def connect() -> Any:
        con = duckdb.connect(":memory:" if args.in_memory else str(args.database))
        con.execute(f"SET threads = {args.threads}")
        return con

    def reopen(con: Any) -> Any:
        """The loaded file opened afresh. Run in the connection that just loaded the tables,
        the suite was ~3x slower (2026-11-28, measured: 145.6 s vs 44-45 s at 1 M, 32.0 s
        vs 11.9 s at 200k), mostly in scans testing long value-set lists, which are fast on
        the reopened (compressed) tables (benchmarks/README.md)."""
        if args.in_memory:
            return con
        con.execute("CHECKPOINT")
        con.close()
        return connect()

    con = connect()
    report: dict[str, Any] = {
        "data": str(data),
        "database": "in-memory" if args.in_memory else str(args.database),
        "loadavg_before": os.getloadavg(),
        "period": [d.isoformat() for d in PERIOD],
        "versions": report_versions,
    }

    if not args.skip_duckdb_suite:
        began = time.perf_counter()
        rows = load_duckdb(con, data, args.patients)
        con = reopen(con)
        report["duckdb_load_s"] = round(time.perf_counter() - began, 1)
        report["duckdb_rows"] = rows
        engine = get_engine("duckdb", connection=con)
        patients = con.execute("SELECT count(*) FROM patients").fetchall()[0][0]
        # the suite as ``tandem measure run --all`` would: one run, shared frame prefixes
        measures = [v.measure() for v in versions]
        began = time.perf_counter()
        results = evaluate_many(measures, None, valuesets, period=PERIOD, engine=engine)
        wall = time.perf_counter() - began
        report["duckdb_suite"] = {
            "patients": patients,
            "measures": len(results),
            "total_s": round(wall, 1),
            "patients_per_s": round(patients / wall),
            "initial_population": {
                r.measure_id: r.counts(r.summary[0].group)["initial-population"] for r in results
            },
        }
        del results
        print(json.dumps(report["duckdb_suite"]), flush=True)
        report["loadavg_after_duckdb_suite"] = os.getloadavg()
        if args.per_measure:
            began = time.perf_counter()
            suite, _ = run_suite(engine, valuesets, keys, "duckdb")
            wall = time.perf_counter() - began
            report["duckdb_per_measure"] = {
                "patients": patients,
                "total_s": round(wall, 1),
                "sql_s": round(sum(r["sql_s"] for r in suite), 1),
                "build_s": round(sum(r["build_s"] for r in suite), 1),
                "measures": suite,
            }
            report["loadavg_after_duckdb_per_measure"] = os.getloadavg()

    if args.spark_patients:
        from tandem.measures import schema

        n = args.spark_patients
        load_duckdb(con, data, n)
        con = reopen(con)
        engine = get_engine("duckdb", connection=con)
        began = time.perf_counter()
        duck_rows, duck_pops = run_suite(engine, valuesets, keys, "duckdb", keep=True)
        t_duck = time.perf_counter() - began
        with tempfile.TemporaryDirectory(prefix="tandem-suite-spark-") as tmp:
            for name in schema.TABLES:
                con.execute(f"COPY {name} TO '{tmp}/{name}.parquet' (FORMAT parquet)")
            began = time.perf_counter()
            spark = spark_session(args.spark_cores, args.spark_memory)
            for name in schema.TABLES:
                spark.read.parquet(f"{tmp}/{name}.parquet").createOrReplaceTempView(name)
            t_start = time.perf_counter() - began
            engine = get_engine("spark", connection=spark)
            began = time.perf_counter()
            spark_rows, spark_pops = run_suite(
                engine, valuesets, keys, "spark", keep=True, reference=duck_pops
            )
            t_spark = time.perf_counter() - began
        differ = [k for k in keys if spark_pops[k] != duck_pops[k]]
        report["spark"] = {
            "patients": n,
            "cores": args.spark_cores,
            "session_and_views_s": round(t_start, 1),
            "spark_total_s": round(t_spark, 1),
            "duckdb_same_patients_s": round(t_duck, 1),
            "measures_identical": len(keys) - len(differ),
            "measures_differing": differ,
            "measures": spark_rows,
        }
        report["loadavg_after_spark"] = os.getloadavg()
    report["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(report, indent=2, default=str))
    return 1 if report.get("spark", {}).get("measures_differing") else 0


if __name__ == "__main__":
    sys.exit(main())
