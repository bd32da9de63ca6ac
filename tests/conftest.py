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


def pytest_configure(config: pytest.Config) -> None:
    """Passwords set by tests are hashed with a fast hasher first.

    Argon2 (Tandem's hasher) takes about 0.3 s per password on this machine by design, and
    the ``team`` fixture creates eight users: 2.6 s of every test's set-up, most of the suite's
    time. Hashes already stored in Argon2 still verify (it stays in the list); what sign-in
    itself does is tested in ``tests/core`` either way, and ``tests/test_config.py`` checks that
    production hashes with Argon2. Commands run in a subprocess use the real settings.
    """
    from django.conf import settings

    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


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
