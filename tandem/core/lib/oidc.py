"""Sign-in through an external OpenID Connect provider (mozilla-django-oidc; ADR 0007).

Offered when ``TANDEM_OIDC_ISSUER``, ``TANDEM_OIDC_CLIENT_ID`` and ``TANDEM_OIDC_CLIENT_SECRET``
are set. The provider's endpoints come from its discovery document
(``ISSUER/.well-known/openid-configuration``), read when first needed and kept for the process.
The authorization-code flow with PKCE, state and nonce is mozilla-django-oidc's; Tandem adds what
that library leaves out: the ID token's issuer and audience are checked, and the user is matched
to an existing, active staff account by the ``email`` claim (case-insensitive, exactly one
account; a claim ``email_verified: false`` is refused). No account is ever created from a sign-in.
Whoever must give a second factor still does, after the provider (``finish_or_second_step``).
Every outcome is audited (``sign-in`` written or denied, ``via=oidc``).
"""

from __future__ import annotations

import threading
from typing import Any

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

_DISCOVERY: dict[str, dict[str, Any]] = {}
_LOCK = threading.Lock()
ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}
BACKEND = "tandem.core.lib.oidc.Backend"


class ProviderError(Exception):
    """The provider could not be reached or answered something unusable (one line)."""


def enabled() -> bool:
    return bool(
        settings.TANDEM_OIDC_ISSUER
        and settings.OIDC_RP_CLIENT_ID
        and settings.OIDC_RP_CLIENT_SECRET
    )


def provider_name() -> str:
    return str(settings.TANDEM_OIDC_PROVIDER_NAME)


def discovery() -> dict[str, Any]:
    """The provider's discovery document (fetched once per issuer and process)."""
    issuer = settings.TANDEM_OIDC_ISSUER
    with _LOCK:
        if issuer not in _DISCOVERY:
            url = f"{issuer}/.well-known/openid-configuration"
            try:
                response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
                response.raise_for_status()
                document = response.json()
            except (requests.RequestException, ValueError) as exc:
                raise ProviderError(f"cannot read {url}: {type(exc).__name__}") from None
            if document.get("issuer", "").rstrip("/") != issuer:
                raise ProviderError(f"{url} names another issuer")
            _DISCOVERY[issuer] = document
        return _DISCOVERY[issuer]


def forget_discovery() -> None:
    """Drop the cached discovery documents (tests; a changed provider)."""
    with _LOCK:
        _DISCOVERY.clear()


def _setting(attr: str, *args: Any) -> Any:
    """mozilla-django-oidc's settings, with the endpoints from the discovery document."""
    if attr in ENDPOINTS:
        try:
            return discovery()[ENDPOINTS[attr]]
        except KeyError:
            raise ImproperlyConfigured(
                f"the provider's discovery lacks {ENDPOINTS[attr]}"
            ) from None
    return import_from_settings(attr, *args)


