"""Sign-in throttling as the sign-in page needs it: why an attempt failed, how long a pause lasts.

django-axes counts failed sign-ins per username and IP address (settings ``AXES_*``, from
``TANDEM_LOGIN_*``); its backend refuses sign-in while a pair is locked out and marks the request
(``axes_locked_out``; ``axes_failures_since_start`` is set only when the attempt was counted,
so it is ``None`` for an attempt refused during a lockout).
"""

from __future__ import annotations

import datetime as dt
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


# --- Idle sessions -------------------------------------------------------------------------

LAST_SEEN = "tandem_last_seen"  # session key: when this session last made a request (epoch s)


class IdleTimeoutMiddleware:
    """Ends a signed-in session that made no request for ``TANDEM_SESSION_IDLE_SECONDS``.

    The check is on the server: the session keeps the time of its last request. An expired
    session is signed out (audited: ``sign-out``, reason idle) and the request goes to the
    sign-in page with a message and ``next`` back to where the user was; an htmx request gets
    ``HX-Redirect`` instead (the whole page goes, not a fragment); an API request simply
    continues unauthenticated (the API answers 401). The session also gets a fixed end,
    ``SESSION_COOKIE_AGE`` after its first signed-in request, that activity does not move. The
    last-request time is written at most
    every ``idle / 15`` seconds (a minute for 15 minutes), so most pages write no session.
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            expired = self._touch(request)
            if expired:
                return self._sign_out(request, user)
        return self.get_response(request)

    @staticmethod
    def _touch(request: HttpRequest) -> bool:
        """Record this request's time; True when the session had been idle too long."""
        import time

        session = request.session
        if "_session_expiry" not in session:
            _fix_end(session)
        idle = settings.TANDEM_SESSION_IDLE_SECONDS
        now = time.time()
        last = session.get(LAST_SEEN)
        if isinstance(last, int | float) and now - last > idle:
            return True
        if not isinstance(last, int | float) or now - last >= idle / 15:
            session[LAST_SEEN] = now
        return False

    def _sign_out(self, request: HttpRequest, user: Any) -> Any:
        from django.contrib import messages
        from django.contrib.auth import logout
        from django.db import transaction
        from django.http import HttpResponse, HttpResponseRedirect
        from django.urls import reverse
        from django.utils.http import urlencode

        from tandem.core import services

        minutes = max(1, round(settings.TANDEM_SESSION_IDLE_SECONDS / 60))
        with transaction.atomic():
            services.record_sign_out(user=user, reason="idle")
        logout(request)
        if request.path.startswith("/api/"):
            return self.get_response(request)
        messages.info(
            request,
            f"You were signed out after {minutes} minute{'s' if minutes != 1 else ''} without "
            "activity. Sign in again to continue.",
        )
        htmx = request.headers.get("HX-Request") == "true"
        if htmx:
            back = _local(request.headers.get("HX-Current-URL", ""))
        else:
            back = request.get_full_path() if request.method == "GET" else ""
        url = reverse("login") + (f"?{urlencode({'next': back})}" if back else "")
        if htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return HttpResponseRedirect(url)


def _fix_end(session: Any) -> None:
    """A fixed end (sign-in + SESSION_COOKIE_AGE): otherwise Django would push the end back
    each time the session is saved, and an active session would never end."""
    session.set_expiry(timezone.now() + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE))


def stamp_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """At sign-in (``user_logged_in``): start the idle clock and fix the session's end, in
    the session that sign-in saves anyway, so the first page after it writes no session."""
    import time

    session = getattr(request, "session", None)
    if session is None:
        return
    _fix_end(session)
    session[LAST_SEEN] = time.time()


def _local(url: str) -> str:
    """The path and query of an absolute URL of this site (for ``next``)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- The second step of signing in ---------------------------------------------------------

PENDING = "tandem_pending_sign_in"  # session key: a user who passed the first step
PENDING_SECONDS = 5 * 60


def start_second_step(
    request: HttpRequest, *, user: Any, backend: str, via: str, next_url: str
) -> None:
    """Remember that ``user`` passed the first step (password or provider), not yet signed in.

    The session key is rotated first (no session fixation), and nothing is signed in: every
    page but the code and enrolment pages still treats the request as anonymous.
    """
    import time

    request.session.cycle_key()
    request.session[PENDING] = {
        "user": user.pk,
        "backend": backend,
        "via": via,
        "next": next_url,
        "since": time.time(),
    }


def pending_user(request: HttpRequest) -> tuple[Any, dict[str, Any]] | None:
    """The user waiting for their second step, with the pending record; None when none or
    stale (older than five minutes: the first step must be repeated)."""
    import time

    from django.contrib.auth import get_user_model

    record = request.session.get(PENDING)
    if not isinstance(record, dict):
        return None
    if time.time() - float(record.get("since", 0)) > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    user_id = record.get("user")
    if not isinstance(user_id, int):
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    return (user, record) if user is not None else None


def finish_sign_in(request: HttpRequest, *, user: Any, record: dict[str, Any], factor: str) -> str:
    """Sign ``user`` in after the second step; audit it; return where to go next."""
    from django.contrib.auth import login

    from tandem.core import services

    request.session.pop(PENDING, None)
    login(request, user, backend=record["backend"])
    services.record_sign_in(user=user, detail=f"via={record['via']} second-factor={factor}")
    return str(record.get("next") or "")
