"""The measure language: frames of events per patient, aggregations, dates, measures.

Write ``from tandem.measures import language as q`` and see ``docs/measures/language.md``.
Nothing here touches data: a measure is a tree of nodes (``lang_nodes``) that every engine
(in-memory, DuckDB, SQLite, PostgreSQL, Spark) evaluates with the same meaning.

Date rules (one definition, every engine):
- ``age(birth, on)``: completed years; a 29 February birthday completes a year on 1 March
  in common years (28 February is still the old age).
- ``add_months``/``add_years``: calendar arithmetic clamped to the target month's last day,
  as CQL and PostgreSQL do: 31 Jan + 1 month = 28/29 Feb; 29 Feb 2024 + 1 year = 28 Feb 2025.
- ``days_until``: difference of calendar dates (times of day are ignored).
- The relation helpers below work at day precision (they take ``.date`` of timestamps).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tandem.measures import lang_nodes as n
from tandem.measures.lang_episodes import episode_outputs, flagged_episodes
from tandem.measures.lang_nodes import Expr, Frame, Picked, Row, lift
from tandem.measures.lang_walk import PATIENT_VAR

__all__ = [
    "POPULATION_CODES",
    "Expr",
    "Frame",
    "Group",
    "Measure",
    "Picked",
    "Row",
    "Stratifier",
    "age",
    "age_band",
    "any_of",
    "date",
    "days_or_less_before",
    "ceil",
    "covered_days",
    "during",
    "during_at",
    "floor",
    "greatest",
    "least",
    "lit",
    "null",
    "overlaps",
    "overlaps_at",
    "param",
    "patient",
    "patient_age_on",
    "period_end",
    "period_start",
    "table",
    "trunc",
    "when",
    "within_days_after",
    "within_days_of",
]

# --- sources -------------------------------------------------------------------------------


def table(name: str) -> Frame:
    """All rows of an analytic table (``tandem.measures.schema.TABLES``) for the patient."""
    return n.Table(name)


patient = Row(n.Table("patients"))
object.__setattr__(patient, "var_id", PATIENT_VAR)
"""The current patient's row of the ``patients`` table: ``patient.birth_date``, ``patient.sex``."""


def param(name: str, dtype: str = "int") -> Expr:
    """A parameter of the measure, bound at evaluation (defaults in ``Measure.parameters``)."""
    return n.Param(name, dtype)


period_start = n.Param("period_start", "date")
"""First day of the measurement period (inclusive)."""
period_end = n.Param("period_end", "date")
"""Last day of the measurement period (inclusive)."""


def lit(value: Any) -> Expr:
    return lift(value)


def null(dtype: str) -> Expr:
    """A typed null literal."""
    return n.Lit(None, dtype)


def date(year: int, month: int, day: int) -> Expr:
    return n.Lit(dt.date(year, month, day), "date")


def when(condition: Expr, then: Any, otherwise: Any) -> Expr:
    """``then`` where ``condition`` is true, else ``otherwise`` (null condition: otherwise)."""
    return n.Func("case", (condition, lift(then), lift(otherwise)))


def greatest(a: Any, b: Any) -> Expr:
    """The larger of two values; null if either is null."""
    return n.Func("greatest", (lift(a), lift(b)))


def least(a: Any, b: Any) -> Expr:
    """The smaller of two values; null if either is null."""
    return n.Func("least", (lift(a), lift(b)))


def any_of(**criteria: Expr) -> Expr:
    """OR of named criteria; a population's evidence lists the names that were true."""
    return n.AnyOf(criteria)


# --- dates ---------------------------------------------------------------------------------


def age(birth: Any, on: Any) -> Expr:
    """Age in completed years on a date (see the module docstring for 29 February)."""
    return n.Func("age_years", (lift(birth), lift(on)))


def patient_age_on(on: Any) -> Expr:
    return age(patient.birth_date, on)


def age_band(age_expr: Expr, bands: list[tuple[int, int | None]]) -> Expr:
    """A label per band, e.g. ``[(12, 17), (18, None)]`` gives ``"12-17"``, ``"18+"``, else null."""
    out: Expr = null("str")
    for low, high in reversed(bands):
        label = f"{low}+" if high is None else f"{low}-{high}"
        cond = age_expr >= low if high is None else age_expr.between(low, high)
        out = when(cond, label, out)
    return out


