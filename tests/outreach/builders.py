"""Builders for the outreach tests: the rows that put a patient on a worklist, and items."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from tandem.outreach.models import WorklistItem
from tests import builders as b


def cohort(*, patient: Any, key: str = "smi", **kw: Any) -> Any:
    from tandem.registry.models import CohortMembership

    kw.setdefault("since", timezone.localdate() - dt.timedelta(days=100))
    kw.setdefault("as_of", timezone.localdate())
    return CohortMembership.objects.create(cohort=key, patient=patient, **kw)


def pc_visit(*, patient: Any, days_ago: int = 30, **kw: Any) -> Any:
    kw.setdefault("setting", "pc")
    kw.setdefault("status", "finished")
    return b.encounter(patient=patient, start=timezone.now() - dt.timedelta(days=days_ago), **kw)


def appointment(*, patient: Any, days_ago: int = 3, **kw: Any) -> Any:
    from tandem.scheduling.models import Appointment

    start = kw.pop("start", None) or timezone.now() - dt.timedelta(days=days_ago)
    kw.setdefault("status", "noshow")
    return Appointment.objects.create(
        patient=patient, start=start, end=start + dt.timedelta(minutes=30), **kw
    )


def fulfil(appointment: Any, *, setting: str = "pc") -> Any:
    """Simulate the visit: the appointment fulfilled, with a finished encounter linked."""
    encounter = b.encounter(
        patient=appointment.patient,
        start=appointment.start,
        setting=setting,
        status="finished",
        site=appointment.site,
        practitioner=appointment.practitioner,
        program=appointment.program,
    )
    appointment.status = "fulfilled"
    appointment.encounter = encounter
    appointment.save(update_fields=["status", "encounter"])
    return encounter


def item(*, patient: Any, worklist: str = "smi-disengaged", **kw: Any) -> WorklistItem:
    kw.setdefault("reason", "No primary-care visit on record")
    kw.setdefault("opened_at", timezone.now() - dt.timedelta(days=20))
    kw.setdefault("sensitivity", "mental-health" if worklist == "smi-disengaged" else "normal")
    kw.setdefault("site", patient.home_site)
    return WorklistItem.objects.create(worklist=worklist, patient=patient, **kw)


def disengaged_smi(team: Any, **kw: Any) -> Any:
    """An SMI patient on Bob's caseload with a PCP (Alice) and no PC visit in a year."""
    from tandem.core.models import CareTeamMember

    patient = b.patient(mrn_site=team.pc_site, home_site=team.pc_site, **kw)
    cohort(patient=patient)
    b.care_team_member(patient=patient, practitioner=team.practitioner(team.alice), role="pcp")
    b.care_team_member(
        patient=patient,
        practitioner=team.practitioner(team.bob),
        role=CareTeamMember.Role.CARE_MANAGER,
        program=team.bh_program,
    )
    pc_visit(patient=patient, days_ago=500, site=team.pc_site)
    return patient
