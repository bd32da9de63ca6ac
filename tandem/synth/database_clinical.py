"""The clinical rows of one chunk -> the operational tables (every row labelled first).

Each row is labelled with ``tandem.consent.rules.label_code`` from its code and the program
that recorded it (Part 2 program -> ``substance-use``; psychotherapy notes ->
``psychotherapy-note``; BH programs -> ``mental-health``), then inserted with
:func:`tandem.synth.dbinsert.insert`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from tandem.clinical.models import (
    ClinicalNote,
    Condition,
    Encounter,
    Observation,
    Procedure,
    ServiceRequest,
)
from tandem.consent import rules
from tandem.meds.models import MedicationDispense, MedicationOrder
from tandem.scheduling.models import Appointment
from tandem.screening.models import AssessmentResponse
from tandem.synth import encounters as E
from tandem.synth.dbinsert import insert
from tandem.synth.queries import source_keys

SOURCE = "synth"
CLASS_MAP = {"AMB": "ambulatory", "VR": "telehealth", "EMER": "emergency"}


def rows_of(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as dicts; timestamps as aware UTC datetimes, or on SQLite already in the text
    form Django stores there (UTC, ``YYYY-MM-DD HH:MM:SS``; the generator has no seconds)."""
    from django.db import connection

    sqlite = connection.vendor == "sqlite"
    cols = []
    for field in table.schema:
        col = table.column(field.name)
        if pa.types.is_timestamp(field.type):
            col = (
                pc.strftime(col.cast(pa.timestamp("s")), "%Y-%m-%d %H:%M:%S")
                if sqlite
                else col.cast(pa.timestamp("us", tz="UTC"))
            )
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names).to_pylist()


def _day(value: Any) -> Any:
    """The date part of a timestamp from :func:`rows_of` (text on SQLite)."""
    return value[:10] if isinstance(value, str) else value.date()


def labeller(programs: list[Any]) -> Callable[..., str]:
    kinds = [(p.kind, p.is_part2) for p in programs]

    def label(system: str | None, code: str | None, program: int | None, note: bool = False) -> str:
        kind, part2 = kinds[program] if program is not None and program >= 0 else (None, False)
        return str(
            rules.label_code(
                system=system or "",
                code=code or "",
                program_kind=kind,
                program_is_part2=part2,
                psychotherapy_note=note,
            )
        )

    return label


