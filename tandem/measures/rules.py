"""When a stored measure result is an open care gap (pure rules, as data).

A patient's result in one group of a run is an *open gap* when the patient is in the
denominator (the initial population where the group has no denominator), not excluded or
excepted, and not in the numerator — or, for an inverse measure (lower is better: CMS122 counts
HbA1c > 9 %), in the numerator. Descriptive measures (utilisation counts) have no gaps.
The chart (``measures.queries.open_gaps``) and the care-gap worklists apply the same rule.
"""

from __future__ import annotations

# Measures whose numerator is the gap (lower is better).
INVERSE_MEASURES = frozenset({"CMS122"})
# Stored measures that describe rather than set a target for a patient.
NOT_GAPS = frozenset({"TANDEM-UTIL"})


def is_gap(populations: dict[str, int], *, inverse: bool) -> bool:
    """Whether one stored result (population code -> 0/1) is an open care gap."""
    if not populations.get("denominator", populations.get("initial-population", 0)):
        return False
    if populations.get("denominator-exclusion") or populations.get("denominator-exception"):
        return False
    return bool(populations.get("numerator")) == inverse
