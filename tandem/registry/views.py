"""Patient search and the patient summary. Every read goes through ``registry.queries``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from tandem.consent import gate
from tandem.core.lib.http import refusals_as_404
from tandem.core.queries import purpose_for, role_of
from tandem.core.views import HtmxHttpRequest, bad_request
from tandem.registry import queries
from tandem.registry.forms import SearchForm

MAX_ID = 2**63 - 1  # the largest id a BigAutoField can hold

# Summary sections and the gate kinds each one shows, in page order.
SECTIONS: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "demographics",
        "Demographics and contacts",
        ("home_site", "identifiers", "contacts", "coverage"),
    ),
    ("care-team", "Care team", ("care_team",)),
    ("problems", "Problems", ("conditions",)),
    ("medications", "Medications", ("medication_orders", "medication_dispenses")),
    ("encounters", "Recent encounters", ("encounters",)),
    ("labs", "Labs and vitals", ("observations",)),
    ("assessments", "Assessments", ("assessments",)),
    ("notes", "Notes", ("notes",)),
    ("appointments", "Appointments", ("appointments",)),
]


@require_GET
@login_required
def search(request: HtmxHttpRequest) -> HttpResponse:
    """Search by name, MRN and/or birth date among the patients the gate lets this user see."""
    form = SearchForm(request.GET)
    if not form.is_valid():
        return bad_request(request, form.problems())
    purpose = purpose_for(role_of(request.user))
    page = None
    if not form.is_empty():
        page = queries.search_patients(user=request.user, criteria=form.criteria(), purpose=purpose)
    context = {"form": form, "page": page, "query": _query_without_page(request)}
    template = "registry/_results.html" if request.htmx else "registry/search.html"
    return render(request, template, context)


@require_GET
@login_required
@refusals_as_404
def summary(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The patient summary; anything withheld is named with its reason. Refusal is a 404."""
    purpose = purpose_for(role_of(request.user))
    if patient_id > MAX_ID:  # no such row can exist; the database would refuse the number
        gate.deny(user=request.user, patient_id=None, purpose=purpose, detail="malformed id")
        return render(request, "404.html", status=404)
    disclosure = queries.patient_summary(user=request.user, patient_id=patient_id, purpose=purpose)
    context = {
        "disclosure": disclosure,
        "patient": disclosure.patient,
        "age": disclosure.patient.age_on(disclosure.patient.deceased_date or timezone.localdate()),
        "data": disclosure.data,
        "withheld": _withheld_by_section(disclosure),
        "sections": [(key, title) for key, title, _ in SECTIONS],
    }
    return render(request, "registry/summary.html", context)


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _withheld_by_section(disclosure: gate.Disclosure) -> dict[str, list[dict[str, Any]]]:
    """For each section: one notice per reason (count and reason; the label stays internal)."""
    notices: dict[str, list[dict[str, Any]]] = {}
    for key, _, kinds in SECTIONS:
        merged: dict[str, dict[str, Any]] = {}
        for kind in kinds:
            for r in disclosure.withheld(kind):
                notice = merged.setdefault(r.reason, {"count": 0, "reason": r.reason})
                notice["count"] += r.count
        notices[key.replace("-", "_")] = list(merged.values())
    return notices
