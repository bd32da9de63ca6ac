"""Stories about consent directives (F26): recording, signing, revoking, expiring — and what
the gate then lets each reader see."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.consent import gate, queries, rules
from tandem.consent import services as s
from tandem.consent.models import ConsentDirective, DirectiveRecipient, DirectiveVersion
from tandem.core.lib.access import AccessDenied
from tandem.core.models import CareTeamMember
from tests import builders as b

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def today():
    return rules.directive_today()


def sees_part2(user, patient, purpose="treatment"):
    """Whether ``user`` sees the patient's Part 2 diagnosis (F11.20)."""
    disclosure = gate.read(
        user=user, patient_id=patient.pk, purpose=purpose, requests=[gate.Request("conditions")]
    )
    return "F11.20" in {c.code for c in disclosure.data["conditions"]}


def part2_diagnosis(team):
    return b.condition(
        patient=team.pat, code="F11.20", display="Opioid dependence", program=team.part2_program
    )


def person(user_practitioner):
    return s.RecipientSpec("person", practitioner_id=user_practitioner.pk)


def signed_by_pat(**kw):
    return s.Signature("Pat Jones", today(), "self", **kw)


def share(team, by=None, recipients=None, categories=("substance-use",), **kw):
    kw.setdefault("purposes", ["treatment"])
    kw.setdefault("start", today())
    kw.setdefault("signature", signed_by_pat())
    kw.setdefault("activate", True)
    return s.record_directive(
        by=by or team.pat_user,
        patient=team.pat,
        categories=list(categories),
        recipients=recipients or [person(team.practitioner(team.alice))],
        **kw,
    )


# --- life cycle ---------------------------------------------------------------------------


def test_a_draft_shares_nothing_until_the_patient_signs_and_nothing_once_revoked(team):
    part2_diagnosis(team)
    draft = share(team, by=team.alice, signature=None, activate=False)

    assert draft.status == "draft" and not sees_part2(team.alice, team.pat)

    signed = s.sign_directive(by=team.pat_user, directive=draft, signature=signed_by_pat())

    assert signed.status == "active" and signed.signature_kind == "typed"
    assert sees_part2(team.alice, team.pat)

    s.revoke_directive(by=team.pat_user, directive=draft, reason="changed my mind")

    assert not sees_part2(team.alice, team.pat)
    draft.refresh_from_db()
    assert (draft.status, draft.version, draft.revocation_reason) == (
        "revoked",
        3,
        "changed my mind",
    )
    history = [(v.version, v.change, v.snapshot["status"]) for v in draft.versions.all()]
    assert history == [(1, "recorded", "draft"), (2, "signed", "active"), (3, "revoked", "revoked")]
    actions = list(
        AuditEvent.objects.filter(action__startswith="write:consent").values_list(
            "action", "outcome", "patient_id"
        )
    )
    assert actions == [
        ("write:consent-record", "written", team.pat.pk),
        ("write:consent-sign", "written", team.pat.pk),
        ("write:consent-revoke", "written", team.pat.pk),
    ]


def test_a_signed_pdf_is_stored_with_the_directive(team):
    directive = share(team, signature=signed_by_pat(pdf=PDF, filename="form.pdf"))

    form = queries.signed_form(directive.pk)
    assert directive.signature_kind == "pdf"
    assert bytes(form.content) == PDF and form.size == len(PDF) and form.filename == "form.pdf"
    assert directive.versions.get().snapshot["signature"]["pdf_sha256"] == form.sha256


def test_a_part2_tpo_consent_covers_treatment_payment_and_operations(team):
    directive = share(team, purposes=[], part2_tpo=True)

    assert directive.purposes == ["treatment", "payment", "operations"]
    assert directive.sensitivity == "substance-use"


def test_the_label_is_the_most_protective_category(team):
    assert share(team, categories=["hiv", "reproductive-health"]).sensitivity == "hiv"
    assert share(team, categories=["mental-health", "hiv"]).sensitivity == "mental-health"
    assert share(team, categories=["all"]).sensitivity == "substance-use"


