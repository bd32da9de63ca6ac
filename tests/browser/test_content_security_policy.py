"""The Content-Security-Policy forbids inline code; Chromium must refuse nothing on any page.

Chromium reports each refusal as a console error naming the Content Security Policy. htmx is
driven as users drive it (live search, the partial swapped in, the 400 message), since htmx
would inject a <style> element or evaluate code at run time if it were configured to.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.personas import build_team

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


def refusals(page: Page) -> list[str]:
    found: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.on("console", listen)
    return found


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_no_page_breaks_the_policy_and_htmx_still_works(page: Page) -> None:
    team = build_team()
    refused = refusals(page)

    sign_in(page, "bob")
    expect(page.get_by_role("heading", name="My patients")).to_be_visible()
    page.get_by_role("link", name="Find a patient").click()
    page.get_by_label("Name").press_sequentially("jon", delay=50)  # htmx live search
    results = page.locator("#results")
    expect(results.get_by_role("link", name="Jones, Pat")).to_be_visible()
    page.get_by_label("Name").fill("x" * 100)
    page.get_by_label("Name").evaluate("el => el.removeAttribute('maxlength')")
    page.get_by_label("Name").press("x")  # a 400, swapped in by htmx
    expect(results).to_contain_text("at most 100 characters")
    page.goto(f"/patients/{team.pat.pk}/")
    expect(page.get_by_role("heading", name="JONES, Pat", level=1)).to_be_visible()
    page.goto("/?page=abc")  # the 400 page
    expect(page.get_by_role("heading", name="Bad request (400)")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Sign in to Tandem")).to_be_visible()

    assert refused == []


def test_a_locked_out_user_is_told_for_how_long(page: Page) -> None:
    from django.conf import settings

    build_team()
    refused = refusals(page)

    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(page, "sam", "a wrong guess")

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Too many failed sign-ins")
    expect(alert).to_contain_text(f"Try again in {settings.TANDEM_LOGIN_COOLOFF_MINUTES} minutes")
    assert refused == []
