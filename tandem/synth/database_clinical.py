"""The clinical rows of one chunk -> the operational tables (every row labelled first).

Each row is labelled with ``tandem.consent.rules.label_code`` from its code and the program
that recorded it (Part 2 program -> ``substance-use``; psychotherapy notes ->
``psychotherapy-note``; BH programs -> ``mental-health``) — computed once per distinct
(code system, code, program) and spread over the column — then the table goes to the load's
:class:`tandem.synth.dbcopy.Sink` in slices. Encounters and medication orders get their ids
before they are written, so the rows that point at them are built without reading back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.db import models

from tandem.clinical.models import (
    ClinicalNote,
    Condition,
    Encounter,
    Observation,
    Procedure,
    ReferralReport,
    ServiceRequest,
)
from tandem.consent import rules
from tandem.meds.models import MedicationDispense, MedicationOrder
from tandem.scheduling.models import Appointment
from tandem.screening.models import AssessmentResponse
from tandem.synth import encounters as E
from tandem.synth.dbcolumns import Keyed, by_index, per_unique, text
from tandem.synth.dbcopy import BATCH, Sink, frame

SOURCE = "synth"
CLASS_MAP = {"AMB": "ambulatory", "VR": "telehealth", "EMER": "emergency"}
MODELS: list[type[models.Model]] = [
    Encounter,
    Condition,
    Observation,
    Procedure,
    ServiceRequest,
    ReferralReport,
    MedicationOrder,
    MedicationDispense,
    ClinicalNote,
    Appointment,
    AssessmentResponse,
]
Columns = dict[str, Any]


@dataclass
class Keys:
    """The database keys one chunk's rows point at."""

    patients: Keyed
    pracs: Keyed  # "prac-<n>" -> pk
    sites: Keyed  # "site-<n>" -> pk
    prac_pk: list[int]  # by world index
    site_pk: list[int]
    prog_pk: list[int]
    label: Callable[..., str]
    encounters: Keyed | None = None
    orders: Keyed | None = None
    requests: Keyed | None = None  # service requests (referrals the reports point at)


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


def write(t: dict[str, pa.Table], keys: Keys, sink: Sink) -> dict[str, int]:
    """Write the chunk's clinical tables (encounters and orders first: others point at them)."""
    counts: dict[str, int] = {}
    encs = t.pop("encounters")
    keys.encounters = Keyed(
        encs.column("encounter_id").combine_chunks(), _ids(sink, Encounter, encs)
    )
    counts["encounters"] = _write(sink, Encounter, encs, keys, _encounter, keys.encounters.pks)
    for name, model, build in TABLES:
        if name == "medication_requests":
            src = t.pop(name)
            keys.orders = Keyed(src.column("request_id").combine_chunks(), _ids(sink, model, src))
            counts["medication_orders"] = _write(sink, model, src, keys, build, keys.orders.pks)
        elif name == "service_requests":
            src = t.pop(name)
            keys.requests = Keyed(src.column("request_id").combine_chunks(), _ids(sink, model, src))
            counts[name] = _write(sink, model, src, keys, build, keys.requests.pks)
        else:
            counts[COUNT_NAMES.get(name, name)] = _write(sink, model, t.pop(name), keys, build)
    return counts


def _ids(sink: Sink, model: type[models.Model], table: pa.Table) -> pa.Array:
    return sink.ids(model, table.num_rows)


def _write(
    sink: Sink,
    model: type[models.Model],
    src: pa.Table,
    keys: Keys,
    build: Callable[[pa.Table, Keys], Columns],
    pks: pa.Array | None = None,
) -> int:
    """Build and write ``src`` a slice at a time (memory: one slice of database rows)."""
    written = 0
    for start in range(0, src.num_rows, BATCH):
        part = src.slice(start, BATCH)
        cols = build(part, keys)
        if pks is not None:
            cols["id"] = pks.slice(start, part.num_rows)
        written += sink.write(model, frame(model, cols, part.num_rows))
    return written


def _base(s: pa.Table, k: Keys, id_col: str, sensitivity: pa.Array) -> Columns:
    return {
        "patient_id": k.patients.of(s.column("patient_id")),
        "program_id": by_index(s.column("program"), k.prog_pk),
        "sensitivity": sensitivity,
        "source": SOURCE,
        "source_id": s.column(id_col),
    }