# --- matching -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "shares"),
    [
        (0, None, True),  # starts today
        (-10, 0, True),  # ends today: in force all day
        (-10, -1, False),  # ended yesterday
        (1, None, False),  # starts tomorrow
    ],
)
def test_a_directive_is_in_force_from_its_start_day_to_its_end_day(team, start, end, shares):
    part2_diagnosis(team)
    day = today()
    share(
        team,
        start=day + dt.timedelta(days=start),
        end=None if end is None else day + dt.timedelta(days=end),
    )

    assert sees_part2(team.alice, team.pat) is shares


def test_revoking_one_recipient_of_a_multi_party_directive_leaves_the_others(team):
    part2_diagnosis(team)
    alice, bob = team.practitioner(team.alice), team.practitioner(team.bob)
    directive = share(team, recipients=[person(alice), person(bob)])
    alice_row = directive.recipients.get(practitioner=alice)

    s.revoke_recipient(
        by=team.pat_user, directive=directive, recipient_id=alice_row.pk, reason="moved"
    )

    assert not sees_part2(team.alice, team.pat)
    assert sees_part2(team.bob, team.pat)
    directive.refresh_from_db()
    assert directive.status == "active" and directive.version == 2
    assert directive.versions.last().change == "recipient-revoked"

    bob_row = directive.recipients.get(practitioner=bob)
    s.revoke_recipient(by=team.pat_user, directive=directive, recipient_id=bob_row.pk, reason="")

    directive.refresh_from_db()
    assert directive.status == "revoked"  # no recipient left
    assert not sees_part2(team.bob, team.pat)


def test_a_role_recipient_covers_whoever_holds_that_role_for_the_patient(team):
    part2_diagnosis(team)
    share(team, recipients=[s.RecipientSpec("role", role="pcp")])

    assert sees_part2(team.alice, team.pat)  # Pat's PCP
    assert not sees_part2(team.bob, team.pat)  # the care manager

    # Alice stops being Pat's PCP (a covering-clinician role keeps her a basis)
    CareTeamMember.objects.filter(patient=team.pat, role="pcp").update(
        start=today() - dt.timedelta(days=30), end=today() - dt.timedelta(days=1)
    )
    b.site_role(user=team.alice, site=team.pc_site, role="clinician")  # keeps a basis

    assert not sees_part2(team.alice, team.pat)


def test_a_site_recipient_covers_the_practitioners_of_that_site(team):
    part2_diagnosis(team)
    share(team, recipients=[s.RecipientSpec("site", site_id=team.pc_site.pk)])

    assert sees_part2(team.alice, team.pat)  # Riverside
    assert not sees_part2(team.bob, team.pat)  # Northside CMHC


def test_an_organization_recipient_covers_its_sites_staff_for_the_purpose(team):
    part2_diagnosis(team)
    org = team.pc_site.organization
    share(
        team,
        recipients=[s.RecipientSpec("organization", organization_id=org.pk)],
        purposes=[],
        part2_tpo=True,
    )

    assert sees_part2(team.alice, team.pat)
    assert sees_part2(team.bob, team.pat)
    # Leo has no practitioner: a leader at Riverside, of the organization, for operations
    assert sees_part2(team.leo, team.pat, "operations")
    other = b.organization(name="Elsewhere Health")
    elsewhere = b.site(organization=other, code="elsewhere", name="Elsewhere Clinic")
    olive = team.practitioner(team.olive)
    olive.sites.add(elsewhere)
    b.care_team_member(patient=team.pat, practitioner=olive, role="nurse")

    assert not sees_part2(team.olive, team.pat)


def test_a_directive_shares_only_for_its_purposes(team):
    part2_diagnosis(team)
    org = team.pc_site.organization
    share(team, recipients=[s.RecipientSpec("organization", organization_id=org.pk)])

    assert sees_part2(team.alice, team.pat)
    assert not sees_part2(team.leo, team.pat, "operations")  # treatment only


