"""A deterministic digest of what ``write_population`` stored, independent of database keys.

Every concrete column of every table the synthetic writer fills, except the primary key and
the write-time stamps; foreign keys are followed to the referenced row's natural key (its
``source_id``, a site's code, a program's site and name, a practitioner's NPI, an
organization's name). Values are normalised (UTC ISO datetimes, ``repr`` floats, sorted JSON)
so the same population gives the same digest on SQLite and PostgreSQL, whatever the writer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

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
from tandem.consent.models import ConsentDirective
from tandem.core.models import CareTeamMember, Organization, Practitioner, Program, Site
from tandem.meds.models import MedicationDispense, MedicationOrder
from tandem.registry.models import Coverage, Patient, PatientContact, PatientIdentifier
from tandem.scheduling.models import Appointment
from tandem.screening.models import AssessmentResponse

MODELS: list[type[models.Model]] = [
    Patient,
    PatientIdentifier,
    PatientContact,
    Coverage,
    CareTeamMember,
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
    ConsentDirective,
]
NATURAL = {Site: "code", Program: "name", Practitioner: "npi", Organization: "name"}
STAMPS = {"created_at", "updated_at", "created", "modified"}


def _columns(model: type[models.Model]) -> list[str]:
    out = []
    for f in model._meta.concrete_fields:
        if f.primary_key or f.name in STAMPS or getattr(f, "auto_now_add", False):
            continue
        if f.is_relation:
            rel = f.related_model
            names = {g.name for g in rel._meta.concrete_fields}
            key = NATURAL.get(rel) or ("source_id" if "source_id" in names else "pk")
            out.append(f"{f.name}__{key}")
            if rel is Program:
                out.append(f"{f.name}__site__code")
        else:
            out.append(f.name)
    return out


def _norm(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def table_digest(model: type[models.Model], **filters: Any) -> tuple[int, str]:
    cols = _columns(model)
    rows = sorted(
        repr(tuple(_norm(v) for v in row))
        for row in model._default_manager.filter(**filters).values_list(*cols)
    )
    return len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def population_digest(seed: int) -> dict[str, tuple[int, str]]:
    """``{table: (rows, digest)}`` for the population of ``seed`` (by its sites' codes)."""
    prefix = f"synth-{seed}-"
    out = {}
    for model in MODELS:
        where = (
            {"home_site__code__startswith": prefix}
            if model is Patient
            else {"patient__home_site__code__startswith": prefix}
        )
        out[model._meta.db_table] = table_digest(model, **where)
    return out
