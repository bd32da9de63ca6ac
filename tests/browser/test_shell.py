"""The shell in Chromium: keyboard shortcuts on a list, the help dialog, print, and each role's
home page (screenshots in var/screenshots/ to look at)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests import builders as b
from tests.browser.test_care_manager_journey import sign_in
from tests.personas import build_team

pytestmark = pytest.mark.browser


def test_j_and_k_move_through_a_list_and_enter_opens_the_row(page: Page) -> None:
    team = build_team()
    bob = team.practitioner(team.bob)
    for name in ("Adams", "Brown"):
        b.care_team_member(
            patient=b.patient(family_name=name, home_site=team.cmhc), practitioner=bob
        )
    sign_in(page, "bob")
    rows = page.locator("[data-keyboard-list]").last.locator("tbody tr")
    expect(rows).to_have_count(3)  # ADAMS, BROWN, JONES

    page.keyboard.press("j")
    expect(rows.nth(0).get_by_role("link")).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")  # stays on the last row
    expect(rows.nth(2).get_by_role("link")).to_be_focused()
    page.keyboard.press("k")
    expect(rows.nth(1).get_by_role("link", name="BROWN, Jordan")).to_be_focused()

    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/patients/\d+/$"))


def test_slash_focuses_search_and_keys_typed_in_a_field_are_left_alone(page: Page) -> None:
    build_team()
    sign_in(page, "bob")
    page.keyboard.press("/")
    search = page.get_by_role("searchbox", name="Find a patient by name")
    expect(search).to_be_focused()
    page.keyboard.type("jk/?")
    expect(search).to_have_value("jk/?")
    expect(page.locator("#tandem-shortcuts")).not_to_be_visible()


def test_slash_goes_to_find_a_patient_from_a_page_without_search(page: Page) -> None:
    build_team()
    sign_in(page, "bob")
    page.goto("/tokens/")
    page.keyboard.press("/")
    expect(page).to_have_url(re.compile(r"/patients/$"))


def test_question_mark_opens_the_shortcuts_help_and_escape_closes_it(page: Page) -> None:
    build_team()
    sign_in(page, "bob")
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Next row of a list")
    page.keyboard.press("Escape")
    expect(dialog).not_to_be_visible()

    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).not_to_be_visible()


def test_printing_leaves_out_navigation_and_buttons(page: Page) -> None:
    build_team()
    sign_in(page, "bob")
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main navigation")).to_be_hidden()
    expect(page.get_by_role("button", name="Search")).to_be_hidden()
    expect(page.get_by_text("Confidential: contains protected health information")).to_be_visible()
    expect(page.get_by_role("link", name="JONES, Pat")).to_be_visible()


@pytest.mark.parametrize(
    ("username", "heading"),
    [
        ("alice", "My work"),
        ("bob", "My work"),
        ("charlie", "My work"),
        ("sam", "My work"),
        ("leo", "Sites overview"),
        ("olive", "My work"),
        ("pat", "Welcome"),
    ],
)
def test_each_role_lands_on_its_home(page: Page, screenshots, username: str, heading: str) -> None:
    build_team()
    sign_in(page, username)
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    if username == "olive":
        expect(page.locator("main")).not_to_contain_text("Jones", ignore_case=True)
    page.screenshot(path=screenshots / f"home-{username}.png", full_page=True)
