"""Compute measures on the operational database and (optionally) store patient-level results.

Used by ``tandem measure run --all --period … --store``. The data is read through
``tandem.measures.queries`` (a population read for operations, audited); the SQLite and
PostgreSQL engines run on temporary views over the operational tables. DuckDB (the default)
runs on a DuckDB database file the tables are streamed into (``queries.analytic_database``: batches
of bounded size, never a whole table in memory; the file lives in a temporary folder under
``TANDEM_VAR_DIR`` for the run and is deleted after it), DuckDB capped at
:data:`DUCKDB_MEMORY` (it spills to that folder beyond); the in-memory and Spark engines on Arrow
tables extracted the same streamed way. Stored results are written in bulk (``services``), all
of one ``run_measures`` call in one transaction: a failure stores nothing. Value sets: those
passed in, else the expansions shipped for the period's year overlaid by those loaded into the
database (``tandem valuesets load``), plus Tandem's own code lists; a measure whose value sets
are not all there is skipped with a message naming each. Each measure runs in the version whose performance period covers
the period (or the version named); the stored run records it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tandem.core.lib.cli import UsageError
from tandem.measures import queries, services
from tandem.measures.evaluation import evaluate

if TYPE_CHECKING:
    from tandem.measures.definitions.versions import MeasureVersion

VIEW_PREFIX = "tandem_a_"
DUCKDB_MEMORY = "1GB"  # DuckDB's memory limit while measuring (it spills to disk beyond)

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
# Measures whose rows are labelled per patient (TANDEM-CONSENT: SMI or SUD, so mental-health or
# substance-use; ``definitions.consent.patient_label``); others use SENSITIVITY.
SENSITIVITY["TANDEM-CONSENT"] = "mental-health"


def _patient_labels() -> dict[str, Callable[[Any], str]]:
    from tandem.measures.definitions import consent

    return {"TANDEM-CONSENT": consent.patient_label}


def label_of(key: str) -> Callable[[Any], str]:
    """The label of one patient's result of measure ``key``, as stored (per patient, else the
    measure's): for the redisclosure notice on exports (``tandem measure evaluate``)."""
    per_patient = _patient_labels().get(key)
    if per_patient is not None:
        return per_patient
    label = SENSITIVITY.get(key, DEFAULT_SENSITIVITY)
    return lambda _patient: label


@dataclass(frozen=True)
class Outcome:
    measure: str
    patients: int
    counts: dict[str, dict[str, int]]  # group -> population -> count
    run_id: int | None
    skipped: str | None = None
    version: str = ""  # the measure version evaluated, e.g. CMS122v13


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


@contextlib.contextmanager
def measure_source(engine: str, *, user: Any) -> Iterator[dict[str, Any]]:
    """The source for :func:`evaluation.evaluate` on ``engine`` (``engine_source``), except that
    DuckDB gets a database file the analytic tables are streamed into, deleted on exit."""
    if engine != "duckdb":
        yield engine_source(engine, user=user)
        return
    import duckdb

    folder = Path(settings.VAR_DIR) / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="measures-", dir=folder) as work:
        path = str(Path(work) / "analytic.duckdb")
        config: dict[str, Any] = {
            "memory_limit": DUCKDB_MEMORY,
            "temp_directory": str(Path(work) / "spill"),
        }
        with duckdb.connect(path, config=config) as loading:
            queries.analytic_database(user=user, duckdb=loading)
        # evaluate in a fresh connection: DuckDB runs the same SQL on a reopened file about
        # 3x faster than in the connection that loaded it (benchmarks/README.md, suite)
        with duckdb.connect(path, config=config) as con:
            yield {"tables": None, "connection": con, "table_prefix": ""}


def _native(vendor: str) -> str:
    return "postgres" if vendor == "postgresql" else "sqlite"


