"""Issuing, checking and revoking personal access tokens (tandem/tokens/services.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.tokens import rules, services
from tandem.tokens.models import AccessToken


def issue(user, *scopes, days=30, name="script"):
    return services.create_token(
        by=user, user=user, name=name, scopes=scopes or ["patients:read"], expires_in_days=days
    )


def test_it_issues_a_token_in_the_documented_format(team):
    issued = issue(team.alice)
    assert issued.secret.startswith("tnd_") and len(issued.secret) == 52
    assert rules.is_well_formed(issued.secret)
    assert issued.token.prefix == issued.secret[4:12]
    assert issued.token.scope_list == ["patients:read"]
    lifetime = issued.token.expires_at - issued.token.created_at
    assert lifetime == dt.timedelta(days=30)


def test_the_database_never_holds_the_secret(team):
    issued = issue(team.alice)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tokens_accesstoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert issued.secret not in stored
    assert issued.secret[12:] not in stored  # nor the secret part on its own
    assert rules.digest(issued.secret) in stored
    audited = " ".join(e.detail for e in AuditEvent.objects.all())
    assert issued.secret[12:] not in audited


def test_each_token_is_different(team):
    secrets = {issue(team.alice).secret for _ in range(20)}
    assert len(secrets) == 20


def test_issuing_and_revoking_are_audited(team):
    issued = issue(team.alice, "patients:read", "tasks:write")
    created = AuditEvent.objects.get(action="write:create_token")
    assert created.actor_id == team.alice.pk and created.outcome == "written"
    assert f"token={issued.token.pk}" in created.detail
    assert "scopes=patients:read,tasks:write" in created.detail
    services.revoke_token(by=team.leo, token=issued.token)
    revoked = AuditEvent.objects.get(action="write:revoke_token")
    assert revoked.actor_id == team.leo.pk


def test_authenticate_returns_the_active_token_and_records_its_use(team):
    issued = issue(team.alice)
    token = services.authenticate(presented=issued.secret)
    assert token.pk == issued.token.pk and token.user == team.alice
    assert AccessToken.objects.get().last_used_at is not None


def test_authenticate_records_use_at_most_once_a_minute(team):
    issued = issue(team.alice)
    services.authenticate(presented=issued.secret)
    first = AccessToken.objects.get().last_used_at
    services.authenticate(presented=issued.secret)
    assert AccessToken.objects.get().last_used_at == first


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"revoked_at": timezone.now()}, "revoked"),
        (
            {
                "created_at": timezone.now() - dt.timedelta(days=40),
                "expires_at": timezone.now() - dt.timedelta(days=10),
            },
            "expired",
        ),
    ],
)
def test_authenticate_refuses_revoked_and_expired_tokens_and_audits(team, change, code):
    issued = issue(team.alice)
    AccessToken.objects.update(**change)
    with pytest.raises(services.TokenRefused) as refused:
        services.authenticate(presented=issued.secret)
    assert refused.value.code == code
    event = AuditEvent.objects.get(action="api-auth")
    assert (event.outcome, event.actor_id) == ("denied", team.alice.pk)


@pytest.mark.parametrize(
    "presented", ["", "tnd_", "tnd_" + "a" * 47, "TND_" + "a" * 48, "tnd_" + "é" * 48]
)
def test_authenticate_refuses_malformed_tokens_as_anonymous(db, presented):
    with pytest.raises(services.TokenRefused) as refused:
        services.authenticate(presented=presented)
    assert refused.value.code == "malformed"
    assert AuditEvent.objects.get().actor_username == "anonymous"


def test_a_token_with_the_right_prefix_and_a_wrong_secret_is_unknown(team):
    issued = issue(team.alice)
    forged = issued.secret[:12] + "Z" * 40
    with pytest.raises(services.TokenRefused) as refused:
        services.authenticate(presented=forged)
    assert refused.value.code == "unknown"
    assert AccessToken.objects.get().last_used_at is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scopes": ["patients:write"]}, "unknown scope 'patients:write'"),
        ({"scopes": []}, "at least one scope"),
        ({"expires_in_days": 0}, "1 to 366 days"),
        ({"expires_in_days": 367}, "1 to 366 days"),
        ({"name": "  "}, "give the token a name"),
    ],
)
def test_it_refuses_bad_requests_for_a_token(team, kwargs, message):
    args = {"name": "x", "scopes": ["patients:read"], "expires_in_days": 30, **kwargs}
    with pytest.raises(ValueError, match=message):
        services.create_token(by=None, user=team.alice, **args)
    assert not AccessToken.objects.exists()


def test_it_refuses_to_revoke_twice(team):
    issued = issue(team.alice)
    services.revoke_token(by=team.alice, token=issued.token)
    with pytest.raises(ValueError, match="already revoked"):
        services.revoke_token(by=team.alice, token=issued.token)


def test_scopes_may_be_given_with_commas_and_come_back_in_a_fixed_order():
    assert rules.parse_scopes(["tasks:write,patients:read", "tasks:write"]) == [
        "patients:read",
        "tasks:write",
    ]
