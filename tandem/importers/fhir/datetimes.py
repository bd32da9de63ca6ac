"""FHIR date and dateTime strings -> the analytic tables' naive-UTC values.

Rules (see ``tandem.measures.schema``): an offset is normalised to UTC and dropped; a value
without time becomes midnight, except as the end of a period, where it becomes the last
microsecond of the day (or month, or year, for partial dates ``YYYY-MM`` / ``YYYY``). A
dateTime with a time but no offset is taken as UTC.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

_EOD = timedelta(days=1, microseconds=-1)


@lru_cache(maxsize=65536)
def _parse(value: str, end: bool) -> datetime:
    n = len(value)
    if n == 4:  # YYYY
        y = int(value)
        return datetime(y, 12, 31, 23, 59, 59, 999999) if end else datetime(y, 1, 1)
    if n == 7:  # YYYY-MM
        y, m = int(value[:4]), int(value[5:7])
        if end:
            return datetime(y, m, calendar.monthrange(y, m)[1], 23, 59, 59, 999999)
        return datetime(y, m, 1)
    if n == 10:  # YYYY-MM-DD
        d = datetime(int(value[:4]), int(value[5:7]), int(value[8:10]))
        return d + _EOD if end else d
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def timestamp(value: object, *, end: bool = False) -> datetime | None:
    """Parse a FHIR date/dateTime/instant; ``end=True`` for a period end. ``None`` passes."""
    if not value or not isinstance(value, str):
        return None
    return _parse(value, end)


def day(value: object) -> date | None:
    """A FHIR date (or the UTC date of a dateTime)."""
    ts = timestamp(value)
    return ts.date() if ts else None
