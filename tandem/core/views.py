"""Sign-in and sign-out, and the 400 answer every view shares. (The home pages are in
``tandem.workspace``: ``core`` imports no domain app.)"""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, user_login_failed
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.password_validation import password_validators_help_texts
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.views import View
from django.views.decorators.cache import never_cache
from django_htmx.middleware import HtmxDetails

from tandem.core import services
from tandem.core.forms import CodeForm
from tandem.core.lib import oidc, signin, totp


class HtmxHttpRequest(HttpRequest):
    """A request as django-htmx's middleware leaves it (for type checking)."""

    htmx: HtmxDetails


class LoginView(auth_views.LoginView):
    """The one sign-in page: Django's login view, throttled by django-axes, every attempt audited.

    In development the page says where the demo logins are. After too many failures for one
    username from one address, django-axes refuses sign-in (even with the right password) and
    its middleware answers with :func:`locked_out`.
    """

    template_name = "core/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(_login_context())
        return context

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        """The password is right: sign in, or (second factor) go on to the code."""
        user = form.get_user()
        return finish_or_second_step(
            self.request,
            user=user,
            backend=str(getattr(user, "backend", "")),  # set by authenticate()
            via="password",
            next_url=self.get_success_url(),
        )

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        incomplete = any(name in form.errors for name in ("username", "password"))
        services.record_failed_sign_in(
            by=self.request.user,
            username=str(form.data.get("username", "")),
            reason=signin.failure_reason(self.request, incomplete=incomplete),
        )
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    """Django's logout view (POST only); the sign-out is audited."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            services.record_sign_out(user=request.user)
        return super().post(request, *args, **kwargs)


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The sign-in page saying that signing in is paused and for how long (429).

    django-axes calls this (``AXES_LOCKOUT_CALLABLE``) for any locked-out sign-in attempt.
    """
    context = {
        "form": AuthenticationForm(request),
        "locked_minutes": signin.minutes_until_unlocked(request, credentials),
        **_login_context(),
    }
    return render(request, "core/login.html", context, status=429)


def _login_context() -> dict[str, Any]:
    return {
        "show_demo_hint": settings.TANDEM_ENV == "development",
        "oidc_provider": oidc.provider_name() if oidc.enabled() else "",
    }


# --- The second step: a code from the authenticator app ------------------------------------


def finish_or_second_step(
    request: HttpRequest, *, user: Any, backend: str, via: str, next_url: str
) -> HttpResponse:
    """After the first step (password, or the OpenID Connect provider): sign ``user`` in, or
    ask for their code, or (second factor required for their role, none set up) set one up
    first. Until then nothing is signed in."""
    if totp.uses_second_factor(user) or totp.required_for(user):
        signin.start_second_step(request, user=user, backend=backend, via=via, next_url=next_url)
        return redirect("login-code" if totp.uses_second_factor(user) else "login-setup")
    login(request, user, backend=backend)
    services.record_sign_in(user=user, detail="" if via == "password" else f"via={via}")
    return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


def _pending_or_restart(request: HttpRequest) -> tuple[Any, dict[str, Any]] | HttpResponse:
    pending = signin.pending_user(request)
    if pending is None:
        messages.info(request, "Your sign-in took too long or was not started. Sign in again.")
        return redirect("login")
    return pending