def _d(x: Any) -> Expr:
    return lift(x).date


def days_or_less_before(x: Any, anchor: Any, days: Any) -> Expr:
    """CQL ``x N days or less on or before day of anchor``: anchor-N <= x <= anchor (days)."""
    a = _d(anchor)
    return _d(x).between(a.add_days(0 - lift(days)), a)


def within_days_after(x: Any, anchor: Any, days: Any, *, same_day: bool = True) -> Expr:
    """``x`` from the anchor day to N days after it; ``same_day=False`` excludes the anchor day."""
    a, xd = _d(anchor), _d(x)
    first = xd >= a if same_day else xd > a
    return first & (xd <= a.add_days(lift(days)))


def within_days_of(x: Any, anchor: Any, days: Any) -> Expr:
    """CQL ``x within N days of anchor``: anchor-N <= x <= anchor+N (days)."""
    a = _d(anchor)
    return _d(x).between(a.add_days(0 - lift(days)), a.add_days(lift(days)))


def during(x: Any, start: Any, end: Any) -> Expr:
    """The day of ``x`` is in [start, end] (days, both ends included)."""
    return _d(x).between(_d(start), _d(end))


def overlaps(start1: Any, end1: Any, start2: Any, end2: Any) -> Expr:
    """Closed day intervals overlap; a null start is open to the past, a null end to the future."""
    return _overlap(*(_d(v) for v in (start1, end1, start2, end2)))


def overlaps_at(start1: Any, end1: Any, start2: Any, end2: Any) -> Expr:
    """``overlaps`` at the values' own precision (timestamps: to the microsecond)."""
    return _overlap(*(lift(v) for v in (start1, end1, start2, end2)))


def _overlap(s1: Expr, e1: Expr, s2: Expr, e2: Expr) -> Expr:
    return (s1.is_null() | e2.is_null() | (s1 <= e2)) & (e1.is_null() | s2.is_null() | (e1 >= s2))


def covered_days(
    *parts: tuple[Frame, Callable[[Row], Any], Callable[[Row], Any]], within: tuple[Any, Any]
) -> Expr:
    """Days in ``within`` covered by the union of spans from several frames, e.g. pharmacy
    dispensings and clinic injections: ``q.covered_days((disp, start, end), (inj, start2,
    end2), within=(q.period_start, q.period_end))``. Overlaps across frames count once."""
    if not parts:
        raise TypeError("covered_days needs at least one (frame, start, end)")
    pieces = [n.CoveredPart(frame, start, end) for frame, start, end in parts]
    return n.CoveredDays(pieces, lift(within[0]), lift(within[1]))


def during_at(x: Any, start: Any, end: Any) -> Expr:
    """start <= x <= end at the values' own precision (CQL ``during`` without ``day of``)."""
    return lift(x).between(lift(start), lift(end))


def floor(x: Any) -> Expr:
    """The largest whole number <= x (an ``int``)."""
    return n.Func("floor", (lift(x),))


def ceil(x: Any) -> Expr:
    """The smallest whole number >= x (an ``int``)."""
    return n.Func("ceil", (lift(x),))


def trunc(x: Any) -> Expr:
    """x without its fraction, towards zero (an ``int``; CQL Quantity-to-days truncation)."""
    return n.Func("trunc", (lift(x),))


# --- measures ------------------------------------------------------------------------------

POPULATION_CODES = (
    "initial-population",
    "denominator",
    "denominator-exclusion",
    "denominator-exception",
    "numerator",
    "numerator-exclusion",
)


