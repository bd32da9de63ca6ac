"""Reads of the job history. Job runs hold no patient data (counts, durations, error types), so
these reads do not pass the consent gate; the pages that show them are for leaders only."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from tandem.jobs.models import JobRun

PAGE = 25


def history(*, limit: int = PAGE) -> list[JobRun]:
    """The latest runs, newest first, with who triggered them (one query)."""
    return list(JobRun.objects.select_related("triggered_by", "retry_of")[:limit])


def run(*, pk: int) -> JobRun | None:
    return JobRun.objects.select_related("triggered_by", "retry_of").filter(pk=pk).first()


def local(moment: dt.datetime | None) -> str:
    """A moment as people read it here: 03-Dec-2026 14:05 (TANDEM_TIME_ZONE)."""
    if moment is None:
        return "-"
    return timezone.localtime(moment).strftime("%d-%b-%Y %H:%M")
