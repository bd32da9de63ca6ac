"""The care manager's outreach day (issue 10, F3): open the disengaged-SMI worklist, claim an
item, log three attempts over two channels, book a primary-care appointment; the visit happens,
the refresh resolves the item with its reason. The outsider sees no list or item; a token lists
the worklist through the API."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tandem.outreach import services
from tandem.outreach.models import WorklistItem
from tests.browser.test_care_manager_journey import sign_in
from tests.outreach import builders as ob
from tests.personas import build_team

pytestmark = pytest.mark.browser


def log_attempt(page: Page, channel: str, outcome: str) -> None:
    form = page.get_by_test_id("attempt-form")
    form.get_by_label("Channel").select_option(label=channel)
    form.get_by_label("Outcome").select_option(label=outcome)
    form.get_by_role("button", name="Log attempt").click()
    expect(page.get_by_test_id("message").first).to_contain_text("Contact attempt logged")


def test_the_care_manager_works_an_item_until_the_refresh_resolves_it(
    page: Page, screenshots, live_server
) -> None:
    team = build_team()
    patient = ob.disengaged_smi(team, given_name="Robin", family_name="Okafor")
    services.rebuild_worklists(as_of=timezone.localdate())
    item = WorklistItem.objects.get(patient=patient, worklist="smi-disengaged")

    sign_in(page, "bob")
    page.goto("/worklists/")
    expect(page.get_by_role("heading", name="Worklists")).to_be_visible()
    page.screenshot(path=str(screenshots / "worklists.png"), full_page=True)
    page.get_by_role("link", name="SMI and disengaged from primary care", exact=True).click()
    row = page.locator(f"#item-{item.pk}")
    expect(row).to_contain_text("OKAFOR, Robin")
    row.get_by_role("button", name=re.compile("^Claim")).click()
    expect(page.locator(f"#item-{item.pk}")).to_contain_text("Claimed")
    page.screenshot(path=str(screenshots / "worklist.png"), full_page=True)

    page.locator(f"#item-{item.pk}").get_by_role("link", name="OKAFOR, Robin").click()
    expect(page.get_by_test_id("item-reason")).to_contain_text("No primary-care visit since")
    log_attempt(page, "Phone", "No answer")
    log_attempt(page, "Text message", "No answer")
    log_attempt(page, "Phone", "Left message")
    expect(page.get_by_test_id("attempts").locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("protocol")).to_contain_text("3 unanswered over 2 channels")

    book = page.get_by_test_id("book-form")
    book.get_by_label("Primary-care site").select_option(label="Riverside Family Medicine")
    book.get_by_role("button", name="Book appointment").click()
    expect(page.get_by_test_id("message").first).to_contain_text("Primary-care appointment booked")
    expect(page.get_by_test_id("item-state")).to_have_text("In outreach")
    page.screenshot(path=str(screenshots / "worklist-item.png"), full_page=True)

    item.refresh_from_db()
    appointment = item.appointment
    appointment.start = timezone.now() - timezone.timedelta(hours=2)
    appointment.end = appointment.start + timezone.timedelta(minutes=30)
    appointment.save()
    ob.fulfil(appointment)  # the visit happened: fulfilled, with a finished PC encounter
    services.rebuild_worklists(as_of=timezone.localdate())

    page.reload()
    expect(page.get_by_test_id("item-state")).to_have_text("Resolved")
    expect(page.get_by_test_id("resolved-reason")).to_contain_text("PC visit on ")
    expect(page.get_by_test_id("resolved-reason")).to_contain_text("by the daily refresh")
    page.screenshot(path=str(screenshots / "worklist-item-resolved.png"), full_page=True)

    page.get_by_role("button", name="Log out").click()
    sign_in(page, "olive")
    assert page.goto("/worklists/").status == 403
    assert page.goto("/worklists/smi-disengaged/").status == 403
    assert page.goto(f"/worklists/items/{item.pk}/").status == 404
    expect(page.get_by_text("OKAFOR")).to_have_count(0)

    from tests.api.conftest import token_for

    secret = token_for(team.bob, "worklists:read")
    response = page.request.get(
        "/api/worklists/smi-disengaged/items?state=all",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status == 200
    body = response.json()
    assert [(i["id"], i["state"]) for i in body["items"]] == [(item.pk, "resolved")]
