"""FHIR date and dateTime strings -> the analytic tables' naive-UTC values.

Rules (see ``tandem.measures.schema``): an offset is normalised to UTC and dropped; a value
without time becomes midnight, except as the end of a period, where it becomes the last
microsecond of the day (or month, or year, for partial dates ``YYYY-MM`` / ``YYYY``). A
dateTime with a time but no offset is taken as UTC.

A value that is not a string, or not a date (``2024-13``, ``2025-02-30``, ``yesterday``),
raises :class:`~tandem.importers.fhir.errors.InvalidElement` naming the element. Parsing is
cached: the check costs nothing for a value seen before.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from tandem.importers.fhir.errors import InvalidElement, shown, wrong

_EOD = timedelta(days=1, microseconds=-1)


def _digits(text: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise ValueError(text)
    return int(text)


@lru_cache(maxsize=65536)
def _parse(value: str, end: bool) -> datetime:
    n = len(value)
    if n == 4:  # YYYY
        y = _digits(value)
        return datetime(y, 12, 31, 23, 59, 59, 999999) if end else datetime(y, 1, 1)
    if n == 7 and value[4] == "-":  # YYYY-MM
        y, m = _digits(value[:4]), _digits(value[5:7])
        if end:
            return datetime(y, m, calendar.monthrange(y, m)[1], 23, 59, 59, 999999)
        return datetime(y, m, 1)
    if n == 10 and value[4] == "-" == value[7]:  # YYYY-MM-DD
        d = datetime(_digits(value[:4]), _digits(value[5:7]), _digits(value[8:10]))
        return d + _EOD if end else d
    if n < 16 or value[10] not in "Tt ":
        raise ValueError(value)
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def timestamp(
    value: object, path: str = "dateTime", suffix: str = "", *, end: bool = False
) -> datetime | None:
    """Parse a FHIR date/dateTime/instant; ``end=True`` for a period end. ``None`` passes;
    ``path + suffix`` names the element in the error (joined only then)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise wrong(path + suffix, "a date or dateTime string", value)
    try:
        return _parse(value, end)
    except (ValueError, OverflowError):  # calendar.IllegalMonthError is a ValueError
        raise InvalidElement(
            f"{path}{suffix} {shown(value)} is not a FHIR date or dateTime"
        ) from None


def day(value: object, path: str = "date") -> date | None:
    """A FHIR date (or the UTC date of a dateTime)."""
    ts = timestamp(value, path)
    return ts.date() if ts else None
