"""Shared by the API tests: tokens for personas and the request helpers."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from tandem.tokens import services


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """The rate limiter counts in the cache, which outlives each test's database."""
    cache.clear()
    yield
    cache.clear()


def token_for(user: Any, *scopes: str, days: int = 30) -> str:
    """A new token for ``user`` (default scope patients:read); returns the secret."""
    issued = services.create_token(
        by=None,
        user=user,
        name="test",
        scopes=scopes or ("patients:read",),
        expires_in_days=days,
    )
    return issued.secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def is_problem(response: Any, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem with this status; return its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= body.keys()
    assert body["status"] == status
    assert body["instance"] == response.request["PATH_INFO"]
    return dict(body)
