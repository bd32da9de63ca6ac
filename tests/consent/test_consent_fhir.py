"""FHIR R4 Consent export and import: every kind of directive makes the round trip without
loss, Part 2 consents carry the redisclosure notice, and bad resources are refused."""

from __future__ import annotations

import base64
import copy
import datetime as dt

import pytest

from tandem.consent import fhir, rules
from tandem.consent import services as s
from tandem.consent.models import ConsentDirective
from tandem.core.lib.access import AccessDenied
from tests import builders as b

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n% a scanned form\n%%EOF\n"


def comparable(resource):
    """A resource without what names the row itself (the id): an import is a new directive."""
    out = copy.deepcopy(resource)
    out.pop("id", None)
    out.pop("identifier", None)
    return out


def directives_of_every_kind(team):
    alice = team.practitioner(team.alice)
    bob = team.practitioner(team.bob)
    today = rules.directive_today()
    org = team.pc_site.organization
    signed = s.Signature("Pat Jones", today, "self")

    def record(**kw):
        kw.setdefault("categories", ["substance-use"])
        kw.setdefault("purposes", ["treatment"])
        kw.setdefault("recipients", [s.RecipientSpec("person", practitioner_id=alice.pk)])
        kw.setdefault("start", today - dt.timedelta(days=10))
        kw.setdefault("signature", signed)
        kw.setdefault("activate", kw["signature"] is not None)
        return s.record_directive(by=team.alice, patient=team.pat, **kw)

    kinds = {
        "draft": record(signature=None),
        "typed, person": record(end=today + dt.timedelta(days=300)),
        "pdf by a guardian, site": record(
            categories=["mental-health", "hiv"],
            recipients=[s.RecipientSpec("site", site_id=team.cmhc.pk)],
            signature=s.Signature("Mary Jones", today, "guardian", pdf=PDF, filename="f.pdf"),
        ),
        "part 2 TPO, organization": record(
            purposes=[],
            part2_tpo=True,
            recipients=[s.RecipientSpec("organization", organization_id=org.pk)],
        ),
        "all, role, research": record(
            categories=["all"],
            purposes=["research", "treatment"],
            recipients=[s.RecipientSpec("role", role="pcp")],
            signature=s.Signature("R. Agent", today, "representative"),
        ),
        "reproductive, other signer": record(
            categories=["reproductive-health"],
            signature=s.Signature("A. Friend", today, "other"),
        ),
    }
    revoked = record(categories=["hiv"])
    kinds["revoked"] = s.revoke_directive(by=team.alice, directive=revoked, reason="asked")
    multi = record(
        recipients=[
            s.RecipientSpec("person", practitioner_id=alice.pk),
            s.RecipientSpec("person", practitioner_id=bob.pk),
        ]
    )
    one = multi.recipients.get(practitioner=bob)
    kinds["one recipient revoked"] = s.revoke_recipient(
        by=team.alice, directive=multi, recipient_id=one.pk, reason="left the clinic"
    )
    expired = record(start=today - dt.timedelta(days=30), end=today - dt.timedelta(days=1))
    s.expire_directives()
    expired.refresh_from_db()
    kinds["expired"] = expired
    wrong = record()
    ConsentDirective.objects.filter(pk=wrong.pk).update(status="entered-in-error")
    wrong.refresh_from_db()
    kinds["entered in error"] = wrong
    return kinds


def test_every_kind_of_directive_round_trips_without_loss(team):
    for name, directive in directives_of_every_kind(team).items():
        exported = fhir.to_fhir(directive)

        imported = fhir.from_fhir(exported, by=team.alice)
        again = fhir.to_fhir(imported)

        assert imported.pk != directive.pk, name
        assert comparable(again) == comparable(exported), name
        assert imported.status == directive.status, name
        assert imported.categories == directive.categories, name
        assert imported.purposes == directive.purposes, name
        assert imported.versions.get().change == "imported", name