def test_all_shares_every_category_but_never_psychotherapy_notes(team):
    charlie = team.practitioner(team.charlie)
    b.note(patient=team.pat, author=charlie, note_type="psychotherapy", program=team.bh_program)
    b.note(patient=team.pat, author=charlie, note_type="progress", program=team.bh_program)
    part2_diagnosis(team)
    notes = [gate.Request("notes"), gate.Request("conditions")]

    before = gate.read(user=team.alice, patient_id=team.pat.pk, purpose="treatment", requests=notes)
    share(team, categories=["all"])
    after = gate.read(user=team.alice, patient_id=team.pat.pk, purpose="treatment", requests=notes)

    assert before.data["notes"] == [] and before.data["conditions"] == []
    assert [n.note_type for n in after.data["notes"]] == ["progress"]
    assert [c.code for c in after.data["conditions"]] == ["F11.20"]
    assert [r.label for r in after.withheld("notes")] == ["psychotherapy-note"]


def test_the_read_audit_names_the_basis_and_the_directives_that_granted(team):
    part2_diagnosis(team)
    directive = share(team)

    sees_part2(team.alice, team.pat)
    sees_part2(team.bob, team.pat)  # inside BH, no directive names him

    alice_event, bob_event = AuditEvent.objects.filter(action="read").order_by("pk")
    assert alice_event.detail.endswith(f"basis=care-team consent={directive.pk}")
    assert "basis=care-team" in bob_event.detail and "consent=" not in bob_event.detail


def test_matching_directives_is_one_query_after_a_check_for_any(team, django_assert_num_queries):
    reader = gate._reader(team.alice)
    # no active directive (most patients): one plain read says so
    with django_assert_num_queries(1):
        assert gate._consented_labels(reader, team.pat.pk, "treatment") == {}

    share(
        team,
        recipients=[person(team.practitioner(team.alice)), s.RecipientSpec("role", role="pcp")],
    )
    share(team, categories=["hiv"], recipients=[s.RecipientSpec("site", site_id=team.pc_site.pk)])
    reader = gate._reader(team.alice)

    # that read, then one query matches every directive and recipient
    with django_assert_num_queries(2):
        granted = gate._consented_labels(reader, team.pat.pk, "treatment")

    assert set(granted) == {"substance-use", "hiv"}


# --- expiry at midnight in the site's time zone --------------------------------------------


def at(zone, day, hour, minute):
    local = dt.datetime.combine(day, dt.time(hour, minute), zoneinfo.ZoneInfo(zone))
    return local.astimezone(dt.UTC)


