"""The primary-care engagement panel: behavioral-health users, patients with SMI, one task."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.registry import engagement
from tandem.tasks import queries as tasks_queries
from tandem.tasks.models import Task
from tests import builders as b


def smi(team, patient=None) -> None:
    """A schizophrenia diagnosis on the problem list, recorded in the BH program."""
    b.condition(
        patient=patient or team.pat,
        program=team.bh_program,
        code="F20.9",
        display="Schizophrenia, unspecified",
    )


def chart(client, user, patient) -> str:
    client.force_login(user)
    return client.get(reverse("patient-summary", args=[patient.pk])).text


def panel(client, user, patient):
    client.force_login(user)
    return client.get(
        reverse("patient-section", args=[patient.pk, "engagement"]),
        headers={"HX-Request": "true"},
    )


def request_pc(client, user, patient):
    client.force_login(user)
    return client.post(reverse("patient-engagement-request", args=[patient.pk]), follow=True)


@pytest.mark.parametrize("reader", ["charlie", "bob"])
def test_the_panel_shows_to_behavioral_health_users_on_a_patient_with_smi(client, team, reader):
    smi(team)
    b.encounter(patient=team.pat, program=team.pc_program, setting="pc", start=timezone.now()
                - dt.timedelta(days=400))  # fmt: skip
    b.observation(patient=team.pat, program=team.pc_program, effective_at=timezone.now()
                  - dt.timedelta(days=30))  # fmt: skip

    page = chart(client, getattr(team, reader), team.pat)
    response = panel(client, getattr(team, reader), team.pat)

    assert 'id="engagement" aria-busy="true"' in page and "?engagement=1" in page
    text = response.text
    assert response.status_code == 200 and 'data-testid="engagement-panel"' in text
    assert "Alice" in text  # the assigned PCP
    assert (timezone.localdate() - dt.timedelta(days=400)).strftime("%d-%b-%Y") in text
    assert "HbA1c or glucose" in text and "Up to date" in text
    assert "Overdue: none on record" in text  # lipids, BP, BMI, tobacco
    assert "Request a primary-care appointment" in text


def test_the_panel_does_not_show_to_the_pcp(client, team):
    smi(team)
    b.consent(  # Alice may see the diagnosis: still not a behavioral-health user
        patient=team.pat, category="mental-health", recipient_practitioner=team.practitioner(team.alice)
    )  # fmt: skip

    assert 'id="engagement"' not in chart(client, team.alice, team.pat)
    assert 'data-testid="engagement-panel"' not in panel(client, team.alice, team.pat).text


def test_the_panel_does_not_show_for_a_patient_without_smi(client, team):
    b.condition(patient=team.pat, program=team.bh_program, code="F41.1", display="Anxiety")

    assert 'id="engagement"' not in chart(client, team.charlie, team.pat)
    assert 'data-testid="engagement-panel"' not in panel(client, team.charlie, team.pat).text


def test_the_smi_cohort_shows_the_panel_without_a_problem_list_code(client, team):
    from tandem.registry.models import CohortMembership

    CohortMembership.objects.create(
        cohort="smi", patient=team.pat, since=timezone.localdate(), as_of=timezone.localdate(),
        sensitivity="mental-health",
    )  # fmt: skip

    assert 'data-testid="engagement-panel"' in panel(client, team.charlie, team.pat).text


def test_the_action_creates_one_task_in_the_primary_care_queue(client, team):
    smi(team)

    response = request_pc(client, team.charlie, team.pat)

    task = Task.objects.get(patient=team.pat)
    assert task.title == "Book a primary-care appointment"
    assert task.queue.kind == "primary-care" and task.queue.site == team.pc_site
    assert task.source == "engagement" and task.sensitivity == "normal"
    assert task.status == "open" and task.due is not None
    for word in ("behavioral", "mental", "psychiat", "schizo", team.bh_program.name, "Northside"):
        assert word.lower() not in (task.title + task.detail).lower()
    assert "Book a primary-care appointment: sent to Riverside Family Medicine" in response.text
    assert 'data-testid="engagement-open-request"' in panel(client, team.charlie, team.pat).text


def test_a_double_submit_creates_one_task(client, team):
    smi(team)

    request_pc(client, team.charlie, team.pat)
    second = request_pc(client, team.bob, team.pat)

    assert Task.objects.filter(patient=team.pat, source="engagement").count() == 1
    assert "Already requested" in second.text


def test_without_a_pcp_the_action_asks_primary_care_to_assign_one(client, team):
    other = b.patient(home_site=team.pc_site)
    b.care_team_member(patient=other, practitioner=team.practitioner(team.charlie),
                       role="psychiatrist", program=team.bh_program)  # fmt: skip
    smi(team, other)

    assert "Assign a PCP" in panel(client, team.charlie, other).text
    request_pc(client, team.charlie, other)

    task = Task.objects.get(patient=other)
    assert task.title == "Assign a primary care provider" and task.priority == "high"
    assert "no primary care provider assigned" in task.detail


def test_the_pcp_sees_the_request_in_the_patients_tasks(client, team):
    smi(team)
    request_pc(client, team.charlie, team.pat)

    found = tasks_queries.tasks_for_patient(user=team.alice, patient_id=team.pat.pk)

    assert [t.title for t in found.active] == ["Book a primary-care appointment"]
    assert found.withheld == 0


def test_the_pcp_may_not_use_the_action(client, team):
    smi(team)

    response = request_pc(client, team.alice, team.pat)

    assert response.status_code == 403
    assert not Task.objects.exists()
    assert AuditEvent.objects.filter(
        actor_id=team.alice.pk, patient_id=team.pat.pk, outcome="denied",
        detail="engagement action",
    ).exists()  # fmt: skip


def test_the_outsider_gets_a_404_and_the_refusal_is_audited(client, team):
    smi(team)

    response = request_pc(client, team.olive, team.pat)

    assert response.status_code == 404 and "Jones" not in response.text
    assert not Task.objects.exists()
    assert AuditEvent.objects.filter(
        actor_id=team.olive.pk, patient_id=team.pat.pk, outcome="denied"
    ).exists()


def test_a_get_of_the_action_is_refused(client, team):
    client.force_login(team.charlie)
    response = client.get(reverse("patient-engagement-request", args=[team.pat.pk]))
    assert response.status_code == 405


def test_monitoring_is_due_twelve_months_after_the_last_result():
    today = dt.date(2026, 12, 3)
    due = engagement.monitoring_due(
        {"glycemic": dt.date(2025, 12, 2), "lipids": dt.date(2025, 12, 20), "bp": today},
        today=today,
    )
    states = {d.key: d.state for d in due}
    assert states == {
        "glycemic": "overdue",
        "lipids": "due-soon",
        "bp": "up-to-date",
        "bmi": "overdue",
        "tobacco": "overdue",
    }
    assert engagement.add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)


def test_the_behavioral_health_user_rule(team):
    from tandem.registry import queries

    assert queries.is_behavioral_health_user(team.charlie)  # psychiatrist
    assert queries.is_behavioral_health_user(team.bob)  # care manager in a BH program
    assert queries.is_behavioral_health_user(team.sam)  # Part 2 counselor
    assert not queries.is_behavioral_health_user(team.alice)  # PCP
    assert not queries.is_behavioral_health_user(team.olive)  # nurse, no program
    assert not queries.is_behavioral_health_user(team.leo)  # leader, no practitioner


def test_the_primary_care_queue_is_not_told_who_requested(client, team):
    """A request from behavioral health (here a psychiatrist; a Part 2 counselor alike) must
    not name its requester to primary care: the history shows "Care coordination request"."""
    smi(team)
    request_pc(client, team.charlie, team.pat)
    task = Task.objects.get(patient=team.pat)
    task.queue.members.add(team.alice)
    charlie = team.charlie.get_full_name() or team.charlie.get_username()

    client.force_login(team.alice)
    seen_by_pcp = client.get(reverse("task-detail", args=[task.pk])).text
    client.force_login(team.charlie)
    seen_by_requester = client.get(reverse("task-detail", args=[task.pk])).text

    assert "Care coordination request" in seen_by_pcp and charlie not in seen_by_pcp
    assert charlie in seen_by_requester
