"""42 CFR 2.32: Part 2 data that leaves Tandem carries the redisclosure notice — on the chart and
its htmx sections, in the JSON API, the cohort CSV, worklist pages and API, and the measure
exports (JSON, CSV, FHIR MeasureReport) — and only when Part 2 rows are in the response (the
notice itself would otherwise suggest a Part 2 relationship)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from tandem.cli import main
from tandem.consent import gate, redisclosure
from tandem.consent.models import ConsentDirective, DirectiveRecipient
from tandem.consent.rules import REDISCLOSURE_NOTICE
from tandem.outreach.models import WorklistItem
from tandem.registry.cohorts.views import CSV_COLUMNS
from tandem.registry.models import CohortMembership
from tests import builders as b
from tests.api.conftest import bearer, token_for
from tests.registry.test_chart import lazy, store_result

pytestmark = pytest.mark.django_db

MARK = 'data-testid="redisclosure-notice"'
GAP = {"initial-population": 1, "denominator": 1, "numerator": 0}


def share_part2_with(team, practitioner) -> ConsentDirective:
    directive = ConsentDirective.objects.create(
        patient=team.pat,
        categories=["substance-use"],
        purposes=["treatment"],
        start=timezone.localdate() - dt.timedelta(days=30),
        status="active",
        sensitivity="substance-use",
    )
    DirectiveRecipient.objects.create(directive=directive, kind="person", practitioner=practitioner)
    return directive


@pytest.fixture
def part2_row(team):
    """A diagnosis the Part 2 program recorded for Pat (labelled substance-use)."""
    row = b.condition(
        patient=team.pat, code="F11.20", display="Opioid dependence", program=team.part2_program
    )
    assert row.sensitivity == "substance-use"
    return row


@pytest.fixture
def shared(team, part2_row):
    """Pat shares substance-use records with Alice, her PCP."""
    return share_part2_with(team, team.practitioner(team.alice))


def chart(client, user, patient):
    client.force_login(user)
    response = client.get(reverse("patient-summary", args=[patient.pk]))
    assert response.status_code == 200
    return response.content.decode()


# --- the rules of the notice ----------------------------------------------------------------


def test_the_notice_is_the_2024_text_and_fhir_labels_are_added_once():
    assert "42 CFR part 2" in REDISCLOSURE_NOTICE
    resource = {"resourceType": "MeasureReport"}
    redisclosure.label_fhir(redisclosure.label_fhir(resource))
    assert [s["code"] for s in resource["meta"]["security"]] == ["42CFRPart2", "NORDSCLCD"]
    assert [e["valueString"] for e in resource["extension"]] == [REDISCLOSURE_NOTICE]
    assert redisclosure.is_labelled(resource)
    assert redisclosure.csv_comment().startswith("# This record which has been disclosed")
    assert redisclosure.json_field(False) == {}


# --- pages and htmx partials ----------------------------------------------------------------


def test_the_chart_shows_the_notice_when_part2_rows_are_shown(client, team, shared):
    text = chart(client, team.alice, team.pat)
    assert "Opioid dependence" in text
    assert MARK in text and REDISCLOSURE_NOTICE in text


def test_no_notice_when_the_part2_rows_are_withheld(client, team, part2_row):
    text = chart(client, team.alice, team.pat)  # no consent: the diagnosis is withheld
    assert "Opioid dependence" not in text
    assert MARK not in text


def test_no_notice_on_a_chart_without_part2_rows(client, team):
    b.condition(patient=team.pat, program=team.pc_program)
    assert MARK not in chart(client, team.alice, team.pat)


def test_the_care_gaps_section_carries_it_for_a_part2_measure_result(client, team, shared):
    store_result(team, "TANDEM-CONSENT", GAP, sensitivity="substance-use")
    client.force_login(team.alice)
    assert MARK in lazy(client, team.pat, "gaps").text


def test_the_care_gaps_section_has_none_for_other_results(client, team, shared):
    store_result(team, "CMS165", GAP)
    client.force_login(team.alice)
    text = lazy(client, team.pat, "gaps").text
    assert "CMS165" in text and MARK not in text


def part2_item(team) -> WorklistItem:
    return WorklistItem.objects.create(
        worklist="consent-expiring",
        patient=team.pat,
        site=team.pc_site,
        reason="Consent directive ends soon",
        opened_at=timezone.now(),
        sensitivity="substance-use",
    )


def test_the_outreach_section_and_the_item_page_carry_it_for_a_part2_item(client, team, shared):
    item = part2_item(team)
    client.force_login(team.alice)
    assert MARK in lazy(client, team.pat, "outreach").text
    page = client.get(reverse("worklist-item", args=[item.pk]))
    assert page.status_code == 200 and MARK in page.content.decode()


def test_the_item_page_of_an_ordinary_item_has_none(client, team):
    item = WorklistItem.objects.create(
        worklist="no-shows", patient=team.pat, site=team.pc_site, reason="Missed",
        opened_at=timezone.now(), sensitivity="normal",
    )  # fmt: skip
    client.force_login(team.alice)
    page = client.get(reverse("worklist-item", args=[item.pk]))
    assert page.status_code == 200 and MARK not in page.content.decode()


# --- JSON API -------------------------------------------------------------------------------


def test_api_chart_sections_carry_a_top_level_notice_with_part2_rows(client, team, shared):
    b.observation(patient=team.pat, program=team.pc_program)
    headers = bearer(token_for(team.alice))

    problems = client.get(f"/api/patients/{team.pat.pk}/problems", headers=headers).json()
    labs = client.get(f"/api/patients/{team.pat.pk}/labs", headers=headers).json()

    assert any(p["code"] == "F11.20" for p in problems["items"])
    assert problems["redisclosure_notice"] == REDISCLOSURE_NOTICE
    assert labs["items"] and labs["redisclosure_notice"] is None


def test_api_gaps_and_worklist_item_carry_it(client, team, shared):
    store_result(team, "TANDEM-CONSENT", GAP, sensitivity="substance-use")
    item = part2_item(team)
    headers = bearer(token_for(team.alice, "patients:read", "worklists:read"))

    gaps = client.get(f"/api/patients/{team.pat.pk}/gaps", headers=headers).json()
    detail = client.get(f"/api/worklists/items/{item.pk}", headers=headers)

    assert gaps["redisclosure_notice"] == REDISCLOSURE_NOTICE
    assert detail.status_code == 200, detail.content
    assert detail.json()["redisclosure_notice"] == REDISCLOSURE_NOTICE


def test_api_without_part2_rows_has_a_null_notice(client, team):
    b.condition(patient=team.pat, program=team.pc_program)
    body = client.get(
        f"/api/patients/{team.pat.pk}/problems", headers=bearer(token_for(team.alice))
    ).json()
    assert body["items"] and body["redisclosure_notice"] is None


# --- CSV export -----------------------------------------------------------------------------


@pytest.fixture
def part2_patient(team):
    """A patient of the Part 2 program, whose SUD cohort membership rests on its records."""
    patient = b.patient(mrn_site=team.sud_site, home_site=team.sud_site)
    sam = team.practitioner(team.sam)
    b.care_team_member(
        patient=patient, practitioner=sam, role="bh-clinician", program=team.part2_program
    )
    today = timezone.localdate()
    CohortMembership.objects.create(
        cohort="sud", patient=patient, since=today, as_of=today, sensitivity="substance-use"
    )
    return patient


def csv_export(client, user, cohort: str) -> str:
    client.force_login(user)
    response = client.get(reverse("cohort-export", args=[cohort]))
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_lists_never_show_part2_memberships_so_the_csv_has_no_notice(client, team, part2_patient):
    """Even Sam, of the Part 2 program, lists no substance-use row (a list applies no one
    patient's consent): the export is empty and carries no notice."""
    text = csv_export(client, team.sam, "sud")
    assert text.splitlines() == [",".join(CSV_COLUMNS)]


def test_a_csv_with_part2_rows_starts_with_the_notice_as_a_comment_line(
    client, team, part2_patient, monkeypatch
):
    """Were a list policy to show Part 2 memberships, the file would lead with the notice."""
    everything = frozenset({"normal", "mental-health", "substance-use", "hiv"})
    monkeypatch.setattr(gate, "listable", lambda **kw: Q())
    monkeypatch.setattr(gate, "listable_labels", lambda **kw: everything)
    first, header, *rows = csv_export(client, team.sam, "sud").splitlines()
    assert first == "# " + " ".join(REDISCLOSURE_NOTICE.split())
    assert header == ",".join(CSV_COLUMNS)
    assert len(rows) == 1


def test_a_cohort_csv_without_part2_rows_has_no_comment_line(client, team):
    today = timezone.localdate()
    CohortMembership.objects.create(
        cohort="diabetes", patient=team.pat, since=today, as_of=today, sensitivity="normal"
    )
    text = csv_export(client, team.alice, "diabetes")
    assert not text.startswith("#") and len(text.splitlines()) == 2


# --- measure exports (tandem measure evaluate --source db) ------------------------------------


@pytest.fixture
def measured(team):
    """Two people measured by TANDEM-CONSENT: one with SMI, one with SUD (Part 2 records)."""
    alice, bob = team.practitioner(team.alice), team.practitioner(team.bob)
    onset = dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    people = {}
    for name, code, program in (
        ("smi", "F20.9", team.bh_program),
        ("sud", "F11.20", team.part2_program),
    ):
        patient = b.patient(mrn_site=team.pc_site, home_site=team.pc_site)
        b.condition(patient=patient, code=code, program=program, onset=onset)
        start = dt.date(2024, 1, 1)
        b.care_team_member(patient=patient, practitioner=alice, role="pcp", start=start)
        b.care_team_member(
            patient=patient, practitioner=bob, role="care-manager", start=start,
            program=team.bh_program,
        )  # fmt: skip
        people[name] = patient
    return people


def evaluate(capsys, tmp_path, fmt: str, measure: str = "TANDEM-CONSENT") -> str:
    code = main([
        "measure", "evaluate", measure, "--period", "2025-01-01..2025-12-31", "--source", "db",
        "--engine", "memory", "--format", fmt, "--valuesets", str(tmp_path),
    ])  # fmt: skip
    assert code == 0
    return capsys.readouterr().out


def test_measure_reports_of_part2_results_carry_the_labels(capsys, tmp_path, measured):
    bundle = json.loads(evaluate(capsys, tmp_path, "measurereport"))
    assert redisclosure.is_labelled(bundle)
    reports = {
        e["resource"]["subject"]["reference"]: e["resource"]
        for e in bundle["entry"]
        if e["resource"]["type"] == "individual"
    }
    assert redisclosure.is_labelled(reports[f"Patient/{measured['sud'].pk}"])
    assert not redisclosure.is_labelled(reports[f"Patient/{measured['smi'].pk}"])


def test_measure_json_and_csv_of_part2_results_carry_the_notice(capsys, tmp_path, measured):
    doc = json.loads(evaluate(capsys, tmp_path, "json"))
    assert doc["redisclosure_notice"] == REDISCLOSURE_NOTICE
    assert evaluate(capsys, tmp_path, "csv").startswith("# This record which has been disclosed")


def test_measure_exports_without_part2_results_carry_nothing(capsys, tmp_path, measured):
    measured["sud"].delete()
    bundle = json.loads(evaluate(capsys, tmp_path, "measurereport"))
    assert not redisclosure.is_labelled(bundle)
    assert "meta" not in bundle
    assert "redisclosure_notice" not in json.loads(evaluate(capsys, tmp_path, "json"))
    assert evaluate(capsys, tmp_path, "csv").startswith("patient_id")


# --- letters: not a disclosure of Part 2 records ------------------------------------------------


def test_a_letter_for_a_part2_item_names_no_program_and_carries_no_notice(client, team, shared):
    item = part2_item(team)
    client.force_login(team.alice)
    response = client.get(reverse("worklist-item-letter", args=[item.pk]))
    assert response.status_code == 200
    body = response.content.decode("latin-1")
    assert "42 CFR" not in body and "Part 2" not in body


# --- FHIR: consent export, audit export ---------------------------------------------------------


def test_the_fhir_consent_of_a_part2_directive_carries_the_labels(client, team, shared):
    headers = bearer(token_for(team.alice, "consents:read"))
    response = client.get(f"/api/patients/{team.pat.pk}/consents/{shared.pk}/fhir", headers=headers)
    assert response.status_code == 200, response.content
    assert redisclosure.is_labelled(response.json())


def test_the_fhir_consent_of_a_mental_health_directive_carries_none(team):
    from tandem.consent import fhir

    directive = ConsentDirective.objects.create(
        patient=team.pat, categories=["mental-health"], purposes=["treatment"],
        start=timezone.localdate(), status="active", sensitivity="mental-health",
    )  # fmt: skip
    DirectiveRecipient.objects.create(directive=directive, kind="role", role="pcp")
    resource = fhir.to_fhir(directive)
    assert not redisclosure.is_labelled(resource)
    assert "meta" not in resource


def test_the_audit_fhir_export_holds_no_clinical_content(client, team, shared):
    from tandem.audit import fhir as audit_fhir
    from tandem.audit.models import AuditEvent

    chart(client, team.alice, team.pat)  # Alice reads the Part 2 diagnosis
    exported = json.dumps([audit_fhir.to_fhir(e) for e in AuditEvent.objects.all()])
    assert "F11.20" not in exported and "Opioid" not in exported
    assert REDISCLOSURE_NOTICE not in exported


# --- tasks ------------------------------------------------------------------------------------


def task_for_alice(team, label: str):
    from tandem.tasks.models import Task

    return Task.objects.create(
        patient=team.pat, title="Call about the treatment plan", owner=team.alice,
        sensitivity=label,
    )  # fmt: skip


@pytest.mark.parametrize(("label", "shown"), [("substance-use", True), ("normal", False)])
def test_task_page_and_api_carry_it_for_a_part2_task(client, team, shared, label, shown):
    task = task_for_alice(team, label)
    client.force_login(team.alice)
    page = client.get(reverse("task-detail", args=[task.pk])).content.decode()
    listed = client.get(reverse("tasks")).content.decode()
    body = client.get(f"/api/tasks/{task.pk}", headers=bearer(token_for(team.alice, "tasks:read")))

    assert "Call about the treatment plan" in page
    assert (MARK in page) is shown
    # the list applies no one patient's consent: a Part 2 task is listed as protected, untitled,
    # and then carries no notice; the notice goes with a shown title only
    assert (MARK in listed) is (shown and "Call about the treatment plan" in listed)
    assert body.json()["redisclosure_notice"] == (REDISCLOSURE_NOTICE if shown else None)
