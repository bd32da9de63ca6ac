"""Password rules (at least 12 characters, not common, not all digits, not like the username)
wherever a password is set: `tandem createuser` and the change-password page."""

from __future__ import annotations

import argparse

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tandem.audit.models import AuditEvent
from tandem.core import services
from tandem.core.lib.cli import UsageError

PASSWORD = "correct horse battery"


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("Tr0ub4dor&3", "at least 12 characters"),
        ("314159265358979", "entirely numeric"),
        ("password1234", "too common"),
        ("dana.kowalski1", "too similar to the username"),
    ],
)
def test_createuser_refuses_a_weak_password_naming_the_rule(db, monkeypatch, password, why):
    from tandem.core.cli import cmd_createuser

    monkeypatch.setenv("TANDEM_NEW_PASSWORD", password)
    args = argparse.Namespace(username="dana.kowalski", email="", superuser=False)

    with pytest.raises(UsageError, match=why):
        cmd_createuser(args)
    assert not get_user_model().objects.filter(username="dana.kowalski").exists()


def test_createuser_accepts_a_long_passphrase(db, monkeypatch, capsys):
    from tandem.core.cli import cmd_createuser

    monkeypatch.setenv("TANDEM_NEW_PASSWORD", "lantern orbit velvet cactus")

    assert cmd_createuser(argparse.Namespace(username="dana", email="", superuser=False)) == 0
    assert (
        get_user_model().objects.get(username="dana").check_password("lantern orbit velvet cactus")
    )


def test_the_service_refuses_weak_passwords_too(db):
    with pytest.raises(UsageError, match="at least 12"):
        services.create_user(by=None, username="erin", password="short-pass")


def test_bob_changes_his_password_and_stays_signed_in(client, team):
    client.post(reverse("login"), {"username": "bob", "password": PASSWORD})
    page = client.get(reverse("password-change"))
    assert "at least 12 characters" in page.text

    response = client.post(
        reverse("password-change"),
        {
            "old_password": PASSWORD,
            "new_password1": "granite meadow lantern",
            "new_password2": "granite meadow lantern",
        },
    )

    assert response.url == reverse("account")
    assert client.get(reverse("account")).wsgi_request.user.username == "bob"
    team.bob.refresh_from_db()
    assert team.bob.check_password("granite meadow lantern")
    event = AuditEvent.objects.filter(action="write:password-change").get()
    assert event.actor_username == "bob" and "granite" not in event.detail


@pytest.mark.parametrize(
    ("old", "new1", "new2", "field", "message"),
    [
        ("wrong", "granite meadow lantern", "granite meadow lantern", "old_password", "incorrect"),
        (PASSWORD, "short", "short", "new_password2", "at least 12 characters"),
        (PASSWORD, "granite meadow lantern", "granite meadow lanterns", "new_password2", "didn"),
    ],
)
def test_a_bad_change_is_refused_naming_the_field(client, team, old, new1, new2, field, message):
    client.force_login(team.bob)

    response = client.post(
        reverse("password-change"),
        {"old_password": old, "new_password1": new1, "new_password2": new2},
    )

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    team.bob.refresh_from_db()
    assert team.bob.check_password(PASSWORD)
    assert not AuditEvent.objects.filter(action="write:password-change").exists()


def test_the_change_password_page_needs_a_signed_in_user(client, db):
    assert client.get(reverse("password-change")).url.startswith(reverse("login"))


def test_other_sessions_of_bob_end_when_he_changes_his_password(client, team):
    from django.test import Client

    other = Client()
    other.force_login(team.bob)
    client.force_login(team.bob)

    client.post(
        reverse("password-change"),
        {
            "old_password": PASSWORD,
            "new_password1": "granite meadow lantern",
            "new_password2": "granite meadow lantern",
        },
    )

    assert other.get(reverse("home")).status_code == 302


def test_the_demo_logins_it_prints_meet_the_rules_and_sign_in(client, team, settings, tmp_path):
    from django.contrib.auth.password_validation import validate_password

    from tandem.workspace import demo
    from tests import builders as b

    settings.VAR_DIR = tmp_path
    for discipline in ("pcp", "care-manager", "social-worker", "psychiatrist"):
        b.care_team_member(
            patient=team.pat, practitioner=b.practitioner(discipline=discipline, sites=[team.cmhc])
        )

    for persona, password in demo.ensure_personas():
        user = get_user_model().objects.get(username=persona.username)
        validate_password(password, user)  # raises if a rule refuses it
        response = client.post(
            reverse("login"), {"username": persona.username, "password": password}
        )
        assert response.status_code == 302, persona.username
        client.post(reverse("logout"))
