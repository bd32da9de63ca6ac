"""Writes about patients. Each records an audit event in the caller's transaction."""

from __future__ import annotations

from typing import Any

from tandem.audit import services as audit
from tandem.registry.models import Patient


def link_patient_login(*, by: Any, patient: Patient, user: Any) -> Patient:
    """Let ``user`` sign in as this patient (portal access to their own record)."""
    patient.user = user
    patient.save(update_fields=["user"])
    audit.record(
        actor=by,
        entry=audit.Entry(
            "write:link_patient_login", "written", patient.pk, "demographics", "", f"user={user.pk}"
        ),
    )
    return patient