def test_a_directive_expires_at_midnight_in_the_sites_time_zone(team, settings, monkeypatch):
    settings.TIME_ZONE = "America/Chicago"
    part2_diagnosis(team)
    last_day = dt.date(2026, 6, 30)
    directive = share(team, start=dt.date(2026, 1, 1), end=last_day)
    # 23:59 in Chicago is already July 1st in UTC: still in force
    monkeypatch.setattr(timezone, "now", lambda: at("America/Chicago", last_day, 23, 59))

    assert rules.directive_today() == last_day
    assert sees_part2(team.alice, team.pat)
    assert s.expire_directives() == 0

    next_day = last_day + dt.timedelta(days=1)
    monkeypatch.setattr(timezone, "now", lambda: at("America/Chicago", next_day, 0, 0))

    assert not sees_part2(team.alice, team.pat)
    assert s.expire_directives() == 1
    directive.refresh_from_db()
    assert directive.status == "expired" and directive.versions.last().change == "expired"
    assert s.expire_directives() == 0  # once


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end": -1}, "end"),
        ({"categories": []}, "categories"),
        ({"categories": ["psychotherapy-note"]}, "categories"),
        ({"purposes": []}, "purposes"),
        ({"purposes": ["emergency"]}, "purposes"),
        ({"recipients": []}, "recipients"),
        ({"recipients": [s.RecipientSpec("person", practitioner_id=999999)]}, "recipients"),
        ({"recipients": [s.RecipientSpec("role", role="janitor")]}, "recipients"),
        ({"signature": None}, "signature"),  # activate without a signature
        ({"signature": s.Signature("", dt.date(2026, 1, 1), "self")}, "signer_name"),
        ({"signature": s.Signature("Pat", dt.date(2026, 1, 1), "friend")}, "signer_relationship"),
        (
            {"signature": s.Signature("Pat", dt.date(2026, 1, 1), "self", pdf=b"GIF89a")},
            "signed_pdf",
        ),
        (
            {
                "signature": s.Signature(
                    "Pat", dt.date(2026, 1, 1), "self", pdf=PDF + b"0" * 5 * 2**20
                )
            },
            "signed_pdf",
        ),
        ({"categories": ["hiv"], "part2_tpo": True}, "part2_tpo"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(team, change, field):
    form = {
        "categories": ["substance-use"],
        "purposes": ["treatment"],
        "recipients": [person(team.practitioner(team.alice))],
        "start": today(),
        "signature": signed_by_pat(),
        "activate": True,
    }
    form.update(change)
    if "end" in change:
        form["end"] = today() + dt.timedelta(days=change["end"])

    with pytest.raises(s.DirectiveError) as refused:
        s.record_directive(by=team.pat_user, patient=team.pat, **form)

    assert refused.value.field == field
    assert not ConsentDirective.objects.exists()
    assert not DirectiveRecipient.objects.exists() and not DirectiveVersion.objects.exists()


def test_a_revocation_of_another_patients_directive_is_refused_and_audited(team):
    part2_diagnosis(team)
    directive = share(team)
    other = b.patient(given_name="Ann", family_name="Other", user=b.user("ann"))

    with pytest.raises(AccessDenied):
        s.revoke_directive(by=other.user, directive=directive, reason="x", patient_id=other.pk)
    with pytest.raises(AccessDenied):  # the id named in a URL is Pat's, the user is Ann
        s.revoke_directive(by=other.user, directive=directive, reason="x")
    recipient = directive.recipients.get()
    with pytest.raises(AccessDenied):
        s.revoke_recipient(
            by=team.alice,
            directive=directive,
            recipient_id=recipient.pk,
            reason="x",
            patient_id=other.pk,
        )

    directive.refresh_from_db()
    assert directive.status == "active" and directive.version == 1
    assert sees_part2(team.alice, team.pat)
    denied = AuditEvent.objects.filter(outcome="denied", action__startswith="write:consent")
    assert denied.count() == 3


def test_someone_without_a_relationship_may_not_record_a_directive(team):
    with pytest.raises(AccessDenied):
        share(team, by=team.olive)

    assert not ConsentDirective.objects.exists()
    assert AuditEvent.objects.filter(action="write:consent-record", outcome="denied").exists()
    assert s.may_manage(team.pat_user, team.pat.pk) and s.may_manage(team.alice, team.pat.pk)
    assert not s.may_manage(team.olive, team.pat.pk) and not s.may_manage(team.leo, team.pat.pk)


def test_a_recipient_of_another_directive_cannot_be_revoked_through_this_one(team):
    first = share(team)
    second = share(team, categories=["hiv"])
    foreign = second.recipients.get()

    with pytest.raises(AccessDenied):
        s.revoke_recipient(by=team.pat_user, directive=first, recipient_id=foreign.pk, reason="")

    assert not DirectiveRecipient.objects.filter(revoked_on__isnull=False).exists()


# --- double submit -------------------------------------------------------------------------


def test_a_form_sent_twice_writes_once(team):
    first = share(team)
    again = share(team)

    assert again.pk == first.pk
    assert ConsentDirective.objects.count() == 1

    s.revoke_directive(by=team.pat_user, directive=first, reason="no")
    s.revoke_directive(by=team.pat_user, directive=first, reason="no")

    first.refresh_from_db()
    assert first.version == 2 and first.versions.count() == 2
    assert AuditEvent.objects.filter(action="write:consent-revoke").count() == 1


def test_signing_twice_signs_once(team):
    draft = share(team, by=team.alice, signature=None, activate=False)

    s.sign_directive(by=team.pat_user, directive=draft, signature=signed_by_pat())
    s.sign_directive(by=team.pat_user, directive=draft, signature=signed_by_pat())

    draft.refresh_from_db()
    assert (
        draft.version == 2 and AuditEvent.objects.filter(action="write:consent-sign").count() == 1
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_revocations_write_one_version(team):
    import threading

    directive = share(team)
    barrier = threading.Barrier(2)

    def revoke():
        from django.db import connection as conn

        barrier.wait()
        try:
            s.revoke_directive(by=team.pat_user, directive=directive.pk, reason="both")
        finally:
            conn.close()

    threads = [threading.Thread(target=revoke) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    directive.refresh_from_db()
    assert directive.status == "revoked" and directive.versions.count() == 2


# --- reads: the directives through the gate, and the preview ------------------------------


def test_directives_are_read_through_the_gate(team):
    directive = share(team)

    mine = queries.directives_for(
        user=team.pat_user, patient_id=team.pat.pk, purpose="patient-access"
    )
    alices = queries.directives_for(user=team.alice, patient_id=team.pat.pk, purpose="treatment")
    [detailed] = queries.with_details(alices.data["consents"])

    assert mine.data["consents"] == [directive] == alices.data["consents"]
    assert [r.practitioner_id for r in detailed.recipient_list] == [
        team.practitioner(team.alice).pk
    ]
    with pytest.raises(AccessDenied):
        queries.directives_for(user=team.olive, patient_id=team.pat.pk, purpose="treatment")


def test_the_preview_shows_what_each_recipient_would_see_without_saving(team):
    part2_diagnosis(team)
    b.condition(patient=team.pat, code="E11.9", program=team.pc_program)
    alice, bob = team.practitioner(team.alice), team.practitioner(team.bob)
    proposed = {
        "categories": ["substance-use"],
        "purposes": ["treatment"],
        "recipients": [person(alice), s.RecipientSpec("role", role="care-manager")],
        "start": today(),
    }

    before_alice, before_bob = queries.preview(
        patient_id=team.pat.pk, user=team.pat_user, kinds=["conditions"], **proposed
    )

    assert not ConsentDirective.objects.exists()
    assert before_alice.recipient == alice.name
    assert before_alice.would_see == {"conditions": 2} and before_alice.would_not_see == {}
    assert before_bob.recipient == "the patient's care manager"
    assert before_bob.would_see == {"conditions": 2}
    assert AuditEvent.objects.filter(action="consent-preview", patient_id=team.pat.pk).exists()

    # and it is exactly what the gate shows once the directive is recorded
    share(team, **{k: v for k, v in proposed.items() if k != "categories"})
    shown = gate.read(
        user=team.alice,
        patient_id=team.pat.pk,
        purpose="treatment",
        requests=[gate.Request("conditions")],
    )
    assert len(shown.data["conditions"]) == before_alice.would_see["conditions"]
    del bob


def test_the_preview_counts_what_stays_hidden(team):
    part2_diagnosis(team)
    b.condition(patient=team.pat, code="E11.9", program=team.pc_program)

    [alice] = queries.preview(
        user=team.alice,
        patient_id=team.pat.pk,
        categories=["hiv"],
        purposes=["treatment"],
        recipients=[person(team.practitioner(team.alice))],
        start=today(),
        kinds=["conditions"],
    )

    assert alice.would_see == {"conditions": 1}
    assert alice.would_not_see == {"conditions": 1}  # the Part 2 diagnosis: not shared


def test_only_the_patient_and_their_treating_staff_may_preview(team):
    proposal = {
        "patient_id": team.pat.pk,
        "categories": ["hiv"],
        "purposes": ["treatment"],
        "recipients": [person(team.practitioner(team.olive))],
        "start": today(),
    }

    for stranger in (team.olive, team.leo, None):
        with pytest.raises(AccessDenied):
            queries.preview(user=stranger, **proposal)

    assert AuditEvent.objects.filter(action="consent-preview", outcome="denied").count() == 3


# --- the migration -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_converts_single_recipient_directives_keeping_their_data():
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    old = [("consent", "0004_label_rows_without_a_program_by_site_or_practitioner")]
    new = [("consent", "0006_drop_single_recipient_columns")]
    executor.migrate(old)
    apps_before = executor.loader.project_state(old).apps
    site = b.site(organization=b.organization(name="O"), code="s", name="S")
    patient = b.patient(given_name="P", family_name="Q", home_site=site, mrn_site=site)
    directive = apps_before.get_model("consent", "ConsentDirective").objects.create(
        patient_id=patient.pk,
        category="mental-health",
        recipient_kind="role",
        recipient_role="pcp",
        purpose="operations",
        start=dt.date(2025, 1, 1),
        end=dt.date(2027, 1, 1),
        status="active",
        sensitivity="mental-health",
    )

    executor = MigrationExecutor(connection)
    executor.migrate(new)
    apps_after = executor.loader.project_state(new).apps
    converted = apps_after.get_model("consent", "ConsentDirective").objects.get(pk=directive.pk)
    recipient = apps_after.get_model("consent", "DirectiveRecipient").objects.get(
        directive_id=directive.pk
    )
    version = apps_after.get_model("consent", "DirectiveVersion").objects.get(
        directive_id=directive.pk
    )

    assert (converted.categories, converted.purposes, converted.status) == (
        ["mental-health"],
        ["operations"],
        "active",
    )
    assert (converted.start, converted.end, converted.sensitivity) == (
        dt.date(2025, 1, 1),
        dt.date(2027, 1, 1),
        "mental-health",
    )
    assert (recipient.kind, recipient.role, recipient.revoked_on) == ("role", "pcp", None)
    assert (version.version, version.change) == (1, "migrated")
    executor.loader.build_graph()
    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())


# --- the demo ------------------------------------------------------------------------------


def test_the_demo_has_directives_of_every_kind_and_the_patient_shares_sud_data_with_the_pcp(
    team,
):
    from tandem.consent import demo

    alice = team.practitioner(team.alice)
    for i in range(6):
        other = b.patient(given_name=f"P{i}", family_name="Demo")
        b.care_team_member(patient=other, practitioner=alice, role="pcp")
    personas = {"patient": team.pat_user, "pcp": team.alice}

    demo.seed_demo(personas=personas)
    demo.seed_demo(personas=personas)  # idempotent

    directives = ConsentDirective.objects.all()
    assert directives.count() == 9
    assert set(directives.values_list("status", flat=True)) == {
        "active",
        "draft",
        "expired",
        "revoked",
    }
    assert set(DirectiveRecipient.objects.values_list("kind", flat=True)) == {
        "person",
        "organization",
        "site",
        "role",
    }
    assert set(directives.values_list("signature_kind", flat=True)) == {"typed", "pdf", ""}
    assert directives.filter(part2_tpo=True).exists()
    assert DirectiveRecipient.objects.filter(revoked_on__isnull=False).exists()
    # Pat has Part 2 records now, and Alice sees them through Pat's directive ...
    assert sees_part2(team.alice, team.pat)
    shared = directives.get(patient=team.pat, status="active")
    # ... until Pat revokes it: then the notice
    s.revoke_directive(by=team.pat_user, directive=shared, reason="no longer")
    after = gate.read(
        user=team.alice,
        patient_id=team.pat.pk,
        purpose="treatment",
        requests=[gate.Request("conditions")],
    )
    assert [r.label for r in after.withheld("conditions")] == ["substance-use"]


def test_whoever_recorded_a_directive_sees_it_though_its_category_is_hidden_from_them(team):
    # Bob (mental-health care manager) takes down Pat's substance-use directive for Alice. The
    # directive is labelled substance-use, a label Bob may not see; he must still be able to
    # open, sign or revoke what he recorded. Charlie, on the same team, still may not see it.
    directive = share(team, by=team.bob, activate=False, signature=None)

    def consents(user):
        read = gate.read(
            user=user,
            patient_id=team.pat.pk,
            purpose="treatment",
            requests=[gate.Request("consents")],
        )
        return [d.pk for d in read.data["consents"]], read.withheld("consents")

    assert consents(team.bob) == ([directive.pk], [])
    shown, withheld = consents(team.charlie)
    assert shown == [] and [r.count for r in withheld] == [1]
