"""Daily schedules (django-q2 ``Schedule`` rows) at a local time of day.

Shared by the daily refresh (``tandem.jobs.queue``) and the audit anchor (``tandem.audit.jobs``):
a schedule is created once by name, and moved when its time-of-day setting changed.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.conf import settings
from django.utils import timezone


def next_at(at: str, now: dt.datetime | None = None) -> dt.datetime:
    """The next ``at`` (``HH:MM``) in ``TANDEM_TIME_ZONE`` after ``now``."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    local = (now or timezone.now()).astimezone(zone)
    time_of_day = dt.time.fromisoformat(at)
    candidate = dt.datetime.combine(local.date(), time_of_day, tzinfo=zone)
    if candidate <= local:
        candidate = dt.datetime.combine(
            local.date() + dt.timedelta(days=1), time_of_day, tzinfo=zone
        )
    return candidate


def ensure_daily(*, name: str, func: str, at: str) -> Any:
    """The daily schedule ``name`` running ``func`` at ``at``: created once, moved when ``at``
    changed."""
    from django_q.models import Schedule

    schedule = Schedule.objects.filter(name=name).first()
    if schedule is None:
        return Schedule.objects.create(
            name=name,
            func=func,
            schedule_type=Schedule.DAILY,
            repeats=-1,
            next_run=next_at(at),
        )
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    current = schedule.next_run.astimezone(zone) if schedule.next_run else None
    if current is None or current.strftime("%H:%M") != at:
        schedule.next_run = next_at(at)
        schedule.save(update_fields=["next_run"])
    return schedule