@method_decorator(never_cache, name="dispatch")
class LoginCodeView(View):
    """``/login/code/``: the six-digit code from the authenticator app, or a recovery code.

    A wrong code counts as a failed sign-in towards the lockout of that username and address
    (``TANDEM_LOGIN_FAILURE_LIMIT``), and is audited (denied); the code itself never is.
    """

    template_name = "core/login_code.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        pending = _pending_or_restart(request)
        if isinstance(pending, HttpResponse):
            return pending
        return render(request, self.template_name, {"form": CodeForm(), **_login_context()})

    def post(self, request: HttpRequest) -> HttpResponse:
        pending = _pending_or_restart(request)
        if isinstance(pending, HttpResponse):
            return pending
        user, record = pending
        credentials = {"username": user.get_username()}
        if AxesProxyHandler.is_locked(request, credentials):
            request.session.pop(signin.PENDING, None)
            services.record_failed_sign_in(
                by=request.user, username=user.get_username(), reason="refused while locked out"
            )
            return locked_out(request, credentials=credentials)
        form = CodeForm(request.POST)
        if not form.is_valid():
            return render(
                request, self.template_name, {"form": form, **_login_context()}, status=400
            )
        wait = totp.wait_seconds(user)
        if wait:
            seconds = f"{wait} second{'s' if wait != 1 else ''}"
            form.add_error("code", f"Too many wrong codes: wait {seconds}, then try again.")
            return render(
                request, self.template_name, {"form": form, **_login_context()}, status=429
            )
        factor = totp.verify(user, form.cleaned_data["code"])
        if factor is not None:
            next_url = signin.finish_sign_in(request, user=user, record=record, factor=factor)
            if factor == "recovery-code":
                left = totp.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code: {left} left. Make new ones on your "
                    "account page if you lost your authenticator app.",
                )
            return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
        user_login_failed.send(sender=type(self), credentials=credentials, request=request)
        reason = "wrong second-factor code"
        if getattr(request, "axes_locked_out", False):
            request.session.pop(signin.PENDING, None)
            minutes = settings.TANDEM_LOGIN_COOLOFF_MINUTES
            services.record_failed_sign_in(
                by=request.user,
                username=user.get_username(),
                reason=f"{reason}; locked out for {minutes} minutes",
            )
            return locked_out(request, credentials=credentials)
        services.record_failed_sign_in(by=request.user, username=user.get_username(), reason=reason)
        form.add_error("code", "That code is not right. Check the app and try the newest code.")
        return render(request, self.template_name, {"form": form, **_login_context()}, status=400)


