"""``tandem token create|list|revoke``: bad input is one line and exit status 2."""

from __future__ import annotations

import pytest

from tandem.cli import main
from tandem.tokens import rules, services
from tandem.tokens.models import AccessToken


def _refused(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(argv))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_it_creates_a_token_and_prints_it_once(team, capsys):
    argv = ["token", "create", "--user", "alice", "--scope", "patients:read"]
    assert main([*argv, "--scope", "tasks:read", "--expires-in-days", "7"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert rules.is_well_formed(out[0])
    token = AccessToken.objects.get()
    assert token.user == team.alice and token.scope_list == ["patients:read", "tasks:read"]
    assert services.authenticate(presented=out[0]) == token
    assert "expires" in out[1]


def test_it_lists_tokens_without_their_secrets(team, capsys):
    secret = services.create_token(
        by=None, user=team.alice, name="nightly", scopes=["patients:read"], expires_in_days=5
    ).secret
    assert main(["token", "list"]) == 0
    out = capsys.readouterr().out
    assert "alice" in out and "nightly" in out and "active" in out
    assert secret[:12] in out and secret[12:] not in out
    assert main(["token", "list", "--user", "bob"]) == 0
    assert capsys.readouterr().out.strip() == "no tokens"


def test_it_revokes_a_token(team, capsys):
    token = services.create_token(
        by=None, user=team.alice, name="x", scopes=["patients:read"], expires_in_days=5
    ).token
    assert main(["token", "revoke", str(token.pk)]) == 0
    assert "revoked" in capsys.readouterr().out
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "already revoked" in _refused(capsys, ["token", "revoke", str(token.pk)])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "create", "--user", "nobody", "--scope", "patients:read"], "no user 'nobody'"),
        (["token", "create", "--user", "alice", "--scope", "everything"], "unknown scope"),
        (["token", "create", "--user", "alice"], "--scope"),
        (
            [
                "token",
                "create",
                "--user",
                "alice",
                "--scope",
                "patients:read",
                "--expires-in-days",
                "0",
            ],
            "1 to 366 days",
        ),
        (
            [
                "token",
                "create",
                "--user",
                "alice",
                "--scope",
                "patients:read",
                "--expires-in-days",
                "soon",
            ],
            "not a number",
        ),
        (["token", "revoke", "12345"], "no token 12345"),
        (["token", "revoke", "abc"], "whole number"),
        (["token", "revoke", "99999999999999999999"], "whole number"),
        (["token", "list", "--user", "nobody"], "no user 'nobody'"),
        (["token"], "required"),
    ],
)
def test_it_refuses_bad_input_in_one_line(team, capsys, argv, message):
    assert message in _refused(capsys, argv)
    assert not AccessToken.objects.exists()
