"""Signing in: guessing is paused after repeated failures, and every attempt is audited."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.urls import reverse

from tandem.audit import services as audit
from tandem.audit.models import AuditEvent

PASSWORD = "correct horse battery"
LOGIN = reverse("login")


def attempt(client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail(client, username: str, times: int, ip: str = "10.0.0.1"):
    response = None
    for _ in range(times):
        response = attempt(client, username, "wrong guess", ip)
    return response


def sign_ins() -> list[tuple[str, str, str]]:
    events = AuditEvent.objects.filter(action__startswith="sign-").order_by("pk")
    return [(e.action, e.outcome, e.actor_username) for e in events]


def test_it_pauses_sign_in_after_repeated_failures_and_says_for_how_long(client, team):
    limit = settings.AXES_FAILURE_LIMIT

    before = fail(client, "bob", limit - 1)
    assert before.status_code == 200
    assert "Please enter a correct username and password" in before.text

    locked = attempt(client, "bob", "wrong guess")
    assert locked.status_code == 429
    minutes = settings.TANDEM_LOGIN_COOLOFF_MINUTES
    assert "Too many failed sign-ins" in locked.text
    assert f"Try again in {minutes} minutes" in locked.text

    # Even the right password is refused while sign-in is paused.
    right = attempt(client, "bob", PASSWORD)
    assert right.status_code == 429
    assert not client.get(reverse("home")).wsgi_request.user.is_authenticated


def test_it_lets_the_user_in_again_after_the_cool_off(client, team):
    from axes.models import AccessAttempt

    fail(client, "bob", settings.AXES_FAILURE_LIMIT)
    cool_off = dt.timedelta(minutes=settings.TANDEM_LOGIN_COOLOFF_MINUTES, seconds=1)
    for row in AccessAttempt.objects.all():  # the clock moves on past the cool-off
        row.attempt_time -= cool_off
        row.save()

    assert attempt(client, "bob", PASSWORD).status_code == 302


def test_a_successful_sign_in_clears_the_failures(client, team):
    limit = settings.AXES_FAILURE_LIMIT
    fail(client, "bob", limit - 1)
    assert attempt(client, "bob", PASSWORD).status_code == 302
    client.post(reverse("logout"))

    assert fail(client, "bob", limit - 1).status_code == 200
    assert attempt(client, "bob", PASSWORD).status_code == 302


def test_failures_from_another_computer_do_not_lock_the_user_out(client, team):
    fail(client, "bob", settings.AXES_FAILURE_LIMIT, ip="203.0.113.9")

    assert attempt(client, "bob", PASSWORD, ip="10.0.0.1").status_code == 302


def test_failures_for_one_login_do_not_lock_out_another(client, team):
    fail(client, "bob", settings.AXES_FAILURE_LIMIT)

    assert attempt(client, "alice", PASSWORD).status_code == 302


def test_every_attempt_is_audited_and_the_chain_stays_intact(client, team):
    limit = settings.AXES_FAILURE_LIMIT
    attempt(client, "alice", PASSWORD)
    client.post(reverse("logout"))
    fail(client, "bob", limit)
    attempt(client, "bob", PASSWORD)  # refused: paused

    assert sign_ins() == [
        ("sign-in", "written", "alice"),
        ("sign-out", "written", "alice"),
        *[("sign-in", "denied", "anonymous")] * (limit + 1),
    ]
    failures = list(AuditEvent.objects.filter(outcome="denied").order_by("pk"))
    assert all("username=bob" in e.detail for e in failures)
    assert "wrong username or password" in failures[0].detail
    assert "locked out" in failures[limit - 1].detail
    assert "while locked out" in failures[limit].detail
    assert all(e.patient_id is None for e in failures)
    assert audit.verify().intact


def test_the_attempted_username_is_recorded_without_control_characters(client, db):
    attempt(client, "bob\x00\r\nfake", "x")

    event = AuditEvent.objects.get(action="sign-in")
    assert event.outcome == "denied"
    assert "\n" not in event.detail and "\x00" not in event.detail
    assert "bob" in event.detail
