"""Stories of break-the-glass (F28): Olive, a nurse outside Pat's care team, declares an
emergency; the gate lets her read Pat (only Pat, only until expiry); Alice, Bob and Charlie
(Pat's care team) and the privacy office are alerted; Priya reviews it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.breakglass import queries, rules, services
from tandem.breakglass.models import EmergencyAccess
from tandem.consent import gate
from tandem.tasks.models import Task
from tests import builders as b

pytestmark = pytest.mark.django_db

REASON = "Unresponsive in the ED, no family reachable; need medication list and allergies."
CONDITIONS = [gate.Request("conditions")]


def read(user, patient, purpose="treatment"):
    return gate.read(user=user, patient_id=patient.pk, purpose=purpose, requests=CONDITIONS)


def declare(team, user=None, patient=None, reason=REASON):
    return services.declare(
        by=user or team.olive, patient_id=(patient or team.pat).pk, reason=reason
    )


def events(user, action):
    return list(AuditEvent.objects.filter(actor_id=user.pk, action=action).order_by("pk"))


# --- the old hole: emergency without a grant ------------------------------------------------


def test_an_emergency_read_without_a_grant_is_denied_and_audited(team):
    """Regression: the gate gave ANY active practitioner an emergency basis to any patient."""
    with pytest.raises(gate.AccessDenied):
        read(team.olive, team.pat, "emergency")

    denied = events(team.olive, "read")[-1]
    assert (denied.outcome, denied.purpose, denied.patient_id) == (
        "denied",
        "emergency",
        team.pat.pk,
    )


def test_without_a_grant_the_outsider_still_sees_nothing_for_treatment(team):
    with pytest.raises(gate.AccessDenied):
        read(team.olive, team.pat)


# --- declaring ---------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   ", "just because"])
def test_a_declaration_needs_a_reason_and_a_refusal_is_audited(team, reason):
    with pytest.raises(services.BreakGlassError) as refused:
        declare(team, reason=reason)

    assert refused.value.field == "reason"
    assert not EmergencyAccess.objects.exists()
    denied = events(team.olive, "break-the-glass")[-1]
    assert (denied.outcome, denied.patient_id, denied.purpose) == (
        "denied",
        team.pat.pk,
        "emergency",
    )
    with pytest.raises(gate.AccessDenied):
        read(team.olive, team.pat)


def test_only_practitioners_may_declare(team):
    for user in (team.leo, team.priya, team.pat_user):
        with pytest.raises(gate.AccessDenied):
            declare(team, user=user)
    assert not EmergencyAccess.objects.exists()
    assert events(team.leo, "break-the-glass")[-1].outcome == "denied"


def test_a_grant_lasts_the_configured_minutes(team, settings):
    settings.TANDEM_BREAK_GLASS_MINUTES = 45
    grant = declare(team)

    assert grant.expires_at - grant.declared_at == dt.timedelta(minutes=45)
    assert grant.review_status == "unreviewed"
    written = events(team.olive, "break-the-glass")[-1]
    assert (written.outcome, written.patient_id, written.purpose) == (
        "written",
        team.pat.pk,
        "emergency",
    )
    assert REASON not in written.detail  # the reason stays on the grant, not in the trail


def test_declaring_again_while_active_returns_the_same_grant_without_new_alerts(team):
    first = declare(team)
    tasks = Task.objects.count()

    assert declare(team) == first
    assert Task.objects.count() == tasks


def test_a_member_of_the_care_team_needs_no_emergency_access(team):
    with pytest.raises(services.BreakGlassError) as refused:
        declare(team, user=team.alice)
    assert refused.value.code == "not-needed"
    assert not EmergencyAccess.objects.exists()


def test_a_missing_patient_is_refused_like_any_other_refusal(team):
    with pytest.raises(gate.AccessDenied):
        services.declare(by=team.olive, patient_id=999_999, reason=REASON)
    assert events(team.olive, "break-the-glass")[-1].outcome == "denied"


# --- what the grant gives ------------------------------------------------------------------


def test_with_a_grant_the_reader_sees_the_patient_under_the_emergency_policy(team):
    b.condition(patient=team.pat, program=team.pc_program, code="E11.9")
    b.condition(patient=team.pat, program=team.bh_program, code="F20.9")
    b.condition(patient=team.pat, program=team.part2_program, code="F11.20")
    charlie = team.practitioner(team.charlie)
    b.note(patient=team.pat, author=charlie, note_type="psychotherapy", program=team.bh_program)
    declare(team)

    disclosure = gate.read(
        user=team.olive,
        patient_id=team.pat.pk,
        purpose="treatment",
        requests=[*CONDITIONS, gate.Request("notes")],
    )

    assert disclosure.basis == "emergency access (break-the-glass)"
    assert disclosure.purpose == "emergency"
    assert sorted(c.code for c in disclosure.data["conditions"]) == ["E11.9", "F11.20", "F20.9"]
    assert disclosure.data["notes"] == []  # psychotherapy notes: still never
    assert {r.label for r in disclosure.withheld("notes")} == {"psychotherapy-note"}
    shown = events(team.olive, "read")[-1]
    assert (shown.purpose, shown.patient_id) == ("emergency", team.pat.pk)


def test_a_grant_covers_only_its_patient(team):
    other = b.patient(given_name="Quinn", family_name="Other", mrn_site=team.pc_site)
    declare(team)

    with pytest.raises(gate.AccessDenied):
        read(team.olive, other)
    with pytest.raises(gate.AccessDenied):
        read(team.olive, other, "emergency")


def test_a_grant_covers_only_its_holder(team):
    declare(team)
    with pytest.raises(gate.AccessDenied):
        read(team.sam, team.pat, "emergency")


def test_after_expiry_the_gate_denies_again(team):
    grant = declare(team)
    EmergencyAccess.objects.filter(pk=grant.pk).update(
        declared_at=timezone.now() - dt.timedelta(minutes=61),
        expires_at=timezone.now() - dt.timedelta(minutes=1),
    )

    with pytest.raises(gate.AccessDenied):
        read(team.olive, team.pat)
    with pytest.raises(gate.AccessDenied):
        read(team.olive, team.pat, "emergency")
    assert queries.active_grant(team.olive, team.pat.pk) is None
    assert EmergencyAccess.objects.filter(pk=grant.pk).exists()  # stays in history


def test_a_deactivated_practitioner_loses_the_grant(team):
    declare(team)
    olive = team.practitioner(team.olive)
    olive.active = False
    olive.save()

    with pytest.raises(gate.AccessDenied):
        read(team.olive, team.pat)


# --- alerts --------------------------------------------------------------------------------


def test_the_care_team_and_the_privacy_office_are_alerted(team):
    grant = declare(team)

    alerts = Task.objects.filter(source="alert", source_ref=f"breakglass:{grant.pk}")
    owners = sorted(t.owner.username for t in alerts if t.owner_id)
    assert owners == ["alice", "bob", "charlie"]
    office = [t for t in alerts if t.queue_id]
    assert [t.queue.key for t in office] == [rules.PRIVACY_QUEUE_KEY]
    assert list(office[0].queue.members.all()) == [team.priya]
    olive = queries.person_name(team.olive)
    assert olive.startswith("Olive")
    assert {t.title for t in alerts} == {f"Emergency access to Pat Jones by {olive}: please review"}
    assert all(REASON not in t.title and REASON not in t.detail for t in alerts)


# --- look-up -------------------------------------------------------------------------------


def test_the_lookup_matches_an_exact_mrn_or_name_and_birth_date_only(team):
    mrn = team.pat.identifiers.get(kind="mrn").value
    exact = queries.Lookup(family_name="jones", given_name="PAT", birth_date=team.pat.birth_date)

    assert queries.find_exactly(queries.Lookup(mrn=mrn)) == team.pat.pk
    assert queries.find_exactly(exact) == team.pat.pk
    assert queries.find_exactly(queries.Lookup(mrn=mrn[:-1])) is None
    assert queries.find_exactly(queries.Lookup(family_name="Jon", given_name="Pat")) is None
    partial = queries.Lookup(family_name="Jones", given_name="Pa", birth_date=team.pat.birth_date)
    assert queries.find_exactly(partial) is None


def test_a_lookup_without_a_reason_looks_nobody_up(team):
    mrn = team.pat.identifiers.get(kind="mrn").value
    with pytest.raises(services.BreakGlassError):
        services.declare_by_lookup(by=team.olive, lookup=queries.Lookup(mrn=mrn), reason="")
    with pytest.raises(services.BreakGlassError):
        services.declare_by_lookup(by=team.olive, lookup=queries.Lookup(mrn="nobody"), reason="")

    details = [e.detail for e in events(team.olive, "break-the-glass")]
    assert details == ["no reason given", "no reason given"]  # hit and miss look the same
    assert all(e.patient_id is None for e in events(team.olive, "break-the-glass"))


def test_misses_are_audited_and_limited_per_hour(team):
    mrn = team.pat.identifiers.get(kind="mrn").value
    for _ in range(rules.MAX_MISSES_PER_HOUR):
        with pytest.raises(services.NoMatch):
            services.declare_by_lookup(
                by=team.olive, lookup=queries.Lookup(mrn="X-NOPE"), reason=REASON
            )
    with pytest.raises(services.TooManyMisses):
        services.declare_by_lookup(by=team.olive, lookup=queries.Lookup(mrn=mrn), reason=REASON)

    assert not EmergencyAccess.objects.exists()
    outcomes = [e.outcome for e in events(team.olive, "break-the-glass")]
    assert outcomes == ["denied"] * (rules.MAX_MISSES_PER_HOUR + 1)


# --- review --------------------------------------------------------------------------------


def test_the_privacy_officer_marks_it_justified_with_a_note(team):
    grant = declare(team)

    reviewed = services.review(
        by=team.priya, grant=grant, justified=True, note="ED visit confirmed."
    )

    assert (reviewed.review_status, reviewed.reviewer, reviewed.review_note) == (
        "justified",
        team.priya,
        "ED visit confirmed.",
    )
    assert events(team.priya, "break-the-glass-review")[-1].outcome == "written"
    office = Task.objects.get(source_ref=f"breakglass:{grant.pk}", owner__isnull=True)
    assert (office.status, office.outcome) == ("done", "Reviewed: justified.")
    care_team = Task.objects.filter(source_ref=f"breakglass:{grant.pk}", owner__isnull=False)
    assert {t.status for t in care_team} == {"open"}  # theirs to close


def test_not_justified_needs_a_note(team):
    grant = declare(team)
    with pytest.raises(services.BreakGlassError) as refused:
        services.review(by=team.priya, grant=grant, justified=False, note=" ")
    assert refused.value.field == "note"
    grant.refresh_from_db()
    assert grant.review_status == "unreviewed"


def test_only_a_privacy_officer_reviews_and_only_once(team):
    grant = declare(team)
    for user in (team.leo, team.alice, team.olive):
        with pytest.raises(gate.AccessDenied):
            services.review(by=user, grant=grant, justified=True, note="")
    assert events(team.leo, "break-the-glass-review")[-1].outcome == "denied"

    services.review(by=team.priya, grant=grant, justified=False, note="No emergency on record.")
    with pytest.raises(services.BreakGlassError) as again:
        services.review(by=team.priya, grant=grant, justified=True, note="")
    assert again.value.code == "reviewed"


def test_the_review_shows_the_access_events_of_the_grant(team):
    grant = declare(team)
    read(team.olive, team.pat)
    read(team.alice, team.pat)  # someone else's read is not part of this grant

    detail = queries.grant_detail(user=team.priya, pk=grant.pk)

    actions = [(e.action, e.actor_username) for e in detail.events]
    assert actions[0] == ("break-the-glass", "olive")
    assert actions[-1] == ("read", "olive")
    assert {a for a, _ in actions[1:-1]} == {"write:create_task"}  # the alerts it raised
    assert all(who == "olive" for _, who in actions)
    assert detail.active


def test_the_review_queue_is_for_privacy_officers_only_and_lists_unreviewed_first(team):
    first = declare(team)
    services.review(by=team.priya, grant=first, justified=True, note="")
    other = b.patient(given_name="Quinn", family_name="Other", mrn_site=team.pc_site)
    second = declare(team, patient=other)

    assert list(queries.review_queue(user=team.priya)) == [second, first]
    with pytest.raises(gate.AccessDenied):
        queries.review_queue(user=team.alice)
    with pytest.raises(gate.AccessDenied):
        queries.grant_detail(user=team.olive, pk=first.pk)
    assert events(team.alice, "break-the-glass-review")[-1].outcome == "denied"
