"""Write a synthetic population as FHIR R4 NDJSON (Bulk Data layout): one file per type.

``<out>/<ResourceType>.ndjson``; ids are the analytic ids, references are ``Type/<id>``,
codings carry system URIs, patients carry the US Core race and ethnicity extensions.
Observations with components (blood pressure) become one resource with ``component``.
Every resource claims its QI-Core 4.1.1 / US Core 3.1.1 profiles in ``meta.profile``
(:mod:`tandem.synth.fhir_profiles`), so the export is consumable as QI-Core: the CMS eCQMs'
published logic retrieves by profile. Survey totals (PHQ-9, GAD-7, AUDIT-C) are
``valueInteger``, as the instruments score them and as the logic reads them (``as Integer``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from tandem.synth import fhir_clinical as C
from tandem.synth import fhir_profiles as P
from tandem.synth import fhir_resources as R
from tandem.synth.generator import Generator, SynthConfig, default_period
from tandem.synth.parquet import SynthReport
from tandem.synth.progress import bar

TYPES = {
    "patients": "Patient",
    "encounters": "Encounter",
    "conditions": "Condition",
    "observations": "Observation",
    "medication_requests": "MedicationRequest",
    "medication_dispenses": "MedicationDispense",
    "medication_administrations": "MedicationAdministration",
    "procedures": "Procedure",
    "service_requests": "ServiceRequest",
    "tasks": "Task",
    "device_requests": "DeviceRequest",
    "coverage": "Coverage",
    "care_team": "CareTeam",
    "appointments": "Appointment",
    "consents": "Consent",
}


def rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows with timestamps as FHIR instants (UTC, ``Z``) and dates as ``YYYY-MM-DD``."""
    cols = []
    for field in table.schema:
        col = table.column(field.name)
        if pa.types.is_timestamp(field.type):
            col = pc.strftime(col.cast(pa.timestamp("s")), "%Y-%m-%dT%H:%M:%SZ")
        elif pa.types.is_date(field.type):
            col = col.cast(pa.string())
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names).to_pylist()


def write_fhir(
    *,
    out: Path,
    patients: int,
    seed: int,
    start: dt.date | None = None,
    end: dt.date | None = None,
    sites: int = 4,
    progress: bool = False,
) -> SynthReport:
    began = time.perf_counter()
    if start is None or end is None:
        d_start, d_end = default_period()
        start, end = start or d_start, end or d_end
    gen = Generator(SynthConfig(patients=patients, seed=seed, start=start, end=end, sites=sites))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = SynthReport(patients, seed, start, end, sites, output=str(out))
    files: dict[str, IO[bytes]] = {}
    counts: dict[str, int] = {}

    def emit(resources: Iterator[dict[str, Any]]) -> None:
        for res in map(P.with_profiles, resources):
            rtype = res["resourceType"]
            if rtype not in files:
                files[rtype] = (out / f"{rtype}.ndjson").open("wb")
            files[rtype].write(orjson.dumps(res) + b"\n")
            counts[rtype] = counts.get(rtype, 0) + 1

    try:
        dims = gen.dimension_tables()
        emit(R.organizations(rows(dims["sites"])))
        emit(R.practitioners(rows(dims["practitioners"])))
        with bar(max(patients, 1), "Writing FHIR", progress) as advance:
            for chunk in gen.chunks():
                t = chunk.tables
                emit(
                    R.patients(
                        rows(t["patients"]), rows(t["details"]), rows(t["identifiers"]), gen.world
                    )
                )
                reasons = rows(t["encounter_reasons"]) if "encounter_reasons" in t else []
                emit(C.encounters(rows(t["encounters"]), reasons))
                for table, builder in _BUILDERS.items():
                    emit(builder(rows(t[table])))
                report.stats.add(chunk.stats)
                advance(chunk.patients)
    finally:
        for f in files.values():
            f.close()
    report.rows = counts
    report.seconds = time.perf_counter() - began
    return report


_BUILDERS: dict[str, Callable[[list[dict[str, Any]]], Iterator[dict[str, Any]]]] = {
    "conditions": C.conditions,
    "observations": C.observations,
    "medication_requests": C.medication_requests,
    "medication_dispenses": C.medication_dispenses,
    "medication_administrations": C.medication_administrations,
    "procedures": C.procedures,
    "service_requests": C.service_requests,
    "tasks": C.tasks,
    "device_requests": C.device_requests,
    "coverage": R.coverage,
    "care_team": R.care_teams,
    "appointments": R.appointments,
    "consents": R.consents,
}
