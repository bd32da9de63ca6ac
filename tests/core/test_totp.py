"""Two-step sign-in: a staff user sets up an authenticator app, then signs in with its code.

Codes are computed here as the app would (RFC 6238 on the device's key). A code works once per
30-second step, so a test that confirms set-up with the current code signs in with the next
step's code (the app's clock may be one step ahead: allowed).
"""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.audit import services as audit
from tandem.audit.models import AuditEvent
from tandem.core.lib import totp

PASSWORD = "correct horse battery"


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    clock = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    clock.time = time.time() + steps_ahead * device.step
    return f"{clock.token():0{device.digits}d}"


def sign_in(client, username: str, password: str = PASSWORD, ip: str = "10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def enter_code(client, code: str, ip: str = "10.0.0.1"):
    return client.post(reverse("login-code"), {"code": code}, REMOTE_ADDR=ip)


def signed_in_as(client) -> str:
    user = client.get(reverse("account")).wsgi_request.user
    return user.get_username() if user.is_authenticated else ""


def set_up(client, user) -> tuple[TOTPDevice, list[str]]:
    """``user`` (signed in) sets up the app from their account page; returns device and codes."""
    client.force_login(user)
    page = client.get(reverse("second-factor-setup"))
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert "<svg" in page.text and totp.secret_for_typing(device) in page.text
    response = client.post(reverse("second-factor-setup"), {"code": code_for(device)})
    assert response.url == reverse("recovery-codes")
    codes = client.get(reverse("recovery-codes")).context["codes"]
    client.post(reverse("logout"))
    device.refresh_from_db()
    return device, codes


@pytest.fixture(autouse=True)
def _no_device_throttle(settings):
    """django-otp makes a device wait 1, 2, 4... seconds after each wrong code; the tests of
    the lockout would wait for nothing. One test below keeps it."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def test_bob_sets_up_the_app_then_signs_in_with_his_password_and_a_code(client, team):
    device, codes = set_up(client, team.bob)
    assert device.confirmed and len(codes) == totp.RECOVERY_CODES

    first = sign_in(client, "bob")
    assert first.url == reverse("login-code")
    assert signed_in_as(client) == ""  # the password alone signs nothing in
    assert client.get(reverse("home")).status_code == 302

    done = enter_code(client, code_for(device, steps_ahead=1))
    assert done.url == reverse("home")
    assert signed_in_as(client) == "bob"
    event = AuditEvent.objects.filter(action="sign-in").latest("pk")
    assert (event.outcome, event.actor_username) == ("written", "bob")
    assert "second-factor=totp" in event.detail


def test_the_code_page_keeps_where_bob_was_going(client, team):
    device, _ = set_up(client, team.bob)
    url = f"/patients/{team.pat.pk}/"
    client.post(reverse("login"), {"username": "bob", "password": PASSWORD, "next": url})

    assert enter_code(client, code_for(device, 1)).url == url


def test_the_password_alone_cannot_set_up_a_new_device_to_skip_the_code(client, team):
    set_up(client, team.bob)
    sign_in(client, "bob")

    setup = client.get(reverse("login-setup"))
    forced = client.post(reverse("login-setup"), {"code": "123456"})

    assert setup.url == reverse("login-code") and forced.url == reverse("login-code")
    assert TOTPDevice.objects.filter(user=team.bob).count() == 1
    assert signed_in_as(client) == ""


def test_the_same_code_does_not_work_twice(client, team):
    device, _ = set_up(client, team.bob)
    sign_in(client, "bob")
    code = code_for(device, 1)
    enter_code(client, code)
    client.post(reverse("logout"))

    sign_in(client, "bob")
    again = enter_code(client, code)

    assert again.status_code == 400
    assert "That code is not right" in again.text
    assert signed_in_as(client) == ""


def test_wrong_codes_count_towards_the_lockout_and_are_audited_without_the_code(client, team):
    device, _ = set_up(client, team.bob)
    limit = settings.AXES_FAILURE_LIMIT
    sign_in(client, "bob")
    for _ in range(limit - 1):
        assert enter_code(client, "000000").status_code == 400

    locked = enter_code(client, "000000")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text
    # Locked out: the right password and then the right code are refused too.
    assert sign_in(client, "bob").status_code == 429
    assert enter_code(client, code_for(device, 1)).url == reverse("login")
    assert signed_in_as(client) == ""

    denied = list(AuditEvent.objects.filter(action="sign-in", outcome="denied").order_by("pk"))
    assert [e.detail.split(";")[0] for e in denied[:limit]] == ["wrong second-factor code"] * limit
    assert "locked out for" in denied[limit - 1].detail
    assert all("000000" not in e.detail for e in AuditEvent.objects.all())
    assert audit.verify().intact


def test_a_correct_password_does_not_reset_the_count_of_wrong_codes(client, team):
    """Otherwise someone with the password could guess codes forever, re-entering it."""
    set_up(client, team.bob)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "bob")
        enter_code(client, "000000")

    sign_in(client, "bob")
    assert enter_code(client, "000000").status_code == 429


def test_a_recovery_code_works_once_instead_of_the_app(client, team):
    _, codes = set_up(client, team.bob)

    sign_in(client, "bob")
    used = enter_code(client, codes[0])
    assert used.url == reverse("home")
    assert totp.recovery_codes_left(team.bob) == totp.RECOVERY_CODES - 1
    event = AuditEvent.objects.filter(action="sign-in", outcome="written").latest("pk")
    assert "second-factor=recovery-code" in event.detail and codes[0] not in event.detail
    client.post(reverse("logout"))

    sign_in(client, "bob")
    assert enter_code(client, codes[0]).status_code == 400


def test_recovery_codes_are_shown_once(client, team):
    set_up(client, team.bob)
    client.force_login(team.bob)

    again = client.get(reverse("recovery-codes"))

    assert again.url == reverse("account")


def test_a_wrong_code_at_set_up_leaves_it_off(client, team):
    client.force_login(team.bob)
    client.get(reverse("second-factor-setup"))

    response = client.post(reverse("second-factor-setup"), {"code": "123"})

    assert response.status_code == 400
    assert "did not match" in response.text
    assert totp.device_of(team.bob) is None


def test_the_device_slows_down_guessing(client, team, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 30
    device, _ = set_up(client, team.bob)
    sign_in(client, "bob")
    enter_code(client, "000000")

    wait = enter_code(client, code_for(device, 1))

    assert wait.status_code == 429
    assert "wait" in wait.text and signed_in_as(client) == ""


def test_the_pending_sign_in_expires_after_five_minutes(client, team):
    from tandem.core.lib import signin

    device, _ = set_up(client, team.bob)
    sign_in(client, "bob")
    session = client.session
    session[signin.PENDING] = {**session[signin.PENDING], "since": time.time() - 301}
    session.save()

    assert enter_code(client, code_for(device, 1)).url == reverse("login")
    assert signed_in_as(client) == ""


def test_users_without_the_app_sign_in_with_their_password_alone(client, team):
    assert sign_in(client, "alice").url == reverse("home")
    assert signed_in_as(client) == "alice"


def test_bob_turns_it_off_and_makes_new_recovery_codes(client, team):
    _, old_codes = set_up(client, team.bob)
    client.force_login(team.bob)

    renewed = client.post(reverse("account"), {"action": "new-recovery-codes"})
    new_codes = client.get(renewed.url).context["codes"]
    assert set(new_codes).isdisjoint(old_codes)
    client.post(reverse("account"), {"action": "turn-off"})

    assert totp.device_of(team.bob) is None
    actions = list(
        AuditEvent.objects.filter(action__startswith="write:").values_list("action", flat=True)
    )
    assert actions[-3:] == [
        "write:second-factor-setup",
        "write:recovery-codes-renew",
        "write:second-factor-remove",
    ]


def test_patients_have_no_second_factor_page(client, team):
    client.force_login(team.pat_user)

    assert client.get(reverse("second-factor-setup")).status_code == 404
    assert "Two-step sign-in" not in client.get(reverse("account")).text


# --- Required for some roles ------------------------------------------------------------------


def test_a_privacy_officer_must_set_it_up_before_reaching_any_page(client, team, settings):
    settings.TANDEM_REQUIRE_TOTP_ROLES = ["privacy-officer", "leader"]

    first = sign_in(client, "priya")
    assert first.url == reverse("login-setup")
    assert signed_in_as(client) == ""
    assert client.get(reverse("home")).url.startswith(reverse("login"))

    setup = client.get(reverse("login-setup"))
    assert "Your role requires a second step" in setup.text
    device = TOTPDevice.objects.get(user=team.priya, confirmed=False)
    done = client.post(reverse("login-setup"), {"code": code_for(device)})
    assert done.url == reverse("recovery-codes")
    codes_page = client.get(done.url)
    assert len(codes_page.context["codes"]) == totp.RECOVERY_CODES
    assert signed_in_as(client) == "priya"

    # She cannot turn it off, and her next sign-in asks for the code.
    client.post(reverse("account"), {"action": "turn-off"})
    assert totp.device_of(team.priya) is not None
    client.post(reverse("logout"))
    assert sign_in(client, "priya").url == reverse("login-code")


def test_leo_the_leader_is_required_too_but_not_bob(client, team, settings):
    settings.TANDEM_REQUIRE_TOTP_ROLES = ["privacy-officer", "leader"]

    assert sign_in(client, "leo").url == reverse("login-setup")
    assert sign_in(client, "bob").url == reverse("home")


def test_by_default_no_role_requires_it(client, team):
    assert settings.TANDEM_REQUIRE_TOTP_ROLES == []
    assert sign_in(client, "priya").url == reverse("home")


def test_the_set_up_page_during_sign_in_needs_a_password_first(client, team):
    response = client.get(reverse("login-setup"))

    assert response.url == reverse("login")
    assert client.post(reverse("login-code"), {"code": "123456"}).url == reverse("login")
