"""Every HEDIS-style / Tandem measure test runs on the memory, DuckDB and SQLite engines."""

from __future__ import annotations

import pytest

from tests.measures.hedis.builders import ENGINES


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)
