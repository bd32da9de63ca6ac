"""Writes about appointments. Each records an audit event in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tandem.audit import services as audit
from tandem.core.models import Practitioner, Program, Site
from tandem.scheduling.models import Appointment

DEFAULT_MINUTES = 30


def book_appointment(
    *,
    by: Any,
    patient_id: int,
    start: dt.datetime,
    site: Site,
    practitioner: Practitioner | None = None,
    service_type: str = "",
    minutes: int = DEFAULT_MINUTES,
) -> Appointment:
    """Book an appointment (status ``booked``) at ``site``, recorded by the site's program of
    the same kind when it has one (its label follows: ``consent.rules``)."""
    program = Program.objects.filter(site=site, kind=site.kind).order_by("pk").first()
    appointment = Appointment.objects.create(
        patient_id=patient_id,
        program=program,
        site=site,
        practitioner=practitioner,
        start=start,
        end=start + dt.timedelta(minutes=minutes),
        status=Appointment.Status.BOOKED,
        service_type=service_type,
    )
    audit.record(
        actor=by,
        entry=audit.Entry(
            "write:book_appointment",
            "written",
            patient_id,
            "appointments",
            "treatment",
            f"appointment={appointment.pk} site={site.pk}",
        ),
    )
    return appointment
