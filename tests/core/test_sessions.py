"""Sessions end after TANDEM_SESSION_IDLE_MINUTES without a request, checked on the server,
and TANDEM_SESSION_MAX_HOURS after sign-in however active."""

from __future__ import annotations

import time

from django.conf import settings
from django.urls import reverse

from tandem import config
from tandem.audit.models import AuditEvent
from tandem.core.lib import signin

PASSWORD = "correct horse battery"


def sign_in(client, username: str) -> None:
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302


def idle_for(client, seconds: float) -> None:
    """The clock moves on: the session's last request was ``seconds`` ago."""
    session = client.session
    session[signin.LAST_SEEN] = time.time() - seconds
    session.save()


def test_the_defaults_are_15_idle_minutes_and_12_hours_in_all(tmp_path):
    values = config.read({"TANDEM_VAR_DIR": str(tmp_path)})

    assert values["TANDEM_SESSION_IDLE_MINUTES"] == 15
    assert values["TANDEM_SESSION_MAX_HOURS"] == 12
    assert settings.SESSION_COOKIE_AGE == 12 * 60 * 60
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is False


def test_a_session_idle_too_long_is_signed_out_and_sent_to_sign_in(client, team):
    sign_in(client, "bob")
    idle_for(client, settings.TANDEM_SESSION_IDLE_SECONDS + 1)
    url = f"/patients/{team.pat.pk}/"

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next=%2Fpatients%2F{team.pat.pk}%2F"
    page = client.get(response.url)
    assert "signed out after 15 minutes without activity" in page.text
    assert not page.wsgi_request.user.is_authenticated
    event = AuditEvent.objects.filter(action="sign-out").latest("pk")
    assert (event.outcome, event.actor_username, event.detail) == ("written", "bob", "reason=idle")


def test_an_active_session_stays_signed_in(client, team):
    sign_in(client, "bob")
    idle_for(client, settings.TANDEM_SESSION_IDLE_SECONDS - 5)

    assert client.get(reverse("home")).status_code == 200
    # The request counted as activity: as long again, and still signed in.
    assert time.time() - client.session[signin.LAST_SEEN] < 5
    assert client.get(reverse("account")).status_code == 200


def test_the_idle_limit_follows_the_setting(client, team, settings):
    settings.TANDEM_SESSION_IDLE_SECONDS = 120
    sign_in(client, "bob")
    idle_for(client, 121)

    response = client.get(reverse("home"))

    assert response.url.startswith(reverse("login"))
    assert "after 2 minutes without activity" in client.get(response.url).text


def test_an_htmx_request_of_an_idle_session_redirects_the_whole_page(client, team):
    sign_in(client, "bob")
    idle_for(client, settings.TANDEM_SESSION_IDLE_SECONDS + 1)

    response = client.get(
        f"/patients/{team.pat.pk}/sections/",
        headers={
            "HX-Request": "true",
            "HX-Current-URL": f"http://testserver/patients/{team.pat.pk}/",
        },
    )

    assert response.status_code == 204
    assert response["HX-Redirect"] == f"{reverse('login')}?next=%2Fpatients%2F{team.pat.pk}%2F"
    assert AuditEvent.objects.filter(action="sign-out", detail="reason=idle").count() == 1


def test_an_api_call_of_an_idle_session_is_unauthenticated(client, team):
    sign_in(client, "bob")
    assert client.get("/api/me").status_code == 200
    idle_for(client, settings.TANDEM_SESSION_IDLE_SECONDS + 1)

    assert client.get("/api/me").status_code == 401


def test_a_post_of_an_idle_session_writes_nothing(client, team):
    from tandem.tokens.models import AccessToken

    sign_in(client, "bob")
    idle_for(client, settings.TANDEM_SESSION_IDLE_SECONDS + 1)

    response = client.post(reverse("api-tokens"), {"name": "x", "scopes": ["patients:read"]})

    assert response.url == reverse("login")
    assert not AccessToken.objects.exists()


def test_the_session_cookie_ends_after_the_maximum_however_active(client, team):
    sign_in(client, "bob")

    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert abs(int(cookie["max-age"]) - 12 * 60 * 60) <= 5  # fixed at sign-in: a second may pass
    # Activity does not push the end back: the session's expiry is fixed at sign-in.
    expiry = client.session.get_expiry_date()
    client.get(reverse("home"))
    assert abs((client.session.get_expiry_date() - expiry).total_seconds()) < 5