@method_decorator(never_cache, name="dispatch")
class SecondFactorSetupView(View):
    """Set up the authenticator app: scan the QR code (or type the key), confirm one code.

    Two doors: ``/account/two-factor/`` for a signed-in staff user (optional), and
    ``/login/setup/`` during sign-in for a user whose role requires a second factor and who has
    none (``TANDEM_REQUIRE_TOTP_ROLES``): they reach no page before it is done. On success the
    recovery codes are shown once.
    """

    template_name = "core/second_factor_setup.html"
    during_sign_in = False

    def _user(self, request: HttpRequest) -> tuple[Any, dict[str, Any] | None] | HttpResponse:
        if self.during_sign_in:
            pending = _pending_or_restart(request)
            if not isinstance(pending, HttpResponse) and totp.device_of(pending[0]) is not None:
                # Half signed in with a device already: its code, not a new device, signs in.
                return redirect("login-code")
            return pending
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not totp.is_staff_user(request.user):
            raise Http404("no second factor for this account")
        return request.user, None

    def _render(
        self, request: HttpRequest, user: Any, form: CodeForm, status: int = 200
    ) -> HttpResponse:
        device = totp.pending_device(user)
        context = {
            "form": form,
            "qr_svg": mark_safe(totp.qr_svg(device)),  # noqa: S308 - segno's SVG, no user text
            "secret": totp.secret_for_typing(device),
            "during_sign_in": self.during_sign_in,
            "replacing": totp.device_of(user) is not None,
            "breadcrumbs": []
            if self.during_sign_in
            else [("Account", reverse("account")), ("Two-step sign-in", None)],
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        found = self._user(request)
        if isinstance(found, HttpResponse):
            return found
        return self._render(request, found[0], CodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        found = self._user(request)
        if isinstance(found, HttpResponse):
            return found
        user, record = found
        form = CodeForm(request.POST)
        if not form.is_valid():
            return self._render(request, user, form, status=400)
        codes = totp.confirm(totp.pending_device(user), form.cleaned_data["code"])
        if codes is None:
            form.add_error(
                "code", "That code did not match. Check the app's clock and try the newest code."
            )
            return self._render(request, user, form, status=400)
        services.record_account_change(user=user, action="second-factor-setup")
        request.session[RECOVERY_CODES] = codes
        if record is not None:
            request.session[RECOVERY_NEXT] = signin.finish_sign_in(
                request, user=user, record=record, factor="totp"
            )
            request.session[RECOVERY_CODES] = codes  # login() may have flushed the session
        return redirect("recovery-codes")


RECOVERY_CODES = "tandem_recovery_codes"  # session key: new codes, shown once then dropped
RECOVERY_NEXT = "tandem_recovery_next"


@method_decorator(never_cache, name="dispatch")
class RecoveryCodesView(LoginRequiredMixin, View):
    """``/account/recovery-codes/``: the new recovery codes, once (a reload shows them no more)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        codes = request.session.pop(RECOVERY_CODES, None)
        next_url = request.session.pop(RECOVERY_NEXT, "") or ""
        if not codes:
            messages.info(
                request, "Recovery codes are shown only once. Make new ones here if you need them."
            )
            return redirect("account")
        context = {
            "codes": codes,
            "next_url": next_url or resolve_url(settings.LOGIN_REDIRECT_URL),
            "breadcrumbs": [("Account", reverse("account")), ("Recovery codes", None)],
        }
        response = render(request, "core/recovery_codes.html", context)
        response["Cache-Control"] = "no-store"
        return response


class AccountView(LoginRequiredMixin, View):
    """``/account/``: the signed-in user's own sign-in settings (password, second factor)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        context = {
            "staff": totp.is_staff_user(user),
            "device": totp.device_of(user),
            "required": totp.required_for(user),
            "recovery_left": totp.recovery_codes_left(user),
            "idle_minutes": max(1, round(settings.TANDEM_SESSION_IDLE_SECONDS / 60)),
            "breadcrumbs": [("Account", None)],
        }
        return render(request, "core/account.html", context)

    def post(self, request: HttpRequest) -> HttpResponse:
        """``action=new-recovery-codes`` or ``action=turn-off`` (not when the role requires it)."""
        user = request.user
        action = request.POST.get("action", "")
        if not totp.is_staff_user(user) or totp.device_of(user) is None:
            return bad_request(request, [("Action", "No two-step sign-in is set up.")])  # type: ignore[arg-type]
        if action == "new-recovery-codes":
            request.session[RECOVERY_CODES] = totp.new_recovery_codes(user)
            services.record_account_change(user=user, action="recovery-codes-renew")
            return redirect("recovery-codes")
        if action == "turn-off":
            if totp.required_for(user):
                messages.error(
                    request, "Your role requires two-step sign-in: it cannot be turned off."
                )
                return redirect("account")
            totp.remove(user)
            services.record_account_change(user=user, action="second-factor-remove")
            messages.success(
                request, "Two-step sign-in is off. Your password alone now signs you in."
            )
            return redirect("account")
        return bad_request(request, [("Action", "Choose new recovery codes or turning it off.")])  # type: ignore[arg-type]


class PasswordChangeView(auth_views.PasswordChangeView):
    """``/account/password/``: Django's change-password form with Tandem's password rules
    (``AUTH_PASSWORD_VALIDATORS``); the session stays signed in; audited."""

    template_name = "core/password_change.html"
    success_url = reverse_lazy("account")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["breadcrumbs"] = [("Account", reverse("account")), ("Change password", None)]
        context["rules"] = password_validators_help_texts()
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        services.record_account_change(user=self.request.user, action="password-change")
        messages.success(self.request, "Your password is changed.")
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 400
        return response


def bad_request(request: HtmxHttpRequest, problems: list[tuple[str, str]]) -> HttpResponse:
    """The 400 page (or, for htmx, its message alone) naming each field and what is wrong."""
    template = "core/_problems.html" if request.htmx else "400.html"
    return render(request, template, {"problems": problems}, status=400)
