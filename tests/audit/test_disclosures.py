"""The accounting of disclosures and the patient's access log: who received what, when, why and
under which basis or consent directive — read back from the audit trail."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tandem.audit import queries, services
from tandem.audit.models import AuditEvent
from tandem.consent import gate

pytestmark = pytest.mark.django_db


def event(
    actor,
    patient_id,
    *,
    action="read",
    outcome="shown",
    purpose="treatment",
    kinds="conditions",
    detail="",
):
    return services.record(
        actor=actor, entry=services.Entry(action, outcome, patient_id, kinds, purpose, detail)
    )


def test_a_chart_read_through_the_gate_is_a_disclosure_to_alice(team):
    gate.read(
        user=team.alice,
        patient_id=team.pat.pk,
        purpose="treatment",
        requests=[gate.Request("conditions")],
    )

    [disclosure] = queries.disclosures(patient_id=team.pat.pk).disclosures

    assert disclosure.recipient == "Alice " + team.practitioner(team.alice).family_name
    assert disclosure.recipient_role.startswith("Primary care physician")
    assert "Riverside Family Medicine" in disclosure.recipient_role
    assert disclosure.kinds == ("conditions",) and disclosure.purpose == "treatment"
    assert disclosure.basis  # the gate names the relationship that allowed the read


def test_basis_and_consent_directives_are_read_back_from_the_detail(team):
    event(
        team.sam,
        team.pat.pk,
        detail="summary basis=consent consent=12,15 withheld=notes:mental-healthx2",
    )

    [d] = queries.disclosures(patient_id=team.pat.pk).disclosures

    assert d.basis == "consent" and d.directive_ids == (12, 15)
    assert d.withheld == "notes:mental-healthx2" and not d.emergency


def test_emergency_reads_exports_and_listings_are_disclosures_writes_and_refusals_are_not(team):
    event(team.olive, team.pat.pk, purpose="emergency", detail="basis=emergency-access")
    event(team.leo, team.pat.pk, action="ccda-export", purpose="operations")
    event(team.bob, team.pat.pk, action="list", kinds="demographics")
    event(team.bob, team.pat.pk, action="write:record_directive", outcome="written")
    event(team.sam, team.pat.pk, outcome="denied")
    event(team.pat_user, team.pat.pk, purpose="patient-access")  # the patient's own look
    event(team.priya, team.pat.pk, action="audit-disclosures", purpose="operations")

    accounting = queries.disclosures(patient_id=team.pat.pk)

    assert [d.action for d in accounting.disclosures] == ["list", "ccda-export", "read"]
    assert [d.recipient_username for d in accounting.emergencies] == ["olive"]
    assert accounting.refused == 1


def test_another_patient_is_never_named_in_an_access_log(team):
    from tests import builders as b

    other_user = b.user("casey")
    b.patient(given_name="Casey", user=other_user)
    event(other_user, team.pat.pk, outcome="denied", purpose="patient-access")
    event(team.pat_user, team.pat.pk, purpose="patient-access")

    log = queries.access_log(patient_id=team.pat.pk)

    assert [(a.who, a.who_role, a.outcome) for a in log] == [
        ("Another patient", "Patient", "denied")
    ]
    mine = queries.access_log(patient_id=team.pat.pk, include_own=True)
    assert [a.who for a in mine] == ["You", "Another patient"] and mine[0].by_patient


def test_the_access_log_says_when_who_what_why_and_the_outcome(team):
    event(team.charlie, team.pat.pk, kinds="conditions,notes", detail="basis=care-team")
    event(team.olive, team.pat.pk, outcome="denied")
    event(None, team.pat.pk, action="write:store_measure_results", outcome="written")

    newest, refused, read = queries.access_log(patient_id=team.pat.pk)

    assert newest.who == "Tandem (automatic)" and newest.outcome == "written"
    assert refused.who.startswith("Olive") and refused.outcome == "denied"
    assert read.who.startswith("Charlie") and read.who_role.startswith("Psychiatrist")
    assert read.kinds == ("conditions", "notes") and read.basis == "care-team"
    assert read.when <= refused.when
    later = queries.access_log(patient_id=team.pat.pk, since=newest.when)
    assert [a.event_id for a in later] == [
        a.event_id for a in queries.access_log(patient_id=team.pat.pk) if a.when >= newest.when
    ]


def test_the_disclosures_page_is_printable_and_audited(client, team):
    event(team.alice, team.pat.pk, detail="basis=care-team consent=7")
    event(team.olive, team.pat.pk, purpose="emergency", detail="basis=emergency-access")
    client.force_login(team.priya)

    page = client.get(reverse("audit-disclosures", args=[team.pat.pk]))

    assert page.status_code == 200
    assert (
        "Consent directive 7" in page.text
        and "Emergency" in page.text
        and "data-print" in page.text
    )
    seen = AuditEvent.objects.filter(action="audit-disclosures").latest("pk")
    assert (
        seen.actor_id == team.priya.pk
        and seen.patient_id == team.pat.pk
        and seen.outcome == "shown"
    )


def test_the_disclosures_picker_finds_a_patient_by_mrn_and_refuses_a_forged_id(client, team):
    mrn = team.pat.identifiers.get(kind="mrn").value
    client.force_login(team.priya)

    found = client.get(reverse("audit-disclosures-index"), {"patient": mrn})
    assert found.status_code == 302 and found["Location"] == reverse(
        "audit-disclosures", args=[team.pat.pk]
    )
    missing = client.get(reverse("audit-disclosures-index"), {"patient": "NOPE"})
    assert "No patient with this id or MRN" in missing.text
    assert client.get(reverse("audit-disclosures", args=[999999])).status_code == 404
    assert client.get("/audit/disclosures/99999999999999999999/").status_code == 404
    assert AuditEvent.objects.filter(action="audit-disclosures", outcome="denied").count() == 3
