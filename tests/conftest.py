"""Test wiring shared by every test.

Database tests are marked ``database`` automatically, so ``python3 dev.py test`` can run them
a second time on PostgreSQL (``-m database``).
"""

from __future__ import annotations

import pytest

DB_FIXTURES = {
    "db",
    "transactional_db",
    "live_server",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("django_db") or fixtures & DB_FIXTURES:
            item.add_marker(pytest.mark.database)


@pytest.fixture
def team(db):
    """The named personas of tests/personas.py, built fresh for each test."""
    from tests.personas import build_team

    return build_team()
