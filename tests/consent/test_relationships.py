"""Stories: rows that tie a patient to a protected program are labelled and gated (issue 9, 1).

Under 42 CFR Part 2 even the fact that a person is a patient of a Part 2 program is protected,
so a care-team membership in the program, an MRN issued by its site or an appointment there
is withheld like the program's clinical records — with the same generic notice. Rows that tie
a patient to a behavioral-health program are ``mental-health`` and need consent outside
behavioral health.
"""

from __future__ import annotations

import pytest

from tandem.consent import gate
from tandem.registry.models import Coverage, PatientIdentifier
from tests import builders as b

pytestmark = pytest.mark.django_db

CARE_TEAM = [gate.Request("care_team", select_related=("practitioner", "program"))]
IDENTIFIERS = [gate.Request("identifiers", select_related=("site",))]


def read(user, patient, purpose="treatment", requests=CARE_TEAM):
    return gate.read(user=user, patient_id=patient.pk, purpose=purpose, requests=requests)


def team_names(disclosure):
    return sorted(m.practitioner.given_name for m in disclosure.data["care_team"])


def mrn_values(disclosure):
    return sorted(i.value for i in disclosure.data["identifiers"])


def sam_on_the_care_team(team):
    """Sam, the Part 2 counselor, treats Pat in the Part 2 program."""
    return b.care_team_member(
        patient=team.pat,
        practitioner=team.practitioner(team.sam),
        role="bh-clinician",
        program=team.part2_program,
    )


def harbor_mrn(team):
    """An MRN issued by the Part 2 program's site (Harbor Recovery runs only that program)."""
    return PatientIdentifier.objects.create(
        patient=team.pat,
        kind="mrn",
        system="urn:tandem:mrn:harbor-sud",
        value="H0000001",
        site=team.sud_site,
    )


def riverside_mrn(team):
    return f"M{team.pat.pk:07d}"


# --- the leak of issue 9: regression ------------------------------------------------------


@pytest.mark.parametrize(("reader", "purpose"), [("alice", "treatment"), ("leo", "operations")])
def test_it_withholds_a_part2_care_team_membership(team, reader, purpose):
    sam_on_the_care_team(team)

    disclosure = read(getattr(team, reader), team.pat, purpose)

    assert "Sam" not in team_names(disclosure)
    assert "Opioid treatment" not in {
        m.program.name for m in disclosure.data["care_team"] if m.program
    }
    part2 = [r for r in disclosure.withheld("care_team") if r.label == "substance-use"]
    assert [(r.count, r.reason) for r in part2] == [(1, gate.CONSENT_REASON)]


@pytest.mark.parametrize(("reader", "purpose"), [("alice", "treatment"), ("leo", "operations")])
def test_it_withholds_an_mrn_issued_by_the_part2_site(team, reader, purpose):
    harbor_mrn(team)

    disclosure = read(getattr(team, reader), team.pat, purpose, IDENTIFIERS)

    assert mrn_values(disclosure) == [riverside_mrn(team)]
    [notice] = disclosure.withheld("identifiers")
    assert (notice.label, notice.count, notice.reason) == ("substance-use", 1, gate.CONSENT_REASON)


def test_the_audit_trail_records_what_was_withheld(team):
    sam_on_the_care_team(team)
    harbor_mrn(team)

    read(team.alice, team.pat, requests=CARE_TEAM + IDENTIFIERS)

    from tandem.audit.models import AuditEvent

    event = AuditEvent.objects.get(actor_id=team.alice.pk, action="read")
    assert event.outcome == "redacted"
    assert "care_team:substance-usex1" in event.detail
    assert "identifiers:substance-usex1" in event.detail


# --- who still sees them ------------------------------------------------------------------


def test_the_part2_counselor_sees_them_and_keeps_the_care_team_basis(team):
    sam_on_the_care_team(team)
    harbor_mrn(team)

    disclosure = read(team.sam, team.pat, requests=CARE_TEAM + IDENTIFIERS)

    assert disclosure.basis == "care team (bh-clinician)"
    assert "Sam" in team_names(disclosure)
    assert "H0000001" in mrn_values(disclosure)
    assert not [r for r in disclosure.redactions if r.label == "substance-use"]


def test_the_patient_and_an_emergency_see_them(team):
    sam_on_the_care_team(team)
    harbor_mrn(team)

    own = read(team.pat_user, team.pat, "patient-access", CARE_TEAM + IDENTIFIERS)
    b.emergency_access(user=team.olive, patient=team.pat)  # break-the-glass (F28)
    emergency = read(team.olive, team.pat, "emergency", CARE_TEAM + IDENTIFIERS)

    for disclosure in (own, emergency):
        assert team_names(disclosure) == ["Alice", "Bob", "Charlie", "Sam"]
        assert "H0000001" in mrn_values(disclosure)
        assert disclosure.redactions == []


def test_a_consent_naming_the_pcp_discloses_them_to_her(team):
    sam_on_the_care_team(team)
    harbor_mrn(team)
    b.consent(
        patient=team.pat,
        category="substance-use",
        recipient_practitioner=team.practitioner(team.alice),
    )

    disclosure = read(team.alice, team.pat, requests=CARE_TEAM + IDENTIFIERS)

    assert "Sam" in team_names(disclosure)
    assert "H0000001" in mrn_values(disclosure)


def test_behavioral_health_staff_outside_the_part2_program_do_not_see_it(team):
    sam_on_the_care_team(team)

    disclosure = read(team.bob, team.pat)

    assert team_names(disclosure) == ["Alice", "Bob", "Charlie"]


