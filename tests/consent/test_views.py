"""The staff screens of consent directives (F26): Bob, Pat's care manager, records directives
with Pat, tries them, signs and revokes them; readers without a treatment basis, and forged
ids, get the 404 page and an audited denial, and nothing is written."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.consent.models import ConsentDirective, DirectiveRecipient
from tests import builders as b

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _url(name: str, *args: int) -> str:
    return reverse(name, args=args)


def _form(team, **overrides) -> dict:
    """What Bob fills in: Pat shares mental-health records with Alice for treatment."""
    alice = team.practitioner(team.alice)
    data = {
        "categories": ["mental-health"],
        "purposes": ["treatment"],
        "recipient_1": f"person:{alice.pk}",
        "start": timezone.localdate().isoformat(),
        "end": "",
        "signer_name": "Pat Jones",
        "signed_on": timezone.localdate().isoformat(),
        "relationship": "self",
        "action": "sign",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _directives(team) -> list[ConsentDirective]:
    return list(ConsentDirective.objects.filter(patient=team.pat).order_by("pk"))


def _denials(user) -> int:
    return AuditEvent.objects.filter(actor_username=user.get_username(), outcome="denied").count()


# --- the list --------------------------------------------------------------------------------


def test_the_care_manager_sees_the_patients_directives_with_recipients_and_revocations(
    client, team
):
    alice, charlie = team.practitioner(team.alice), team.practitioner(team.charlie)
    directive = b.consent(
        patient=team.pat,
        categories=["mental-health", "hiv"],
        purposes=["treatment", "payment"],
        recipients=[{"kind": "person", "practitioner": alice}, {"kind": "role", "role": "pcp"}],
        signer_name="Pat Jones",
        signed_on=timezone.localdate(),
        signer_relationship="self",
        signature_kind="typed",
        sensitivity="mental-health",
    )
    DirectiveRecipient.objects.create(
        directive=directive,
        kind="person",
        practitioner=charlie,
        revoked_on=timezone.now(),
        revocation_reason="Patient changed psychiatrist",
    )
    client.force_login(team.bob)

    response = client.get(_url("consent-directives", team.pat.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert f"Directive {directive.pk}" in page
    assert "Mental health records; HIV records" in page
    assert "Treatment, Payment" in page
    assert "The patient&#x27;s primary care provider" in page
    assert "<del>Charlie" in page and "Patient changed psychiatrist" in page
    assert "Signed “Pat Jones”" in page
    assert _url("consent-history", team.pat.pk, directive.pk) in page


def test_a_directive_the_reader_may_not_see_is_a_withheld_notice_not_a_gap(client, team):
    alice = team.practitioner(team.alice)
    b.consent(
        patient=team.pat,
        categories=["substance-use"],
        recipients=[{"kind": "person", "practitioner": team.practitioner(team.sam)}],
        sensitivity="substance-use",
    )
    b.care_team_member(patient=team.pat, practitioner=alice, role="pcp")
    client.force_login(team.alice)  # the PCP: no consent to see substance-use records

    response = client.get(_url("consent-directives", team.pat.pk))

    assert response.status_code == 200
    assert b'data-testid="withheld"' in response.content
    assert b"1 item withheld" in response.content
    assert b"Directive " not in response.content.replace(b"Directives", b"")


def test_an_outsider_gets_404_and_an_audited_denial(client, team):
    client.force_login(team.olive)
    before = _denials(team.olive)

    response = client.get(_url("consent-directives", team.pat.pk))

    assert response.status_code == 404
    assert _denials(team.olive) == before + 1
    event = AuditEvent.objects.filter(actor_username="olive").latest("pk")
    assert (event.action, event.patient_id) == ("consent-manage", team.pat.pk)


def test_a_leader_without_a_treatment_basis_may_not_manage(client, team):
    client.force_login(team.leo)

    assert client.get(_url("consent-new", team.pat.pk)).status_code == 404
    assert _denials(team.leo) == 1


# --- recording -----------------------------------------------------------------------------


def test_bob_records_and_signs_a_directive_with_pat(client, team):
    client.force_login(team.bob)

    response = client.post(_url("consent-new", team.pat.pk), _form(team))

    [directive] = _directives(team)
    assert response.status_code == 302
    assert response["Location"] == _url("consent-directive", team.pat.pk, directive.pk)
    assert directive.status == "active"
    assert (directive.signer_name, directive.signer_relationship) == ("Pat Jones", "self")
    assert directive.categories == ["mental-health"] and directive.purposes == ["treatment"]
    assert AuditEvent.objects.filter(actor_username="bob", action="write:consent-record").exists()


def test_the_recorder_sees_a_directive_whose_category_is_withheld_from_them(client, team):
    client.force_login(team.bob)  # mental health: substance-use records are withheld from him

    response = client.post(
        _url("consent-new", team.pat.pk), _form(team, categories=["substance-use"]), follow=True
    )

    # The gate shows a directive to whoever recorded it (docs/consent-and-audit.md), so Bob can
    # sign or revoke what he took down with Pat; Charlie, on the same team, still may not see it.
    [directive] = _directives(team)
    assert response.redirect_chain[-1][0] == _url("consent-directive", team.pat.pk, directive.pk)
    assert _denials(team.bob) == 0
    client.force_login(team.charlie)
    assert client.get(_url("consent-directive", team.pat.pk, directive.pk)).status_code == 404


def test_saving_as_a_draft_needs_no_signature(client, team):
    client.force_login(team.bob)

    client.post(
        _url("consent-new", team.pat.pk),
        _form(team, action="draft", signer_name="", relationship=""),
    )

    [directive] = _directives(team)
    assert directive.status == "draft" and not directive.is_signed


def test_the_part2_tpo_option_gives_treatment_payment_and_operations(client, team):
    client.force_login(team.bob)

    client.post(
        _url("consent-new", team.pat.pk),
        _form(team, categories=["all"], purposes=[], part2_tpo="on"),
    )

    [directive] = _directives(team)
    assert directive.part2_tpo
    assert directive.purposes == ["treatment", "payment", "operations"]
    assert directive.categories == ["all"]


def test_several_recipients_of_every_kind(client, team):
    client.force_login(team.bob)
    org = team.pc_site.organization

    client.post(
        _url("consent-new", team.pat.pk),
        _form(
            team,
            recipient_2=f"organization:{org.pk}",
            recipient_3=f"site:{team.cmhc.pk}",
            recipient_4="role:pcp",
        ),
    )

    [directive] = _directives(team)
    kinds = sorted(directive.recipients.values_list("kind", flat=True))
    assert kinds == ["organization", "person", "role", "site"]


def test_the_form_lists_practitioners_organizations_sites_and_roles_never_patients(client, team):
    client.force_login(team.bob)

    page = client.get(_url("consent-new", team.pat.pk)).content.decode()

    assert "Psychotherapy notes — never shareable by a directive" in page
    assert f'value="person:{team.practitioner(team.alice).pk}"' in page
    assert f'value="site:{team.sud_site.pk}"' in page
    assert 'value="role:care-manager"' in page
    assert "Jones, Pat" not in page.split('id="id_recipient_1"')[1].split("</select>")[0]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"end": "2000-01-01"}, "end", "The expiry date is before the effective date."),
        ({"recipient_1": ""}, "recipient_1", "Name at least one recipient."),
        ({"recipient_1": "person:999999"}, "recipient_1", "Select a valid choice."),
        ({"categories": []}, "categories", "Choose at least one category of records."),
        ({"categories": ["psychotherapy-note"]}, "categories", "Select a valid choice."),
        ({"purposes": []}, "purposes", "Choose at least one purpose."),
        ({"signer_name": ""}, "signer_name", "Type the signer&#x27;s name."),
        ({"relationship": "friend"}, "relationship", "Select a valid choice."),
        ({"signed_on": "2999-01-01"}, "signed_on", "The signature date cannot be in the future."),
        (
            {"categories": ["hiv"], "part2_tpo": "on"},
            "part2_tpo",
            "A Part 2 consent covers substance use treatment records",
        ),
    ],
)
def test_bad_input_is_a_form_error_naming_the_field_and_nothing_is_written(
    client, team, overrides, field, message
):
    client.force_login(team.bob)

    response = client.post(_url("consent-new", team.pat.pk), _form(team, **overrides))

    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="error-summary"' in page
    assert f'href="#id_{field}"' in page
    assert message in page
    assert _directives(team) == []


def test_a_file_that_is_not_a_pdf_is_refused(client, team):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(team.bob)
    fake = SimpleUploadedFile("consent.pdf", b"<html>not a pdf</html>", "application/pdf")

    response = client.post(_url("consent-new", team.pat.pk), _form(team, signed_pdf=fake))

    assert response.status_code == 400
    assert b"The file is not a PDF." in response.content
    assert _directives(team) == []


def test_a_signed_pdf_is_kept_and_served_to_the_care_team(client, team):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(team.bob)
    upload = SimpleUploadedFile("signed.pdf", PDF, "application/pdf")

    client.post(_url("consent-new", team.pat.pk), _form(team, signed_pdf=upload))

    [directive] = _directives(team)
    assert directive.signature_kind == "pdf"
    response = client.get(_url("consent-signed-form", team.pat.pk, directive.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content == PDF


def test_a_double_click_records_one_directive(client, team):
    client.force_login(team.bob)

    first = client.post(_url("consent-new", team.pat.pk), _form(team))
    second = client.post(_url("consent-new", team.pat.pk), _form(team))

    assert len(_directives(team)) == 1
    assert first["Location"] == second["Location"]


# --- try my policy ---------------------------------------------------------------------------


def test_the_preview_shows_what_each_recipient_would_see_and_saves_nothing(client, team):
    b.encounter(patient=team.pat, program=team.part2_program)  # a substance-use record
    client.force_login(team.bob)

    response = client.post(
        _url("consent-preview", team.pat.pk),
        _form(team, categories=["substance-use"]),
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="preview"' in page
    assert "Alice" in page and "Would see" in page and "Would not see" in page
    assert "<html" not in page  # the partial for htmx
    assert _directives(team) == []
    assert AuditEvent.objects.filter(actor_username="bob", action="consent-preview").exists()


def test_the_preview_of_a_form_with_errors_names_them(client, team):
    client.force_login(team.bob)

    response = client.post(
        _url("consent-preview", team.pat.pk), _form(team, recipient_1=""), HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 400
    assert b"Name at least one recipient." in response.content


def test_a_draft_has_its_preview_page(client, team):
    draft = b.consent(
        patient=team.pat,
        categories=["mental-health"],
        recipients=[{"kind": "role", "role": "pcp"}],
        status="draft",
        sensitivity="mental-health",
    )
    client.force_login(team.bob)

    response = client.get(_url("consent-preview-draft", team.pat.pk, draft.pk))

    assert response.status_code == 200
    assert b"The patient&#x27;s primary care provider" in response.content


# --- signing and revoking --------------------------------------------------------------------


def _draft(team) -> ConsentDirective:
    alice, charlie = team.practitioner(team.alice), team.practitioner(team.charlie)
    return b.consent(
        patient=team.pat,
        categories=["mental-health"],
        recipients=[
            {"kind": "person", "practitioner": alice},
            {"kind": "person", "practitioner": charlie},
        ],
        status="draft",
        sensitivity="mental-health",
    )


def _sign(team, directive, **overrides) -> dict:
    data = {
        "signer_name": "Pat Jones",
        "signed_on": timezone.localdate().isoformat(),
        "relationship": "self",
        "version": directive.version,
    }
    data.update(overrides)
    return data


def test_a_draft_is_signed_once_even_when_the_button_is_clicked_twice(client, team):
    draft = _draft(team)
    client.force_login(team.bob)
    url = _url("consent-sign", team.pat.pk, draft.pk)

    client.post(url, _sign(team, draft))
    second = client.post(url, _sign(team, draft))

    draft.refresh_from_db()
    assert draft.status == "active" and draft.version == 2
    assert second.status_code == 302
    assert AuditEvent.objects.filter(action="write:consent-sign").count() == 1


def test_signing_without_a_name_is_a_field_error(client, team):
    draft = _draft(team)
    client.force_login(team.bob)

    response = client.post(
        _url("consent-sign", team.pat.pk, draft.pk), _sign(team, draft, signer_name="")
    )

    assert response.status_code == 400
    assert b"Type the signer&#x27;s name." in response.content
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_revoking_needs_a_reason(client, team):
    draft = _draft(team)
    ConsentDirective.objects.filter(pk=draft.pk).update(status="active")
    client.force_login(team.bob)

    response = client.post(
        _url("consent-revoke", team.pat.pk, draft.pk), {"reason": "  ", "version": 1}
    )

    assert response.status_code == 400
    assert b"Give the reason for revoking." in response.content
    draft.refresh_from_db()
    assert draft.status == "active"


def test_bob_revokes_the_directive_with_a_reason(client, team):
    draft = _draft(team)
    ConsentDirective.objects.filter(pk=draft.pk).update(status="active")
    client.force_login(team.bob)

    client.post(
        _url("consent-revoke", team.pat.pk, draft.pk),
        {"reason": "Patient withdrew consent", "version": 1},
    )

    draft.refresh_from_db()
    assert draft.status == "revoked"
    assert draft.revocation_reason == "Patient withdrew consent"
    page = client.get(_url("consent-directive", team.pat.pk, draft.pk)).content.decode()
    assert "Patient withdrew consent" in page


def test_revoking_one_recipient_leaves_the_others_and_shows_it_struck_through(client, team):
    draft = _draft(team)
    ConsentDirective.objects.filter(pk=draft.pk).update(status="active")
    alice_row = draft.recipients.get(practitioner__user=team.alice)
    client.force_login(team.bob)

    response = client.post(
        _url("consent-revoke-recipient", team.pat.pk, draft.pk, alice_row.pk),
        {f"r{alice_row.pk}-reason": "No longer her PCP", f"r{alice_row.pk}-version": 1},
    )

    assert response.status_code == 302
    draft.refresh_from_db()
    alice_row.refresh_from_db()
    assert draft.status == "active"
    assert alice_row.revocation_reason == "No longer her PCP"
    page = client.get(_url("consent-directive", team.pat.pk, draft.pk)).content.decode()
    assert "<del>Alice" in page and "No longer her PCP" in page


def test_a_stale_version_writes_nothing(client, team):
    draft = _draft(team)
    ConsentDirective.objects.filter(pk=draft.pk).update(status="active", version=3)
    client.force_login(team.bob)

    response = client.post(
        _url("consent-revoke", team.pat.pk, draft.pk), {"reason": "Old page", "version": 2}
    )

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "active"


def test_the_history_page_lists_every_version(client, team):
    client.force_login(team.bob)
    client.post(_url("consent-new", team.pat.pk), _form(team, action="draft"))
    [directive] = _directives(team)
    client.post(_url("consent-sign", team.pat.pk, directive.pk), _sign(team, directive))

    response = client.get(_url("consent-history", team.pat.pk, directive.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert "2 versions" in page
    assert "recorded" in page and "signed" in page


# --- forged ids ------------------------------------------------------------------------------


def test_a_directive_of_another_patient_is_404_audited_and_untouched(client, team):
    other = b.patient(given_name="Quinn", family_name="Other")
    b.care_team_member(patient=other, practitioner=team.practitioner(team.bob), role="care-manager")
    theirs = b.consent(
        patient=other,
        categories=["hiv"],
        recipients=[{"kind": "role", "role": "pcp"}],
        sensitivity="hiv",
    )
    client.force_login(team.bob)
    before = _denials(team.bob)

    pages = [
        client.get(_url("consent-directive", team.pat.pk, theirs.pk)),
        client.get(_url("consent-history", team.pat.pk, theirs.pk)),
        client.post(
            _url("consent-revoke", team.pat.pk, theirs.pk), {"reason": "forged", "version": 1}
        ),
    ]

    assert [r.status_code for r in pages] == [404, 404, 404]
    assert _denials(team.bob) == before + 3
    theirs.refresh_from_db()
    assert theirs.status == "active"


def test_a_huge_id_is_404_not_a_crash(client, team):
    client.force_login(team.bob)

    response = client.get(f"/patients/{team.pat.pk}/consents/{2**70}/")

    assert response.status_code == 404


def test_the_chart_links_to_the_consent_directives(client, team):
    client.force_login(team.bob)

    page = client.get(_url("patient-summary", team.pat.pk)).content.decode()

    assert _url("consent-directives", team.pat.pk) in page


def test_dates_ending_yesterday_and_starting_today_are_valid(client, team):
    client.force_login(team.bob)
    today = timezone.localdate()

    response = client.post(
        _url("consent-new", team.pat.pk),
        _form(team, start=today.isoformat(), end=(today + dt.timedelta(days=0)).isoformat()),
    )

    assert response.status_code == 302
