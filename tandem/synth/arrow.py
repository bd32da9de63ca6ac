"""Turning integer event frames into Arrow columns: ids, timestamps, dates, codes.

Everything is a column operation (``take``, ``cast``, ``binary_join``); no Python loop per row.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

US_PER_DAY = 86_400_000_000
US_PER_MIN = 60_000_000
EPOCH = dt.date(1970, 1, 1)


class Clock:
    """Day offsets from the period start -> Arrow timestamps (UTC) and dates.

    The generator thinks in clinic-local time (visits 08:00-17:00); ``ts`` converts to UTC with
    the zone's offset on that day (daylight saving included), looked up in a table built once.
    """

    PAST_DAYS = 40_000  # onsets and registrations reach this far back before the start
    FUTURE_DAYS = 400  # bookings and order periods reach past the end

    def __init__(self, start: dt.date, time_zone: str = "UTC", *, end: dt.date) -> None:
        self.start = start
        self.start_day = (start - EPOCH).days
        zone = ZoneInfo(time_zone)
        # one offset per day, from PAST_DAYS before the start to FUTURE_DAYS after the end, so
        # that a summer visit late in a long period gets its summer offset
        days = self.PAST_DAYS + max((end - start).days, 0) + self.FUTURE_DAYS
        first = dt.datetime.combine(start, dt.time(12)) - dt.timedelta(days=self.PAST_DAYS)
        noons = (first + dt.timedelta(days=d) for d in range(days))
        self.offset_min = np.array(
            [int((zone.utcoffset(n) or dt.timedelta()).total_seconds()) // 60 for n in noons],
            dtype=np.int64,
        )

    def ts(
        self, day: np.ndarray, minute: np.ndarray | int = 0, mask: np.ndarray | None = None
    ) -> pa.Array:
        day = np.asarray(day, dtype=np.int64)
        local = (self.start_day + day) * US_PER_DAY + np.asarray(
            minute, dtype=np.int64
        ) * US_PER_MIN
        index = np.clip(day + self.PAST_DAYS, 0, len(self.offset_min) - 1)
        us = local - self.offset_min[index] * US_PER_MIN
        return pa.array(us, type=pa.int64(), mask=mask).cast(pa.timestamp("us"))

    def date(self, day: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
        days = (self.start_day + np.asarray(day, dtype=np.int64)).astype(np.int32)
        return pa.array(days, type=pa.int32(), mask=mask).cast(pa.date32())


def ids(prefix: str, numbers: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """``prefix`` + number, as strings (null where ``mask``)."""
    text = pa.array(np.asarray(numbers, dtype=np.int64), mask=mask).cast(pa.string())
    return pc.binary_join_element_wise(prefix, text, "")


def take(values: pa.Array, index: np.ndarray) -> pa.Array:
    """``values[index]``, null where the index is negative."""
    index = np.asarray(index, dtype=np.int64)
    return values.take(pa.array(index, mask=index < 0))


def const(value: object, n: int, typ: pa.DataType | None = None) -> pa.Array:
    """``n`` copies of one value (nulls for ``None``); strings unless ``typ`` says otherwise."""
    typ = typ or pa.string()
    if value is None:
        return pa.nulls(n, typ)
    return pa.repeat(pa.scalar(value, type=typ), n)


def floats(values: np.ndarray) -> pa.Array:
    values = np.asarray(values, dtype=np.float64)
    return pa.array(values, mask=np.isnan(values))


def ints(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int32), mask=mask)


def strings(values: np.ndarray) -> pa.Array:
    """A numpy object array of str/None -> Arrow strings."""
    return pa.array(values, type=pa.string())


def table(columns: dict[str, pa.Array]) -> pa.Table:
    return pa.table(columns)
