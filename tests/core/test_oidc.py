"""Signing in through an OpenID Connect provider, against a stub provider run by the test.

The stub is a small HTTP server on 127.0.0.1 in a thread: discovery, the authorization
endpoint (which signs in whoever the test says, then sends the browser back with a code), the
token endpoint (checks the client secret, the code, the redirect URI and the PKCE verifier;
answers an RS256 ID token), JWKS and userinfo. The test drives the real redirect flow: Django's
test client for Tandem, plain HTTP for the provider.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model
from django.urls import reverse

from tandem.audit import services as audit
from tandem.audit.models import AuditEvent
from tandem.core.lib import oidc

CLIENT_ID = "tandem-test"
CLIENT_SECRET = "stub-secret-" + "x" * 20


@dataclass
class StubProvider:
    """What the provider will say about the person signing in, and how it misbehaves."""

    url: str = ""
    claims: dict[str, Any] = field(default_factory=dict)
    token_overrides: dict[str, Any] = field(default_factory=dict)
    key: Any = None
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def id_token(self, grant: dict[str, str]) -> str:
        now = int(time.time())
        payload = {
            "iss": self.url,
            "aud": CLIENT_ID,
            "sub": "stub-" + str(self.claims.get("email", "")),
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **self.token_overrides,
        }
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": "stub-key"})


def _handler(stub: StubProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, body: Any, status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/.well-known/openid-configuration":
                self._json(
                    {
                        "issuer": stub.url,
                        "authorization_endpoint": f"{stub.url}/authorize",
                        "token_endpoint": f"{stub.url}/token",
                        "userinfo_endpoint": f"{stub.url}/userinfo",
                        "jwks_uri": f"{stub.url}/jwks",
                    }
                )
            elif parts.path == "/authorize":
                assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
                assert query["code_challenge_method"] == "S256"
                code = secrets.token_urlsafe(16)
                stub.codes[code] = query
                back = (
                    f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
                )
                self.send_response(302)
                self.send_header("Location", back)
                self.end_headers()
            elif parts.path == "/jwks":
                public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(stub.key.public_key()))
                self._json({"keys": [{**public, "kid": "stub-key", "use": "sig", "alg": "RS256"}]})
            elif parts.path == "/userinfo":
                if self.headers.get("Authorization") != "Bearer stub-access-token":
                    self._json({"error": "invalid_token"}, 401)
                else:
                    self._json(stub.claims)
            else:
                self._json({"error": "not found"}, 404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            stub.token_requests.append(form)
            grant = stub.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .decode()
                .rstrip("=")
            )
            if (
                grant is None
                or form.get("client_secret") != CLIENT_SECRET
                or form.get("redirect_uri") != grant["redirect_uri"]
                or challenge != grant["code_challenge"]
            ):
                self._json({"error": "invalid_grant"}, 400)
                return
            self._json(
                {
                    "access_token": "stub-access-token",
                    "token_type": "Bearer",
                    "id_token": stub.id_token(grant),
                }
            )

    return Handler


@pytest.fixture
def provider(settings) -> Iterator[StubProvider]:
    stub = StubProvider(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.TANDEM_OIDC_ISSUER = stub.url
    settings.TANDEM_OIDC_PROVIDER_NAME = "County Health ID"
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_RP_SIGN_ALGO = "RS256"
    oidc.forget_discovery()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        oidc.forget_discovery()


def sign_in_with_provider(client, next_url: str = "") -> Any:
    """Click the button, let the provider sign in, come back; return Tandem's last answer."""
    start = client.get(reverse("oidc-start") + (f"?next={next_url}" if next_url else ""))
    assert start.status_code == 302
    at_provider = requests.get(start.url, allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["Location"])
    assert back.path == reverse("oidc-callback")
    return client.get(f"{back.path}?{back.query}")


def signed_in_as(client) -> str:
    user = client.get(reverse("account")).wsgi_request.user
    return user.get_username() if user.is_authenticated else ""


def refusals() -> list[str]:
    return list(
        AuditEvent.objects.filter(action="sign-in", outcome="denied")
        .order_by("pk")
        .values_list("detail", flat=True)
    )


def test_the_sign_in_page_offers_the_provider_only_when_configured(client, db, provider, settings):
    assert "Sign in with County Health ID" in client.get(reverse("login")).text

    settings.TANDEM_OIDC_ISSUER = ""
    assert "Sign in with" not in client.get(reverse("login")).text
    assert client.get(reverse("oidc-start")).status_code == 404
    assert client.get(reverse("oidc-callback") + "?code=x&state=y").status_code == 404


