"""Sign-in throttling as the sign-in page needs it: why an attempt failed, how long a pause lasts.

django-axes counts failed sign-ins per username and IP address (settings ``AXES_*``, from
``TANDEM_LOGIN_*``); its backend refuses sign-in while a pair is locked out and marks the request
(``axes_locked_out``; ``axes_failures_since_start`` is set only when the attempt was counted,
so it is ``None`` for an attempt refused during a lockout).
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone


def failure_reason(request: HttpRequest, *, incomplete: bool) -> str:
    """Why a sign-in attempt was refused, for the audit trail (no credentials in it)."""
    if getattr(request, "axes_locked_out", False):
        if getattr(request, "axes_failures_since_start", None) is None:
            return "refused while locked out"
        return (
            "wrong username or password; locked out for "
            f"{settings.TANDEM_LOGIN_COOLOFF_MINUTES} minutes"
        )
    return "username or password missing" if incomplete else "wrong username or password"


def minutes_until_unlocked(request: HttpRequest, credentials: dict[str, Any] | None) -> int:
    """Whole minutes (at least 1) until this username + IP address may sign in again."""
    from axes.helpers import get_client_username
    from axes.models import AccessAttempt

    cool_off = settings.AXES_COOLOFF_TIME
    last = AccessAttempt.objects.filter(
        username=get_client_username(request, credentials),
        ip_address=getattr(request, "axes_ip_address", None),
    ).aggregate(last=Max("attempt_time"))["last"]
    remaining = cool_off if last is None else last + cool_off - timezone.now()
    return max(1, math.ceil(remaining.total_seconds() / 60))
