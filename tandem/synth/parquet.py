"""Write a synthetic population as Parquet: one file per analytic table.

``<out>/<table>.parquet`` for every table of ``tandem.measures.schema.TABLES``, each conformed
with ``schema.conform`` and written one row group per generator chunk (memory stays bounded
by a chunk). ``<out>/manifest.json`` records the arguments, the code-list version and row
counts — and no wall-clock time, so the same seed and arguments give identical bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tandem.measures import schema
from tandem.synth.generator import CHUNK_SIZE, Generator, SynthConfig, default_period
from tandem.synth.progress import bar
from tandem.synth.report import Stats
from tandem.terminology import codelists


@dataclass
class SynthReport:
    """What a run produced: row counts, realised rates (``stats``), wall time."""

    patients: int
    seed: int
    start: dt.date
    end: dt.date
    sites: int
    rows: dict[str, int] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)
    seconds: float = 0.0
    output: str = ""


def conformed(name: str, table: pa.Table) -> pa.Table:
    """Keep exactly the contract's columns (extras are dropped), cast and ordered."""
    keep = [c for c in table.column_names if c in schema.arrow_schema(name).names]
    return schema.conform(name, table.select(keep))


def write_parquet(
    *,
    out: Path,
    patients: int,
    seed: int,
    start: dt.date | None = None,
    end: dt.date | None = None,
    sites: int = 4,
    progress: bool = False,
    chunk_size: int | None = None,
) -> SynthReport:
    began = time.perf_counter()
    if start is None or end is None:
        d_start, d_end = default_period()
        start, end = start or d_start, end or d_end
    config = SynthConfig(
        patients=patients,
        seed=seed,
        start=start,
        end=end,
        sites=sites,
        chunk_size=chunk_size or CHUNK_SIZE,
    )
    gen = Generator(config, operational=False)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = SynthReport(patients, seed, start, end, sites, output=str(out))
    writers = {
        name: pq.ParquetWriter(
            out / f"{name}.parquet", schema.arrow_schema(name), compression="zstd"
        )
        for name in schema.PATIENT_TABLES
    }
    try:
        with bar(max(patients, 1), "Generating patients", progress) as advance:
            for chunk in gen.chunks():
                for name, writer in writers.items():
                    writer.write_table(conformed(name, chunk.tables.get(name, schema.empty(name))))
                report.stats.add(chunk.stats)
                advance(chunk.patients)
    finally:
        for writer in writers.values():
            writer.close()
    for name, table in gen.dimension_tables().items():
        pq.write_table(conformed(name, table), out / f"{name}.parquet", compression="zstd")
    report.rows = {k: v for k, v in report.stats.rows.items() if k in schema.TABLES}
    for name, table in gen.dimension_tables().items():
        report.rows[name] = table.num_rows
    manifest = {
        "generator": "tandem synth",
        "patients": patients,
        "seed": seed,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "sites": sites,
        "time_zone": config.time_zone,
        "chunk_size": config.chunk_size,
        "codelists_version": codelists.version(),
        "rows": dict(sorted(report.rows.items())),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    report.seconds = time.perf_counter() - began
    return report
