"""The second factor of signing in: an authenticator app's six-digit code (TOTP, RFC 6238),
with printable recovery codes, on django-otp's devices (ADR 0007).

A staff user may set it up on their account page; ``TANDEM_REQUIRE_TOTP_ROLES`` makes it
required for some roles (such a user sets it up at the next sign-in, before any page). Patients
sign in to the portal with their password only. Codes are never logged nor audited; django-otp
refuses a code used once already (per time step), allows one step of clock drift, and slows
down guessing per device (each failure doubles the wait before the next try: 1, 2, 4... seconds);
the failures also count towards the sign-in lockout (``tandem.core.views.LoginCodeView``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODES = 10
DEVICE_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"


def is_staff_user(user: Any) -> bool:
    """Staff (any login that is not a patient's) may use a second factor."""
    return bool(user.is_authenticated) and not hasattr(user, "patient")


def roles_held(user: Any) -> set[str]:
    """Every role key ``user`` holds: their working role and each site role (leader, quality,
    privacy-officer...)."""
    from tandem.core.models import SiteRole
    from tandem.core.queries import role_of

    held = {role_of(user).key}
    for role in SiteRole.objects.filter(user_id=user.pk).values_list("role", flat=True):
        held.add("leader" if role == "quality" else role)
    return held


def required_for(user: Any) -> bool:
    """Whether ``TANDEM_REQUIRE_TOTP_ROLES`` makes the second factor compulsory for ``user``."""
    required = set(settings.TANDEM_REQUIRE_TOTP_ROLES)
    return bool(required) and is_staff_user(user) and bool(required & roles_held(user))


def device_of(user: Any) -> TOTPDevice | None:
    """The user's confirmed authenticator device, if they set one up."""
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).order_by("pk").first()


def uses_second_factor(user: Any) -> bool:
    return is_staff_user(user) and device_of(user) is not None


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user_id=user.pk, device__confirmed=True).count()


def pending_device(user: Any) -> TOTPDevice:
    """The device being set up (not yet confirmed): reused across page loads, so the QR code
    stays the same until the user confirms a code or starts over."""
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as an inline SVG QR code (no script, no inline style)."""
    import segno

    code = segno.make(device.config_url, error="m")
    return str(
        code.svg_inline(
            scale=5,
            dark="#000",
            light="#fff",
            title="QR code to scan with your authenticator app",
            svgclass="tandem-qr",
        )
    )


def secret_for_typing(device: TOTPDevice) -> str:
    """The device's secret in base32, in groups of four, for apps that cannot scan."""
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _clean(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


@transaction.atomic
def confirm(device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm a device being set up with a code from the app; on success it replaces any
    earlier device and new recovery codes are made (returned to show once). None: wrong code."""
    if not device.verify_token(_clean(code)):
        return None
    TOTPDevice.objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return new_recovery_codes(device.user)


@transaction.atomic
def new_recovery_codes(user: Any) -> list[str]:
    """Replace the user's recovery codes with ``RECOVERY_CODES`` new ones (each works once)."""
    StaticDevice.objects.filter(user_id=user.pk).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return [f"{c[:4]}-{c[4:]}" for c in codes]


def verify(user: Any, code: str) -> str | None:
    """Check a code at sign-in: ``"totp"`` for the app's code, ``"recovery-code"`` for a
    recovery code (used up), None when neither matches or the device asks to wait."""
    cleaned = _clean(code)
    device = device_of(user)
    if device is not None and cleaned.isdigit() and device.verify_token(cleaned):
        return "totp"
    static = StaticDevice.objects.filter(user_id=user.pk, confirmed=True).first()
    if static is not None and not cleaned.isdigit() and static.verify_token(cleaned):
        return "recovery-code"
    return None


def wait_seconds(user: Any) -> int:
    """Seconds before the device accepts another try (0: now)."""
    import math

    from django.utils import timezone

    device = device_of(user)
    if device is None:
        return 0
    allowed, data = device.verify_is_allowed()
    if allowed or not data or not data.get("locked_until"):
        return 0
    return max(1, math.ceil((data["locked_until"] - timezone.now()).total_seconds()))


@transaction.atomic
def remove(user: Any) -> None:
    """Turn the second factor off: the app's device and the recovery codes go."""
    TOTPDevice.objects.filter(user_id=user.pk).delete()
    StaticDevice.objects.filter(user_id=user.pk).delete()
