"""Priya, the privacy officer: a role that reads audit data and never a chart."""

from __future__ import annotations

import pytest

from tandem.consent import gate
from tandem.core.queries import is_privacy_officer, privacy_officers, role_of
from tandem.workspace import rules as workspace_rules

pytestmark = pytest.mark.django_db


def test_priya_works_as_privacy_officer_and_nobody_else_does(team):
    assert role_of(team.priya).key == "privacy-officer"
    assert role_of(team.priya).label == "Privacy officer"
    assert is_privacy_officer(team.priya)
    assert not any(is_privacy_officer(u) for u in (team.alice, team.leo, team.olive, team.pat_user))
    assert list(privacy_officers()) == [team.priya]


def test_an_inactive_privacy_officer_is_not_one(team):
    team.priya.is_active = False
    team.priya.save()
    assert not is_privacy_officer(team.priya)
    assert list(privacy_officers()) == []


def test_the_privacy_officer_role_gives_no_purpose_for_charts(team):
    for purpose in ("treatment", "operations"):
        assert team.pat.pk not in set(
            gate.visible_patients(user=team.priya, purpose=purpose).values_list("pk", flat=True)
        )


def test_the_privacy_officer_sees_the_audit_log_and_disclosures_but_no_patient_search():
    keys = [entry.url_name for entry in workspace_rules.entries_for("privacy-officer")]
    assert "audit-log" in keys and "audit-disclosures-index" in keys
    assert "patient-search" not in keys
    assert "audit-log" not in [e.url_name for e in workspace_rules.entries_for("leader")]
    assert workspace_rules.home_for("privacy-officer").heading == "Privacy and audit"
