"""The demo's set-up (tandem.workspace.demo): persona logins and a day's work on first start."""

from __future__ import annotations

import json
import stat

from django.contrib.auth import get_user_model

from tandem.cli import build_parser
from tandem.core.models import Practitioner, SiteRole
from tandem.workspace import demo
from tests import builders as b

KEYS = {
    "pcp", "care-manager", "bh-clinician", "psychiatrist", "leader", "privacy", "outsider", "patient"
}  # fmt: skip


def test_tandem_demo_is_a_workspace_command():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sub.choices["demo"].get_default("func").__module__ == "tandem.workspace.cli"


def test_it_creates_one_login_per_persona_and_keeps_their_passwords(team, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    for discipline in ("pcp", "care-manager", "social-worker", "psychiatrist"):
        b.care_team_member(
            patient=team.pat, practitioner=b.practitioner(discipline=discipline, sites=[team.cmhc])
        )

    first = dict((p.username, password) for p, password in demo.ensure_personas())
    again = dict((p.username, password) for p, password in demo.ensure_personas())

    assert first == again and len(first) == len(KEYS)
    credentials = tmp_path / "demo-credentials.json"
    assert json.loads(credentials.read_text()) == first
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    users = demo.persona_users()
    assert set(users) == KEYS
    assert get_user_model().objects.get(username="caremanager").check_password(first["caremanager"])
    assert Practitioner.objects.get(user=users["care-manager"]).discipline == "care-manager"
    assert Practitioner.objects.get(user=users["outsider"]).family_name == "Outsider"
    leader_sites = SiteRole.objects.filter(user=users["leader"], role="leader").count()
    assert leader_sites == 3  # every site
    officer = SiteRole.objects.filter(user=users["privacy"], role="privacy-officer").count()
    assert officer == 3 and users["privacy"].email  # every site; the anchor digest is mailed


def test_bring_to_life_seeds_each_apps_demo_work_and_says_so(team, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    demo.ensure_personas()
    said: list[str] = []

    demo.bring_to_life(personas=demo.persona_users(), refresh=False, say=said.append)
    demo.bring_to_life(personas=demo.persona_users(), refresh=False, say=said.append)

    assert said == ["Seeding the day's work (tasks, worklist items, contact attempts)…"] * 2
    assert [seed.__module__ for seed in demo.SEEDS] == [
        "tandem.tasks.services",
        "tandem.outreach.services",
        "tandem.breakglass.demo",
        "tandem.consent.demo",
        "tandem.audit.demo",
    ]
