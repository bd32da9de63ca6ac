"""Registry cohorts (F1) as data in the measure language: who is on each list, and why.

A cohort is a patient-level boolean criterion over the analytic tables, evaluated by the same
engines as the measures (DuckDB by default; ``tandem.registry.services.rebuild_cohorts`` runs
it on the operational database and stores the members). All cohorts are evaluated together as
one :class:`~tandem.measures.language.Measure` with one group per cohort (its initial
population is the cohort), so an engine run shares what they have in common.

The "period" of a cohort run is the year that ends on the day the cohort describes (``as_of``);
lookbacks count back from that day. Each definition is written for a clinician in
``docs/registry.md`` (codes, lookback, why): keep the two together. The code lists are
Tandem's own (``tandem/terminology/codelists``, ids ``tandem:<key>``).

Common rules
- A diagnosis counts when a condition in the code list (problem list or encounter diagnosis,
  not refuted or entered in error) is active at some time in the lookback window (its onset to
  its abatement overlaps it; an unresolved problem-list entry always does), or a claim carries
  it in the window (``hedis_common.has_diagnosis``).
- Patients who died on or before ``as_of`` are on no cohort.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tandem.measures import language as q
from tandem.measures.definitions.hedis_common import died_by, has_diagnosis, p_int
from tandem.measures.definitions.integration import SMI, antipsychotic_use
from tandem.measures.language import Expr

DEPRESSION = "tandem:depression"
ANXIETY = "tandem:anxiety"
SUD = "tandem:sud"
DIABETES = "tandem:diabetes"
CARDIOVASCULAR = "tandem:cardiovascular-disease"

# Lookbacks (months before ``as_of``), measure parameters so a site can tune them.
PARAMETERS: dict[str, Any] = {
    "smi_lookback_months": 24,
    "diagnosis_lookback_months": 24,
    "antipsychotic_lookback_months": 12,
}


def _since(months_param: str) -> Expr:
    """The first day of a lookback of ``months_param`` months ending on the period end."""
    return q.period_end.add_months(0 - p_int(months_param)).add_days(1)


def _diagnosed(valuesets: tuple[str, ...], months_param: str = "diagnosis_lookback_months") -> Expr:
    return has_diagnosis(valuesets, _since(months_param), q.period_end)


@dataclass(frozen=True)
class Cohort:
    """One registry list: its key (URLs, ``CohortMembership.cohort``), what a clinician reads,
    and the criterion that puts a patient on it."""

    key: str
    title: str
    description: str
    criterion: Callable[[], Expr]
    # The records that put a patient on the cohort, for its label: ("conditions" or
    # "medications", code list keys). See ``registry.services.rebuild_cohorts``.
    evidence: tuple[str, tuple[str, ...]] = ("conditions", ())


COHORTS: tuple[Cohort, ...] = (
    Cohort(
        "smi",
        "Serious mental illness",
        "Schizophrenia, schizoaffective and other psychotic disorders (F20-F29), bipolar "
        "disorder (F30-F31) or major depression with psychotic features (F32.3, F33.3), "
        "active in the last 24 months. The same SMI definition as TANDEM-PCENG.",
        lambda: _diagnosed((SMI,), "smi_lookback_months"),
        ("conditions", ("smi-diagnoses",)),
    ),
    Cohort(
        "depression",
        "Depression",
        "Major depressive disorder or dysthymia, active in the last 24 months.",
        lambda: _diagnosed((DEPRESSION,)),
        ("conditions", ("depression",)),
    ),
    Cohort(
        "anxiety",
        "Anxiety",
        "Anxiety disorders (generalized, panic, phobic, other) or PTSD, active in the last "
        "24 months.",
        lambda: _diagnosed((ANXIETY,)),
        ("conditions", ("anxiety",)),
    ),
    Cohort(
        "sud",
        "Substance use disorder",
        "Alcohol, opioid, cannabis, sedative, stimulant, hallucinogen, inhalant or other drug "
        "use disorder (F10-F16, F18, F19; tobacco F17 excluded), active in the last 24 months.",
        lambda: _diagnosed((SUD,)),
        ("conditions", ("sud",)),
    ),
    Cohort(
        "diabetes",
        "Diabetes",
        "Type 1, type 2 or other diabetes mellitus, active in the last 24 months.",
        lambda: _diagnosed((DIABETES,)),
        ("conditions", ("diabetes",)),
    ),
    Cohort(
        "cardiovascular",
        "Cardiovascular disease",
        "Ischemic heart disease, myocardial infarction, stroke, heart failure or peripheral "
        "vascular disease, active in the last 24 months (hypertension alone is not enough).",
        lambda: _diagnosed((CARDIOVASCULAR,)),
        ("conditions", ("cardiovascular-disease",)),
    ),
    Cohort(
        "antipsychotic",
        "Antipsychotic users",
        "An antipsychotic (oral first- or second-generation, or long-acting injectable) "
        "dispensed, injected in clinic or ordered in the last 12 months.",
        lambda: antipsychotic_use(_since("antipsychotic_lookback_months"), q.period_end),
        ("medications", ("antipsychotics",)),
    ),
)
KEYS: tuple[str, ...] = tuple(c.key for c in COHORTS)


def get(key: str) -> Cohort:
    """The cohort with this key; ``KeyError`` for an unknown one."""
    for cohort in COHORTS:
        if cohort.key == key:
            return cohort
    raise KeyError(key)


def cohort_measure(keys: tuple[str, ...] = KEYS) -> q.Measure:
    """The cohorts as one measure: a group per cohort whose initial population is its members."""
    alive = ~died_by(q.period_end)
    return q.Measure(
        id="TANDEM-COHORTS",
        title="Registry cohorts",
        parameters=dict(PARAMETERS),
        groups=[
            q.Group(
                id=cohort.key,
                description=cohort.title,
                populations={"initial-population": cohort.criterion() & alive},
            )
            for cohort in (get(key) for key in keys)
        ],
    )


def period(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """The evaluation period of a cohort run describing ``as_of``: the year that ends then."""
    return (_year_before(as_of), as_of)


def _year_before(day: dt.date) -> dt.date:
    try:
        start = day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        start = day.replace(year=day.year - 1, day=28)
    return start + dt.timedelta(days=1)


def members(result: Any) -> dict[str, list[int]]:
    """``{cohort key: sorted patient ids}`` from an evaluated :func:`cohort_measure` (read
    from the result's columns: no per-patient objects)."""
    ids = np.array([int(pid) for pid in result.patient_ids], dtype=np.int64)
    out = {}
    for key, populations in result.scores.items():
        chosen = np.asarray(populations["initial-population"], dtype=bool)
        out[key] = sorted(int(pid) for pid in ids[chosen]) if len(ids) else []
    return out


def evaluate_members(
    tables: Mapping[str, Any] | None,
    as_of: dt.date,
    *,
    engine: str = "duckdb",
    valuesets: Mapping[str, frozenset[tuple[str, str]]] | None = None,
    connection: Any = None,
    table_prefix: str = "",
) -> dict[str, list[int]]:
    """Evaluate every cohort on an engine: ``{cohort key: sorted patient ids}``."""
    from tandem.measures import valuesets as vs_module
    from tandem.measures.evaluation import evaluate

    result = evaluate(
        cohort_measure(),
        tables,
        valuesets or vs_module.load(),  # type: ignore[arg-type]
        period=period(as_of),
        engine=engine,
        connection=connection,
        table_prefix=table_prefix,
    )
    return members(result)
