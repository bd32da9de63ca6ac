"""Stories about who sees what through consent.gate."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.consent import gate
from tests import builders as b

pytestmark = pytest.mark.django_db

CONDITIONS = [gate.Request("conditions")]
NOTES = [gate.Request("notes")]


def read(user, patient, purpose="treatment", requests=CONDITIONS):
    return gate.read(user=user, patient_id=patient.pk, purpose=purpose, requests=requests)


def codes(disclosure, kind="conditions"):
    return sorted(row.code for row in disclosure.data[kind])


def part2_diagnosis(team):
    return b.condition(
        patient=team.pat, code="F11.20", display="Opioid dependence", program=team.part2_program
    )


def test_psychotherapy_notes_reach_only_their_author(team):
    charlie = team.practitioner(team.charlie)
    b.note(
        patient=team.pat,
        author=charlie,
        note_type="psychotherapy",
        program=team.bh_program,
        title="Session 4",
        text="Process notes",
    )
    b.note(patient=team.pat, author=charlie, note_type="progress", program=team.bh_program)

    by_author = read(team.charlie, team.pat, requests=NOTES)
    by_colleague = read(team.bob, team.pat, requests=NOTES)
    by_pcp = read(team.alice, team.pat, requests=NOTES)
    by_patient = read(team.pat_user, team.pat, "patient-access", NOTES)

    assert sorted(n.note_type for n in by_author.data["notes"]) == ["progress", "psychotherapy"]
    assert [n.note_type for n in by_colleague.data["notes"]] == ["progress"]
    assert by_colleague.withheld("notes")[0].label == "psychotherapy-note"
    assert by_pcp.data["notes"] == []  # the progress note is mental-health: no consent
    assert {r.label for r in by_pcp.withheld("notes")} == {"psychotherapy-note", "mental-health"}
    assert [n.note_type for n in by_patient.data["notes"]] == ["progress"]


def test_psychotherapy_notes_stay_hidden_even_in_an_emergency(team):
    charlie = team.practitioner(team.charlie)
    b.note(patient=team.pat, author=charlie, note_type="psychotherapy", program=team.bh_program)
    b.emergency_access(user=team.olive, patient=team.pat)  # break-the-glass (F28)

    disclosure = read(team.olive, team.pat, "emergency", NOTES)

    assert disclosure.data["notes"] == []
    assert disclosure.withheld("notes")[0].reason.startswith("Psychotherapy notes")


def test_part2_rows_are_redacted_without_consent_with_a_notice(team):
    part2_diagnosis(team)
    b.condition(patient=team.pat, code="E11.9", program=team.pc_program)

    disclosure = read(team.alice, team.pat)

    assert codes(disclosure) == ["E11.9"]
    [notice] = disclosure.withheld("conditions")
    assert (notice.label, notice.count) == ("substance-use", 1)
    assert "42 CFR Part 2" in notice.reason


def test_part2_rows_are_shown_with_the_patients_consent(team):
    part2_diagnosis(team)
    b.consent(
        patient=team.pat,
        category="substance-use",
        recipient_practitioner=team.practitioner(team.alice),
    )

    disclosure = read(team.alice, team.pat)

    assert codes(disclosure) == ["F11.20"]
    assert disclosure.redactions == []


def test_consent_for_a_care_team_role_covers_whoever_holds_it(team):
    part2_diagnosis(team)
    b.consent(
        patient=team.pat, category="substance-use", recipient_kind="role", recipient_role="pcp"
    )

    assert codes(read(team.alice, team.pat)) == ["F11.20"]


def test_consent_naming_someone_else_does_not_help(team):
    part2_diagnosis(team)
    b.consent(
        patient=team.pat,
        category="substance-use",
        recipient_practitioner=team.practitioner(team.bob),
    )

    assert codes(read(team.alice, team.pat)) == []


@pytest.mark.parametrize("change", ["revoked", "expired", "future", "other-purpose"])
def test_consent_that_is_not_in_force_does_not_count(team, change):
    part2_diagnosis(team)
    today = timezone.localdate()
    fields = {
        "patient": team.pat,
        "category": "substance-use",
        "recipient_practitioner": team.practitioner(team.alice),
    }
    if change == "revoked":
        fields["status"] = "revoked"
    if change == "expired":
        fields.update(start=today - dt.timedelta(days=30), end=today - dt.timedelta(days=1))
    if change == "future":
        fields["start"] = today + dt.timedelta(days=1)
    if change == "other-purpose":
        fields["purpose"] = "operations"
    b.consent(**fields)

    assert codes(read(team.alice, team.pat)) == []


def test_members_of_the_part2_program_see_its_records(team):
    part2_diagnosis(team)
    sam = team.practitioner(team.sam)
    b.care_team_member(patient=team.pat, practitioner=sam, role="bh-clinician")

    assert codes(read(team.sam, team.pat)) == ["F11.20"]


def test_mental_health_rows_need_consent_outside_behavioral_health(team):
    b.condition(patient=team.pat, code="F20.9", program=team.bh_program)

    assert codes(read(team.bob, team.pat)) == ["F20.9"]  # inside the BH program
    assert codes(read(team.alice, team.pat)) == []
    b.consent(
        patient=team.pat,
        category="mental-health",
        recipient_practitioner=team.practitioner(team.alice),
    )
    assert codes(read(team.alice, team.pat)) == ["F20.9"]


def test_a_diagnosis_made_in_primary_care_is_primary_cares_own_record(team):
    b.condition(patient=team.pat, code="F32.1", program=team.pc_program)

    assert codes(read(team.alice, team.pat)) == ["F32.1"]


def test_the_patient_sees_their_own_sensitive_records(team):
    part2_diagnosis(team)
    b.condition(patient=team.pat, code="F20.9", program=team.bh_program)

    assert codes(read(team.pat_user, team.pat, "patient-access")) == ["F11.20", "F20.9"]


def test_a_patient_cannot_read_another_patient(team):
    other = b.patient(mrn_site=team.pc_site)

    with pytest.raises(gate.AccessDenied):
        read(team.pat_user, other, "patient-access")


def test_the_outsider_is_refused_and_the_refusal_is_audited(team):
    with pytest.raises(gate.AccessDenied):
        read(team.olive, team.pat)

    event = AuditEvent.objects.get(actor_id=team.olive.pk)
    assert (event.patient_id, event.outcome, event.purpose) == (team.pat.pk, "denied", "treatment")


def test_a_missing_patient_is_refused_like_a_forbidden_one(team):
    with pytest.raises(gate.AccessDenied):
        gate.read(user=team.alice, patient_id=999_999, purpose="treatment", requests=CONDITIONS)

    assert AuditEvent.objects.filter(patient_id=999_999, outcome="denied").count() == 1


def test_an_ended_care_team_membership_grants_nothing(team):
    other = b.patient()
    b.care_team_member(
        patient=other,
        practitioner=team.practitioner(team.alice),
        start=dt.date(2020, 1, 1),
        end=dt.date(2021, 1, 1),
    )

    with pytest.raises(gate.AccessDenied):
        read(team.alice, other)


def test_a_leader_sees_operations_data_but_not_behavioral_health_rows(team):
    b.condition(patient=team.pat, code="E11.9", program=team.pc_program)
    b.condition(patient=team.pat, code="F20.9", program=team.bh_program)

    disclosure = read(team.leo, team.pat, "operations")

    assert codes(disclosure) == ["E11.9"]
    assert disclosure.withheld("conditions")[0].label == "mental-health"
    with pytest.raises(gate.AccessDenied):
        read(team.leo, team.pat, "treatment")


def test_visible_patients_follow_relationships(team):
    stranger = b.patient()

    def ids(user, purpose="treatment"):
        return set(gate.visible_patients(user=user, purpose=purpose).values_list("pk", flat=True))

    assert ids(team.alice) == {team.pat.pk}
    assert ids(team.olive) == set()
    assert ids(team.leo, "operations") == {team.pat.pk}
    assert ids(team.pat_user, "patient-access") == {team.pat.pk}
    assert stranger.pk not in ids(team.leo, "operations")


def test_every_read_is_audited_with_its_outcome(team):
    part2_diagnosis(team)

    read(team.alice, team.pat)
    read(team.bob, team.pat, requests=[gate.Request("encounters")])

    events = list(AuditEvent.objects.filter(patient_id=team.pat.pk).order_by("pk"))
    assert [(e.actor_username, e.outcome, e.categories) for e in events] == [
        ("alice", "redacted", "conditions"),
        ("bob", "shown", "encounters"),
    ]
    assert "substance-use" in events[0].detail
    assert "F11" not in events[0].detail  # no clinical content in the audit trail


def test_notices_do_not_name_the_category_they_withhold(team):
    part2_diagnosis(team)
    b.condition(patient=team.pat, code="F20.9", program=team.bh_program)

    disclosure = read(team.alice, team.pat)

    reasons = {r.reason for r in disclosure.withheld("conditions")}
    assert len(reasons) == 1  # Part 2 and mental health withheld with one generic reason
    assert {r.label for r in disclosure.withheld("conditions")} == {
        "substance-use",
        "mental-health",
    }


def test_operations_never_see_clinical_notes(team):
    b.note(patient=team.pat, author=team.practitioner(team.alice), program=team.pc_program)

    disclosure = read(team.leo, team.pat, "operations", NOTES)

    assert disclosure.data["notes"] == []
    assert disclosure.withheld("notes")[0].label == "minimum-necessary"