def test_the_export_follows_the_r4_consent_shape(team):
    kinds = directives_of_every_kind(team)
    typed = fhir.to_fhir(kinds["typed, person"])
    pdf = fhir.to_fhir(kinds["pdf by a guardian, site"])
    tpo = fhir.to_fhir(kinds["part 2 TPO, organization"])
    revoked = fhir.to_fhir(kinds["revoked"])
    expired = fhir.to_fhir(kinds["expired"])

    assert typed["scope"]["coding"][0]["code"] == "patient-privacy"
    assert typed["category"][0]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "59284-0",
        "display": "Patient Consent",
    }
    assert typed["patient"] == {"reference": f"Patient/{team.pat.pk}"}
    assert typed["organization"][0]["reference"] == f"Organization/{team.pc_site.organization_id}"
    assert typed["policyRule"]["coding"][0]["code"] == "42CFRPart2"
    provision = typed["provision"]
    assert provision["type"] == "permit"
    assert provision["actor"][0]["role"]["coding"][0]["code"] == "IRCP"
    assert provision["actor"][0]["reference"]["reference"].startswith("Practitioner/")
    assert provision["purpose"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}
    ]
    assert provision["securityLabel"][0]["code"] == "ETH"
    assert typed["sourceAttachment"]["contentType"] == "text/plain"
    assert base64.b64decode(pdf["sourceAttachment"]["data"]) == PDF
    assert pdf["policyRule"]["coding"][0]["code"] == "HIPAAAuth"
    assert {c["code"] for c in pdf["provision"]["securityLabel"]} == {"PSY", "HIV"}
    assert [p["code"] for p in tpo["provision"]["purpose"]] == ["TREAT", "HPAYMT", "HOPERAT"]
    assert (revoked["status"], expired["status"]) == ("inactive", "inactive")
    assert revoked["extension"][0]["valueCode"] == "revoked"
    assert expired["extension"][0]["valueCode"] == "expired"
    assert fhir.to_fhir(kinds["draft"])["status"] == "draft"
    assert fhir.to_fhir(kinds["entered in error"])["status"] == "entered-in-error"


def test_part2_consents_carry_the_redisclosure_notice(team):
    kinds = directives_of_every_kind(team)

    part2 = fhir.to_fhir(kinds["typed, person"])
    other = fhir.to_fhir(kinds["pdf by a guardian, site"])

    assert "42 CFR part 2" in part2["text"]["div"]
    assert any(e.get("valueString") == rules.REDISCLOSURE_NOTICE for e in part2["extension"])
    assert "text" not in other


def test_a_consent_from_elsewhere_with_only_a_pdf_is_imported_as_signed(team):
    resource = {
        "resourceType": "Consent",
        "status": "active",
        "patient": {"reference": f"Patient/{team.pat.pk}"},
        "performer": [{"reference": f"Patient/{team.pat.pk}", "display": "Pat Jones"}],
        "dateTime": "2026-01-05",
        "sourceAttachment": {
            "contentType": "application/pdf",
            "data": base64.b64encode(PDF).decode(),
        },
        "provision": {
            "type": "permit",
            "period": {"start": "2026-01-05"},
            "actor": [
                {
                    "role": {"coding": [{"code": "IRCP"}]},
                    "reference": {"reference": f"Practitioner/{team.practitioner(team.alice).pk}"},
                }
            ],
            "purpose": [{"system": fhir.ACT_REASON, "code": "TREAT"}],
            "securityLabel": [{"system": fhir.ACT_CODE, "code": "ETH"}],
        },
    }

    directive = fhir.from_fhir(resource, by=team.alice)

    assert (directive.signature_kind, directive.signer_name, directive.signer_relationship) == (
        "pdf",
        "Pat Jones",
        "self",
    )
    assert directive.status == "active" and directive.categories == ["substance-use"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"resourceType": "Patient"}, "resourceType"),
        ({"patient": {}}, "patient"),
        ({"provision": {"type": "deny", "period": {"start": "2026-01-01"}}}, "provision"),
        ({"provision": {"type": "permit"}}, "start"),
        ({"status": "unknown"}, "status"),
    ],
)
def test_a_bad_resource_is_refused_naming_what_is_wrong(team, change, field):
    resource = fhir.to_fhir(directives_of_every_kind(team)["typed, person"])
    before = ConsentDirective.objects.count()
    resource.update(change)

    with pytest.raises(s.DirectiveError) as refused:
        fhir.from_fhir(resource, by=team.alice)

    assert refused.value.field == field
    assert ConsentDirective.objects.count() == before


def test_an_import_ending_before_it_starts_is_refused(team):
    resource = fhir.to_fhir(directives_of_every_kind(team)["typed, person"])
    resource["provision"]["period"] = {"start": "2026-05-01", "end": "2026-04-30"}

    with pytest.raises(s.DirectiveError) as refused:
        fhir.from_fhir(resource, by=team.alice)

    assert refused.value.field == "end"


def test_an_import_for_a_patient_the_importer_has_no_relationship_with_is_refused(team):
    resource = fhir.to_fhir(directives_of_every_kind(team)["typed, person"])
    stranger = b.patient(given_name="Zed", family_name="Stranger")
    resource["patient"] = {"reference": f"Patient/{stranger.pk}"}

    with pytest.raises(AccessDenied):
        fhir.from_fhir(resource, by=team.alice)

    assert not ConsentDirective.objects.filter(patient=stranger).exists()
