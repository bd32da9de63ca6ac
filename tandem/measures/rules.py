"""When a stored measure result is an open care gap (pure rules, as data).

A patient's result in one group of a run is an *open gap* when the patient is in the
denominator (the initial population where the group has no denominator), not excluded or
excepted, and not in the numerator (episode-based measures: some eligible episode is not) — or, for an inverse measure (lower is better: CMS122 counts
HbA1c > 9 %), in the numerator. Descriptive measures (utilisation counts) have no gaps.
The chart (``measures.queries.open_gaps``) and the care-gap worklists apply the same rule.
"""

from __future__ import annotations

# Measures whose numerator is the gap (lower is better).
INVERSE_MEASURES = frozenset({"CMS122"})
# Stored measures that describe rather than set a target for a patient.
NOT_GAPS = frozenset({"TANDEM-UTIL"})


def is_gap(populations: dict[str, int], *, inverse: bool) -> bool:
    """Whether one stored result is an open care gap.

    ``populations`` maps a population code to a count: 0/1 for a patient-based measure, the
    number of episodes (encounters) for an episode-based one (CMS68, CMS177), whose patient has
    an open gap while some eligible episode is not in the numerator.
    """
    denominator = populations.get("denominator", populations.get("initial-population", 0)) or 0
    eligible = (
        denominator
        - (populations.get("denominator-exclusion") or 0)
        - (populations.get("denominator-exception") or 0)
    )
    if eligible <= 0:
        return False
    numerator = populations.get("numerator") or 0
    return numerator > 0 if inverse else numerator < eligible
