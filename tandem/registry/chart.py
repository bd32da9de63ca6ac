"""The integrated chart's reading of what the gate disclosed: rows as clinicians read them.

Pure presentation over rows the caller already holds (no database access here): results
grouped per test with the latest reading, its flag, reference range and trend; blood pressure
paired into one reading; assessments per instrument with score bands; each active order with
its last pharmacy fill and whether the supply has run out. ``tandem.core.lib.display`` holds
the rules (names, units, ranges); this module applies them to the chart's rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from tandem.core.lib import display as d

SYSTOLIC, DIASTOLIC, BP_PANEL = "8480-6", "8462-4", "85354-9"
TREND_POINTS = 12  # the most recent readings a trend shows
NO_SPARK = SafeString("")


@dataclass
class Result:
    """One test on the chart: its latest reading and the readings before it."""

    name: str
    code: str
    category: str
    latest: str
    when: dt.datetime
    flag: d.Flag = d.NORMAL
    range_text: str = ""
    trend: str = ""
    spark: SafeString = field(default_factory=lambda: NO_SPARK)
    count: int = 1
    row: Any = None  # the latest row (its label is shown)


def _value_text(row: Any) -> str:
    if row.value_num is not None:
        return d.quantity(row.value_num, row.value_unit)
    if row.value_code:
        return d.display_name(row.value_code_system, row.value_code, row.value_text)
    return row.value_text or "—"


def _trend(name: str, values: list[float], ucum: str, label: str | None = None) -> tuple:
    values = values[-TREND_POINTS:]
    text = label or d.trend_text(name, values, ucum)
    # display.sparkline writes numbers and the HTML-escaped label only
    return text, mark_safe(d.sparkline(values, label=text))  # noqa: S308


def _pair_blood_pressure(rows: Sequence[Any]) -> list[tuple[Any, float | None, float | None]]:
    """(row, systolic, diastolic) per reading, newest first: the components of one panel
    (same ``panel_id``) or, without one, taken at the same moment."""
    readings: dict[Any, dict[str, Any]] = {}
    for row in rows:
        key = row.panel_id or row.effective_at
        reading = readings.setdefault(key, {"row": row})
        reading[row.code] = row.value_num
    out = [(r["row"], r.get(SYSTOLIC), r.get(DIASTOLIC)) for r in readings.values()]
    return sorted(out, key=lambda r: r[0].effective_at, reverse=True)


def _bp_result(rows: Sequence[Any], *, sex: str, age: int | None) -> Result:
    readings = _pair_blood_pressure(rows)
    row, systolic, diastolic = readings[0]
    flags = [
        d.flag(systolic, d.reference_range(SYSTOLIC, sex=sex, age=age)),
        d.flag(diastolic, d.reference_range(DIASTOLIC, sex=sex, age=age)),
    ]
    flag = d.HIGH if d.HIGH in flags else (d.LOW if d.LOW in flags else d.NORMAL)
    oldest_first = list(reversed(readings))[-TREND_POINTS:]
    label = d.trend_text("Blood pressure", [], "")
    if len(oldest_first) > 1:
        first, last = oldest_first[0], oldest_first[-1]
        label = (
            f"Blood pressure {d.blood_pressure(first[1], first[2]).removesuffix(' mmHg')} → "
            f"{d.blood_pressure(last[1], last[2])} over {len(oldest_first)} readings"
        )
    systolics = [r[1] for r in oldest_first if r[1] is not None]
    trend, spark = (
        _trend("Blood pressure", systolics, "mm[Hg]", label)
        if len(systolics) > 1
        else ("", NO_SPARK)
    )
    ranged = d.reference_range(SYSTOLIC, sex=sex, age=age) is not None
    return Result(
        name="Blood pressure",
        code=BP_PANEL,
        category=row.category,
        latest=d.blood_pressure(systolic, diastolic),
        when=row.effective_at,
        flag=flag,
        range_text="90–139/60–89 mmHg" if ranged else "",
        trend=trend,
        spark=spark,
        count=len(readings),
        row=row,
    )


def results(observations: Iterable[Any], *, sex: str, age: int | None) -> list[Result]:
    """One :class:`Result` per test (codes with the same short name trend together), newest
    first; systolic and diastolic rows become one blood-pressure result."""
    groups: dict[str, list[Any]] = defaultdict(list)
    pressure: list[Any] = []
    for row in observations:
        if row.code in (SYSTOLIC, DIASTOLIC):
            pressure.append(row)
        elif row.code != BP_PANEL:
            groups[d.display_name(row.code_system, row.code, row.display)].append(row)
    out = [_bp_result(pressure, sex=sex, age=age)] if pressure else []
    for name, rows in groups.items():
        rows.sort(key=lambda r: r.effective_at, reverse=True)
        latest = rows[0]
        ranges = d.reference_range(latest.code, sex=sex, age=age)
        numbers = [r.value_num for r in reversed(rows) if r.value_num is not None]
        trend, spark = (
            _trend(name, numbers, latest.value_unit) if len(numbers) > 1 else ("", NO_SPARK)
        )
        out.append(
            Result(
                name=name,
                code=latest.code,
                category=latest.category,
                latest=_value_text(latest),
                when=latest.effective_at,
                flag=d.flag(latest.value_num, ranges),
                range_text=ranges.text(latest.value_unit) if ranges else "",
                trend=trend,
                spark=spark,
                count=len(rows),
                row=latest,
            )
        )
    return sorted(out, key=lambda r: r.when, reverse=True)


@dataclass
class Score:
    """One instrument: the latest total, its severity band and the trend of totals."""

    name: str
    latest: int | None
    band: str
    when: dt.datetime
    trend: str
    spark: SafeString
    count: int
    row: Any


def scores(assessments: Iterable[Any]) -> list[Score]:
    by_instrument: dict[str, list[Any]] = defaultdict(list)
    for row in assessments:
        by_instrument[row.instrument].append(row)
    out = []
    for instrument, rows in by_instrument.items():
        rows.sort(key=lambda r: r.effective_at, reverse=True)
        latest = rows[0]
        name = latest.get_instrument_display().split(" (")[0]
        totals = [float(r.total_score) for r in reversed(rows) if r.total_score is not None]
        trend, spark = _trend(name, totals, "{score}") if len(totals) > 1 else ("", NO_SPARK)
        out.append(
            Score(
                name=name,
                latest=latest.total_score,
                band=d.score_band(instrument, latest.total_score),
                when=latest.effective_at,
                trend=trend,
                spark=spark,
                count=len(rows),
                row=latest,
            )
        )
    return sorted(out, key=lambda s: s.when, reverse=True)


@dataclass
class Medication:
    """An active order with its last pharmacy fill: when the supply ran (or runs) out."""

    name: str
    order: Any
    last_fill: Any | None
    supply_until: dt.date | None
    gap_days: int | None  # days since the supply ran out; None while covered or never filled

    @property
    def supply_text(self) -> str:
        if self.last_fill is None:
            return "No fill on record"
        if self.gap_days:
            return f"Out of supply for {self.gap_days} day{'s' if self.gap_days != 1 else ''}"
        return f"Supply through {d.short_date(self.supply_until)}"


def medications(orders: Iterable[Any], dispenses: Iterable[Any], *, today: dt.date) -> tuple:
    """(active orders with their last fill, the fills of no listed order), newest first. A
    fill belongs to an order by its ``order`` link, else by the same code."""
    fills = sorted(dispenses, key=lambda f: f.dispensed_at, reverse=True)
    used: set[int] = set()
    lines = []
    for order in orders:
        last = next(
            (
                f
                for f in fills
                if f.order_id == order.pk
                or (
                    f.order_id is None
                    and (f.code_system, f.code) == (order.code_system, order.code)
                )
            ),
            None,
        )
        until = gap = None
        if last is not None:
            used.update(f.pk for f in fills if f.order_id == order.pk or f.code == order.code)
            # the day of the fill where the clinic is (``today`` is that zone's date too): the
            # UTC date of an evening fill is the next day, a gap one day short
            filled = timezone.localtime(last.dispensed_at).date()
            until = filled + dt.timedelta(days=last.days_supply)
            gap = (today - until).days if today > until else None
        name = d.display_name(order.code_system, order.code, order.display, limit=60)
        lines.append(Medication(name, order, last, until, gap))
    others = [f for f in fills if f.pk not in used]
    return lines, others


def has_smi(data: dict[str, list[Any]]) -> bool:
    """Whether the rows the chart holds show SMI: the registry's ``smi`` cohort, or an SMI code
    on the problem list (``registry.engagement`` writes the rule down)."""
    from tandem.registry import engagement

    if any(m.cohort == engagement.SMI_COHORT for m in data.get("cohorts", [])):
        return True
    codes = engagement.smi_codes()
    return any(c.code in codes for c in data.get("conditions", []))