def _by_code(s: pa.Table, k: Keys) -> pa.Array:
    """The label of each row from its code and program."""
    return per_unique(k.label, s.column("system"), s.column("code"), s.column("program"))


def _by_program(s: pa.Table, k: Keys) -> pa.Array:
    """The label of each uncoded row (appointments) from its program."""
    return per_unique(lambda program: k.label(None, None, program), s.column("program"))


def _coded(s: pa.Table, k: Keys, id_col: str) -> Columns:
    system, code = s.column("system"), s.column("code")
    return _base(s, k, id_col, _by_code(s, k)) | {
        "code_system": system,
        "code": code,
        "display": text(s.column("display")),
    }


def _enc(s: pa.Table, k: Keys) -> pa.Array:
    assert k.encounters is not None
    return k.encounters.of(s.column("encounter_id"))


def _or(col: pa.ChunkedArray, default: str) -> pa.Array:
    """``value or default``: NULL and the empty string both become ``default``."""
    col = pc.fill_null(col, "")
    return pc.if_else(pc.equal(col, ""), default, col)


def _encounter(s: pa.Table, k: Keys) -> Columns:
    def klass(class_code: str | None, kind: int | None) -> str:
        return CLASS_MAP.get(class_code or "") or (
            "inpatient-psychiatric" if kind == E.IPP else "inpatient-acute"
        )

    return _base(s, k, "encounter_id", _by_code(s, k)) | {
        "encounter_class": per_unique(klass, s.column("class_code"), s.column("kind")),
        "type_system": s.column("system"),
        "type_code": s.column("code"),
        "type_display": text(s.column("display")),
        "setting": _or(s.column("setting"), "other"),
        "status": s.column("status"),
        "start": s.column("start"),
        "end": s.column("end"),
        "site_id": k.sites.of(s.column("site_id")),
        "practitioner_id": k.pracs.of(s.column("practitioner_id")),
        "discharge_disposition": text(s.column("discharge_disposition")),
    }


def _condition(s: pa.Table, k: Keys) -> Columns:
    return _coded(s, k, "condition_id") | {
        "clinical_status": s.column("clinical_status"),
        "verification_status": s.column("verification_status"),
        "category": s.column("category"),
        "onset": s.column("onset"),
        "recorded_at": s.column("recorded"),
        "encounter_id": _enc(s, k),
        "rank": s.column("rank"),
        "recorder_id": by_index(s.column("recorder"), k.prac_pk),
    }


def _observation(s: pa.Table, k: Keys) -> Columns:
    panel = text(s.column("panel_code"))
    in_panel = pc.or_(pc.not_equal(panel, ""), pc.equal(s.column("code"), "85354-9"))
    return _coded(s, k, "observation_id") | {
        "category": s.column("category"),
        "status": s.column("status"),
        "value_num": s.column("value_num"),
        "value_unit": text(s.column("value_unit")),
        "value_code_system": text(s.column("value_system")),
        "value_code": text(s.column("value_code")),
        "value_text": text(s.column("value_display")),
        "effective_at": s.column("effective_start"),
        "issued": s.column("issued"),
        "panel_code": panel,
        "panel_id": pc.if_else(pc.fill_null(in_panel, False), s.column("observation_id"), ""),
        "encounter_id": _enc(s, k),
    }


def _procedure(s: pa.Table, k: Keys) -> Columns:
    return _coded(s, k, "procedure_id") | {
        "status": s.column("status"),
        "performed_start": s.column("performed_start"),
        "performed_end": s.column("performed_end"),
        "encounter_id": _enc(s, k),
        "reason_system": text(s.column("reason_system")),
        "reason_code": text(s.column("reason_code")),
    }


def _report(s: pa.Table, k: Keys) -> Columns:
    """A consult report received (the generator's ``tasks`` table): the referral it answers."""
    assert k.requests is not None
    # The row keeps the kind of report (LOINC 11488-4); the generator's 2026-form Tasks carry it
    # as their reason (code "fulfill"), and the analytic select turns it back into either form.
    return _coded(s, k, "task_id") | {
        "code_system": pc.coalesce(s.column("reason_system"), s.column("system")),
        "code": pc.coalesce(s.column("reason_code"), s.column("code")),
        "referral_id": k.requests.of(s.column("based_on_id")),
        "status": s.column("status"),
        "received_at": s.column("execution_start"),
        "filed_at": s.column("execution_end"),
    }


