"""Measure versions: which logic applies to which performance period.

CMS republishes every eCQM each year for one **performance period** (a calendar year): CMS122v13
is the logic for 2025, CMS122v14 for 2026. A :class:`MeasureVersion` is one such version: its id,
the year it is for, the published Measure it implements (library name, canonical URL, version,
version-specific identifier) and the builder of its logic (``None`` while it is not implemented).

Tandem's HEDIS-style and own measures are versioned by Tandem (``SSDv1``) and apply to any
measurement period (``year=None``): their logic does not follow a yearly specification; a
change that must not apply to earlier years gets a new version with a year.

:func:`choose` picks the version for a period (or checks an explicit choice). It refuses, with
a one-line :class:`VersionError` (a :class:`~tandem.core.lib.cli.UsageError`: exit status 2 at
the command line), a period spanning two performance years of a yearly measure, a year with no
version or only a not-yet-implemented one, and an unknown version id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from tandem.core.lib.cli import UsageError
from tandem.measures.lang_walk import valuesets_used
from tandem.measures.language import Measure
from tandem.terminology.expansions import VSAC_BASE

Period = tuple[dt.date, dt.date]


class VersionError(UsageError):
    """No version of a measure can be chosen; the message names what is wrong, on one line."""


class UnknownVersion(VersionError):
    """A version id that the measure does not have."""


class NoVersionForPeriod(VersionError):
    """No implemented version covers the period (none for that year, or not implemented)."""


class PeriodSpansPerformanceYears(VersionError):
    """The period crosses a year boundary of a measure versioned per performance year."""


def fmt_period(period: Period) -> str:
    return f"{period[0].isoformat()}..{period[1].isoformat()}"


@dataclass(frozen=True)
class MeasureVersion:
    """One version of a measure: the logic for one performance year (or for any period)."""

    id: str  # CMS122v13, SSDv1
    key: str  # the measure key, CMS122
    year: int | None  # the performance year; None: any measurement period
    build: Callable[[], Measure] | None  # None: published but not implemented yet
    library: str  # eCQM library (= Measure.name; the 2025 test-deck folder) or Tandem's name
    url: str  # canonical Measure URL, or the page that describes the measure
    published_version: str = ""  # Measure.version, e.g. 0.1.002 (eCQMs only)
    identifier: str = ""  # version-specific Measure.identifier (urn:uuid:…), eCQMs only

    @property
    def implemented(self) -> bool:
        return self.build is not None

    @property
    def period(self) -> Period | None:
        """The performance period (Jan 1 to Dec 31 of the year); None for any period."""
        if self.year is None:
            return None
        return dt.date(self.year, 1, 1), dt.date(self.year, 12, 31)

    @property
    def period_label(self) -> str:
        return "any period" if self.period is None else fmt_period(self.period)

    @property
    def canonical(self) -> str:
        """``url|version`` for a published Measure (FHIR canonical), else the URL."""
        return f"{self.url}|{self.published_version}" if self.published_version else self.url

    def covers(self, period: Period) -> bool:
        """Whether ``period`` lies within this version's performance period."""
        own = self.period
        return own is None or (own[0] <= period[0] and period[1] <= own[1])

    def measure(self) -> Measure:
        """The built logic (built once per process); ``NoVersionForPeriod`` if not implemented."""
        if self.build is None:
            raise NoVersionForPeriod(f"{self.id} ({self.describe()}) is not implemented yet")
        return _built(self)

    @property
    def group_ids(self) -> list[str]:
        return [g.id for g in self.measure().groups]

    @property
    def valuesets(self) -> frozenset[str]:
        """The value-set ids the logic reads (VSAC OIDs, ``tandem:<key>`` code lists)."""
        return frozenset(valuesets_used(list(self.measure().outputs().values())))

    @property
    def valueset_urls(self) -> tuple[str, ...]:
        """The canonical URL of each value set (VSAC OIDs); Tandem's code lists keep their id."""
        return tuple(
            sorted(v if v.startswith("tandem:") else VSAC_BASE + v for v in self.valuesets)
        )

    def describe(self) -> str:
        if self.year is None:
            return f"{self.key} for any period"
        return f"the {self.year} version of {self.key}"


@cache
def _built(version: MeasureVersion) -> Measure:
    assert version.build is not None
    return version.build()


def _listing(versions: Sequence[MeasureVersion]) -> str:
    parts = []
    for v in versions:
        when = "any period" if v.year is None else f"for {v.year}"
        parts.append(f"{v.id} {when}" + ("" if v.implemented else ", not yet implemented"))
    return "; ".join(parts)


def find(key: str, versions: Sequence[MeasureVersion], version_id: str) -> MeasureVersion:
    """The version ``version_id`` (any case) of measure ``key``; ``UnknownVersion`` if none."""
    for v in versions:
        if v.id.lower() == version_id.lower():
            return v
    raise UnknownVersion(
        f"unknown version {version_id!r} of {key} (versions: {', '.join(v.id for v in versions)})"
    )


def choose(
    key: str,
    versions: Sequence[MeasureVersion],
    period: Period,
    version_id: str | None = None,
) -> MeasureVersion:
    """The version of measure ``key`` to evaluate over ``period``.

    An explicit ``version_id`` wins (whatever the period; it must be implemented). Otherwise a
    measure with yearly versions needs the period inside one performance year and an
    implemented version for that year; a measure whose versions apply to any period gets its
    latest such version.
    """
    if version_id is not None:
        chosen = find(key, versions, version_id)
        if not chosen.implemented:
            raise NoVersionForPeriod(
                f"{chosen.id} ({chosen.describe()}) is not implemented yet "
                f"(versions: {_listing(versions)})"
            )
        return chosen
    yearly = [v for v in versions if v.year is not None]
    if yearly and period[0].year != period[1].year:
        raise PeriodSpansPerformanceYears(
            f"period {fmt_period(period)} spans more than one performance year "
            f"({period[0].year}–{period[1].year}); {key} has one version per year: "
            "split the period by calendar year or choose a version with --version"
        )
    for v in reversed(yearly):
        if v.year == period[0].year:
            if not v.implemented:
                raise NoVersionForPeriod(
                    f"{v.id} ({v.describe()}) is not implemented yet; choose another version "
                    f"with --version (versions: {_listing(versions)})"
                )
            return v
    anytime = [v for v in versions if v.year is None and v.implemented]
    if anytime:
        return anytime[-1]
    raise NoVersionForPeriod(
        f"{key} has no version for the {period[0].year} performance period "
        f"(versions: {_listing(versions)})"
    )


__all__ = [
    "MeasureVersion",
    "NoVersionForPeriod",
    "PeriodSpansPerformanceYears",
    "UnknownVersion",
    "VersionError",
    "choose",
    "find",
    "fmt_period",
]
