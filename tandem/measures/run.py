"""Compute measures on the operational database and (optionally) store patient-level results.

Used by ``tandem measure run --all --period … --store``. The data is read through
``tandem.measures.queries`` (a population read for operations, audited); the SQLite and
PostgreSQL engines run on temporary views over the operational tables, the other engines on
Arrow tables extracted from them. Value sets come from the database (``tandem valuesets load``)
plus Tandem's own code lists; a measure whose value sets are not loaded is skipped with a
message naming the value set.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from tandem.core.lib.cli import UsageError
from tandem.measures import queries, services
from tandem.measures.evaluation import evaluate

VIEW_PREFIX = "tandem_a_"

# The sensitivity of a stored result row: a patient's place in a measure whose cohort is a
# behavioral-health diagnosis (SMI, depression, mental illness) reveals that diagnosis, so those
# rows are mental-health data and need consent outside behavioral health, like the diagnosis.
# No measure's cohort is defined by Part 2 records (SUD measures would be substance-use).
BEHAVIORAL_COHORT_MEASURES = (
    "CMS159", "CMS128", "SSD", "SMD", "SMC", "SAA", "APM", "FUH", "FUM", "AMM", "DMS", "DRR",
    "TANDEM-PCENG", "TANDEM-METAB", "TANDEM-BPSMI", "TANDEM-UTIL",
)  # fmt: skip
SENSITIVITY: dict[str, str] = dict.fromkeys(BEHAVIORAL_COHORT_MEASURES, "mental-health")
DEFAULT_SENSITIVITY = "normal"


@dataclass(frozen=True)
class Outcome:
    measure: str
    patients: int
    counts: dict[str, dict[str, int]]  # group -> population -> count
    run_id: int | None
    skipped: str | None = None


def engine_source(engine: str, *, user: Any) -> dict[str, Any]:
    if engine in ("sqlite", "postgres"):
        vendor = "postgresql" if engine == "postgres" else "sqlite"
        if connection.vendor != vendor:
            raise UsageError(
                f"--engine {engine} runs on the operational database, which is "
                f"{connection.vendor}; use --engine {_native(connection.vendor)} or duckdb"
            )
        queries.create_views(user=user, connection=connection, prefix=VIEW_PREFIX)
        connection.ensure_connection()
        return {"tables": None, "connection": connection.connection, "table_prefix": VIEW_PREFIX}
    return {"tables": queries.analytic_tables(user=user)}


def _native(vendor: str) -> str:
    return "postgres" if vendor == "postgresql" else "sqlite"


def run_measures(
    *,
    by: Any,
    keys: Sequence[str],
    period: tuple[dt.date, dt.date],
    engine: str = "duckdb",
    store: bool = False,
    valuesets: Mapping[str, frozenset[tuple[str, str]]] | None = None,
    advance: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Evaluate each measure over the whole (permitted) population; store results if asked."""
    from tandem.measures import definitions
    from tandem.terminology.queries import valuesets as stored_valuesets

    source = engine_source(engine, user=by)
    vs = valuesets if valuesets is not None else stored_valuesets()
    outcomes = []
    for key in keys:
        info = definitions.get(key)
        started = timezone.now()
        try:
            result = evaluate(
                definitions.measure(info.key), valuesets=vs, period=period, engine=engine, **source
            )
        except KeyError as exc:  # a value set that is not loaded
            outcomes.append(Outcome(info.key, 0, {}, None, skipped=f"value set {exc} not loaded"))
            if advance:
                advance(info.key)
            continue
        counts = {g.id: result.counts(g.id) for g in definitions.measure(info.key).groups}
        run_id = None
        if store:
            run_id = services.store_run(
                by=by,
                measure=info.key,
                result=result,
                period=period,
                started_at=started,
                sensitivity=SENSITIVITY.get(info.key, DEFAULT_SENSITIVITY),
            ).pk
        outcomes.append(Outcome(info.key, len(result.patients), counts, run_id))
        if advance:
            advance(info.key)
    return outcomes
