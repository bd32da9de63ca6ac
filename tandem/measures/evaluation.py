"""The single entry point: evaluate a measure (or a dataset) on any engine.

``tandem.measures.evaluate`` and ``tandem.measures.evaluate_dataset`` re-export these.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tandem.measures import lang_results
from tandem.measures.engines.base import (
    Engine,
    ValueSets,
    canonical,
    resolve_valuesets,
    results_table,
    table_results,
)
from tandem.measures.lang_nodes import Expr
from tandem.measures.lang_walk import params_used, valuesets_used
from tandem.measures.language import Measure

ENGINES = ("memory", "duckdb", "sqlite", "postgres", "spark")


def get_engine(name: str, *, connection: Any = None, table_prefix: str = "") -> Engine:
    """An engine by name; ``connection``/``table_prefix`` apply to the SQL engines."""
    if name == "memory":
        from tandem.measures.engines.in_memory import InMemoryEngine

        return InMemoryEngine()
    if name in ("duckdb", "sqlite", "postgres"):
        from tandem.measures.engines.sql import SQLEngine

        return SQLEngine(name, connection=connection, table_prefix=table_prefix)
    if name == "spark":
        from tandem.measures.engines.spark import SparkEngine

        return SparkEngine(session=connection, table_prefix=table_prefix)
    raise ValueError(f"unknown engine {name!r}; choose one of {ENGINES}")


def _engine(engine: str | Engine, connection: Any, table_prefix: str) -> Engine:
    if isinstance(engine, str):
        return get_engine(engine, connection=connection, table_prefix=table_prefix)
    return engine


def _params(
    exprs: list[Expr],
    defaults: Mapping[str, Any],
    overrides: Mapping[str, Any] | None,
    period: tuple[dt.date, dt.date] | None,
) -> dict[str, Any]:
    values = dict(defaults)
    values.update(overrides or {})
    if period is not None:
        values["period_start"], values["period_end"] = period
    needed = params_used(exprs)
    missing = sorted(set(needed) - set(values))
    if missing:
        raise KeyError(f"parameters without a value: {missing} (pass period= or parameters=)")
    return {name: canonical(values[name], dtype) for name, dtype in needed.items()}


def _run_table(
    outputs: dict[str, Expr],
    tables: Mapping[str, pa.Table] | None,
    valuesets: ValueSets,
    *,
    engine: str | Engine,
    period: tuple[dt.date, dt.date] | None,
    parameters: Mapping[str, Any] | None,
    defaults: Mapping[str, Any] | None,
    connection: Any,
    table_prefix: str,
    population: Expr | None = None,
    keep_all: bool = True,
) -> pa.Table:
    """The engine's outputs as an Arrow table: ``patient_id`` then one column per output,
    canonical types (``base.ARROW_TYPES``), sorted by patient.

    ``population`` lets an engine that can (the SQL engines) compute the outputs only for
    the patients where it is true; the others then have null outputs (``keep_all``) or no
    row. Engines that cannot compute everything for everyone; callers must not rely on
    outputs outside the population either way.
    """
    exprs = list(outputs.values())
    params = _params(exprs, defaults or {}, parameters, period)
    vs = resolve_valuesets(valuesets_used(exprs), valuesets)
    eng = _engine(engine, connection, table_prefix)
    data = dict(tables) if tables is not None else None
    run_table = getattr(eng, "run_table", None)
    if run_table is not None:
        extra = {} if population is None else {"population": population, "keep_all": keep_all}
        table: pa.Table = run_table(outputs, data, vs, params, **extra)
        return table
    raw = eng.run(outputs, data, vs, params)
    keys = list(outputs)
    return results_table(
        [(pid, *(row[k] for k in keys)) for pid, row in raw.items()], keys, outputs
    )


def run_outputs(
    outputs: dict[str, Expr],
    tables: Mapping[str, pa.Table] | None,
    valuesets: ValueSets,
    *,
    engine: str | Engine = "duckdb",
    period: tuple[dt.date, dt.date] | None = None,
    parameters: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
    connection: Any = None,
    table_prefix: str = "",
) -> dict[str, dict[str, Any]]:
    """``{patient_id: {name: canonical value}}`` for every patient."""
    table = _run_table(
        outputs,
        tables,
        valuesets,
        engine=engine,
        period=period,
        parameters=parameters,
        defaults=defaults,
        connection=connection,
        table_prefix=table_prefix,
    )
    return table_results(table)


def _cohort(measure: Measure, outputs: dict[str, Expr]) -> Expr | None:
    """The union of the groups' initial populations. Evidence and strata are reported inside
    it only (lang_results), so engines may compute everything else for that cohort alone."""
    initial = [
        outputs[key] > 0 if g.episode_based else outputs[key]
        for g in measure.groups
        if (key := f"{g.id}|initial-population") in outputs
    ]
    return functools.reduce(operator.or_, initial) if initial else None


def evaluate_many(
    measures: list[Measure],
    tables: Mapping[str, pa.Table] | None,
    valuesets: ValueSets,
    *,
    period: tuple[dt.date, dt.date],
    engine: str | Engine = "duckdb",
    connection: Any = None,
    table_prefix: str = "",
) -> list[lang_results.MeasureResult]:
    """Evaluate several measures (each with its default parameters) in one engine run.

    The SQL engines share what the measures have in common (stored frame prefixes, the
    value-set table, loaded tables); results are identical to ``evaluate`` per measure.
    """
    eng = _engine(engine, connection, table_prefix)
    run_tables = getattr(eng, "run_tables", None)
    if run_tables is None:
        return [evaluate(m, tables, valuesets, period=period, engine=eng) for m in measures]
    from tandem.measures.engines.sql import Job

    jobs, needed = [], set()
    for m in measures:
        outputs = m.outputs()
        exprs = list(outputs.values())
        jobs.append(Job(outputs, _params(exprs, m.parameters, None, period), _cohort(m, outputs)))
        needed |= valuesets_used(exprs)
    vs = resolve_valuesets(needed, valuesets)
    data = dict(tables) if tables is not None else None

    def build(index: int, table: pa.Table) -> lang_results.MeasureResult:
        return lang_results.build(measures[index], table, period, eng.name)

    # each measure is scored while the engine runs the next one's statements
    results: list[lang_results.MeasureResult] = run_tables(jobs, data, vs, finish=build)
    return results


def measure_table(
    measure: Measure,
    tables: Mapping[str, pa.Table] | None,
    valuesets: ValueSets,
    *,
    period: tuple[dt.date, dt.date],
    engine: str | Engine = "duckdb",
    parameters: Mapping[str, Any] | None = None,
    connection: Any = None,
    table_prefix: str = "",
) -> pa.Table:
    """The engine's raw outputs of ``measure`` (``lang_results.build`` scores them)."""
    outputs = measure.outputs()
    cohort = _cohort(measure, outputs)
    return _run_table(
        outputs,
        tables,
        valuesets,
        engine=engine,
        period=period,
        parameters=parameters,
        defaults=measure.parameters,
        connection=connection,
        table_prefix=table_prefix,
        population=cohort,
    )


