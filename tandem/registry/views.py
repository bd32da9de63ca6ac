"""Patient search and the patient summary. Every read goes through ``registry.queries``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from tandem.consent import gate
from tandem.core.models import Sensitivity
from tandem.core.queries import purpose_for, role_of
from tandem.core.views import bad_request
from tandem.registry import queries
from tandem.registry.forms import SearchForm

# Summary sections and the gate kinds each one shows, in page order.
SECTIONS: list[tuple[str, str, tuple[str, ...]]] = [
    ("demographics", "Demographics and contacts", ("identifiers", "contacts", "coverage")),
    ("care-team", "Care team", ("care_team",)),
    ("problems", "Problems", ("conditions",)),
    ("medications", "Medications", ("medication_orders", "medication_dispenses")),
    ("encounters", "Recent encounters", ("encounters",)),
    ("labs", "Labs and vitals", ("observations",)),
    ("assessments", "Assessments", ("assessments",)),
    ("notes", "Notes", ("notes",)),
    ("appointments", "Appointments", ("appointments",)),
]


@login_required
def search(request: HttpRequest) -> HttpResponse:
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


@login_required
def summary(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The patient summary; anything withheld is named with its reason. Refusal is a 404."""
    purpose = purpose_for(role_of(request.user))
    try:
        disclosure = queries.patient_summary(
            user=request.user, patient_id=patient_id, purpose=purpose
        )
    except gate.AccessDenied as exc:  # the gate has audited the refusal
        raise Http404("No patient found") from exc
    context = {
        "disclosure": disclosure,
        "patient": disclosure.patient,
        "age": disclosure.patient.age_on(timezone.localdate()),
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
    """For each section: one notice per withheld label (count, label, reason)."""
    notices: dict[str, list[dict[str, Any]]] = {}
    for key, _, kinds in SECTIONS:
        merged: dict[str, dict[str, Any]] = {}
        for kind in kinds:
            for r in disclosure.withheld(kind):
                notice = merged.setdefault(
                    r.label, {"count": 0, "label": Sensitivity(r.label).label, "reason": r.reason}
                )
                notice["count"] += r.count
        notices[key.replace("-", "_")] = list(merged.values())
    return notices
