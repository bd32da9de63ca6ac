"""Break-the-glass pages: declare an emergency (practitioners), review grants (privacy
officers). Parse → call → render.

The declaration page looks a patient up only after a valid reason (``services``), by exact MRN
or exact name and date of birth, and never lists: a page that found patients by partial names
would be a search around the gate. Anyone but a practitioner gets 403 (audited); the review
pages answer anyone but a privacy officer with the 404 page (audited), like a missing grant.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from tandem.audit import services as audit
from tandem.breakglass import forms, queries, rules, services
from tandem.consent.models import Purpose
from tandem.core.forms import MAX_ID
from tandem.core.lib.http import refusals_as_404
from tandem.core.views import HtmxHttpRequest, bad_request


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _declare_page(request: HttpRequest, form: forms.DeclareForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "warning": rules.WARNING,
        "minutes": _minutes(),
        "breadcrumbs": [("Find a patient", reverse("patient-search")), ("Emergency access", None)],
    }
    return render(request, "breakglass/declare.html", context, status=status)


def _minutes() -> int:
    from django.conf import settings

    return int(settings.TANDEM_BREAK_GLASS_MINUTES)


@require_http_methods(["GET", "POST"])
@login_required
def declare(request: HttpRequest) -> HttpResponse:
    """Emergency access: find one patient exactly, give the reason, land on their chart."""
    if not queries.is_practitioner(request.user):
        audit.record(
            actor=request.user,
            entry=audit.Entry(
                "break-the-glass", "denied", None, "", Purpose.EMERGENCY, "page: not a practitioner"
            ),
        )
        return render(request, "403.html", status=403)
    if request.method == "GET":
        return _declare_page(request, forms.DeclareForm())
    form = forms.DeclareForm(request.POST)
    form.is_valid()
    try:
        services.check_reason(by=request.user, patient_id=None, reason=request.POST.get("reason"))
    except services.BreakGlassError as error:
        form.add_error("reason", error.message)
    if form.errors:
        return _declare_page(request, form, status=400)
    try:
        grant = services.declare_by_lookup(
            by=request.user, lookup=form.lookup(), reason=form.cleaned_data["reason"]
        )
    except services.NoMatch:
        form.add_error(
            None,
            "No single patient matches exactly. Check the MRN, or the full family name, given "
            "name and date of birth (partial names are not searched). This attempt is recorded.",
        )
        return _declare_page(request, form, status=400)
    except services.TooManyMisses:
        form.add_error(
            None,
            f"More than {rules.MAX_MISSES_PER_HOUR} emergency requests of yours matched no "
            "patient in the last hour: the look-up is paused. Call the privacy office.",
        )
        return _declare_page(request, form, status=429)
    except services.BreakGlassError as error:
        if error.code != "not-needed":
            form.add_error(None, error.message)
            return _declare_page(request, form, status=400)
        found = queries.find_exactly(form.lookup())
        messages.info(request, "You already have access to this patient: no emergency access.")
        return redirect("patient-summary", found)
    until = timezone.localtime(grant.expires_at).strftime("%H:%M")
    messages.warning(
        request,
        f"Emergency access granted until {until}. The care team and the privacy office have "
        "been told; every page you open is recorded.",
    )
    return redirect("patient-summary", grant.patient_id)


@require_GET
@login_required
@refusals_as_404
def reviews(request: HtmxHttpRequest) -> HttpResponse:
    """The privacy officers' queue: every grant, awaiting review first."""
    form = forms.ReviewListForm(request.GET)
    if not form.is_valid():
        return bad_request(request, form.problems())
    page = queries.review_queue(
        user=request.user,
        status=form.status_value(),
        page=form.cleaned_data.get("page") or 1,
        detail="page",
    )
    context = {
        "form": form,
        "page": page,
        "query": _query_without_page(request),
        "now": timezone.now(),
        "filtered": form.status_value() != "all",
    }
    return render(request, "breakglass/reviews.html", context)


@require_http_methods(["GET", "POST"])
@login_required
@refusals_as_404
def review(request: HttpRequest, pk: int) -> HttpResponse:
    """One grant: who, whom, why, what they opened; the privacy officer's decision."""
    if pk > MAX_ID:
        return render(request, "404.html", status=404)
    try:
        found = queries.grant_detail(user=request.user, pk=pk, detail="page")
    except queries.NotFound:
        return render(request, "404.html", status=404)
    form = forms.ReviewForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.review(
                    by=request.user,
                    grant=found.grant,
                    justified=form.cleaned_data["decision"] == "justified",
                    note=form.cleaned_data["note"],
                )
            except services.BreakGlassError as error:
                form.add_error(error.field if error.field == "note" else None, error.message)
            else:
                messages.success(request, f"Emergency access {pk} reviewed.")
                return redirect("emergency-access-review", pk)
        return render(request, "breakglass/review.html", _review_context(found, form), status=400)
    return render(request, "breakglass/review.html", _review_context(found, form))


def _review_context(found: queries.GrantDetail, form: forms.ReviewForm) -> dict[str, Any]:
    return {
        "detail": found,
        "grant": found.grant,
        "form": form,
        "holder": queries.person_name(found.grant.user),
        "events": [
            {
                "occurred_at": e.occurred_at,
                "action": e.action,
                "data": e.categories.replace(",", ", "),
                "purpose": e.purpose,
                "get_outcome_display": e.get_outcome_display(),
            }
            for e in found.events
        ],
        "breadcrumbs": [
            ("Emergency access reviews", reverse("emergency-access-reviews")),
            (f"Emergency access {found.grant.pk}", None),
        ],
    }
