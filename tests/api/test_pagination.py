"""Lists are paginated by page number, with a server-side maximum page size."""

from __future__ import annotations

import pytest

from tests import builders as b
from tests.api.conftest import bearer, is_problem, token_for


@pytest.fixture
def smiths(team):
    alice = team.practitioner(team.alice)
    for i in range(30):
        b.care_team_member(
            patient=b.patient(given_name=f"G{i:02d}", family_name="Smith"), practitioner=alice
        )
    return bearer(token_for(team.alice))


def test_it_pages_by_25_by_default(client, smiths):
    body = client.get("/api/patients?name=smith", headers=smiths).json()
    assert (body["count"], body["page"], body["pages"], body["page_size"]) == (30, 1, 2, 25)
    assert len(body["items"]) == 25
    assert body["previous"] is None
    assert body["next"] == "/api/patients?name=smith&page=2"


def test_following_next_walks_the_whole_list_once(client, smiths):
    seen, url = [], "/api/patients?name=smith&page_size=7"
    while url:
        body = client.get(url, headers=smiths).json()
        seen += [p["given_name"] for p in body["items"]]
        url = body["next"]
    assert seen == [f"G{i:02d}" for i in range(30)]


def test_the_page_size_can_be_chosen_up_to_the_maximum(client, smiths):
    body = client.get("/api/patients?name=smith&page_size=100", headers=smiths).json()
    assert len(body["items"]) == 30 and body["pages"] == 1 and body["next"] is None


def test_a_page_past_the_end_is_the_last_page(client, smiths):
    body = client.get("/api/patients?name=smith&page=9", headers=smiths).json()
    assert body["page"] == 2 and len(body["items"]) == 5
    assert body["previous"] == "/api/patients?name=smith&page=1"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("page=10001", "page"),
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page_size=many", "page_size"),
    ],
)
def test_bad_page_values_are_a_400_problem(client, smiths, query, field):
    body = is_problem(client.get(f"/api/patients?name=smith&{query}", headers=smiths), 400)
    assert [e["loc"] for e in body["errors"]] == [["query", field]]
