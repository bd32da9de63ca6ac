"""docs/api.md matches the code: endpoints, sections, scopes, problem types and limits."""

from __future__ import annotations

import re
from pathlib import Path

from tandem import api
from tandem.registry.api import SECTIONS
from tandem.tokens import rules

DOC = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()


def test_every_endpoint_is_documented(client, db):
    paths = client.get("/api/openapi.json").json()["paths"]
    for path, operations in paths.items():
        generic = re.sub(r"\{\w+_id\}", "{id}", path)
        generic = re.sub(r"\{id\}/(" + "|".join(SECTIONS) + ")$", "{id}/{section}", generic)
        for method in operations:
            assert f"`{method.upper()} {generic}" in DOC, (method, path)
    for name in SECTIONS:
        assert f"| `{name}` |" in DOC, name


def test_every_scope_and_problem_type_is_documented():
    for scope in rules.SCOPES:
        assert f"| `{scope}` |" in DOC, scope
    for slug in api.TITLES:
        assert f"`{slug}`" in DOC, slug


def test_the_documented_limits_are_the_codes():
    assert f"1 to **{api.MAX_PAGE_SIZE}**" in DOC
    assert f"{api.REQUESTS_PER_MINUTE:,} requests in a minute" in DOC
    assert f"1 to {rules.MAX_LIFETIME_DAYS} days" in DOC
    assert f"default {rules.DEFAULT_LIFETIME_DAYS}" in DOC
