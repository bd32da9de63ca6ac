"""Writes of measure results. Each records an audit event; none commits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from tandem.audit import services as audit
from tandem.measures.lang_results import MeasureResult
from tandem.measures.models import MeasurePatientResult, MeasureRun

BATCH = 2000


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def store_run(
    *,
    by: Any,
    measure: str,
    version: str,
    result: MeasureResult,
    period: tuple[dt.date, dt.date],
    started_at: dt.datetime,
    sensitivity: str = "normal",
) -> MeasureRun:
    """Store a run and one row per patient and group (the patient's place and evidence).

    ``measure`` is the measure key (CMS122), ``version`` the version evaluated (CMS122v13).
    """
    run = MeasureRun.objects.create(
        measure=measure,
        version=version,
        period_start=period[0],
        period_end=period[1],
        engine=result.engine,
        started_at=started_at,
        finished_at=timezone.now(),
        patients=len(result.patients),
        summary=_jsonable([row.__dict__ for row in result.summary]),
    )
    rows = []
    for patient in result.patients:
        for group, populations in patient.populations.items():
            rows.append(
                MeasurePatientResult(
                    run=run,
                    patient_id=int(patient.patient_id),
                    group=group,
                    populations={code: int(bool(v)) for code, v in populations.items()},
                    evidence=_jsonable(patient.evidence.get(group, {})),
                    reasons=_jsonable(patient.reasons.get(group, {})),
                    strata=_jsonable(patient.strata),
                    in_initial_population=bool(populations.get("initial-population")),
                    in_numerator=bool(populations.get("numerator")),
                    sensitivity=sensitivity,
                )
            )
    MeasurePatientResult.objects.bulk_create(rows, batch_size=BATCH)
    audit.record(
        actor=by,
        entry=audit.Entry(
            "write:store_measure_run",
            "written",
            None,
            "measure_results",
            "operations",
            f"run={run.pk} measure={measure} version={version} rows={len(rows)}",
        ),
    )
    return run