def write(t: dict[str, pa.Table], ppk: dict[str, int], world: dict[str, Any]) -> dict[str, int]:
    programs = world["programs"]
    prog_pk = [p.pk for p in programs]
    prac_pk = [p.pk for p in world["pracs"]]
    prac_by_id = {f"prac-{i + 1}": pk for i, pk in enumerate(prac_pk)}
    site_pk = [s.pk for s in world["sites"]]
    site_by_id = {f"site-{i + 1}": pk for i, pk in enumerate(site_pk)}
    label = labeller(programs)

    def base(
        r: dict[str, Any], id_col: str, system: str | None, code: str | None, note: bool = False
    ) -> dict[str, Any]:
        prog = r["program"]
        return {
            "patient_id": ppk[r["patient_id"]],
            "program_id": prog_pk[prog] if prog is not None and prog >= 0 else None,
            "sensitivity": label(system, code, prog, note),
            "source": SOURCE,
            "source_id": r[id_col],
        }

    def prac(i: int | None) -> int | None:
        return None if i is None or i < 0 else prac_pk[i]

    counts: dict[str, int] = {}
    encs = []
    for r in rows_of(t["encounters"]):
        cls = CLASS_MAP.get(r["class_code"]) or (
            "inpatient-psychiatric" if r["kind"] == E.IPP else "inpatient-acute"
        )
        encs.append(
            base(r, "encounter_id", r["system"], r["code"])
            | {
                "encounter_class": cls,
                "type_system": r["system"],
                "type_code": r["code"],
                "type_display": r["display"] or "",
                "setting": r["setting"] or "other",
                "status": r["status"],
                "start": r["start"],
                "end": r["end"],
                "site_id": site_by_id[r["site_id"]],
                "practitioner_id": prac_by_id.get(r["practitioner_id"]),
                "discharge_disposition": r["discharge_disposition"] or "",
            }
        )
    counts["encounters"] = insert(Encounter, encs)
    emap = source_keys(Encounter, list(ppk.values()), SOURCE)

    def enc(i: str | None) -> int | None:
        return emap.get(i) if i else None

    counts["conditions"] = insert(
        Condition,
        [
            base(r, "condition_id", r["system"], r["code"])
            | {
                "code_system": r["system"],
                "code": r["code"],
                "display": r["display"] or "",
                "clinical_status": r["clinical_status"],
                "verification_status": r["verification_status"],
                "category": r["category"],
                "onset": r["onset"],
                "recorded_at": r["recorded"],
                "encounter_id": enc(r["encounter_id"]),
                "rank": r["rank"],
                "recorder_id": prac(r["recorder"]),
            }
            for r in rows_of(t["conditions"])
        ],
    )
    counts["observations"] = insert(
        Observation,
        [
            base(r, "observation_id", r["system"], r["code"])
            | {
                "code_system": r["system"],
                "code": r["code"],
                "display": r["display"] or "",
                "category": r["category"],
                "status": r["status"],
                "value_num": r["value_num"],
                "value_unit": r["value_unit"] or "",
                "value_code_system": r["value_system"] or "",
                "value_code": r["value_code"] or "",
                "value_text": r["value_display"] or "",
                "effective_at": r["effective_start"],
                "issued": r["issued"],
                "panel_code": r["panel_code"] or "",
                "panel_id": r["observation_id"]
                if (r["panel_code"] or r["code"] == "85354-9")
                else "",
                "encounter_id": enc(r["encounter_id"]),
            }
            for r in rows_of(t["observations"])
        ],
    )
    counts["procedures"] = insert(
        Procedure,
        [
            base(r, "procedure_id", r["system"], r["code"])
            | {
                "code_system": r["system"],
                "code": r["code"],
                "display": r["display"] or "",
                "status": r["status"],
                "performed_start": r["performed_start"],
                "performed_end": r["performed_end"],
                "encounter_id": enc(r["encounter_id"]),
            }
            for r in rows_of(t["procedures"])
        ],
    )
    counts["service_requests"] = insert(
        ServiceRequest,
        [
            base(r, "request_id", r["system"], r["code"])
            | {
                "code_system": r["system"],
                "code": r["code"],
                "display": r["display"] or "",
                "category": r["category"],
                "status": r["status"],
                "intent": r["intent"],
                "do_not_perform": False,
                "authored_at": r["authored"],
                "encounter_id": enc(r["encounter_id"]),
            }
            for r in rows_of(t["service_requests"])
        ],
    )
    orders = []
    for r in rows_of(t["medication_requests"]):
        lai = r["frequency_per_day"] is None
        orders.append(
            base(r, "request_id", r["system"], r["code"])
            | {
                "code_system": r["system"],
                "code": r["code"],
                "display": r["display"] or "",
                "status": r["status"],
                "intent": r["intent"],
                "do_not_perform": False,
                "dose_quantity": r["dose_quantity"],
                "dose_unit": "injection" if lai else "tablet",
                "frequency_per_day": r["frequency_per_day"],
                "route": "intramuscular" if lai else "oral",
                "quantity": r["quantity"],
                "days_supply": r["days_supply"],
                "refills": r["refills"],
                "authored_at": r["authored"],
                "start": _day(r["period_start"]),
                "end": _day(r["period_end"]) if r["status"] == "completed" else None,
                "prescriber_id": prac_by_id.get(r["prescriber_id"]),
                "reason_system": r["reason_system"] or "",
                "reason_code": r["reason_code"] or "",
            }
        )
    counts["medication_orders"] = insert(MedicationOrder, orders)
    omap = source_keys(MedicationOrder, list(ppk.values()), SOURCE)
    counts["medication_dispenses"] = insert(
        MedicationDispense,
        [
            base(r, "dispense_id", r["system"], r["code"])
            | {
                "order_id": omap.get(r["request_id"]),
                "code_system": r["system"],
                "code": r["code"],
                "display": r["display"] or "",
                "status": r["status"],
                "quantity": r["quantity"],
                "days_supply": r["days_supply"],
                "dispensed_at": r["when_handed_over"],
                "prescriber_id": prac_by_id.get(r["prescriber_id"]),
            }
            for r in rows_of(t["medication_dispenses"])
        ],
    )
    counts["notes"] = insert(
        ClinicalNote,
        [
            base(r, "note_id", None, None, note=r["note_type"] == "psychotherapy")
            | {
                "note_type": r["note_type"],
                "title": r["title"],
                "text": r["text"],
                "author_id": prac_pk[r["author"]],
                "authored_at": r["authored"],
                "status": "final",
                "encounter_id": enc(r["encounter_id"]),
            }
            for r in rows_of(t["notes"])
        ],
    )
    counts["appointments"] = insert(
        Appointment,
        [
            base(r, "appointment_id", None, None)
            | {
                "start": r["start"],
                "end": r["end"],
                "status": r["status"],
                "cancel_reason": r["cancel_reason"],
                "service_type": r["service_type"],
                "site_id": site_pk[r["site"]],
                "practitioner_id": prac(r["practitioner"]),
                "encounter_id": enc(r["encounter_id"]),
            }
            for r in rows_of(t["appointments"])
        ],
    )
    counts["assessments"] = insert(
        AssessmentResponse,
        [
            base(r, "assessment_id", r["system"], r["code"])
            | {
                "instrument": r["instrument"],
                "answers": orjson.loads(r["items_json"]) if r["items_json"] else {},
                "total_score": int(r["total_score"]),
                "effective_at": r["effective"],
                "status": "completed",
                "completed_by": "patient",
                "administered_by_id": prac(r["administered_by"]),
                "encounter_id": enc(r["encounter_id"]),
            }
            for r in rows_of(t["assessments"])
        ],
    )
    return counts
