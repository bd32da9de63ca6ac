"""Pat uses the portal on a phone (390×844): stops sharing Part 2 records with the PCP, whose
next view of the chart shows the notice instead; sees both the PCP's view and an emergency
(break-the-glass) access in the access log; and a forged id in a portal URL reveals nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import CHROMIUM_ARGS
from tests.browser.test_care_manager_journey import sign_in
from tests.personas import build_team
from tests.portal.test_views import other_patients_directive, pat_record, sud_consent_for_alice

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def browser(chromium_executable: str, live_server, transactional_db) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    """A browser for several people at once (one context each), as the ``page`` fixture."""
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_executable, args=CHROMIUM_ARGS
            )
            browser.base_url = live_server.url  # type: ignore[attr-defined]
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def open_page(browser: Browser, *, phone: bool) -> Page:
    context = browser.new_context(
        base_url=browser.base_url,  # type: ignore[attr-defined]
        viewport=PHONE if phone else {"width": 1280, "height": 900},
        is_mobile=phone,
        has_touch=phone,
    )
    context.set_default_timeout(15_000)
    return context.new_page()


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_pat_stops_sharing_part2_records_with_the_pcp_and_her_next_view_shows_the_notice(
    browser: Browser, screenshots
) -> None:
    team = build_team()
    pat_record(team)
    sud_consent_for_alice(team)
    alice = team.practitioner(team.alice)
    pcp = open_page(browser, phone=False)
    pcp.goto("/login/", timeout=120_000)  # the server's first request loads every URLconf
    sign_in(pcp, "alice")
    pcp.goto(f"/patients/{team.pat.pk}/")
    expect(pcp.locator("#problems")).to_contain_text("Opioid dependence")

    pat = open_page(browser, phone=True)
    sign_in(pat, "pat")
    expect(pat.get_by_test_id("main-nav")).not_to_contain_text("Find a patient")
    pat.get_by_role("link", name="Open my health record").click()
    expect(pat.get_by_role("heading", name="Hello, Pat")).to_be_visible()
    pat.screenshot(path=screenshots / "50-portal-home-phone.png", full_page=True)
    pat.get_by_role("link", name="My sharing choices").click()
    expect(pat.get_by_test_id("current-directives")).to_contain_text("Care for alcohol or drug use")
    pat.screenshot(path=screenshots / "51-portal-sharing-phone.png", full_page=True)
    pat.get_by_role("link", name="See details or stop sharing").click()
    pat.screenshot(path=screenshots / "52-portal-directive-phone.png", full_page=True)
    pat.get_by_role("button", name=f"Stop sharing with {alice.name}").click()

    expect(pat.get_by_test_id("message")).to_have_text(f"You stopped sharing with {alice.name}.")
    mine = pat.get_by_test_id("recipient").filter(has_text=alice.name)
    expect(mine).to_contain_text("You stopped sharing with them on")
    expect(
        pat.get_by_role("button", name="Stop sharing with Everyone at Northside CMHC")
    ).to_be_visible()
    assert no_horizontal_scroll(pat)
    pat.screenshot(path=screenshots / "53-portal-recipient-stopped-phone.png", full_page=True)

    pcp.reload()
    problems = pcp.locator("#problems")
    expect(problems).not_to_contain_text("Opioid dependence")
    expect(problems).to_contain_text("Protected records")
    pcp.screenshot(path=screenshots / "54-pcp-chart-after-revocation.png", full_page=True)


def test_pat_sees_the_pcps_view_and_an_emergency_access_in_the_access_log(
    browser: Browser, screenshots
) -> None:
    from tandem.breakglass import services as breakglass

    team = build_team()
    pat_record(team)
    staff = open_page(browser, phone=False)
    staff.goto("/login/", timeout=120_000)
    sign_in(staff, "alice")
    staff.goto(f"/patients/{team.pat.pk}/")
    expect(staff.locator("#problems")).to_be_visible()
    staff.get_by_role("button", name="Log out").click()
    breakglass.declare(
        by=team.olive, patient_id=team.pat.pk, reason="Found unconscious in the waiting room"
    )
    sign_in(staff, "olive")
    staff.goto(f"/patients/{team.pat.pk}/")
    expect(staff.locator("#problems")).to_be_visible()

    pat = open_page(browser, phone=True)
    sign_in(pat, "pat")
    pat.goto("/me/")
    pat.get_by_role("link", name="Who looked at my record").first.click()

    log = pat.get_by_test_id("access-log")
    alice, olive = team.practitioner(team.alice).name, team.practitioner(team.olive).name
    expect(log).to_contain_text(
        f"{alice}, primary care physician at Riverside Family Medicine, looked at your health record on"
    )
    expect(log).to_contain_text(f"{olive}, nurse, used emergency access to open your record on")
    emergency = pat.get_by_test_id("access-line").filter(has_text="in an emergency")
    expect(emergency.first).to_contain_text("Emergency")
    assert no_horizontal_scroll(pat)
    pat.screenshot(path=screenshots / "55-portal-access-log-phone.png", full_page=True)


def test_a_forged_id_in_a_portal_url_reveals_nothing(browser: Browser, screenshots) -> None:
    team = build_team()
    theirs = other_patients_directive(team)
    recipient = theirs.recipients.get()
    pat = open_page(browser, phone=True)
    pat.goto("/login/", timeout=120_000)
    sign_in(pat, "pat")

    response = pat.goto(f"/me/sharing/{theirs.pk}/")

    assert response is not None and response.status == 404
    body = pat.locator("main")
    expect(body).not_to_contain_text("HIV")
    expect(body).not_to_contain_text("Quinn")
    expect(body).not_to_contain_text(team.practitioner(team.bob).name)
    pat.screenshot(path=screenshots / "56-portal-forged-id-phone.png", full_page=True)
    recipient.refresh_from_db()
    assert recipient.revoked_on is None
