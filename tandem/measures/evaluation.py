"""The single entry point: evaluate a measure (or a dataset) on any engine.

``tandem.measures.evaluate`` and ``tandem.measures.evaluate_dataset`` re-export these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from tandem.measures import lang_results
from tandem.measures.engines.base import Engine, ValueSets, canonical, resolve_valuesets
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


def _run_raw(
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
) -> dict[Any, dict[str, Any]]:
    """The engine's raw ``{patient_id: {name: value}}`` (values not yet canonical)."""
    exprs = list(outputs.values())
    params = _params(exprs, defaults or {}, parameters, period)
    vs = resolve_valuesets(valuesets_used(exprs), valuesets)
    eng = (
        get_engine(engine, connection=connection, table_prefix=table_prefix)
        if isinstance(engine, str)
        else engine
    )
    return eng.run(outputs, dict(tables) if tables is not None else None, vs, params)


def _canonical_rows(
    outputs: dict[str, Expr], raw: Mapping[Any, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    return {
        str(pid): {k: canonical(v, outputs[k].dtype) for k, v in row.items()}
        for pid, row in raw.items()
    }


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
    raw = _run_raw(
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
    return _canonical_rows(outputs, raw)


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
    raw = run_outputs(
        measure.outputs(),
        tables,
        valuesets,
        engine=engine,
        period=period,
        parameters=parameters,
        defaults=measure.parameters,
        connection=connection,
        table_prefix=table_prefix,
    )
    name = engine if isinstance(engine, str) else engine.name
    return lang_results.build(measure, raw, period, name)


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
    raw = _run_raw(
        outputs,
        tables,
        valuesets,
        engine=engine,
        period=period,
        parameters=parameters,
        defaults=None,
        connection=connection,
        table_prefix=table_prefix,
    )
    if population is not None:
        # Keep the population's patients before converting values: a cohort is often a
        # small part of the patients, and the conversion is Python work per value.
        raw = {
            pid: row
            for pid, row in raw.items()
            if canonical(row.pop("__population__"), "bool") is True
        }
    values = _canonical_rows(outputs, raw)
    return [{"patient_id": pid, **values[pid]} for pid in sorted(values)]
