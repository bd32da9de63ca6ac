"""Benchmark: population query (cohort + last value + counts), measure language vs hand SQL.

The query: patients with an SMI diagnosis (``tandem:smi-diagnoses`` conditions), their last
HbA1c (``tandem:hba1c`` observations, ``last_by`` effective_start: value and date) and the
number of ED encounters (class ``EMER``) starting in the period. It runs once through
``tandem.measures.evaluate_dataset`` on DuckDB and once as hand-written DuckDB SQL over the
same tables; the two results must be equal row for row.

The Parquet tables (``tandem synth --format parquet``; generated into ``--data`` when
missing) are loaded once into an in-memory DuckDB database; then each query is timed
(best of ``--repeat``) including fetching the rows into Python. ``--sizes`` re-runs the
language version on the first N patients of the data to show scaling.

    .venv/bin/python benchmarks/population_query.py --patients 1000000 \
        --data /tmp/bench/synth-1m --sizes 200000,500000,1000000

Target (docs/architecture.md): 200k patients / 2 M events in <= 0.3 s on DuckDB, within 2x of
hand-written DuckDB SQL; linear to 1 M patients.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
TABLES = ("patients", "conditions", "observations", "encounters")
SMI, HBA1C = "tandem:smi-diagnoses", "tandem:hba1c"

HAND_SQL = """
WITH smi AS (
    SELECT DISTINCT c.patient_id
    FROM conditions c JOIN vs ON vs.valueset_id = 'smi' AND vs.system = c.system
        AND vs.code = c.code
),
a1c AS (
    SELECT o.patient_id,
           arg_max(struct_pack(v := o.value_num, d := o.effective_start),
                   struct_pack(d := o.effective_start, i := o.observation_id, c := o.code)) AS last
    FROM observations o JOIN vs ON vs.valueset_id = 'hba1c' AND vs.system = o.system
        AND vs.code = o.code
    WHERE o.effective_start IS NOT NULL AND o.patient_id IN (SELECT patient_id FROM smi)
    GROUP BY o.patient_id
),
ed AS (
    SELECT e.patient_id, count(DISTINCT e.encounter_id) AS n
    FROM encounters e
    WHERE e.class_code = 'EMER' AND CAST(e.start AS DATE) BETWEEN DATE '{start}' AND DATE '{end}'
        AND e.patient_id IN (SELECT patient_id FROM smi)
    GROUP BY e.patient_id
)
SELECT p.patient_id, a1c.last.v, a1c.last.d, coalesce(ed.n, 0)
FROM patients p
JOIN smi USING (patient_id)
LEFT JOIN a1c USING (patient_id)
LEFT JOIN ed USING (patient_id)
ORDER BY p.patient_id
"""


def language_query() -> tuple[dict[str, Any], Any]:
    from tandem.measures import language as q

    hba1c = q.table("observations").code_in(HBA1C).last_by(lambda o: o.effective_start)
    columns = {
        "last_hba1c": hba1c.value_num,
        "last_hba1c_at": hba1c.effective_start,
        "ed_visits": q.table("encounters")
        .where(lambda e: (e.class_code == "EMER") & q.during(e.start, q.period_start, q.period_end))
        .count(),
    }
    population = q.table("conditions").code_in(SMI).exists()
    return columns, population


def ensure_data(path: Path, patients: int) -> None:
    if (path / "manifest.json").exists():
        return
    from tandem.synth.parquet import write_parquet

    print(f"generating {patients:,} patients into {path}", file=sys.stderr)
    write_parquet(out=path, patients=patients, seed=1)


def load(con: Any, data: Path, limit: int | None) -> dict[str, int]:
    """Load the tables into DuckDB; with ``limit``, only the first ``limit`` patients."""
    rows = {}
    for name in TABLES:
        src = f"read_parquet('{data / (name + '.parquet')}')"
        if name == "patients":
            lim = f" LIMIT {limit}" if limit else ""
            con.execute(f"CREATE OR REPLACE TABLE patients AS SELECT * FROM {src}{lim}")
        else:
            con.execute(
                f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {src} "
                "WHERE patient_id IN (SELECT patient_id FROM patients)"
            )
        rows[name] = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
    return rows


def run_language(con: Any, valuesets: Any) -> list[tuple]:
    from tandem.measures import evaluate_dataset

    columns, population = language_query()
    rows = evaluate_dataset(
        columns,
        None,
        valuesets,
        population=population,
        period=PERIOD,
        engine="duckdb",
        connection=con,
    )
    return [(r["patient_id"], r["last_hba1c"], r["last_hba1c_at"], r["ed_visits"]) for r in rows]


def run_hand(con: Any) -> list[tuple]:
    sql = HAND_SQL.format(start=PERIOD[0].isoformat(), end=PERIOD[1].isoformat())
    return [tuple(r) for r in con.execute(sql).fetchall()]


def best(fn: Any, repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - began)
    return min(times), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000, help="patients to generate")
    parser.add_argument("--data", type=Path, help="synthetic Parquet dir (generated if missing)")
    parser.add_argument("--sizes", default="", help="comma-separated patient counts to scale over")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per query")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
    import duckdb

    from tandem.measures import valuesets as vs_module

    data = args.data or Path(tempfile.gettempdir()) / f"tandem-popq-{args.patients}"
    ensure_data(data, args.patients)
    all_vs = vs_module.load()
    valuesets = {SMI: all_vs[SMI], HBA1C: all_vs[HBA1C]}
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.execute("CREATE TABLE vs (valueset_id VARCHAR, system VARCHAR, code VARCHAR)")
    for key, short in ((SMI, "smi"), (HBA1C, "hba1c")):
        con.executemany("INSERT INTO vs VALUES (?, ?, ?)", [(short, s, c) for s, c in all_vs[key]])

    sizes = [int(s) for s in args.sizes.split(",") if s] or [args.patients]
    report: dict[str, Any] = {"data": str(data), "loadavg_before": os.getloadavg(), "runs": []}
    for n in sizes:
        began = time.perf_counter()
        counts = load(con, data, n)
        t_load = time.perf_counter() - began
        t_hand, hand = best(lambda: run_hand(con), args.repeat)
        t_lang, lang = best(lambda: run_language(con, valuesets), args.repeat)
        if lang != hand:
            diff = next((a, b) for a, b in zip(lang, hand, strict=False) if a != b)
            raise SystemExit(f"results differ at {n:,}: {len(lang)} vs {len(hand)} rows; {diff}")
        run = {
            "patients": counts["patients"],
            "events": sum(v for k, v in counts.items() if k != "patients"),
            "rows_by_table": counts,
            "load_into_duckdb_s": round(t_load, 2),
            "cohort_rows": len(lang),
            "language_s": round(t_lang, 3),
            "hand_sql_s": round(t_hand, 3),
            "ratio": round(t_lang / t_hand, 2),
            "language_us_per_patient": round(t_lang / counts["patients"] * 1e6, 2),
            "identical": True,
        }
        report["runs"].append(run)
        print(json.dumps(run), flush=True)
    report["loadavg_after"] = os.getloadavg()
    print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
