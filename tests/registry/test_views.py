"""Patient search and the patient summary, through the gate (Django test client, real DB)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tandem.audit.models import AuditEvent
from tests import builders as b

PASSWORD = "correct horse battery"
SEARCH = reverse("patient-search")


def login(client, user) -> None:
    client.force_login(user)  # skips Argon2: sign-in itself is tested in tests/core


def summary_url(patient_id: int) -> str:
    return reverse("patient-summary", args=[patient_id])


def section(text: str, key: str) -> str:
    """One section of the chart page, by its id."""
    start = text.index(f'<section id="{key}"')
    return text[start : text.index("</section>", start)]


# --- search -------------------------------------------------------------------------------


def test_an_empty_search_lists_nobody(client, team):
    login(client, team.bob)
    response = client.get(SEARCH)
    assert response.status_code == 200
    assert "Enter a name, MRN or birth date" in response.text
    assert not AuditEvent.objects.filter(action="list").exists()


@pytest.mark.parametrize(
    "query",
    [
        {"name": "jones"},
        {"name": "Pat Jones"},
        {"birth_date": "1980-05-17"},
        {"birth_date": "05/17/1980"},
    ],
)
def test_search_finds_by_name_and_birth_date(client, team, query):
    login(client, team.bob)
    response = client.get(SEARCH, query)
    assert response.status_code == 200
    assert "Jones, Pat" in response.text
    assert summary_url(team.pat.pk) in response.text


def test_search_finds_by_mrn(client, team):
    login(client, team.bob)
    response = client.get(SEARCH, {"mrn": f"M{team.pat.pk:07d}"})
    assert "Jones, Pat" in response.text
    assert "Jones, Pat" not in client.get(SEARCH, {"mrn": "M9999999"}).text


def test_search_results_are_audited_with_the_clinicians_purpose(client, team):
    login(client, team.alice)
    client.get(SEARCH, {"name": "jones"})
    event = AuditEvent.objects.get(actor_id=team.alice.pk, action="list")
    assert (event.patient_id, event.purpose) == (team.pat.pk, "treatment")


def test_search_is_paginated_on_the_server(client, team):
    alice = team.practitioner(team.alice)
    for i in range(30):
        b.care_team_member(
            patient=b.patient(given_name=f"G{i:02d}", family_name="Smith"), practitioner=alice
        )
    login(client, team.alice)
    first = client.get(SEARCH, {"name": "smith"})
    assert first.text.count("Smith, G") == 25
    assert "Page 1 of 2" in first.text
    assert "name=smith&amp;page=2" in first.text
    second = client.get(SEARCH, {"name": "smith", "page": 2})
    assert second.text.count("Smith, G") == 5
    assert "Smith, G29" in second.text


def test_htmx_gets_only_the_results_partial(client, team):
    login(client, team.bob)
    response = client.get(SEARCH, {"name": "jones"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "Jones, Pat" in response.text
    full = client.get(SEARCH, {"name": "jones"}).text
    assert 'hx-trigger="keyup changed delay:300ms' in full and "<html" in full


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"birth_date": "1980-13-45"}, "Birth date", "Enter a real date"),
        ({"name": "jones", "page": "abc"}, "Page", "whole page number"),
        ({"name": "jones", "page": "0"}, "Page", "greater than or equal to 1"),
        ({"name": "x" * 101}, "Name", "at most 100 characters"),
        ({"mrn": "9" * 65}, "MRN", "at most 64 characters"),
        ({"name": "a\x00b"}, "Name", "Null characters are not allowed"),
    ],
)
def test_a_malformed_query_is_a_400_that_names_the_field(client, team, query, field, message):
    login(client, team.bob)
    response = client.get(SEARCH, query)
    assert response.status_code == 400
    assert f"<strong>{field}:</strong>" in response.text
    assert message in response.text
    htmx = client.get(SEARCH, query, headers={"HX-Request": "true"})
    assert htmx.status_code == 400
    assert "<html" not in htmx.text and field in htmx.text


def test_the_outsider_finds_nobody(client, team):
    login(client, team.olive)
    for query in ({"name": "jones"}, {"mrn": f"M{team.pat.pk:07d}"}, {"birth_date": "1980-05-17"}):
        response = client.get(SEARCH, query)
        assert response.status_code == 200
        assert "No patients found" in response.text
        assert "Jones" not in response.text


def test_a_leader_searches_for_operations(client, team):
    login(client, team.leo)
    assert "Jones, Pat" in client.get(SEARCH, {"name": "jones"}).text
    assert AuditEvent.objects.get(actor_id=team.leo.pk, action="list").purpose == "operations"


def test_a_patient_finds_only_themself(client, team):
    b.patient(given_name="Other", family_name="Jones", mrn_site=team.pc_site)
    login(client, team.pat_user)
    response = client.get(SEARCH, {"name": "jones"})
    assert "Jones, Pat" in response.text and "Jones, Other" not in response.text


# --- summary ------------------------------------------------------------------------------


def test_the_summary_shows_demographics_and_care_team(client, team):
    login(client, team.bob)
    response = client.get(summary_url(team.pat.pk))
    assert response.status_code == 200
    text = response.text
    assert "JONES, Pat" in text and "17-May-1980" in text
    assert f"M{team.pat.pk:07d}" in text  # the MRN
    assert "Alice" in text and "Primary care provider" in text
    assert "Charlie" in text and "Psychiatrist" in text
    for heading in ("Problems", "Medications", "Labs and vitals", "Notes", "Appointments"):
        assert heading in text


def test_every_summary_view_is_audited(client, team):
    login(client, team.bob)
    for expected in (1, 2):
        client.get(summary_url(team.pat.pk))
        events = AuditEvent.objects.filter(
            actor_id=team.bob.pk, action="read", patient_id=team.pat.pk
        )
        assert events.count() == expected
    assert {e.outcome for e in events} == {"shown"}
    assert {e.purpose for e in events} == {"treatment"}


def test_the_outsider_gets_a_404_and_the_refusal_is_audited(client, team):
    # The view returns the 404 rather than raising Http404: raising would roll back the
    # request's transaction (ATOMIC_REQUESTS) and the gate's audit event with it.
    login(client, team.olive)
    response = client.get(summary_url(team.pat.pk))
    assert response.status_code == 404
    assert "Not found" in response.text and "Jones" not in response.text
    assert AuditEvent.objects.filter(
        actor_id=team.olive.pk, patient_id=team.pat.pk, outcome="denied"
    ).exists()


def test_a_patient_that_does_not_exist_is_a_404_and_audited(client, team):
    login(client, team.bob)
    response = client.get(summary_url(999_999))
    assert response.status_code == 404
    assert AuditEvent.objects.filter(
        actor_id=team.bob.pk, patient_id=999_999, outcome="denied"
    ).exists()


def test_an_id_too_large_for_the_database_is_a_404_not_a_500(client, team):
    login(client, team.bob)
    response = client.get("/patients/99999999999999999999999/")
    assert response.status_code == 404
    assert AuditEvent.objects.filter(
        actor_id=team.bob.pk, outcome="denied", detail="malformed id"
    ).exists()


def test_a_patient_cannot_open_someone_elses_summary(client, team):
    other = b.patient(mrn_site=team.pc_site)
    login(client, team.pat_user)
    assert client.get(summary_url(other.pk)).status_code == 404
    assert client.get(summary_url(team.pat.pk)).status_code == 200


def part2_condition(team):
    return b.condition(
        patient=team.pat, program=team.part2_program, code="F11.20", display="Opioid dependence"
    )


def test_part2_rows_are_withheld_with_a_notice_without_consent(client, team):
    part2_condition(team)
    b.condition(patient=team.pat, program=team.pc_program)  # diabetes, normal
    login(client, team.alice)
    response = client.get(summary_url(team.pat.pk))
    assert response.status_code == 200
    assert "Type 2 diabetes" in response.text
    assert "Opioid dependence" not in response.text
    assert "1 item withheld" in response.text
    assert "42 CFR Part 2" in response.text
    event = AuditEvent.objects.get(actor_id=team.alice.pk, action="read")
    assert event.outcome == "redacted"


def test_part2_rows_are_shown_with_a_consent_directive(client, team):
    part2_condition(team)
    b.consent(
        patient=team.pat,
        category="substance-use",
        recipient_practitioner=team.practitioner(team.alice),
    )
    b.consent(  # Bob and Charlie are on Pat's care team for a mental-health program
        patient=team.pat,
        category="mental-health",
        recipient_practitioner=team.practitioner(team.alice),
    )
    login(client, team.alice)
    response = client.get(summary_url(team.pat.pk))
    assert "Opioid dependence" in response.text
    assert "withheld" not in response.text
    assert AuditEvent.objects.get(actor_id=team.alice.pk, action="read").outcome == "shown"


def test_a_psychotherapy_note_shows_only_to_its_author(client, team):
    b.note(
        patient=team.pat,
        program=team.bh_program,
        author=team.practitioner(team.charlie),
        note_type="psychotherapy",
        title="Session 4",
        text="Private process notes.",
    )
    b.note(
        patient=team.pat,
        program=team.pc_program,
        author=team.practitioner(team.alice),
        title="Diabetes follow-up",
        text="A1c improving.",
    )
    login(client, team.bob)
    text = client.get(summary_url(team.pat.pk)).text
    assert "Diabetes follow-up" in text and "A1c improving." in text
    assert "Session 4" not in text and "Private process notes." not in text
    assert "Psychotherapy notes are visible to their author only." in text
    login(client, team.charlie)
    text = client.get(summary_url(team.pat.pk)).text
    assert "Session 4" in text and "Private process notes." in text


def test_the_summary_shows_clinical_sections(client, team):
    b.observation(patient=team.pat, program=team.pc_program)
    b.medication_order(
        patient=team.pat, program=team.pc_program, prescriber=team.practitioner(team.alice)
    )
    b.encounter(
        patient=team.pat, program=team.pc_program, site=team.pc_site, type_display="Office visit"
    )
    login(client, team.alice)
    text = client.get(summary_url(team.pat.pk)).text
    assert "HbA1c" in text and "7.1 %" in text
    assert "metformin 500 mg ER tablet" in text
    assert "Office visit" in text


def test_a_deceased_patient_is_marked_with_age_at_death(client, team):
    import datetime as dt

    dead = b.patient(
        given_name="Lee",
        family_name="Gone",
        birth_date=dt.date(1950, 6, 1),
        deceased_date=dt.date(2020, 5, 31),
    )
    b.care_team_member(patient=dead, practitioner=team.practitioner(team.alice))
    login(client, team.alice)
    text = client.get(summary_url(dead.pk)).text
    assert "Deceased 31-May-2020" in text and "69 y at death" in text


def test_a_leader_opens_a_summary_for_operations(client, team):
    login(client, team.leo)
    response = client.get(summary_url(team.pat.pk))
    assert response.status_code == 200
    assert "site role" in response.text
    assert AuditEvent.objects.get(actor_id=team.leo.pk, action="read").purpose == "operations"


@pytest.mark.parametrize("name", ["400.html", "403.html", "404.html", "500.html"])
def test_error_pages_render_without_a_request(name):
    from django.template.loader import render_to_string

    html = render_to_string(name)  # Django renders 500.html with no context at all
    assert "Tandem" in html and name[:3] in html


def test_an_unknown_url_gets_the_tandem_404_page(client, team):
    login(client, team.bob)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Not found (404)" in response.text


def test_anonymous_visitors_cannot_search_or_open_a_summary(client, team):
    assert client.get(SEARCH, {"name": "jones"}).status_code == 302
    assert client.get(summary_url(team.pat.pk)).status_code == 302
    assert not AuditEvent.objects.exists()


# --- Part 2 relationships (issue 9, item 1) -----------------------------------------------


def treated_at_harbor(team):
    """Sam treats Pat in the Part 2 program, and its site issued Pat an MRN."""
    from tandem.registry.models import PatientIdentifier

    sam = team.practitioner(team.sam)
    b.care_team_member(
        patient=team.pat, practitioner=sam, role="bh-clinician", program=team.part2_program
    )
    PatientIdentifier.objects.create(
        patient=team.pat,
        kind="mrn",
        system="urn:tandem:mrn:harbor-sud",
        value="H0000001",
        site=team.sud_site,
    )
    return sam


@pytest.mark.parametrize("reader", ["alice", "leo"])
def test_the_summary_names_no_part2_program_site_or_clinician_to_others(client, team, reader):
    from tandem.consent.gate import CONSENT_REASON

    sam = treated_at_harbor(team)
    login(client, getattr(team, reader))

    text = client.get(summary_url(team.pat.pk)).text

    for name in (team.part2_program.name, team.sud_site.name, sam.name, "H0000001"):
        assert name not in text
    care_team, demographics = section(text, "care-team"), section(text, "demographics")
    assert "withheld:</strong> " + CONSENT_REASON.split(":")[0] in care_team
    assert "1 item withheld:</strong> " + CONSENT_REASON.split(":")[0] in demographics


def test_the_part2_counselor_and_the_patient_see_the_program_on_the_summary(client, team):
    sam = treated_at_harbor(team)
    for user in (team.sam, team.pat_user):
        login(client, user)

        text = client.get(summary_url(team.pat.pk)).text

        assert sam.name in text and team.part2_program.name in text
        assert "H0000001</strong> (Harbor Recovery)" in text


def test_search_by_an_mrn_of_the_part2_site_finds_nobody_for_others(client, team):
    treated_at_harbor(team)
    login(client, team.alice)  # she may open Pat's summary (care team), but not through it

    assert "Jones, Pat" not in client.get(SEARCH, {"mrn": "H0000001"}).text
    assert "Jones, Pat" in client.get(SEARCH, {"mrn": f"M{team.pat.pk:07d}"}).text


def test_the_part2_counselor_finds_the_patient_by_the_programs_mrn(client, team):
    treated_at_harbor(team)
    login(client, team.sam)

    assert "Jones, Pat" in client.get(SEARCH, {"mrn": "H0000001"}).text


def test_the_summary_and_search_do_not_name_a_part2_home_site_to_others(client, team):
    from tandem.registry.models import Patient

    Patient.objects.filter(pk=team.pat.pk).update(home_site=team.sud_site)
    team.pat.refresh_from_db()
    team.pat.save()
    login(client, team.alice)

    summary = client.get(summary_url(team.pat.pk)).text
    listing = client.get(SEARCH, {"name": "jones"}).text

    assert "Harbor Recovery" not in summary and "Harbor Recovery" not in listing
    assert "Jones, Pat" in listing
    demographics = section(summary, "demographics")
    assert "1 item withheld" in demographics