@dataclass
class Group:
    """One population group (a rate).

    Patient-based (``basis="boolean"``, the default): criteria are patient-level boolean
    expressions and each population is 0/1 per patient. Membership follows FHIR proportion
    scoring: denominator = IP and criterion; exclusion = denominator and criterion; numerator
    = denominator, not excluded, and criterion; numerator-exclusion = numerator and criterion;
    exception = denominator, not excluded, not in the numerator, and criterion. A missing
    ``denominator`` means "= initial population".

    Episode-based (``basis="Encounter"``, FHIR ``populationBasis``; CMS68, CMS177):
    ``episodes`` is the frame of candidate episodes and each criterion a lambda over an
    episode row (or a patient-level boolean, the same for all the patient's episodes); a
    missing initial population means every episode. Each population is then the **number**
    of the patient's episodes in it, the hierarchy above applied per episode
    (``lang_episodes``).

    ``evidence`` maps a population code to named patient-level values reported with it.
    """

    id: str
    populations: dict[str, Any]  # code -> Expr (boolean basis) or Expr | lambda (episodes)
    evidence: dict[str, dict[str, Expr]] = field(default_factory=dict)
    description: str = ""
    basis: str = "boolean"
    episodes: Frame | None = None

    def __post_init__(self) -> None:
        for code in self.populations:
            if code not in POPULATION_CODES:
                raise ValueError(f"unknown population code {code!r}; use {POPULATION_CODES}")
        for code in self.evidence:
            if code not in POPULATION_CODES:
                raise ValueError(f"evidence for unknown population {code!r}")
        if self.episode_based:
            if not isinstance(self.episodes, Frame):
                raise TypeError(f"group {self.id!r} with basis {self.basis!r} needs episodes=")
            flagged_episodes(self.episodes, self.populations)  # each criterion is boolean
            return
        if self.episodes is not None:
            raise ValueError(f"group {self.id!r}: episodes= needs a basis such as 'Encounter'")
        for code, expr in self.populations.items():
            if not isinstance(expr, Expr) or expr.dtype != "bool":
                got = getattr(expr, "dtype", type(expr).__name__)
                raise TypeError(f"population {code!r} must be boolean, got {got}")
        if "initial-population" not in self.populations:
            raise ValueError(f"group {self.id!r} needs an initial-population")

    @property
    def episode_based(self) -> bool:
        """Populations count episodes (ints) rather than the patient (booleans)."""
        return self.basis != "boolean"

    def codes(self) -> list[str]:
        """The population codes reported, in ``POPULATION_CODES`` order: those given plus the
        initial population, denominator and numerator."""
        present = set(self.populations) | {"initial-population", "denominator", "numerator"}
        return [c for c in POPULATION_CODES if c in present]

    def outputs(self) -> dict[str, Expr]:
        """The criteria (and ``any_of`` branches) an engine computes for this group."""
        if self.episode_based:
            assert self.episodes is not None
            return episode_outputs(self.id, self.episodes, self.populations, self.codes())
        out: dict[str, Expr] = {}
        for code, expr in self.populations.items():
            out[f"{self.id}|{code}"] = expr
            if isinstance(expr, n.AnyOf):
                for name, branch in expr.branches.items():
                    out[f"{self.id}|{code}|reason|{name}"] = branch
        return out

    def reasons(self) -> dict[str, list[str]]:
        """Per population code, the names of its ``any_of`` branches."""
        prefix = f"{self.id}|"
        found: dict[str, list[str]] = {}
        for key in self.outputs():
            parts = key[len(prefix) :].split("|")
            if len(parts) == 3 and parts[1] == "reason":
                found.setdefault(parts[0], []).append(parts[2])
        return found


@dataclass
class Stratifier:
    """A patient-level value (age band, site, payer...) that splits the summary."""

    id: str
    value: Expr


@dataclass
class Measure:
    id: str
    title: str
    groups: list[Group]
    strata: list[Stratifier] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    valuesets: dict[str, str] = field(default_factory=dict)  # optional name -> id, for docs

    def outputs(self) -> dict[str, Expr]:
        """Every patient-level expression an engine must compute, by a stable key."""
        out: dict[str, Expr] = {}
        for g in self.groups:
            out.update(g.outputs())
            for code, values in g.evidence.items():
                for name, expr in values.items():
                    out[f"{g.id}|{code}|evidence|{name}"] = expr
        for s in self.strata:
            out[f"stratum|{s.id}"] = s.value
        return out
