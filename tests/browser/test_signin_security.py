"""Sign-in security in a real browser: Bob sets up two-step sign-in from his account page and
signs in with his app's code; an idle session is signed out."""

from __future__ import annotations

import base64
import re
import time

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import Page, expect

from tandem.audit.models import AuditEvent
from tests.browser.test_care_manager_journey import PASSWORD, sign_in
from tests.personas import build_team

pytestmark = pytest.mark.browser


def app_code(secret: str, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for the key typed from the set-up page."""
    compact = "".join(secret.split())
    key = base64.b32decode(compact + "=" * (-len(compact) % 8))
    clock = TOTP(key, step=30, t0=0, digits=6, drift=0)
    clock.time = time.time() + 30 * steps_ahead
    return f"{clock.token():06d}"


def set_up_two_step(page: Page, axe: dict[str, object] | None = None) -> str:
    """From the account page, turn on two-step sign-in; return the key the page showed."""
    page.get_by_test_id("account-link").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    if axe is not None:
        axe["account"] = axe_check(page)
    page.get_by_role("link", name="Set up two-step sign-in").click()
    expect(page.get_by_role("heading", name="Set up two-step sign-in")).to_be_visible()
    expect(page.get_by_test_id("qr-code").locator("svg")).to_be_visible()
    if axe is not None:
        axe["second-factor-setup"] = axe_check(page)
    secret = page.get_by_test_id("totp-secret").inner_text()
    page.get_by_role("textbox", name="Code").fill(app_code(secret))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    if axe is not None:
        axe["recovery-codes"] = axe_check(page)
    page.get_by_role("link", name="I have kept them: continue").click()
    return secret


def axe_check(page: Page) -> list[str]:
    from tests.browser.test_accessibility import serious_violations

    return serious_violations(page)


def test_bob_turns_on_two_step_sign_in_and_signs_in_with_his_apps_code(page: Page) -> None:
    build_team()
    sign_in(page, "bob")
    secret = set_up_two_step(page)
    page.get_by_role("button", name="Log out").click()

    page.goto("/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)  # not signed in yet
    page.get_by_role("textbox", name="Code").fill("000000")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    page.wait_for_timeout(1100)  # after a wrong code the app's next code is taken 1 s later
    page.get_by_role("textbox", name="Code").fill(app_code(secret, steps_ahead=1))
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/$"))
    outcomes = list(
        AuditEvent.objects.filter(action="sign-in", actor_username__in=["bob", "anonymous"])
        .order_by("pk")
        .values_list("outcome", "detail")
    )
    assert outcomes[-2:] == [
        ("denied", "wrong second-factor code; username=bob"),
        ("written", "via=password second-factor=totp"),
    ]


def test_an_idle_session_is_signed_out_and_says_why(page: Page, settings) -> None:
    settings.TANDEM_SESSION_IDLE_SECONDS = 2
    build_team()
    sign_in(page, "bob")
    page.wait_for_timeout(2500)

    page.get_by_role("link", name="Tasks").first.click()

    expect(page.get_by_role("heading", name="Sign in to Tandem")).to_be_visible()
    expect(page.get_by_test_id("message")).to_contain_text(
        "signed out after 1 minute without activity"
    )
    assert "next=" in page.url
    event = AuditEvent.objects.filter(action="sign-out").latest("pk")
    assert (event.actor_username, event.detail) == ("bob", "reason=idle")


def sign_in_security_pages_axe(page: Page) -> dict[str, object]:
    """axe on every sign-in and account page (tests/browser/test_accessibility.py calls it)."""
    build_team()
    found: dict[str, object] = {}
    sign_in(page, "bob")
    page.goto("/account/password/")
    found["password-change"] = axe_check(page)
    page.get_by_label("Old password").fill("wrong")
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("New password confirmation").fill("short")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".invalid-feedback").first).to_be_visible()
    found["password-change (errors)"] = axe_check(page)
    page.goto("/")
    set_up_two_step(page, axe=found)
    page.get_by_role("button", name="Log out").click()
    page.goto("/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    found["login-code"] = axe_check(page)
    page.get_by_role("textbox", name="Code").fill("000000")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    found["login-code (error)"] = axe_check(page)
    return found


def required_set_up_axe(page: Page, settings) -> dict[str, object]:
    """axe on the set-up page a privacy officer meets at sign-in when their role requires it."""
    settings.TANDEM_REQUIRE_TOTP_ROLES = ["privacy-officer"]
    page.goto("/login/")
    page.get_by_label("Username").fill("priya")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Your role requires a second step")).to_be_visible()
    return {"login-setup": axe_check(page)}
