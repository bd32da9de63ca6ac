"""Registry rules as data: the risk score (F5) and what a cohort list may be sorted and
filtered by.

Risk score (``docs/registry.md`` gives the rationale of every number)
- Each component counts something in the patient's record over a window ending on the day
  the score describes; its points are ``per`` points per unit, capped at ``cap``.
  Months without a primary-care visit and a recent discharge score by bands instead.
- The score is the sum of the points; the tier is the first band whose floor it reaches
  (``TIERS``, highest first).
- Pure functions here, no database: ``registry.services.rebuild_risk`` reads the counts in
  a few set-based queries and calls :func:`score` per patient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WINDOW_DAYS = 365  # "in 12 months": the 365 days ending on the day the score describes
RECENT_DISCHARGE_DAYS = 30


@dataclass(frozen=True)
class Component:
    key: str
    label: str
    per: int = 0  # points per unit (count components)
    cap: int = 0  # most points the component can give
    bands: tuple[tuple[int, int], ...] = ()  # (from value, points), highest value first


# The order is the order the components are shown in.
RISK_COMPONENTS: tuple[Component, ...] = (
    Component("ed_visits", "ED visits in 12 months", per=2, cap=8),
    Component("psych_admissions", "Psychiatric admissions in 12 months", per=4, cap=8),
    Component("no_shows", "Missed appointments (no-shows) in 12 months", per=1, cap=4),
    Component("chronic_conditions", "Chronic conditions", per=1, cap=4),
    # Months since the last primary-care visit; "never" (no visit on record) scores as 24.
    Component("months_without_pc", "Months without a primary-care visit", bands=((12, 3), (6, 1))),
    # 1 when discharged from an inpatient stay (acute or psychiatric) in the last 30 days.
    Component("recent_discharge", "Discharged in the last 30 days", bands=((1, 3),)),
)
NEVER_SEEN_MONTHS = 24

# Chronic conditions counted (Tandem code lists, ``tandem/terminology/codelists``): each list
# counts once, however many of its codes the patient has.
CHRONIC_CONDITION_LISTS: tuple[str, ...] = (
    "diabetes",
    "hypertension",
    "cardiovascular-disease",
    "obesity",
    "smi-diagnoses",
    "depression",
    "anxiety",
    "sud",
)

# (tier, lowest score), highest first.
TIERS: tuple[tuple[str, int], ...] = (("very-high", 12), ("high", 8), ("moderate", 4), ("low", 0))
TIER_LABELS = {"low": "Low", "moderate": "Moderate", "high": "High", "very-high": "Very high"}


def points(component: Component, value: int | None) -> int:
    """The points ``value`` earns on ``component``."""
    if component.bands:
        measured = NEVER_SEEN_MONTHS if value is None else value
        return next((p for floor, p in component.bands if measured >= floor), 0)
    return min((value or 0) * component.per, component.cap)


def tier(score: int) -> str:
    return next(name for name, floor in TIERS if score >= floor)


def score(values: dict[str, int | None]) -> tuple[int, str, list[dict[str, Any]]]:
    """``(score, tier, components)`` for one patient's component values (missing: 0)."""
    components: list[dict[str, Any]] = []
    total = 0
    for c in RISK_COMPONENTS:
        value = values.get(c.key, None if c.key == "months_without_pc" else 0)
        earned = points(c, value)
        total += earned
        components.append({"key": c.key, "label": c.label, "value": value, "points": earned})
    return total, tier(total), components


# --- cohort lists --------------------------------------------------------------------------

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 25
# Sort keys a cohort list accepts (``-key`` for descending), and what each orders by. Any other
# key is refused with a 400 naming it.
SORTS: dict[str, tuple[str, ...]] = {
    "name": ("family_name", "given_name", "pk"),
    "birth_date": ("birth_date", "pk"),
    "risk": ("risk_score", "pk"),
    "since": ("cohort_since", "pk"),
    "site": ("home_site__name", "pk"),
}
DEFAULT_SORT = "-risk"
FILTERS = ("site", "team", "clinician", "payer", "tier", "gap")
