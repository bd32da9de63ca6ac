"""Issue 12's flows on the demo itself: the data and persona logins ``tandem demo`` makes
(a 300-patient synthetic population, the daily refresh, every app's seeds), not test builders.

The demo patient stops sharing substance-use records with the demo PCP, whose next view of the
chart shows the notice instead; the outsider breaks the glass on that patient and the privacy
officer reviews it; the patient sees both in "Who looked at my record"."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tandem.breakglass.models import EmergencyAccess
from tandem.clinical.models import Condition
from tandem.core.models import Practitioner
from tandem.registry.models import Patient, PatientIdentifier
from tandem.workspace import demo
from tests.browser.test_portal import browser, no_horizontal_scroll, open_page  # noqa: F401

pytestmark = pytest.mark.browser
REASON = "Brought to the emergency room confused; need medications and problems now."


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/login/", timeout=120_000)  # the server's first request loads every URLconf
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_the_privacy_flows_pass_on_the_demo(
    browser: Browser,  # noqa: F811
    screenshots,
    settings,
    tmp_path,
) -> None:
    settings.VAR_DIR = tmp_path
    logins = {p.key: (p.username, pw) for p, pw in demo.set_up(patients=300, seed=7, say=print)}
    users = demo.persona_users()
    patient = Patient.objects.get(user=users["patient"])
    chart = f"/patients/{patient.pk}/"
    pcp_name = Practitioner.objects.get(user=users["pcp"]).name
    outsider_name = Practitioner.objects.get(user=users["outsider"]).name

    # The PCP sees the Part 2 diagnoses the patient agreed to share with her.
    part2 = sorted(
        set(
            Condition.objects.filter(
                patient=patient, sensitivity="substance-use", category="problem-list-item"
            ).values_list("code", flat=True)
        )
    )
    assert part2, "the demo patient has a Part 2 diagnosis (tandem.consent.demo)"
    pcp = open_page(browser, phone=False)
    sign_in(pcp, *logins["pcp"])
    pcp.goto(chart)
    for code in part2:
        expect(pcp.locator("#problems")).to_contain_text(code)

    # The patient, on a phone, stops sharing it with the PCP.
    pat = open_page(browser, phone=True)
    sign_in(pat, *logins["patient"])
    pat.goto("/me/")
    pat.get_by_role("link", name="My sharing choices").click()
    current = pat.get_by_test_id("current-directives")
    expect(current).to_contain_text("Care for alcohol or drug use")
    current.locator("li, article, div").filter(has_text="Care for alcohol or drug use").get_by_role(
        "link", name="See details or stop sharing"
    ).first.click()
    pat.get_by_role("button", name=f"Stop sharing with {pcp_name}").click()
    expect(pat.get_by_test_id("message")).to_contain_text("You stopped sharing")
    assert no_horizontal_scroll(pat)
    pat.screenshot(path=screenshots / "demo-01-patient-stopped-sharing.png", full_page=True)

    # The PCP's next view shows the notice instead.
    pcp.reload()
    problems = pcp.locator("#problems")
    for code in part2:
        expect(problems).not_to_contain_text(code)
    expect(problems).to_contain_text("Protected records")
    pcp.screenshot(path=screenshots / "demo-02-pcp-sees-the-notice.png", full_page=True)

    # The outsider (no relationship to the patient) breaks the glass.
    mrn = PatientIdentifier.objects.filter(patient=patient, kind="mrn").values_list(
        "value", flat=True
    )[0]
    staff = open_page(browser, phone=False)
    sign_in(staff, *logins["outsider"])
    assert staff.goto(chart).status == 404  # nothing without a relationship
    staff.goto("/emergency-access/")
    staff.get_by_label("MRN").fill(mrn)
    staff.get_by_label("Reason for emergency access").fill(REASON)
    staff.get_by_label("I understand").check()
    staff.get_by_role("button", name="Declare emergency and open the chart").click()
    expect(staff.get_by_test_id("emergency-banner")).to_contain_text("Emergency access until")
    staff.screenshot(path=screenshots / "demo-03-outsider-breaks-the-glass.png", full_page=True)
    staff.get_by_role("button", name="Log out").click()

    # The privacy officer reviews it (the demo also seeded one reviewed and one waiting).
    sign_in(staff, *logins["privacy"])
    staff.get_by_role("link", name="Emergency access reviews").click()
    grant = EmergencyAccess.objects.get(user=users["outsider"])
    row = staff.get_by_test_id("grant-row").filter(
        has_text=re.compile(rf"Emergency access {grant.pk}\b")
    )
    expect(row).to_contain_text("Awaiting review")
    row.get_by_role("link").first.click()
    expect(staff.get_by_test_id("grant-reason")).to_have_text(REASON)
    staff.get_by_label("Justified", exact=True).check()
    staff.get_by_label("Note").fill("Confirmed with the emergency department: justified.")
    staff.get_by_role("button", name="Record the review").click()
    expect(staff.get_by_test_id("review-note")).to_have_text(
        "Confirmed with the emergency department: justified."
    )
    staff.screenshot(path=screenshots / "demo-04-privacy-officer-reviewed.png", full_page=True)

    # The patient sees both events in their access log.
    pat.goto("/me/")
    pat.get_by_role("link", name="Who looked at my record").first.click()
    log = pat.get_by_test_id("access-log")
    expect(log).to_contain_text(re.compile(re.escape(pcp_name) + r", .*looked at your"))
    expect(log).to_contain_text(f"{outsider_name}, ")
    expect(log).to_contain_text("used emergency access to open your record")
    assert no_horizontal_scroll(pat)
    pat.screenshot(path=screenshots / "demo-05-patient-access-log.png", full_page=True)