def evaluate(
    measure: Measure,
    tables: Mapping[str, pa.Table] | None,
    valuesets: ValueSets,
    *,
    period: tuple[dt.date, dt.date],
    engine: str | Engine = "duckdb",
    parameters: Mapping[str, Any] | None = None,
    connection: Any = None,
    table_prefix: str = "",
) -> lang_results.MeasureResult:
    """Evaluate ``measure`` for every patient; see ``docs/measures/language.md``."""
    table = measure_table(
        measure,
        tables,
        valuesets,
        period=period,
        engine=engine,
        parameters=parameters,
        connection=connection,
        table_prefix=table_prefix,
    )
    name = engine if isinstance(engine, str) else engine.name
    return lang_results.build(measure, table, period, name)


def evaluate_dataset(
    columns: Mapping[str, Expr],
    tables: Mapping[str, pa.Table] | None,
    valuesets: ValueSets,
    *,
    population: Expr | None = None,
    period: tuple[dt.date, dt.date] | None = None,
    engine: str | Engine = "duckdb",
    parameters: Mapping[str, Any] | None = None,
    connection: Any = None,
    table_prefix: str = "",
) -> list[dict[str, Any]]:
    """Patient-level columns for the patients where ``population`` is true (all if None)."""
    outputs = dict(columns)
    if population is not None:
        if population.dtype != "bool":
            raise TypeError("population must be a boolean expression")
        outputs["__population__"] = population
    table = _run_table(
        outputs,
        tables,
        valuesets,
        engine=engine,
        period=period,
        parameters=parameters,
        defaults=None,
        connection=connection,
        table_prefix=table_prefix,
        population=population,
        keep_all=False,
    )
    if population is not None:
        keep = pc.fill_null(table.column("__population__"), False)
        table = table.filter(keep).drop_columns(["__population__"])
    return table.to_pylist()
