"""``gate.visible_patient_rows`` (lists of many patients' rows) decides as ``visible_patients``,
and the care-team patients are listed by id whatever the caseload (issue 10: plans at scale)."""

from __future__ import annotations

import pytest

from tandem.consent import gate
from tandem.registry.models import Patient
from tests import builders as b
from tests.personas import build_team

pytestmark = pytest.mark.django_db


def _both(user, purpose):
    listed = set(gate.visible_patients(user=user, purpose=purpose).values_list("pk", flat=True))
    rows = gate.visible_patient_rows(user=user, purpose=purpose, field="pk")
    return listed, set(Patient.objects.filter(rows).values_list("pk", flat=True))


@pytest.mark.parametrize("who", ["alice", "bob", "sam", "leo", "olive", "pat_user"])
@pytest.mark.parametrize("purpose", ["treatment", "operations", "patient-access", "emergency"])
def test_rows_of_visible_patients_are_the_visible_patients(who, purpose):
    team = build_team()
    b.patient(given_name="Other", family_name="Stranger")  # nobody's
    user = getattr(team, who) if who != "pat_user" else team.pat.user

    listed, rows = _both(user, purpose)

    assert rows == listed


def test_a_caseload_above_the_listed_limit_is_read_as_a_subquery(monkeypatch):
    team = build_team()
    monkeypatch.setattr(gate, "CARE_TEAM_IDS_LISTED", 0)

    listed, rows = _both(team.alice, "treatment")

    assert team.pat.pk in listed and rows == listed
