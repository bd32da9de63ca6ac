"""Break-the-glass in the browser (F28): Olive, a nurse outside Pat's care team, declares an
emergency and reads Pat's chart under a banner; Priya, the privacy officer, reviews it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tandem.breakglass.models import EmergencyAccess
from tandem.tasks.models import Task
from tests.browser.test_care_manager_journey import chart, sign_in
from tests.personas import build_team

pytestmark = pytest.mark.browser
REASON = "Collapsed in the waiting room; need medications and problems before treating."


def test_a_reader_breaks_the_glass_and_the_privacy_officer_reviews_it(
    page: Page, screenshots
) -> None:
    team = build_team()
    chart(team)
    mrn = team.pat.identifiers.get(kind="mrn").value
    page.goto("/login/", timeout=120_000)  # the server's first request loads every URLconf
    sign_in(page, "olive")

    # Olive cannot find Pat by search: she has no relationship to her.
    page.get_by_role("link", name="Find a patient").click()
    page.get_by_label("MRN").fill(mrn)
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#results")).not_to_contain_text("JONES")

    page.get_by_role("link", name="Emergency access (break-the-glass)").click()
    expect(page.get_by_role("heading", name="Emergency access (break-the-glass)")).to_be_visible()
    expect(page.get_by_test_id("emergency-warning")).to_contain_text("privacy officer reviews")
    page.get_by_label("MRN").fill(mrn)
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Declare emergency and open the chart").click()
    expect(page.get_by_test_id("error-summary")).to_contain_text("Give the reason")  # no reason
    page.screenshot(path=screenshots / "btg-01-reason-required.png", full_page=True)

    page.get_by_label("Reason for emergency access").fill(REASON)
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Declare emergency and open the chart").click()

    expect(page.get_by_role("heading", name="JONES, Pat")).to_be_visible()
    banner = page.get_by_test_id("emergency-banner")
    expect(banner).to_contain_text("Emergency access until")
    expect(page.get_by_test_id("access-basis")).to_contain_text("break-the-glass")
    expect(page.get_by_text("Opioid dependence")).to_be_visible()  # the emergency policy
    page.screenshot(path=screenshots / "btg-02-chart-with-banner.png", full_page=True)
    grant = EmergencyAccess.objects.get()
    until = grant.expires_at.astimezone().strftime("%H:%M")
    expect(banner).to_contain_text(f"Emergency access until {until}")
    owners = set(
        Task.objects.filter(source_ref=f"breakglass:{grant.pk}").values_list(
            "owner__username", flat=True
        )
    )
    assert owners == {"alice", "bob", "charlie", None}  # the care team, and the office's queue

    page.get_by_role("button", name="Log out").click()
    sign_in(page, "priya")
    page.get_by_role("link", name="Emergency access reviews").click()
    row = page.get_by_test_id("grant-row")
    expect(row).to_contain_text("JONES, Pat")
    expect(row).to_contain_text("Awaiting review")
    page.screenshot(path=screenshots / "btg-03-review-queue.png", full_page=True)
    row.get_by_role("link").click()
    expect(page.get_by_test_id("grant-reason")).to_have_text(REASON)
    expect(page.get_by_test_id("access-event").first).to_be_visible()
    page.get_by_label("Not justified").check()
    page.get_by_role("button", name="Record the review").click()
    expect(page.get_by_test_id("error-summary")).to_contain_text("Say why")
    page.get_by_label("Justified", exact=True).check()
    page.get_by_label("Note").fill("Confirmed with the urgent care log: justified.")
    page.get_by_role("button", name="Record the review").click()
    expect(page.get_by_text(f"Emergency access {grant.pk} reviewed.")).to_be_visible()
    expect(page.get_by_test_id("review-note")).to_have_text(
        "Confirmed with the urgent care log: justified."
    )
    page.screenshot(path=screenshots / "btg-04-reviewed.png", full_page=True)

    grant.refresh_from_db()
    assert (grant.review_status, grant.reviewer) == ("justified", team.priya)
