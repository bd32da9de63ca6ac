"""A care manager's first minutes in Tandem, and an outsider who must see nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tandem.audit.models import AuditEvent
from tests import builders as b
from tests.personas import Team, build_team

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


def sign_in(page: Page, username: str) -> None:
    page.goto("/login/")
    expect(page.get_by_role("heading", name="Sign in to Tandem")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def chart(team: Team) -> None:
    """Some of Pat's record: primary care rows, a Part 2 diagnosis, a psychotherapy note."""
    alice = team.practitioner(team.alice)
    b.condition(patient=team.pat, program=team.pc_program, recorder=alice)
    b.condition(
        patient=team.pat, program=team.part2_program, code="F11.20", display="Opioid dependence"
    )
    b.observation(patient=team.pat, program=team.pc_program)
    b.medication_order(
        patient=team.pat,
        program=team.pc_program,
        prescriber=alice,
        dose_quantity=500,
        dose_unit="mg",
        frequency_per_day=2,
    )
    b.encounter(
        patient=team.pat,
        program=team.pc_program,
        site=team.pc_site,
        practitioner=alice,
        type_display="Office visit",
    )
    b.note(
        patient=team.pat,
        program=team.pc_program,
        author=alice,
        title="Diabetes follow-up",
        text="A1c improving; continue metformin.",
    )
    b.note(
        patient=team.pat,
        program=team.bh_program,
        author=team.practitioner(team.charlie),
        note_type="psychotherapy",
        title="Session 4",
        text="Process notes.",
    )


def test_the_care_manager_finds_pat_and_sees_the_care_team(page: Page, screenshots) -> None:
    team = build_team()
    chart(team)
    page.goto("/login/")
    page.screenshot(path=screenshots / "01-login.png", full_page=True)

    sign_in(page, "bob")
    expect(page.get_by_role("heading", name="My patients")).to_be_visible()
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("Care manager")
    page.screenshot(path=screenshots / "02-care-manager-home.png", full_page=True)

    page.get_by_role("link", name="Find a patient").click()
    page.get_by_label("Name").press_sequentially("jon", delay=50)  # htmx live search
    results = page.locator("#results")
    expect(results.get_by_role("link", name="Jones, Pat")).to_be_visible()
    expect(page).to_have_url(re.compile(r"name=jon"))  # the live search pushes its URL
    page.screenshot(path=screenshots / "03-search.png", full_page=True)

    name_box = page.get_by_label("Name")
    name_box.evaluate("el => el.removeAttribute('maxlength')")  # as a hand-made URL could
    name_box.fill("x" * 100)
    name_box.press("x")
    expect(results).to_contain_text("Name: Ensure this value has at most 100 characters")
    name_box.fill("jo")
    name_box.press("n")
    results.get_by_role("link", name="Jones, Pat").click()
    expect(page.get_by_role("heading", name="JONES, Pat", level=1)).to_be_visible()
    care_team = page.get_by_test_id("care-team")
    for name in ("Alice", "Bob", "Charlie"):
        expect(care_team).to_contain_text(name)
    expect(care_team).to_contain_text("Care manager")
    expect(page.locator("#problems")).to_contain_text("Type 2 diabetes")
    expect(page.locator("#problems")).not_to_contain_text("Opioid")
    expect(page.locator("#problems").get_by_test_id("withheld")).to_contain_text("42 CFR Part 2")
    expect(page.locator("#notes").get_by_test_id("withheld")).to_contain_text("author only")
    page.screenshot(path=screenshots / "04-summary.png", full_page=True)
    assert AuditEvent.objects.filter(
        actor_id=team.bob.pk, action="read", patient_id=team.pat.pk, outcome="redacted"
    ).exists()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Sign in to Tandem")).to_be_visible()


def test_the_outsider_is_refused(page: Page, screenshots) -> None:
    team = build_team()
    sign_in(page, "olive")
    expect(page.get_by_role("heading", name="You have no patients assigned")).to_be_visible()
    page.screenshot(path=screenshots / "05-outsider-home.png", full_page=True)

    page.goto("/patients/?name=jones")
    expect(page.get_by_text("No patients found")).to_be_visible()
    expect(page.locator("#results")).not_to_contain_text("Jones")
    page.screenshot(path=screenshots / "06-outsider-search.png", full_page=True)

    response = page.goto(f"/patients/{team.pat.pk}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found (404)")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Jones")
    page.screenshot(path=screenshots / "07-outsider-404.png", full_page=True)
    assert AuditEvent.objects.filter(
        actor_id=team.olive.pk, patient_id=team.pat.pk, outcome="denied"
    ).exists()


def test_the_leader_sees_sites_without_patients(page: Page, screenshots) -> None:
    build_team()
    sign_in(page, "leo")
    expect(page.get_by_role("heading", name="Sites overview")).to_be_visible()
    expect(page.get_by_role("heading", name="Riverside Family Medicine")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Jones")
    page.screenshot(path=screenshots / "08-leader-home.png", full_page=True)