def _service_request(s: pa.Table, k: Keys) -> Columns:
    return _coded(s, k, "request_id") | {
        "category": s.column("category"),
        "status": s.column("status"),
        "intent": s.column("intent"),
        "do_not_perform": False,
        "authored_at": s.column("authored"),
        "encounter_id": _enc(s, k),
    }


def _order(s: pa.Table, k: Keys) -> Columns:
    lai = pc.is_null(s.column("frequency_per_day"))  # long-acting injectables: no daily dose
    completed = pc.equal(s.column("status"), "completed")
    return _coded(s, k, "request_id") | {
        "status": s.column("status"),
        "intent": s.column("intent"),
        "do_not_perform": False,
        "dose_quantity": s.column("dose_quantity"),
        "dose_unit": pc.if_else(lai, "injection", "tablet"),
        "frequency_per_day": s.column("frequency_per_day"),
        "route": pc.if_else(lai, "intramuscular", "oral"),
        "quantity": s.column("quantity"),
        "days_supply": s.column("days_supply"),
        "refills": s.column("refills"),
        "authored_at": s.column("authored"),
        "start": s.column("period_start").cast(pa.date32()),
        "end": pc.if_else(
            completed, s.column("period_end").cast(pa.date32()), pa.scalar(None, pa.date32())
        ),
        "prescriber_id": k.pracs.of(s.column("prescriber_id")),
        "reason_system": text(s.column("reason_system")),
        "reason_code": text(s.column("reason_code")),
    }


def _dispense(s: pa.Table, k: Keys) -> Columns:
    assert k.orders is not None
    return _coded(s, k, "dispense_id") | {
        "order_id": k.orders.of(s.column("request_id")),
        "status": s.column("status"),
        "quantity": s.column("quantity"),
        "days_supply": s.column("days_supply"),
        "dispensed_at": s.column("when_handed_over"),
        "prescriber_id": k.pracs.of(s.column("prescriber_id")),
    }


def _note(s: pa.Table, k: Keys) -> Columns:
    therapy = pc.equal(s.column("note_type"), "psychotherapy")
    label = per_unique(
        lambda program, note: k.label(None, None, program, note), s.column("program"), therapy
    )
    return _base(s, k, "note_id", label) | {
        "note_type": s.column("note_type"),
        "title": s.column("title"),
        "text": s.column("text"),
        "author_id": by_index(s.column("author"), k.prac_pk),
        "authored_at": s.column("authored"),
        "status": "final",
        "encounter_id": _enc(s, k),
    }


def _appointment(s: pa.Table, k: Keys) -> Columns:
    return _base(s, k, "appointment_id", _by_program(s, k)) | {
        "start": s.column("start"),
        "end": s.column("end"),
        "status": s.column("status"),
        "cancel_reason": s.column("cancel_reason"),
        "service_type": s.column("service_type"),
        "site_id": by_index(s.column("site"), k.site_pk),
        "practitioner_id": by_index(s.column("practitioner"), k.prac_pk),
        "encounter_id": _enc(s, k),
    }


def _assessment(s: pa.Table, k: Keys) -> Columns:
    return _base(s, k, "assessment_id", _by_code(s, k)) | {
        "instrument": s.column("instrument"),
        "answers": _or(s.column("items_json"), "{}"),
        "total_score": pc.trunc(s.column("total_score")).cast(pa.int64()),
        "effective_at": s.column("effective"),
        "status": "completed",
        "completed_by": "patient",
        "administered_by_id": by_index(s.column("administered_by"), k.prac_pk),
        "encounter_id": _enc(s, k),
    }


TABLES: list[tuple[str, type[models.Model], Callable[[pa.Table, Keys], Columns]]] = [
    ("conditions", Condition, _condition),
    ("observations", Observation, _observation),
    ("procedures", Procedure, _procedure),
    ("service_requests", ServiceRequest, _service_request),
    ("tasks", ReferralReport, _report),
    ("medication_requests", MedicationOrder, _order),
    ("medication_dispenses", MedicationDispense, _dispense),
    ("notes", ClinicalNote, _note),
    ("appointments", Appointment, _appointment),
    ("assessments", AssessmentResponse, _assessment),
]
COUNT_NAMES = {"medication_requests": "medication_orders", "tasks": "referral_reports"}
