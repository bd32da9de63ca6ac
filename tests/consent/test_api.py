"""The consent-directive API (``/api/patients/{id}/consents…``): Bob's integration records,
signs and revokes Pat's directives with a ``consents:write`` token; reads need
``consents:read``; outsiders, wrong scopes and forged ids are refused as problem+json and
audited; nothing half-written."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.consent.models import ConsentDirective, DirectiveRecipient
from tests import builders as b
from tests.api.conftest import bearer, is_problem, token_for


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def _base(team) -> str:
    return f"/api/patients/{team.pat.pk}/consents"


def _body(team, **overrides) -> dict:
    body = {
        "categories": ["mental-health"],
        "purposes": ["treatment"],
        "recipients": [{"kind": "person", "practitioner_id": team.practitioner(team.alice).pk}],
        "start": timezone.localdate().isoformat(),
    }
    body.update(overrides)
    return body


def _signature(**overrides) -> dict:
    body = {
        "signer_name": "Pat Jones",
        "signed_on": timezone.localdate().isoformat(),
        "relationship": "self",
    }
    body.update(overrides)
    return body


def _active(team) -> ConsentDirective:
    alice, charlie = team.practitioner(team.alice), team.practitioner(team.charlie)
    return b.consent(
        patient=team.pat,
        categories=["mental-health"],
        recipients=[
            {"kind": "person", "practitioner": alice},
            {"kind": "person", "practitioner": charlie},
        ],
        sensitivity="mental-health",
    )


def _post(client, url, body, secret):
    return client.post(url, body, content_type="application/json", headers=bearer(secret))


def test_bob_lists_pats_directives_with_a_read_token(client, team):
    directive = _active(team)
    DirectiveRecipient.objects.filter(directive=directive, practitioner__user=team.charlie).update(
        revoked_on=timezone.now(), revocation_reason="Changed psychiatrist"
    )
    secret = token_for(team.bob, "consents:read")

    response = client.get(_base(team), headers=bearer(secret))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["withheld"] == []
    [item] = body["items"]
    assert item["id"] == directive.pk and item["status"] == "active"
    assert [r["revocation_reason"] for r in item["recipients"]] == ["", "Changed psychiatrist"]
    assert item["fhir"] == f"{_base(team)}/{directive.pk}/fhir"


def test_the_list_is_paginated_and_filtered_by_status(client, team):
    for _ in range(3):
        _active(team)
    ConsentDirective.objects.filter(pk=ConsentDirective.objects.first().pk).update(status="revoked")
    secret = token_for(team.bob, "consents:read")

    page = client.get(f"{_base(team)}?page_size=1&status=active", headers=bearer(secret)).json()

    assert (page["count"], page["pages"], len(page["items"])) == (2, 2, 1)
    assert page["next"].endswith("page=2")
    is_problem(client.get(f"{_base(team)}?status=maybe", headers=bearer(secret)), 400)


def test_a_directive_withheld_from_the_reader_is_a_notice(client, team):
    b.consent(
        patient=team.pat,
        categories=["substance-use"],
        recipients=[{"kind": "person", "practitioner": team.practitioner(team.sam)}],
        sensitivity="substance-use",
    )
    secret = token_for(team.alice, "consents:read")

    body = client.get(_base(team), headers=bearer(secret)).json()

    assert body["items"] == []
    assert body["withheld"][0]["count"] == 1
    assert "substance" not in body["withheld"][0]["reason"].lower()


def test_one_directive_with_its_history(client, team):
    write = token_for(team.bob, "consents:write", "consents:read")
    created = _post(client, _base(team), _body(team), write).json()
    _post(client, f"{_base(team)}/{created['id']}/sign", _signature(), write)

    body = client.get(f"{_base(team)}/{created['id']}", headers=bearer(write)).json()

    assert body["status"] == "active" and body["version"] == 2
    assert [v["change"] for v in body["versions"]] == ["recorded", "signed"]
    assert body["versions"][0]["changed_by"] == "bob"


def test_bob_records_a_draft_signs_and_revokes_it(client, team):
    secret = token_for(team.bob, "consents:write", "consents:read")

    created = _post(client, _base(team), _body(team), secret)
    assert created.status_code == 201
    pk = created.json()["id"]
    assert created.json()["status"] == "draft"
    signed = _post(client, f"{_base(team)}/{pk}/sign", _signature(version=1), secret)
    assert signed.status_code == 200 and signed.json()["status"] == "active"
    revoked = _post(client, f"{_base(team)}/{pk}/revoke", {"reason": "Patient asked"}, secret)

    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["revocation_reason"] == "Patient asked"
    assert AuditEvent.objects.filter(action="write:consent-revoke", actor_username="bob").exists()


def test_a_signed_pdf_can_be_sent_base64_and_a_fake_one_is_refused(client, team):
    secret = token_for(team.bob, "consents:write")
    pk = _post(client, _base(team), _body(team), secret).json()["id"]
    fake = base64.b64encode(b"<html>no</html>").decode()

    refused = _post(client, f"{_base(team)}/{pk}/sign", _signature(signed_pdf_base64=fake), secret)
    assert is_problem(refused, 400)["field"] == "signed_pdf"
    assert ConsentDirective.objects.get(pk=pk).status == "draft"

    pdf = base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode()
    signed = _post(client, f"{_base(team)}/{pk}/sign", _signature(signed_pdf_base64=pdf), secret)
    assert signed.json()["signature"]["kind"] == "pdf"


def test_revoking_one_recipient_keeps_the_others(client, team):
    directive = _active(team)
    alice_row = directive.recipients.get(practitioner__user=team.alice)
    secret = token_for(team.bob, "consents:write")

    response = _post(
        client,
        f"{_base(team)}/{directive.pk}/recipients/{alice_row.pk}/revoke",
        {"reason": "No longer her PCP"},
        secret,
    )

    assert response.status_code == 200
    assert response.json()["status"] == "active"
    revoked = [r for r in response.json()["recipients"] if r["revoked_on"]]
    assert [r["id"] for r in revoked] == [alice_row.pk]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"end": "2000-01-01"}, "end"),
        ({"categories": ["psychotherapy-note"]}, "categories"),
        ({"purposes": ["marketing"]}, "purposes"),
        ({"recipients": [{"kind": "person", "practitioner_id": 999999}]}, "recipients"),
        ({"recipients": [{"kind": "role", "role": "friend"}]}, "recipients"),
    ],
)
def test_bad_directives_are_400_naming_the_field_and_nothing_is_written(
    client, team, overrides, field
):
    secret = token_for(team.bob, "consents:write")

    response = _post(client, _base(team), _body(team, **overrides), secret)

    body = is_problem(response, 400)
    assert body["type"] == "urn:tandem:problem:invalid-directive"
    assert body["field"] == field
    assert not ConsentDirective.objects.exists()


def test_no_recipient_is_a_validation_error(client, team):
    secret = token_for(team.bob, "consents:write")

    response = _post(client, _base(team), _body(team, recipients=[]), secret)

    assert is_problem(response, 400)["type"] == "urn:tandem:problem:validation-error"


def test_a_revocation_needs_a_reason_and_a_stale_version_is_409(client, team):
    directive = _active(team)
    secret = token_for(team.bob, "consents:write")
    url = f"{_base(team)}/{directive.pk}/revoke"

    is_problem(_post(client, url, {"reason": ""}, secret), 400)
    stale = _post(client, url, {"reason": "Old page", "version": 7}, secret)

    assert is_problem(stale, 409)["type"] == "urn:tandem:problem:directive-stale"
    directive.refresh_from_db()
    assert directive.status == "active"


def test_signing_a_revoked_directive_is_409(client, team):
    directive = _active(team)
    ConsentDirective.objects.filter(pk=directive.pk).update(status="revoked")
    secret = token_for(team.bob, "consents:write")

    response = _post(client, f"{_base(team)}/{directive.pk}/sign", _signature(), secret)

    assert is_problem(response, 409)["type"] == "urn:tandem:problem:directive-state"


def test_a_read_token_cannot_write_and_the_refusal_is_audited(client, team):
    secret = token_for(team.bob, "consents:read")

    response = _post(client, _base(team), _body(team), secret)

    body = is_problem(response, 403)
    assert body["required_scope"] == "consents:write"
    assert AuditEvent.objects.filter(action="api-scope", outcome="denied").exists()
    assert not ConsentDirective.objects.exists()


def test_a_patients_read_token_cannot_read_directives(client, team):
    secret = token_for(team.bob, "patients:read")

    assert is_problem(client.get(_base(team), headers=bearer(secret)), 403)["required_scope"] == (
        "consents:read"
    )


def test_an_outsider_gets_patient_not_found_audited(client, team):
    _active(team)
    secret = token_for(team.olive, "consents:read", "consents:write")

    listed = client.get(_base(team), headers=bearer(secret))
    created = _post(client, _base(team), _body(team), secret)

    assert is_problem(listed, 404)["type"] == "urn:tandem:problem:patient-not-found"
    assert is_problem(created, 404)["type"] == "urn:tandem:problem:patient-not-found"
    assert AuditEvent.objects.filter(actor_username="olive", outcome="denied").count() == 2
    assert ConsentDirective.objects.count() == 1


def test_a_forged_directive_id_of_another_patient_is_404_audited(client, team):
    other = b.patient(given_name="Quinn", family_name="Other")
    b.care_team_member(patient=other, practitioner=team.practitioner(team.bob), role="care-manager")
    theirs = b.consent(
        patient=other,
        categories=["mental-health"],
        recipients=[{"kind": "role", "role": "pcp"}],
        sensitivity="mental-health",
    )
    secret = token_for(team.bob, "consents:read", "consents:write")

    got = client.get(f"{_base(team)}/{theirs.pk}", headers=bearer(secret))
    revoked = _post(client, f"{_base(team)}/{theirs.pk}/revoke", {"reason": "forged"}, secret)

    assert is_problem(got, 404)["type"] == "urn:tandem:problem:directive-not-found"
    assert is_problem(revoked, 404)["type"] == "urn:tandem:problem:directive-not-found"
    assert (
        AuditEvent.objects.filter(
            actor_username="bob", outcome="denied", action="consent-manage"
        ).count()
        == 2
    )
    theirs.refresh_from_db()
    assert theirs.status == "active"


def test_a_recipient_of_another_directive_is_404(client, team):
    mine, other = _active(team), _active(team)
    foreign = other.recipients.first()
    secret = token_for(team.bob, "consents:write")

    response = _post(
        client,
        f"{_base(team)}/{mine.pk}/recipients/{foreign.pk}/revoke",
        {"reason": "wrong row"},
        secret,
    )

    assert is_problem(response, 404)["type"] == "urn:tandem:problem:directive-not-found"
    foreign.refresh_from_db()
    assert foreign.revoked_on is None


def test_huge_ids_are_404_not_500(client, team):
    secret = token_for(team.bob, "consents:read")

    response = client.get(f"/api/patients/{2**70}/consents", headers=bearer(secret))

    assert response.status_code == 404


def test_the_preview_says_what_each_recipient_would_see_and_saves_nothing(client, team):
    b.encounter(patient=team.pat, program=team.part2_program)
    secret = token_for(team.bob, "consents:read")

    response = _post(
        client,
        f"{_base(team)}/preview",
        _body(team, categories=["substance-use"], start=dt.date.today().isoformat()),
        secret,
    )

    assert response.status_code == 200
    [row] = response.json()
    assert row["recipient"].startswith("Alice")
    assert row["would_see"].get("encounters") == 1
    assert not ConsentDirective.objects.exists()


def test_a_session_needs_the_csrf_token_to_write(team):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(team.bob)

    response = browser.post(_base(team), _body(team), content_type="application/json")

    assert is_problem(response, 403)["type"] == "urn:tandem:problem:csrf-failed"
    assert not ConsentDirective.objects.exists()


def test_a_directive_as_fhir_consent_by_path_and_by_format(client, team):
    directive = _active(team)
    secret = token_for(team.bob, "consents:read")

    by_path = client.get(f"{_base(team)}/{directive.pk}/fhir", headers=bearer(secret))
    by_format = client.get(f"{_base(team)}/{directive.pk}?format=fhir", headers=bearer(secret))

    assert by_path.status_code == 200
    assert by_path["Content-Type"] == "application/fhir+json"
    resource = by_path.json()
    assert resource["resourceType"] == "Consent" and resource["status"] == "active"
    assert resource["patient"]["reference"] == f"Patient/{team.pat.pk}"
    assert by_format.json() == resource
    is_problem(client.get(f"{_base(team)}/{directive.pk}?format=xml", headers=bearer(secret)), 400)


def test_the_fhir_of_a_directive_the_reader_may_not_see_is_404(client, team):
    hidden = b.consent(
        patient=team.pat,
        categories=["substance-use"],
        recipients=[{"kind": "person", "practitioner": team.practitioner(team.sam)}],
        sensitivity="substance-use",
    )
    secret = token_for(team.alice, "consents:read")

    response = client.get(f"{_base(team)}/{hidden.pk}/fhir", headers=bearer(secret))

    assert is_problem(response, 404)["type"] == "urn:tandem:problem:directive-not-found"


def test_a_directive_exported_as_fhir_imports_back_unchanged(client, team):
    directive = _active(team)
    reader = token_for(team.bob, "consents:read")
    writer = token_for(team.bob, "consents:write")
    exported = client.get(f"{_base(team)}/{directive.pk}/fhir", headers=bearer(reader)).json()

    response = client.post(
        f"{_base(team)}/fhir",
        data=exported,
        content_type="application/fhir+json",
        headers=bearer(writer),
    )

    assert response.status_code == 201, response.content
    copy = response.json()["id"]
    assert copy != directive.pk and ConsentDirective.objects.count() == 2
    again = client.get(f"{_base(team)}/{copy}/fhir", headers=bearer(reader)).json()
    strip = lambda r: {k: v for k, v in r.items() if k not in ("id", "identifier", "meta")}  # noqa: E731
    assert strip(again) == strip(exported)


def test_a_fhir_import_for_another_patient_or_not_json_is_400_and_writes_nothing(client, team):
    other = b.patient(given_name="Quinn")
    writer = token_for(team.bob, "consents:write")
    resource = {"resourceType": "Consent", "patient": {"reference": f"Patient/{other.pk}"}}

    wrong_patient = client.post(
        f"{_base(team)}/fhir",
        data=resource,
        content_type="application/json",
        headers=bearer(writer),
    )
    not_json = client.post(
        f"{_base(team)}/fhir", data="{", content_type="application/json", headers=bearer(writer)
    )

    assert is_problem(wrong_patient, 400)["field"] == "patient"
    assert is_problem(not_json, 400)["field"] == "body"
    assert not ConsentDirective.objects.exists()
