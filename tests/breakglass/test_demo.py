"""The demo has a reviewed (justified) and an unreviewed break-the-glass, seeded once."""

from __future__ import annotations

import pytest

from tandem.breakglass import demo
from tandem.breakglass.models import EmergencyAccess
from tests import builders as b

pytestmark = pytest.mark.django_db


def test_seeding_gives_one_reviewed_and_one_unreviewed_grant_once(team):
    b.patient(given_name="Quinn", family_name="Other", mrn_site=team.pc_site)
    personas = {"bh-clinician": team.sam, "pcp": team.olive, "privacy": team.priya}

    demo.seed_demo(personas=personas)
    demo.seed_demo(personas=personas)

    grants = {g.user.username: g for g in EmergencyAccess.objects.all()}
    assert sorted(grants) == ["olive", "sam"]
    assert (grants["sam"].review_status, grants["sam"].reviewer) == ("justified", team.priya)
    assert grants["olive"].review_status == "unreviewed"
    assert grants["sam"].patient != grants["olive"].patient
