"""No page fails axe-core's serious or critical checks (WCAG 2.x A/AA, colour contrast among
them). axe-core comes vendored in the ``axe-playwright-python`` wheel (pinned in the ``dev``
extra); nothing is fetched at run time."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.test_care_manager_journey import chart, sign_in
from tests.personas import build_team

pytestmark = pytest.mark.browser
BLOCKING = {"serious", "critical"}


def serious_violations(page: Page) -> list[str]:
    """Each serious or critical violation axe finds, with the elements it found it on."""
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(", ".join(node["target"]) for node in v["nodes"])
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


def test_the_login_page_passes_axe_with_the_demo_hint(page: Page, settings) -> None:
    settings.TANDEM_ENV = "development"
    page.goto("/login/")
    expect(page.get_by_role("note")).to_contain_text("python3 dev.py demo")

    assert serious_violations(page) == []


def test_the_pages_a_care_manager_and_a_leader_see_pass_axe(page: Page) -> None:
    team = build_team()
    chart(team)
    sign_in(page, "bob")
    found = {}
    pages = ["/", "/patients/?name=jon", f"/patients/{team.pat.pk}/", "/tokens/", "/no-such-page/"]
    for url in pages:
        page.goto(url)
        found[url] = serious_violations(page)
    page.get_by_role("button", name="Log out").click()
    sign_in(page, "leo")
    expect(page.get_by_role("heading", name="Sites overview")).to_be_visible()
    found["/ (leader)"] = serious_violations(page)

    assert found == dict.fromkeys(found, [])
