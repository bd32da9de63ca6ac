"""The behavioral-health clinician asks primary care to see a patient with SMI; the PCP's team
finds the task in its queue."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tandem.tasks import services as tasks
from tests import builders as b
from tests.browser.test_care_manager_journey import sign_in
from tests.personas import Team, build_team

pytestmark = pytest.mark.browser


def integrated_record(team: Team) -> None:
    """Pat: schizophrenia treated at the CMHC, diabetes in primary care, rising HbA1c, high
    blood pressure, a lapsed antipsychotic, PHQ-9 scores."""
    from tandem.meds.models import MedicationDispense
    from tandem.screening.models import AssessmentResponse

    now = timezone.now()
    alice, charlie = team.practitioner(team.alice), team.practitioner(team.charlie)
    b.condition(patient=team.pat, program=team.bh_program, code="F20.9",
                display="Schizophrenia, unspecified", recorder=charlie)  # fmt: skip
    b.condition(patient=team.pat, program=team.pc_program, recorder=alice)
    for days, value in ((700, 7.1), (520, 7.4), (430, 7.9)):
        b.observation(patient=team.pat, program=team.pc_program, value_num=value,
                      effective_at=now - dt.timedelta(days=days))  # fmt: skip
    for days, (sys_, dia) in ((600, (148, 92)), (420, (162, 102))):
        for code, value in (("8480-6", sys_), ("8462-4", dia)):
            b.observation(patient=team.pat, program=team.pc_program, code=code, display="",
                          value_num=value, value_unit="mm[Hg]", category="vital-signs",
                          panel_id=f"bp{days}", effective_at=now - dt.timedelta(days=days))  # fmt: skip
    b.encounter(patient=team.pat, program=team.pc_program, site=team.pc_site, practitioner=alice,
                setting="pc", type_system="http://www.ama-assn.org/go/cpt", type_code="99214",
                type_display="Office or other outpatient visit for the evaluation and management "
                "of an established patient, which requires a medically appropriate history",
                start=now - dt.timedelta(days=420))  # fmt: skip
    order = b.medication_order(patient=team.pat, program=team.bh_program, prescriber=charlie,
                               code="312940", display="risperidone 2 MG Oral Tablet")  # fmt: skip
    MedicationDispense.objects.create(
        patient=team.pat, program=team.bh_program, order=order, code_system=order.code_system,
        code=order.code, display=order.display, days_supply=30,
        dispensed_at=now - dt.timedelta(days=75),
    )  # fmt: skip
    for days, score in ((200, 17), (100, 12), (10, 8)):
        AssessmentResponse.objects.create(patient=team.pat, program=team.bh_program,
            instrument="phq9", total_score=score, effective_at=now - dt.timedelta(days=days))  # fmt: skip


def test_the_bh_clinician_requests_a_primary_care_appointment(page: Page, screenshots) -> None:
    team = build_team()
    integrated_record(team)
    queue = tasks.queue_for(site=team.pc_site, kind="primary-care")
    tasks.set_members(by=None, queue=queue, users=[team.alice])

    sign_in(page, "charlie")
    page.goto(f"/patients/{team.pat.pk}/")
    panel = page.get_by_test_id("engagement-panel")
    expect(panel.get_by_role("heading", name="Primary-care engagement")).to_be_visible()
    expect(panel.get_by_test_id("engagement-pcp")).to_contain_text("Alice")
    expect(panel.get_by_test_id("monitoring")).to_contain_text("Overdue")
    expect(page.locator("#labs")).to_contain_text("162/102 mmHg")
    expect(page.locator("#labs")).to_contain_text("HbA1c 7.1 → 7.9 % over 3 results")
    expect(page.locator("#medications")).to_contain_text("Out of supply")
    expect(page.locator("#gaps")).to_contain_text("No open care gaps")  # loaded by htmx
    page.screenshot(path=screenshots / "20-chart-bh-clinician.png", full_page=True)

    panel.get_by_role("button", name="Request a primary-care appointment").click()
    expect(page.get_by_test_id("message")).to_contain_text(
        "Book a primary-care appointment: sent to Riverside Family Medicine"
    )
    expect(page.get_by_test_id("engagement-open-request")).to_be_visible()
    page.screenshot(path=screenshots / "21-chart-bh-requested.png", full_page=True)
    page.get_by_role("button", name="Log out").click()

    sign_in(page, "alice")
    page.goto(f"/patients/{team.pat.pk}/")
    expect(page.locator("#labs")).to_contain_text("162/102 mmHg")
    expect(page.get_by_test_id("engagement-panel")).to_have_count(0)
    expect(page.locator("#tasks")).to_contain_text("Book a primary-care appointment")
    expect(page.locator("#problems")).not_to_contain_text("Schizophrenia")
    page.screenshot(path=screenshots / "22-chart-pcp.png", full_page=True)

    page.goto(f"/tasks/queues/{queue.key}/")
    expect(page.locator("main")).to_contain_text("Book a primary-care appointment")
    expect(page.locator("main")).to_contain_text("JONES, Pat")
    page.screenshot(path=screenshots / "23-primary-care-queue.png", full_page=True)
