"""Priya, the privacy officer, filters the audit log for Pat and opens Pat's accounting of
disclosures: who saw what, when, why — an emergency read stands out."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tandem.audit import services as audit
from tandem.audit.models import AuditEvent
from tests import builders as b
from tests.browser.test_care_manager_journey import sign_in
from tests.personas import build_team

pytestmark = pytest.mark.browser


def test_the_privacy_officer_filters_the_log_for_a_patient_and_opens_the_disclosures(
    page: Page, screenshots, settings, tmp_path
) -> None:
    settings.TANDEM_AUDIT_ANCHOR_FILE = tmp_path / "audit-anchors.txt"  # not the var dir's
    team = build_team()
    other = b.patient(given_name="Quinn", mrn_site=team.pc_site, home_site=team.pc_site)
    audit.record(
        actor=team.alice,
        entry=audit.Entry("read", "shown", team.pat.pk, "conditions,medications", "treatment",
                          "summary basis=care-team"),
    )  # fmt: skip
    audit.record(
        actor=team.sam,
        entry=audit.Entry("read", "redacted", team.pat.pk, "conditions", "treatment",
                          "summary basis=consent consent=4 withheld=conditions:mental-healthx1"),
    )  # fmt: skip
    audit.record(
        actor=team.olive,
        entry=audit.Entry("read", "shown", team.pat.pk, "conditions", "emergency",
                          "basis=emergency-access"),
    )  # fmt: skip
    audit.record(actor=team.bob, entry=audit.Entry("read", "shown", other.pk, "conditions"))
    mrn = team.pat.identifiers.get(kind="mrn").value

    page.goto("/login/", timeout=120_000)
    sign_in(page, "priya")
    expect(page.get_by_role("heading", name="Privacy and audit")).to_be_visible()
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_test_id("chain-status")).to_contain_text("Audit chain intact")

    page.get_by_label("Patient (id or MRN)").fill(mrn)
    page.get_by_role("button", name="Apply filters").click()
    rows = page.get_by_test_id("audit-row")
    expect(rows).to_have_count(3)  # Alice's, Sam's and Olive's reads of Pat
    expect(rows.filter(has_text="Olive")).to_have_count(1)
    expect(rows.filter(has_text="Bob")).to_have_count(0)  # Quinn's read is filtered out
    page.screenshot(path=screenshots / "audit-log-filtered.png", full_page=True)

    page.get_by_test_id("disclosures-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        f"Accounting of disclosures: patient {team.pat.pk}"
    )
    disclosures = page.get_by_test_id("disclosure-row")
    expect(disclosures).to_have_count(3)
    expect(disclosures.filter(has_text="Emergency")).to_contain_text("Olive")
    expect(disclosures.filter(has_text="Consent directive 4")).to_contain_text("Sam")
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    page.screenshot(path=screenshots / "audit-disclosures.png", full_page=True)

    mine = AuditEvent.objects.filter(actor_id=team.priya.pk).values_list("action", "patient_id")
    assert ("audit-view", team.pat.pk) in list(mine)
    assert ("audit-disclosures", team.pat.pk) in list(mine)
    assert mrn not in "".join(
        AuditEvent.objects.filter(actor_id=team.priya.pk).values_list("detail", flat=True)
    )
