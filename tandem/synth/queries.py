"""Reads the generator needs from the database it is writing (system use, not a reader).

The synthetic writer inserts rows in bulk and then needs the database keys of rows it has just
written in the same transaction (to point conditions at encounters, dispenses at orders). It
reads ``source_id -> pk`` pairs only — ids the generator itself chose, no patient data — so it
does not pass through ``consent.gate`` (there is no reader to check or audit).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import models


def source_keys(
    model: type[models.Model], patient_pks: Sequence[int], source: str
) -> dict[str, int]:
    """``source_id -> pk`` for rows of these patients written from ``source``."""
    out: dict[str, int] = {}
    step = 900
    for i in range(0, len(patient_pks), step):
        qs = model._default_manager.filter(patient_id__in=patient_pks[i : i + step], source=source)
        out.update(qs.values_list("source_id", "pk"))
    return out


def patient_count() -> int:
    """How many patients the database holds (a count, no patient data)."""
    from tandem.registry.models import Patient

    return Patient.objects.count()
