"""The API tokens page: a signed-in user creates (sees the secret once) and revokes tokens."""

from __future__ import annotations

from django.urls import reverse

from tandem.audit.models import AuditEvent
from tandem.tokens import rules, services
from tandem.tokens.models import AccessToken

PAGE = reverse("api-tokens")


def create(client, **data):
    form = {"name": "Nightly export", "scopes": ["patients:read"], "expires_in_days": "30"}
    return client.post(PAGE, {**form, **data})


def test_it_needs_a_signed_in_user(client, db):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_shows_the_new_token_once_and_keeps_only_its_digest(client, team):
    client.force_login(team.alice)
    response = create(client)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = AccessToken.objects.get()
    secret = response.text.split('id="new-token-secret"')[1].split('value="')[1].split('"')[0]
    assert rules.is_well_formed(secret) and token.digest == rules.digest(secret)
    assert "cannot show it again" in response.text
    again = client.get(PAGE)
    assert secret not in again.text
    assert token.display_prefix in again.text and "Nightly export" in again.text


def test_it_lists_only_my_own_tokens(client, team):
    services.create_token(
        by=None, user=team.bob, name="Bob's script", scopes=["patients:read"], expires_in_days=5
    )
    client.force_login(team.alice)
    assert "Bob&#x27;s script" not in client.get(PAGE).text
    assert "You have no tokens yet" in client.get(PAGE).text


def test_a_bad_form_is_a_400_naming_the_field(client, team):
    client.force_login(team.alice)
    response = create(client, scopes=[])
    assert response.status_code == 400
    assert "Choose at least one scope" in response.text
    response = create(client, scopes=["root"], expires_in_days="9999")
    assert response.status_code == 400
    assert not AccessToken.objects.exists()


def test_it_revokes_my_token(client, team):
    token = services.create_token(
        by=None, user=team.alice, name="old", scopes=["patients:read"], expires_in_days=5
    ).token
    client.force_login(team.alice)
    response = client.post(reverse("api-token-revoke", args=[token.pk]), follow=True)
    assert "is revoked" in response.text and "Revoked" in response.text
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="write:revoke_token", actor_id=team.alice.pk).exists()


def test_someone_elses_token_is_a_404(client, team):
    token = services.create_token(
        by=None, user=team.bob, name="bob's", scopes=["patients:read"], expires_in_days=5
    ).token
    client.force_login(team.alice)
    assert client.post(reverse("api-token-revoke", args=[token.pk])).status_code == 404
    assert client.get(reverse("api-token-revoke", args=[token.pk])).status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_page_carries_no_inline_code_for_the_content_security_policy(client, team):
    from tests.core.test_security_headers import INLINE_HANDLER, INLINE_SCRIPT, INLINE_STYLE

    client.force_login(team.alice)
    for response in (client.get(PAGE), create(client), create(client, scopes=[])):
        assert not INLINE_SCRIPT.search(response.text)
        assert not INLINE_STYLE.search(response.text)
        assert not INLINE_HANDLER.search(response.text)
