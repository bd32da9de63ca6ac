"""Priya's audit viewer: filters, pages, exports, the chain status at the top — and nobody else
may open it (a 404, audited)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from tandem.audit import services
from tandem.audit.models import AuditEvent
from tests import builders as b
from tests.audit.tampering import tamper

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def read(actor, patient_id, *, outcome="shown", purpose="treatment", detail="", kinds="conditions"):
    return services.record(
        actor=actor,
        entry=services.Entry("read", outcome, patient_id, kinds, purpose, detail),
    )


def body(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_only_a_privacy_officer_opens_the_viewer_and_refusals_are_audited(client, team):
    urls = [
        reverse("audit-log"),
        reverse("audit-export", args=["csv"]),
        reverse("audit-disclosures-index"),
        reverse("audit-disclosures", args=[team.pat.pk]),
    ]
    for user in (team.alice, team.leo, team.olive, team.pat_user):
        client.force_login(user)
        for url in urls:
            before = AuditEvent.objects.count()
            assert client.get(url).status_code == 404, (user, url)
            refusal = AuditEvent.objects.order_by("-pk").first()
            assert AuditEvent.objects.count() == before + 1
            assert refusal.outcome == "denied" and refusal.actor_id == user.pk
            assert refusal.action.startswith("audit-")
    client.logout()
    assert client.get(urls[0]).status_code == 302


def test_priya_filters_by_patient_user_outcome_purpose_and_time(client, team):
    other = b.patient(given_name="Other", mrn_site=team.pc_site, home_site=team.pc_site)
    read(team.alice, team.pat.pk)
    read(team.olive, team.pat.pk, outcome="denied")
    read(team.bob, other.pk, purpose="operations")
    client.force_login(team.priya)

    page = client.get(reverse("audit-log"), {"patient": team.pat.pk, "outcome": "denied"})

    rows = page.context["page"].object_list
    assert [(e.actor_id, e.outcome) for e in rows] == [(team.olive.pk, "denied")]
    assert "Olive" in page.text
    by_user = client.get(reverse("audit-log"), {"user": "bob"}).context["page"].object_list
    assert {e.patient_id for e in by_user} == {other.pk}
    by_purpose = client.get(reverse("audit-log"), {"purpose": "operations", "action": "read"})
    assert [e.actor_id for e in by_purpose.context["page"].object_list] == [team.bob.pk]
    future = client.get(reverse("audit-log"), {"since": "2999-01-01"})
    assert future.context["page"].paginator.count == 0
    assert "No events match these filters" in future.text


def test_an_mrn_finds_the_patient_and_is_never_written_to_the_audit(client, team):
    mrn = team.pat.identifiers.get(kind="mrn").value
    read(team.alice, team.pat.pk)
    client.force_login(team.priya)

    page = client.get(reverse("audit-log"), {"patient": mrn})

    assert {e.patient_id for e in page.context["page"].object_list} == {team.pat.pk}
    assert reverse("audit-disclosures", args=[team.pat.pk]) in page.text
    view = AuditEvent.objects.filter(action="audit-view").latest("pk")
    assert view.actor_id == team.priya.pk and view.patient_id == team.pat.pk
    assert mrn not in view.detail and f"patients={team.pat.pk}" in view.detail
    nobody = client.get(reverse("audit-log"), {"patient": "NO-SUCH-MRN"})
    assert nobody.context["page"].paginator.count == 0


def test_the_viewer_pages_on_the_server(client, team):
    services.record_many(
        actor=team.alice,
        entries=[services.Entry("read", "shown", team.pat.pk, "conditions") for _ in range(60)],
    )
    client.force_login(team.priya)
    first = client.get(reverse("audit-log"), {"patient": team.pat.pk})
    assert len(first.context["page"].object_list) == 50 and "Page 1 of 2" in first.text
    second = client.get(reverse("audit-log"), {"patient": team.pat.pk, "page": 2}, **HTMX)
    # 60 reads and Priya's own first look at this patient's log (it is audited with the patient)
    assert len(second.context["page"].object_list) == 11
    assert "<html" not in second.text  # the htmx partial alone


def test_malformed_filters_are_refused_naming_the_field(client, team):
    client.force_login(team.priya)
    for query, field in (
        ({"outcome": "maybe"}, "Outcome"),
        ({"since": "yesterday"}, "From (date)"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "To (date, inclusive)"),
        ({"patient": "1; DROP TABLE"}, "Patient (id or MRN)"),
        ({"page": "0"}, "Page"),
    ):
        response = client.get(reverse("audit-log"), query)
        assert response.status_code == 400, query
        assert field in response.text
        assert client.get(reverse("audit-export", args=["csv"]), query).status_code == 400


def test_viewing_and_exporting_is_audited_with_the_filters(client, team):
    read(team.alice, team.pat.pk)
    client.force_login(team.priya)

    client.get(reverse("audit-log"), {"outcome": "shown", "purpose": "treatment"})
    client.get(reverse("audit-export", args=["fhir"]), {"patient": team.pat.pk})

    view, export = AuditEvent.objects.filter(actor_id=team.priya.pk).order_by("pk")
    assert view.action == "audit-view" and "outcome=shown purpose=treatment" in view.detail
    assert export.action == "audit-export" and export.patient_id == team.pat.pk
    assert "format=fhir" in export.detail and "events=1" in export.detail


def test_the_csv_export_holds_the_filtered_events_as_stored(client, team):
    shown = read(team.alice, team.pat.pk, detail="basis=care-team")
    read(team.bob, team.pat.pk, outcome="denied")
    services.record(
        actor=None, entry=services.Entry("sign-in", "denied", detail="=cmd|' /C calc'!A0")
    )
    client.force_login(team.priya)

    response = client.get(reverse("audit-export", args=["csv"]), {"user": "alice"})

    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body(response))))
    assert [r["id"] for r in rows] == [str(shown.pk)]
    assert rows[0]["hash"] == shown.hash and rows[0]["detail"] == "basis=care-team"
    everything = list(
        csv.DictReader(io.StringIO(body(client.get(reverse("audit-export", args=["csv"])))))
    )
    formula = next(r for r in everything if r["action"] == "sign-in")
    assert formula["detail"].startswith("'=")  # a spreadsheet shows it, never runs it


def test_the_fhir_export_is_a_bundle_of_audit_events(client, team):
    event = read(team.alice, team.pat.pk)
    client.force_login(team.priya)

    bundle = json.loads(
        body(client.get(reverse("audit-export", args=["fhir"]), {"patient": team.pat.pk}))
    )

    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    [entry] = bundle["entry"]
    assert entry["resource"]["resourceType"] == "AuditEvent"
    assert entry["resource"]["id"] == str(event.pk)
    assert client.get(reverse("audit-export", args=["xml"])).status_code == 404


def test_the_viewer_says_the_chain_is_intact(client, team):
    read(team.alice, team.pat.pk)
    client.force_login(team.priya)
    page = client.get(reverse("audit-log"))
    assert 'data-chain="intact"' in page.text and "Audit chain intact" in page.text


def test_a_tampered_row_shows_the_chain_broken_at_that_event(client, team):
    events = [read(team.alice, team.pat.pk) for _ in range(3)]
    tamper("UPDATE audit_auditevent SET actor_username = %s WHERE id = %s", ["bob", events[1].pk])
    client.force_login(team.priya)

    page = client.get(reverse("audit-log"))

    assert 'data-chain="broken"' in page.text
    assert f"Audit chain broken at event {events[1].pk}" in page.text
    assert page.context["chain_broken_at"] == events[1].pk


def test_a_consistent_rewrite_of_the_table_shows_broken_against_the_anchor_file(client, team):
    from tandem.audit import jobs
    from tests.audit.tampering import rewrite_every_event

    for _ in range(3):
        read(team.alice, team.pat.pk)
    jobs.record_anchor()
    client.force_login(team.priya)
    assert 'data-chain="intact"' in client.get(reverse("audit-log")).text

    rewrite_every_event("mallory")

    page = client.get(reverse("audit-log"))
    assert 'data-chain="broken"' in page.text and "was rewritten" in page.text


def test_a_page_holds_the_events_recorded_before_it_was_asked_for(client, team):
    first = read(team.alice, team.pat.pk)
    second = read(team.sam, team.pat.pk)
    client.force_login(team.priya)

    page = client.get(reverse("audit-log"), {"patient": team.pat.pk}).context["page"]

    # not Priya's own audit-view event, recorded after the page was read, in place of the oldest
    assert [e.pk for e in page.object_list] == [second.pk, first.pk]
