"""Sign-in and sign-out (Django test client, real database). The home pages: tests/workspace."""

from __future__ import annotations

from django.urls import reverse

PASSWORD = "correct horse battery"


def login(client, user) -> None:
    client.force_login(user)  # skips Argon2: sign-in itself is tested in tests/core


def test_the_login_page_says_it_is_tandem_and_where_demo_logins_are(client, db, settings):
    settings.TANDEM_ENV = "development"
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "Sign in to Tandem" in response.text
    assert "tandem demo" in response.text


def test_the_login_page_hides_the_demo_hint_in_production(client, db, settings):
    settings.TANDEM_ENV = "production"
    assert "tandem demo" not in client.get(reverse("login")).text


def test_it_logs_in_with_the_right_password(client, team):
    response = client.post(reverse("login"), {"username": "bob", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert client.get(reverse("home")).context["user"].username == "bob"


def test_it_refuses_a_wrong_password(client, team):
    response = client.post(reverse("login"), {"username": "bob", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text
    assert not response.context["user"].is_authenticated


def test_it_sends_anonymous_visitors_to_the_login_page(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_logout_is_a_post_with_csrf(client, team):
    login(client, team.bob)
    home = client.get(reverse("home")).text
    assert 'action="/logout/"' in home and "csrfmiddlewaretoken" in home
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302
