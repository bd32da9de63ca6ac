"""The CMS eCQM test decks (the 2025 versions of all twelve measures) pass on the reference,
DuckDB and SQLite engines.

Reads the public decks and value sets from the project's shared folder (``tests/shared.py``;
never copied into the repository); skips with a message when it is absent.
"""

from __future__ import annotations

import pytest

from tandem.measures import conformance, definitions
from tandem.measures import valuesets as vs_module
from tests import shared

DECKS = shared.DECKS
# Every CMS measure: its 2025 version is the one the official decks test.
MEASURES = [key for key, info in definitions.REGISTRY.items() if info.versions[0].year == 2025]
ENGINES = ["memory", "duckdb", "sqlite"]

pytestmark = [shared.needs(DECKS), shared.needs(shared.VALUESETS)]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("key", MEASURES)
def test_deck_has_no_mismatches(key, engine):
    info = definitions.get(key)
    report = conformance.run(
        key,
        DECKS / info.name,
        definitions.conformance_evaluator(
            key, engine=engine, valuesets=vs_module.load(shared.VALUESETS)
        ),
    )
    assert report.errors == []
    assert [m.line() for m in report.mismatches] == []
    assert report.failed == 0 and report.passed > 0
    # A documented deck defect that starts passing should be removed from the list.
    assert {m.case for m in report.known} == set(conformance.KNOWN_DECK_DEFECTS.get(key, {}))
