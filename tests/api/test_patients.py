"""Patient search and the chart through the API: the gate decides, every request is audited."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tandem.audit.models import AuditEvent
from tandem.consent.gate import CONSENT_REASON
from tandem.registry.api import SECTIONS
from tests import builders as b
from tests.api.conftest import bearer, is_problem, token_for


def chart(patient_id: int, section: str = "") -> str:
    return f"/api/patients/{patient_id}" + (f"/{section}" if section else "")


@pytest.fixture
def as_alice(team):
    return bearer(token_for(team.alice))


# --- search --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["name=jones", "name=Pat%20Jones", "birth_date=1980-05-17", "name=pat&sex=ignored"]
)
def test_search_finds_by_name_and_birth_date(client, team, as_alice, query):
    body = client.get(f"/api/patients?{query}", headers=as_alice).json()
    assert [(p["id"], p["given_name"], p["family_name"]) for p in body["items"]] == [
        (team.pat.pk, "Pat", "Jones")
    ]
    assert body["items"][0]["url"] == chart(team.pat.pk)
    assert body["items"][0]["home_site"] == "Riverside Family Medicine"


def test_search_finds_by_mrn(client, team, as_alice):
    found = client.get(f"/api/patients?mrn=M{team.pat.pk:07d}", headers=as_alice).json()
    assert found["count"] == 1
    assert client.get("/api/patients?mrn=M9999999", headers=as_alice).json()["count"] == 0


def test_search_needs_at_least_one_criterion(client, team, as_alice):
    body = is_problem(client.get("/api/patients?name=%20&page=1", headers=as_alice), 400)
    assert "at least one of name, mrn or birth_date" in body["detail"]


@pytest.mark.parametrize("query", ["name=" + "x" * 101, "mrn=" + "9" * 65, "name=a%00b"])
def test_search_refuses_oversized_or_nul_criteria(client, team, as_alice, query):
    is_problem(client.get(f"/api/patients?{query}", headers=as_alice), 400)


def test_each_patient_listed_is_audited_with_the_token_that_asked(client, team, as_alice):
    client.get("/api/patients?name=jones", headers=as_alice)
    event = AuditEvent.objects.get(action="list", actor_id=team.alice.pk)
    token_id = client.get("/api/me", headers=as_alice).json()["token"]["id"]
    assert (event.patient_id, event.purpose, event.outcome) == (team.pat.pk, "treatment", "shown")
    assert event.detail == f"api patient search token={token_id}"


def test_the_outsider_finds_nobody_and_the_search_is_still_audited(client, team):
    as_olive = bearer(token_for(team.olive))
    for query in ("name=jones", f"mrn=M{team.pat.pk:07d}", "birth_date=1980-05-17"):
        body = client.get(f"/api/patients?{query}", headers=as_olive).json()
        assert body["count"] == 0 and body["items"] == []
    events = AuditEvent.objects.filter(actor_id=team.olive.pk, action="api-read")
    assert events.count() == 3
    assert all("patient search found none" in e.detail for e in events)


def test_a_leader_searches_for_operations(client, team):
    client.force_login(team.leo)
    client.get("/api/patients?name=jones")
    event = AuditEvent.objects.get(action="list", actor_id=team.leo.pk)
    assert (event.purpose, event.detail) == ("operations", "api patient search session")


# --- the chart -----------------------------------------------------------------------------


def test_the_patient_endpoint_gives_the_banner_demographics_and_section_links(
    client, team, as_alice
):
    body = client.get(chart(team.pat.pk), headers=as_alice).json()
    assert (body["given_name"], body["family_name"], body["birth_date"]) == (
        "Pat",
        "Jones",
        "1980-05-17",
    )
    assert body["identifiers"][0]["value"] == f"M{team.pat.pk:07d}"
    assert body["identifiers"][0]["site"] == "Riverside Family Medicine"
    assert body["withheld"] == []
    assert body["sections"]["problems"] == chart(team.pat.pk, "problems")
    assert set(body["sections"]) == {*SECTIONS, "gaps", "engagement"}


def test_a_home_site_that_would_reveal_part2_treatment_is_withheld(client, team, as_alice):
    patient = b.patient(family_name="Harborside", home_site=team.sud_site)
    b.care_team_member(patient=patient, practitioner=team.practitioner(team.alice))
    found = client.get("/api/patients?name=harborside", headers=as_alice).json()
    assert found["items"][0]["home_site"] is None
    response = client.get(chart(patient.pk), headers=as_alice)
    body = response.json()
    assert body["home_site"] is None
    assert body["withheld"] == [{"count": 1, "reason": CONSENT_REASON}]
    assert "Harbor Recovery" not in response.text


def test_the_care_team_section_names_each_member(client, team):
    as_bob = bearer(token_for(team.bob))
    body = client.get(chart(team.pat.pk, "care-team"), headers=as_bob).json()
    members = {(m["practitioner"].split()[0], m["role"]) for m in body["items"]}
    assert members == {("Alice", "pcp"), ("Bob", "care-manager"), ("Charlie", "psychiatrist")}


def part2_condition(team):
    return b.condition(
        patient=team.pat, program=team.part2_program, code="F11.20", display="Opioid dependence"
    )


def test_part2_rows_are_withheld_from_the_pcp_with_a_notice_in_the_json(client, team, as_alice):
    part2_condition(team)
    b.condition(patient=team.pat, program=team.pc_program)  # diabetes, normal
    response = client.get(chart(team.pat.pk, "problems"), headers=as_alice)
    body = response.json()
    assert [p["display"] for p in body["items"]] == [
        "Type 2 diabetes mellitus without complications"
    ]
    assert body["withheld"] == [{"count": 1, "reason": CONSENT_REASON}]
    assert "Opioid" not in response.text and "F11" not in response.text
    assert "substance-use" not in response.text  # the label itself stays internal
    event = AuditEvent.objects.get(action="read", actor_id=team.alice.pk)
    assert (event.outcome, event.categories) == ("redacted", "conditions")


def test_the_part2_counselor_on_the_care_team_sees_the_part2_rows(client, team):
    part2_condition(team)
    b.care_team_member(
        patient=team.pat,
        practitioner=team.practitioner(team.sam),
        role="bh-clinician",
        program=team.part2_program,
    )
    body = client.get(chart(team.pat.pk, "problems"), headers=bearer(token_for(team.sam))).json()
    assert [p["display"] for p in body["items"]] == ["Opioid dependence"]
    assert body["items"][0]["sensitivity"] == "substance-use"
    assert body["withheld"] == []


def test_part2_rows_are_shown_to_the_pcp_with_the_patients_consent(client, team, as_alice):
    part2_condition(team)
    b.consent(
        patient=team.pat,
        category="substance-use",
        recipient_practitioner=team.practitioner(team.alice),
    )
    body = client.get(chart(team.pat.pk, "problems"), headers=as_alice).json()
    assert [p["display"] for p in body["items"]] == ["Opioid dependence"]
    assert body["withheld"] == []


@pytest.mark.parametrize("section", ["", *SECTIONS])
def test_the_outsider_gets_a_404_problem_and_the_refusal_is_audited(client, team, section):
    response = client.get(chart(team.pat.pk, section), headers=bearer(token_for(team.olive)))
    body = is_problem(response, 404)
    assert body["type"] == "urn:tandem:problem:patient-not-found"
    assert "Jones" not in response.text
    event = AuditEvent.objects.get(actor_id=team.olive.pk, outcome="denied")
    assert event.patient_id == team.pat.pk


def test_a_patient_that_does_not_exist_looks_exactly_like_a_refused_one(client, team):
    olive = client.get(chart(team.pat.pk), headers=bearer(token_for(team.olive)))
    missing = client.get(chart(999_999), headers=bearer(token_for(team.alice)))
    assert is_problem(olive, 404)["detail"] == is_problem(missing, 404)["detail"]
    assert AuditEvent.objects.filter(
        actor_id=team.alice.pk, patient_id=999_999, outcome="denied"
    ).exists()


def test_an_id_too_large_for_the_database_is_a_404_not_a_500(client, team, as_alice):
    is_problem(client.get(chart(2**64, "notes"), headers=as_alice), 404)
    assert AuditEvent.objects.filter(
        actor_id=team.alice.pk, outcome="denied", detail="malformed id"
    ).exists()


def test_a_patient_reads_only_their_own_chart(client, team):
    other = b.patient(mrn_site=team.pc_site)
    as_pat = bearer(token_for(team.pat_user))
    assert client.get(chart(team.pat.pk, "labs"), headers=as_pat).status_code == 200
    is_problem(client.get(chart(other.pk, "labs"), headers=as_pat), 404)


def test_sections_carry_the_rows_the_summary_page_shows(client, team, as_alice):
    alice = team.practitioner(team.alice)
    b.observation(patient=team.pat, program=team.pc_program)
    b.medication_order(patient=team.pat, program=team.pc_program, prescriber=alice)
    b.encounter(patient=team.pat, program=team.pc_program, site=team.pc_site, practitioner=alice)
    b.note(patient=team.pat, program=team.pc_program, author=alice, text="Seen today.")
    labs = client.get(chart(team.pat.pk, "labs"), headers=as_alice).json()["items"]
    assert (labs[0]["display"], labs[0]["value_num"], labs[0]["value_unit"]) == (
        "Hemoglobin A1c",
        7.1,
        "%",
    )
    meds = client.get(chart(team.pat.pk, "medications"), headers=as_alice).json()["items"]
    assert meds[0]["prescriber"] == alice.name
    visits = client.get(chart(team.pat.pk, "encounters"), headers=as_alice).json()["items"]
    assert visits[0]["site"] == "Riverside Family Medicine"
    notes = client.get(chart(team.pat.pk, "notes"), headers=as_alice).json()["items"]
    assert (notes[0]["text"], notes[0]["author"]) == ("Seen today.", alice.name)


def test_a_psychotherapy_note_is_withheld_from_everyone_but_its_author(client, team):
    charlie = team.practitioner(team.charlie)
    b.note(
        patient=team.pat,
        program=team.bh_program,
        author=charlie,
        note_type="psychotherapy",
        title="Session",
        text="Private.",
    )
    by_bob = client.get(chart(team.pat.pk, "notes"), headers=bearer(token_for(team.bob))).json()
    assert by_bob["items"] == [] and by_bob["withheld"][0]["count"] == 1
    by_charlie = client.get(
        chart(team.pat.pk, "notes"), headers=bearer(token_for(team.charlie))
    ).json()
    assert [n["text"] for n in by_charlie["items"]] == ["Private."]


def every_endpoint(team) -> list[str]:
    pid = team.pat.pk
    return [
        "/api/me",
        "/api/patients?name=jones",
        "/api/patients?name=nobody",
        chart(pid),
        *(chart(pid, s) for s in SECTIONS),
    ]


def test_every_request_leaves_an_audit_event(client, team, as_alice):
    for url in every_endpoint(team):
        before = AuditEvent.objects.count()
        assert client.get(url, headers=as_alice).status_code == 200, url
        assert AuditEvent.objects.count() > before, url


def test_a_section_takes_as_many_queries_for_ten_rows_as_for_one(client, team, as_alice):
    alice = team.practitioner(team.alice)
    url = chart(team.pat.pk, "encounters")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url, headers=as_alice).status_code == 200
        return len(captured)

    b.encounter(patient=team.pat, program=team.pc_program, site=team.pc_site, practitioner=alice)
    client.get(url, headers=as_alice)  # the first use of the token records it: not counted
    one = queries()
    for _ in range(9):
        b.encounter(
            patient=team.pat, program=team.pc_program, site=team.pc_site, practitioner=alice
        )
    assert queries() == one