# --- mental-health programs ---------------------------------------------------------------


def test_memberships_in_a_behavioral_health_program_need_consent_outside_it(team):
    by_pcp = read(team.alice, team.pat)
    by_psychiatrist = read(team.charlie, team.pat)

    assert team_names(by_pcp) == ["Alice"]
    [notice] = by_pcp.withheld("care_team")
    assert (notice.label, notice.count, notice.reason) == ("mental-health", 2, gate.CONSENT_REASON)
    assert team_names(by_psychiatrist) == ["Alice", "Bob", "Charlie"]


def test_an_mrn_issued_by_the_cmhc_is_mental_health(team):
    PatientIdentifier.objects.create(
        patient=team.pat, kind="mrn", system="urn:tandem:mrn:cmhc", value="C1", site=team.cmhc
    )

    assert "C1" not in mrn_values(read(team.alice, team.pat, requests=IDENTIFIERS))
    assert "C1" in mrn_values(read(team.bob, team.pat, requests=IDENTIFIERS))


# --- other rows ---------------------------------------------------------------------------


def test_an_appointment_at_the_part2_site_without_a_program_is_withheld(team):
    from tandem.scheduling.models import Appointment

    start = b.timezone.now()
    appointment = Appointment.objects.create(
        patient=team.pat,
        site=team.sud_site,
        practitioner=team.practitioner(team.sam),
        start=start,
        end=start,
    )
    sam_on_the_care_team(team)
    requests = [gate.Request("appointments")]

    assert appointment.sensitivity == "substance-use"
    assert read(team.alice, team.pat, requests=requests).data["appointments"] == []
    assert read(team.sam, team.pat, requests=requests).data["appointments"] == [appointment]


def test_a_consent_directive_carries_the_label_of_its_category(team):
    directive = b.consent(
        patient=team.pat,
        category="substance-use",
        recipient_practitioner=team.practitioner(team.alice),
    )
    requests = [gate.Request("consents")]

    assert directive.sensitivity == "substance-use"
    assert read(team.alice, team.pat, requests=requests).data["consents"] == [directive]
    assert read(team.leo, team.pat, "operations", requests).data["consents"] == []


def test_coverage_from_a_plan_run_by_a_part2_only_organization_is_withheld(team):
    org = b.organization(name="Harbor Recovery Inc.")
    site = b.site(organization=org, kind="sud-program", name="Harbor East")
    b.program(site=site, kind="sud", is_part2=True)
    plan = Coverage.objects.create(
        patient=team.pat, payer=org, kind="self-pay", start=b.dt.date(2024, 1, 1)
    )
    medicaid = Coverage.objects.create(
        patient=team.pat,
        payer=b.organization(kind="payer"),
        kind="medicaid",
        start=b.dt.date(2024, 1, 1),
    )
    requests = [gate.Request("coverage")]

    assert (plan.sensitivity, medicaid.sensitivity) == ("substance-use", "normal")
    assert read(team.alice, team.pat, requests=requests).data["coverage"] == [medicaid]


def test_a_part2_counselor_can_read_every_kind_the_gate_serves(team):
    """No kind's filter may break for a reader with Part 2 programs (measure results have none)."""
    sam_on_the_care_team(team)

    disclosure = read(team.sam, team.pat, requests=[gate.Request(k) for k in gate.KINDS])

    assert set(disclosure.data) == set(gate.KINDS)


# --- the home site ------------------------------------------------------------------------


def registered_at(team, site):
    from tandem.registry.models import Patient

    Patient.objects.filter(pk=team.pat.pk).update(home_site=site)
    team.pat.refresh_from_db()
    team.pat.save()  # labels the home site, as any write of it does
    return team.pat


def test_a_part2_home_site_is_withheld_like_a_row_of_its_own(team):
    sam_on_the_care_team(team)
    registered_at(team, team.sud_site)

    by_pcp = read(team.alice, team.pat)
    by_counselor = read(team.sam, team.pat)
    by_patient = read(team.pat_user, team.pat, "patient-access")

    assert team.pat.home_site_sensitivity == "substance-use"
    assert by_pcp.patient.home_site is None
    [notice] = by_pcp.withheld("home_site")
    assert (notice.label, notice.count, notice.reason) == ("substance-use", 1, gate.CONSENT_REASON)
    assert by_counselor.patient.home_site == team.sud_site
    assert by_patient.patient.home_site == team.sud_site


def test_a_cmhc_home_site_is_withheld_outside_behavioral_health(team):
    registered_at(team, team.cmhc)

    assert read(team.alice, team.pat).patient.home_site is None
    assert read(team.bob, team.pat).patient.home_site == team.cmhc


def test_lists_withhold_the_home_site_too(team):
    from tandem.registry import queries

    registered_at(team, team.cmhc)
    criteria = queries.Search(name="Jones")

    [by_pcp] = queries.search_patients(user=team.alice, criteria=criteria, purpose="treatment")
    [by_bh] = queries.search_patients(user=team.bob, criteria=criteria, purpose="treatment")
    [on_caseload] = queries.caseload(user=team.alice).object_list

    assert by_pcp.home_site is None and on_caseload.home_site is None
    assert by_bh.home_site == team.cmhc


def test_a_patient_read_with_its_home_site_withheld_cannot_be_saved(team):
    registered_at(team, team.cmhc)
    patient = read(team.alice, team.pat).patient

    with pytest.raises(ValueError, match="withheld"):
        patient.save()
