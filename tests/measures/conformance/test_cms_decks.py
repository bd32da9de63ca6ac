"""The six CMS eCQM test decks pass on the reference, DuckDB and SQLite engines.

Reads the public decks from ``../shared/conformance/ecqm-qicore-2024/tests`` (never copied
into the repository); skips with a message when that folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.measures import conformance, definitions

DECKS = (
    Path(__file__).resolve().parents[4] / "shared" / "conformance" / "ecqm-qicore-2024" / "tests"
)
MEASURES = ["CMS2", "CMS159", "CMS128", "CMS165", "CMS122", "CMS138"]
ENGINES = ["memory", "duckdb", "sqlite"]

pytestmark = pytest.mark.skipif(
    not DECKS.is_dir(), reason=f"public CMS eCQM test decks not found at {DECKS}"
)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("key", MEASURES)
def test_deck_has_no_mismatches(key, engine):
    info = definitions.get(key)
    report = conformance.run(
        key, DECKS / info.name, definitions.conformance_evaluator(key, engine=engine)
    )
    assert report.errors == []
    assert [m.line() for m in report.mismatches] == []
    assert report.failed == 0 and report.passed > 0
    # A documented deck defect that starts passing should be removed from the list.
    assert {m.case for m in report.known} == set(conformance.KNOWN_DECK_DEFECTS.get(key, {}))