def test_bob_signs_in_through_the_provider_matched_by_his_email(client, team, provider):
    team.bob.email = "bob.cm@county.example"
    team.bob.save()
    provider.claims = {"email": "Bob.CM@County.example", "email_verified": True}
    url = f"/patients/{team.pat.pk}/"

    done = sign_in_with_provider(client, next_url=url)

    assert done.status_code == 302 and done.url == url
    assert signed_in_as(client) == "bob"
    event = AuditEvent.objects.filter(action="sign-in", outcome="written").latest("pk")
    assert (event.actor_username, event.detail) == ("bob", "via=oidc")
    # The code was exchanged with the client secret and the PKCE verifier.
    assert provider.token_requests[-1]["client_secret"] == CLIENT_SECRET
    assert provider.token_requests[-1]["code_verifier"]


def test_nobody_is_created_for_an_unknown_email(client, team, provider):
    provider.claims = {"email": "stranger@elsewhere.example", "email_verified": True}
    users = get_user_model().objects.count()

    done = sign_in_with_provider(client)

    assert done.url == reverse("login")
    assert get_user_model().objects.count() == users
    assert signed_in_as(client) == ""
    page = client.get(reverse("login"))
    assert "no Tandem account has this e-mail address" in page.text
    assert refusals() == [
        "via=oidc; no Tandem account has this e-mail address; username=stranger@elsewhere.example"
    ]
    assert audit.verify().intact


@pytest.mark.parametrize(
    ("claims", "overrides", "reason"),
    [
        ({"email_verified": False}, {}, "has not verified the e-mail address"),
        ({}, {"iss": "https://evil.example"}, "ID token from another issuer"),
        ({}, {"aud": "another-client"}, "ID token for another client"),
        ({}, {"exp": int(time.time()) - 60}, "ID token invalid: ExpiredSignatureError"),
        ({}, {"nonce": "replayed"}, "JWT Nonce verification failed"),
    ],
)
def test_a_doubtful_answer_from_the_provider_signs_nobody_in(
    client, team, provider, claims, overrides, reason
):
    team.bob.email = "bob@county.example"
    team.bob.save()
    provider.claims = {"email": "bob@county.example", "email_verified": True, **claims}
    provider.token_overrides = overrides

    done = sign_in_with_provider(client)

    assert done.url == reverse("login")
    assert signed_in_as(client) == ""
    assert len(refusals()) == 1 and reason in refusals()[0]


def test_a_patient_account_cannot_sign_in_through_the_staff_provider(client, team, provider):
    team.pat_user.email = "pat@home.example"
    team.pat_user.save()
    provider.claims = {"email": "pat@home.example", "email_verified": True}

    assert sign_in_with_provider(client).url == reverse("login")
    assert signed_in_as(client) == ""


def test_two_accounts_with_the_same_email_are_refused(client, team, provider):
    for user in (team.bob, team.charlie):
        user.email = "shared@county.example"
        user.save()
    provider.claims = {"email": "shared@county.example", "email_verified": True}

    assert sign_in_with_provider(client).url == reverse("login")
    assert "several Tandem accounts" in refusals()[0]


def test_a_forged_callback_signs_nobody_in(client, team, provider):
    client.get(reverse("oidc-start"))  # a real state exists in the session, but not this one

    response = client.get(reverse("oidc-callback") + "?code=guess&state=forged")

    assert response.url == reverse("login")
    assert signed_in_as(client) == ""
    assert "unknown sign-in state" in refusals()[0]
    assert provider.token_requests == []  # nothing was even asked of the provider


def test_a_second_factor_is_still_asked_after_the_provider(client, team, provider):
    from tests.core.test_totp import code_for, set_up

    device, _ = set_up(client, team.bob)
    team.bob.email = "bob@county.example"
    team.bob.save()
    provider.claims = {"email": "bob@county.example", "email_verified": True}

    after_provider = sign_in_with_provider(client)
    assert after_provider.url == reverse("login-code")
    assert signed_in_as(client) == ""

    client.post(reverse("login-code"), {"code": code_for(device, 1)})
    assert signed_in_as(client) == "bob"
    event = AuditEvent.objects.filter(action="sign-in", outcome="written").latest("pk")
    assert event.detail == "via=oidc second-factor=totp"


def test_an_unreachable_provider_is_a_message_not_an_error(client, db, settings):
    settings.TANDEM_OIDC_ISSUER = "http://127.0.0.1:9"  # discard port: nothing answers
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.TANDEM_OIDC_PROVIDER_NAME = "County Health ID"
    settings.OIDC_TIMEOUT = 2
    oidc.forget_discovery()

    response = client.get(reverse("oidc-start"))

    assert response.url == reverse("login")
    assert (
        "Signing in with County Health ID is not possible right now"
        in client.get(reverse("login")).text
    )
    assert "provider unavailable" in refusals()[0]


def test_password_sign_in_never_calls_the_provider(client, team, settings):
    settings.TANDEM_OIDC_ISSUER = "http://127.0.0.1:9"
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    oidc.forget_discovery()

    response = client.post(
        reverse("login"), {"username": "bob", "password": "correct horse battery"}
    )

    assert response.url == reverse("home")
