"""Storing measure results in bulk (issue 10): the same rows as one ORM object per row, fast.

Run on a small synthetic population (``tandem synth``'s database writer, no conformance deck
data): it has patients inside and outside every measure's initial population.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from tandem.cli import main
from tandem.measures import definitions, run, services
from tandem.measures.evaluation import evaluate
from tandem.measures.models import MeasurePatientResult, MeasureRun
from tests import shared

pytestmark = [pytest.mark.django_db, shared.needs(shared.VALUESETS)]

PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
MEASURES = ["CMS2", "CMS138", "TANDEM-METAB", "CMS165"]  # one group, three, five, one


@pytest.fixture
def population(db):
    from tandem.synth.database import write_population

    main(["valuesets", "load", str(shared.VALUESETS)])
    write_population(patients=120, seed=7, start=dt.date(2023, 1, 1), end=dt.date(2025, 12, 31))


def _evaluated(keys: list[str]) -> list[tuple[Any, Any]]:
    from tandem.terminology.queries import valuesets

    vs = valuesets()
    out = []
    with run.measure_source("duckdb", user=None) as source:
        for key in keys:
            version = definitions.select(key, PERIOD)
            out.append(
                (version, evaluate(version.measure(), valuesets=vs, period=PERIOD, **source))
            )
    return out


def _as_the_orm_wrote_them(result: Any, sensitivity: str) -> list[dict[str, Any]]:
    """The rows as ``store_run`` wrote them before issue 10 (one model object per row, the
    values passed through ``_jsonable``), in the shape they read back."""
    rows = []
    for patient in result.patients:
        for group, populations in patient.populations.items():
            rows.append(
                {
                    "patient_id": int(patient.patient_id),
                    "group": group,
                    "populations": {c: int(bool(v)) for c, v in populations.items()},
                    "evidence": services._jsonable(patient.evidence.get(group, {})),
                    "reasons": services._jsonable(patient.reasons.get(group, {})),
                    "strata": services._jsonable(patient.strata),
                    "in_initial_population": bool(populations.get("initial-population")),
                    "in_numerator": bool(populations.get("numerator")),
                    "sensitivity": sensitivity,
                }
            )
    return rows


FIELDS = [
    "patient_id",
    "group",
    "populations",
    "evidence",
    "reasons",
    "strata",
    "in_initial_population",
    "in_numerator",
    "sensitivity",
]


def test_it_stores_the_rows_one_object_per_row_would(population):
    places = set()
    for version, result in _evaluated(MEASURES):
        stored = services.store_run(
            by=None,
            measure=version.key,
            version=version.id,
            result=result,
            period=PERIOD,
            started_at=timezone.now(),
            sensitivity="mental-health",
        )

        rows = list(
            MeasurePatientResult.objects.filter(run=stored)
            .order_by("patient_id", "id")
            .values(*FIELDS)
        )
        expected = sorted(_as_the_orm_wrote_them(result, "mental-health"), key=_by_patient)
        assert rows == expected, version.id
        assert stored.patients == len(result) == 120
        places |= {r["in_initial_population"] for r in rows}
    assert places == {True, False}  # patients inside and outside the initial populations


def test_text_that_needs_escaping_is_stored_as_given(population):
    [(version, result)] = _evaluated(["CMS2"])
    patient = result.patients_at([0])[0]
    tricky = 'a\tb\nc\\d "e"'  # the group column holds 40 characters
    tails = services._tails(patient, "normal")
    rows = iter([(int(patient.patient_id), (tricky, *tails[0][1:]), False)])
    stored = MeasureRun.objects.create(
        measure="CMS2",
        version=version.id,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        engine="duckdb",
        started_at=timezone.now(),
        finished_at=timezone.now(),
        patients=1,
        summary=[],
    )
    from django.db import connection

    write = services._copy if connection.vendor == "postgresql" else services._insert
    assert write(stored.pk, rows) == 1
    assert MeasurePatientResult.objects.get(run=stored).group == tricky


def _by_patient(row: dict[str, Any]) -> int:
    return int(row["patient_id"])
