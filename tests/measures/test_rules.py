"""When a stored result is an open care gap: patient-based 0/1 and episode counts alike."""

from __future__ import annotations

import pytest

from tandem.measures.rules import is_gap


@pytest.mark.parametrize(
    ("populations", "inverse", "gap"),
    [
        ({"initial-population": 1, "denominator": 1, "numerator": 0}, False, True),
        ({"initial-population": 1, "denominator": 1, "numerator": 1}, False, False),
        ({"initial-population": 1, "denominator": 1, "denominator-exclusion": 1}, False, False),
        ({"initial-population": 1, "denominator": 1, "denominator-exception": 1}, False, False),
        ({"initial-population": 0, "denominator": 0, "numerator": 0}, False, False),
        ({"initial-population": 1, "numerator": 0}, False, True),  # no denominator: the IP
        # inverse (CMS122: the numerator is the gap)
        ({"initial-population": 1, "denominator": 1, "numerator": 1}, True, True),
        ({"initial-population": 1, "denominator": 1, "numerator": 0}, True, False),
        # episode-based (CMS68, CMS177): counts of encounters
        ({"initial-population": 3, "denominator": 3, "numerator": 3}, False, False),
        ({"initial-population": 3, "denominator": 3, "numerator": 1}, False, True),
        (
            {"initial-population": 3, "denominator": 3, "denominator-exception": 2, "numerator": 1},
            False,
            False,
        ),
        ({"initial-population": 2, "denominator": 2, "denominator-exclusion": 2}, False, False),
    ],
)
def test_is_gap(populations, inverse, gap):
    assert is_gap(populations, inverse=inverse) is gap
