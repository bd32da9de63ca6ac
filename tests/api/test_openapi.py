"""The OpenAPI document and the browsable docs (tandem/api.py)."""

from __future__ import annotations

import json
import re

import pytest

from tandem.registry.api import SECTIONS


@pytest.fixture
def document(client, db) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content)


def test_it_serves_the_openapi_document_with_every_endpoint(document):
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Tandem API"
    paths = document["paths"]
    assert {"/api/me", "/api/tokens", "/api/tokens/{token_id}", "/api/patients"} <= paths.keys()
    assert "/api/patients/{patient_id}" in paths
    for name in SECTIONS:
        assert f"/api/patients/{{patient_id}}/{name}" in paths


def test_it_documents_both_ways_to_authenticate(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["BearerToken"] == {"type": "http", "scheme": "bearer"}
    assert schemes["BrowserSession"]["in"] == "cookie"
    search = document["paths"]["/api/patients"]["get"]
    assert {"BearerToken": []} in search["security"]


def test_every_operation_documents_problem_details_as_its_errors(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            error = operation["responses"]["default"]["content"]
            assert "application/problem+json" in error, (method, path)
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "instance"}


def test_every_operation_has_a_unique_id_and_a_summary(document):
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert all(op.get("summary") for ops in document["paths"].values() for op in ops.values())


def test_pagination_limits_are_in_the_document(document):
    params = {p["name"]: p for p in document["paths"]["/api/patients"]["get"]["parameters"]}
    assert params["page_size"]["schema"]["maximum"] == 100
    assert params["page"]["schema"]["minimum"] == 1


def test_the_docs_page_loads_its_scripts_and_styles_from_tandem_itself(client, db):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.text
    assert "/api/openapi.json" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/static/") for a in assets), assets
    # The only script element without src is the settings as JSON data, which a browser
    # never executes (so the Content-Security-Policy needs no 'unsafe-inline').
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline == [' type="application/json" id="swagger-settings"']
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_the_docs_page_carries_the_strict_content_security_policy(client, db):
    policy = client.get("/api/docs")["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe" not in policy