class Backend(OIDCAuthenticationBackend):
    """Matches the provider's user to one existing, active staff account by e-mail."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Django builds every backend for every authenticate() call and each signed-in request:
        # the provider's settings (its discovery document) are read only on its callback.
        self.UserModel = get_user_model()

    @staticmethod
    def get_settings(attr: str, *args: Any) -> Any:
        return _setting(attr, *args)

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:
        if not enabled() or request is None or "nonce" not in kwargs:
            return None  # not the provider's callback: a password sign-in, say
        try:
            super().__init__()
            return super().authenticate(request, **kwargs)
        except ProviderError as exc:
            return _refuse(request, f"provider unavailable ({exc})")
        except (requests.RequestException, ValueError):
            return _refuse(request, "the provider's answer could not be used")
        except SuspiciousOperation as exc:
            return _refuse(request, f"token refused ({exc})")

    def verify_token(self, token: str, **kwargs: Any) -> Any:
        import jwt

        try:
            payload = super().verify_token(token, **kwargs)
        except jwt.PyJWTError as exc:  # expired, not yet valid...: the library lets these out
            raise SuspiciousOperation(f"ID token invalid: {type(exc).__name__}") from None
        if kwargs.get("nonce") is None:
            return payload  # a userinfo JWT, not the ID token
        if str(payload.get("iss", "")).rstrip("/") != settings.TANDEM_OIDC_ISSUER:
            raise SuspiciousOperation("ID token from another issuer")
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("ID token for another client")
        return payload

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            _refuse(self.request, "the provider gave no e-mail address")
            return False
        if claims.get("email_verified") is False:
            _refuse(self.request, "the provider has not verified the e-mail address")
            return False
        return True

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        email = str(claims.get("email", ""))
        users = self.UserModel.objects.filter(
            email__iexact=email, is_active=True, patient__isnull=True
        )
        if not users.exists():
            _refuse(self.request, "no Tandem account has this e-mail address", email=email)
        elif users.count() > 1:
            _refuse(self.request, "several Tandem accounts have this e-mail address", email=email)
        return users

    def create_user(self, claims: dict[str, Any]) -> Any:  # never: OIDC_CREATE_USER is False
        raise SuspiciousOperation("accounts are not created by signing in")


def _refuse(request: HttpRequest | None, reason: str, *, email: str = "") -> None:
    """Keep the first reason the sign-in failed, for the audit trail and the message."""
    if request is not None and not hasattr(request, "tandem_oidc_refusal"):
        typed = "".join(c if c.isprintable() else "?" for c in email)[:150]
        request.tandem_oidc_refusal = (reason, typed)  # type: ignore[attr-defined]


class StartView(OIDCAuthenticationRequestView):
    """``/login/oidc/``: off to the provider (404 when OpenID Connect is not configured)."""

    def __init__(self, **kwargs: Any) -> None:
        View.__init__(self, **kwargs)  # the provider's settings are read in get()

    @staticmethod
    def get_settings(attr: str, *args: Any) -> Any:
        return _setting(attr, *args)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not enabled():
            raise Http404("OpenID Connect sign-in is not configured")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = _setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
            self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        except (ProviderError, ImproperlyConfigured) as exc:
            _audit_refusal(request, f"provider unavailable ({exc})", "")
            messages.error(
                request,
                f"Signing in with {provider_name()} is not possible right now. Try again later.",
            )
            return HttpResponseRedirect(reverse("login"))
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    """``/login/oidc/callback/``: the provider sends the browser back here with a code."""

    @staticmethod
    def get_settings(attr: str, *args: Any) -> Any:
        return _setting(attr, *args)

    @property
    def failure_url(self) -> str:
        return reverse("login")

    def get(self, request: HttpRequest) -> HttpResponse:
        if not enabled():
            raise Http404("OpenID Connect sign-in is not configured")
        try:
            return super().get(request)
        except SuspiciousOperation:  # a state this browser never started: replayed or forged
            request.tandem_oidc_refusal = ("unknown sign-in state", "")  # type: ignore[attr-defined]
            return self.login_failure()

    def login_failure(self) -> HttpResponse:
        reason, email = getattr(
            self.request, "tandem_oidc_refusal", ("the provider did not sign the user in", "")
        )
        _audit_refusal(self.request, reason, email)
        messages.error(
            self.request,
            f"Signing in with {provider_name()} did not work: {reason}. "
            "Ask your Tandem administrator if this persists.",
        )
        return HttpResponseRedirect(self.failure_url)

    def login_success(self) -> HttpResponse:
        from tandem.core.views import finish_or_second_step

        next_url = str(self.request.session.pop("oidc_login_next", "") or "")
        return finish_or_second_step(
            self.request, user=self.user, backend=BACKEND, via="oidc", next_url=next_url
        )


def _audit_refusal(request: HttpRequest, reason: str, email: str) -> None:
    from django.db import transaction

    from tandem.core import services

    with transaction.atomic():
        services.record_failed_sign_in(
            by=request.user, username=email, reason=f"via=oidc; {reason}"
        )
