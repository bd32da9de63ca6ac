"""Sign-in and sign-out, and the 400 answer every view shares. (The home pages are in
``tandem.workspace``: ``core`` imports no domain app.)"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails

from tandem.core import services
from tandem.core.lib import signin


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
        context["show_demo_hint"] = settings.TANDEM_ENV == "development"
        return context

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        services.record_sign_in(user=form.get_user())
        return response

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
        "show_demo_hint": settings.TANDEM_ENV == "development",
    }
    return render(request, "core/login.html", context, status=429)


def bad_request(request: HtmxHttpRequest, problems: list[tuple[str, str]]) -> HttpResponse:
    """The 400 page (or, for htmx, its message alone) naming each field and what is wrong."""
    template = "core/_problems.html" if request.htmx else "400.html"
    return render(request, template, {"problems": problems}, status=400)