def choose_versions(
    keys: Sequence[str], period: tuple[dt.date, dt.date], *, skip_unversioned: bool = False
) -> list[tuple[str, MeasureVersion | str]]:
    """Each measure's version for ``period`` (or, with ``skip_unversioned``, why a measure key
    has none), before anything is loaded or run: a :class:`definitions.VersionError` names the
    first measure that cannot run."""
    from tandem.measures import definitions

    chosen: list[tuple[str, MeasureVersion | str]] = []  # a version, or why there is none
    for name in keys:
        key = definitions.get(name).key
        try:
            chosen.append((key, definitions.select(name, period)))
        except definitions.NoVersionForPeriod as exc:
            if not skip_unversioned or name.upper() != key:
                raise
            chosen.append((key, str(exc)))
    return chosen


def run_measures(
    *,
    by: Any,
    keys: Sequence[str],
    period: tuple[dt.date, dt.date],
    engine: str = "duckdb",
    store: bool = False,
    valuesets: Mapping[str, frozenset[tuple[str, str]]] | None = None,
    advance: Callable[[str], None] | None = None,
    skip_unversioned: bool = False,
    commit_each: bool = False,
) -> list[Outcome]:
    """Evaluate each measure over the whole (permitted) population; store results if asked.

    ``keys`` are measure keys (each runs in the version whose performance period covers
    ``period``) or version ids (that version). Versions are chosen before anything runs: a
    :class:`definitions.VersionError` is raised for the first measure without one, except that
    with ``skip_unversioned`` (``--all``) a measure key with no version for the period is
    reported as skipped (a period spanning two performance years is still an error).

    ``commit_each`` (the daily refresh, ``tandem.measures.jobs``): each measure's results are
    stored in a transaction of their own, so a long run does not hold SQLite's write lock
    while it evaluates (web writes would wait, then fail with "database is locked").
    """
    from tandem.measures import valuesets as vs_module
    from tandem.terminology.queries import stored_expansions

    chosen = choose_versions(keys, period, skip_unversioned=skip_unversioned)
    year = period[0].year
    vs = (
        valuesets
        if valuesets is not None
        else vs_module.for_year(year, stored=stored_expansions(year))
    )
    outcomes = []
    stored = transaction.atomic() if store and not commit_each else contextlib.nullcontext()
    with measure_source(engine, user=by) as source, stored:
        for key, version in chosen:
            if isinstance(version, str):
                outcomes.append(Outcome(key, 0, {}, None, skipped=version))
            else:
                outcomes.append(_run_one(by, version, period, engine, store, vs, source))
            if advance:
                advance(key)
    return outcomes


def _run_one(
    by: Any,
    version: MeasureVersion,
    period: tuple[dt.date, dt.date],
    engine: str,
    store: bool,
    valuesets: Mapping[str, frozenset[tuple[str, str]]],
    source: dict[str, Any],
) -> Outcome:
    """Evaluate one measure version; store its run and rows when asked."""
    from tandem.measures import valuesets as vs_module

    key = version.key
    started = timezone.now()
    measure = version.measure()
    missing = vs_module.missing(version, valuesets)
    if missing:  # named, never evaluated with empty value sets
        return Outcome(
            key,
            0,
            {},
            None,
            skipped=f"value sets not loaded: {', '.join(missing)}",
            version=version.id,
        )
    try:
        result = evaluate(measure, valuesets=valuesets, period=period, engine=engine, **source)
    except KeyError as exc:  # a value set that is not loaded
        return Outcome(key, 0, {}, None, skipped=f"value set {exc} not loaded", version=version.id)
    counts = {g.id: result.counts(g.id) for g in measure.groups}
    run_id = None
    if store:
        with transaction.atomic():  # one measure's run, rows and audit event, or none
            run_id = services.store_run(
                by=by,
                measure=key,
                version=version.id,
                result=result,
                period=period,
                started_at=started,
                sensitivity=SENSITIVITY.get(key, DEFAULT_SENSITIVITY),
                label_of=_patient_labels().get(key),
            ).pk
    return Outcome(key, len(result.patients), counts, run_id, version=version.id)
