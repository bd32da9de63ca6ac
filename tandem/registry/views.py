"""Patient search and the integrated chart (F4) with its engagement panel.

Every read goes through ``registry.queries`` (and the queries of the apps whose sections the
chart shows: measures, tasks, outreach), so through ``consent.gate``. The chart is one audited
gate read; care gaps, outreach and the engagement panel load after it (htmx), each its own read.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from tandem.consent import gate, redisclosure
from tandem.core.forms import MAX_ID
from tandem.core.lib.http import refusals_as_404
from tandem.core.models import Site
from tandem.core.queries import leader_site_ids, purpose_for, role_of
from tandem.core.views import HtmxHttpRequest, bad_request
from tandem.measures import queries as measure_queries
from tandem.registry import chart, engagement, queries, services
from tandem.registry.forms import SearchForm
from tandem.tasks import queries as tasks_queries

# Chart sections and the gate kinds each one shows, in page order (docs/ui.md: fixed order).
SECTIONS: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "demographics",
        "Demographics and contacts",
        ("home_site", "identifiers", "contacts", "coverage"),
    ),
    ("care-team", "Care team", ("care_team",)),
    ("problems", "Problems", ("conditions", "cohorts")),
    ("medications", "Medications", ("medication_orders", "medication_dispenses")),
    ("labs", "Labs and vitals", ("observations",)),
    ("assessments", "Assessments", ("assessments",)),
    ("gaps", "Care gaps", ()),
    ("risk", "Risk", ("risk",)),
    ("tasks", "Tasks", ("tasks",)),
    ("outreach", "Outreach", ()),
    ("encounters", "Encounters", ("encounters",)),
    ("appointments", "Appointments", ("appointments",)),
    ("notes", "Notes", ("notes",)),
]
# Sections loaded after the page (htmx ``hx-trigger="load"``): their own gate reads.
LAZY = {"gaps", "outreach", "engagement"}


@require_GET
@login_required
def search(request: HtmxHttpRequest) -> HttpResponse:
    """Search by name, MRN and/or birth date among the patients the gate lets this user see."""
    form = SearchForm(request.GET, led_site_ids=leader_site_ids(request.user))
    if not form.is_valid():
        return bad_request(request, form.problems())
    purpose = purpose_for(role_of(request.user))
    page = None
    if not form.is_empty():
        page = queries.search_patients(user=request.user, criteria=form.criteria(), purpose=purpose)
    site_id = form.cleaned_data.get("site")
    context = {
        "form": form,
        "page": page,
        "query": _query_without_page(request),
        "site_filter": Site.objects.filter(pk=site_id).first() if site_id else None,
    }
    template = "registry/_results.html" if request.htmx else "registry/search.html"
    return render(request, template, context)


@require_GET
@login_required
@refusals_as_404
def summary(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The integrated chart (F4); anything withheld is named with its reason. Refusal is a 404."""
    purpose = purpose_for(role_of(request.user))
    if patient_id > MAX_ID:  # no such row can exist; the database would refuse the number
        gate.deny(user=request.user, patient_id=None, purpose=purpose, detail="malformed id")
        return render(request, "404.html", status=404)
    disclosure = queries.patient_summary(
        user=request.user, patient_id=patient_id, purpose=purpose, extra=_extra_requests()
    )
    return render(request, "registry/summary.html", _chart_context(request, disclosure))


def _extra_requests() -> list[gate.Request]:
    """The requests of apps above the registry that the chart's one read includes."""
    return [tasks_queries.TASKS_REQUEST]


def _chart_context(request: HttpRequest, disclosure: gate.Disclosure) -> dict[str, Any]:
    patient, data = disclosure.patient, disclosure.data
    today = timezone.localdate()
    age = patient.age_on(patient.deceased_date or today)
    results = chart.results(data["observations"], sex=patient.sex, age=age)
    orders, other_fills = chart.medications(
        data["medication_orders"], data["medication_dispenses"], today=today
    )
    pcp = next((m.practitioner for m in data["care_team"] if m.role == "pcp"), None)
    mrn = next((i.value for i in data["identifiers"] if i.kind == "mrn"), "")
    bh_user = queries.is_behavioral_health_user(request.user)
    return {
        "disclosure": disclosure,
        "patient": patient,
        "age": age,
        "data": data,
        "withheld": _withheld_by_section(disclosure),
        "sections": [(key, title) for key, title, _ in SECTIONS],
        "labs": [r for r in results if r.category == "laboratory"],
        "vitals": [r for r in results if r.category != "laboratory"],
        "scores": chart.scores(data["assessments"]),
        "orders": orders,
        "other_fills": other_fills,
        "pcp": pcp,
        "mrn": mrn,
        "risk": data["risk"][0] if data["risk"] else None,
        "tasks": tasks_queries.patient_tasks(disclosure),
        "show_engagement": bh_user and chart.has_smi(data),
        "redisclosure": redisclosure.for_disclosure(disclosure),
        "today": today,
        "breadcrumbs": [("Find a patient", reverse("patient-search")), (_name(patient), None)],
    }


def _name(patient: Any) -> str:
    return f"{patient.family_name.upper()}, {patient.given_name}"


@require_GET
@login_required
@refusals_as_404
def section(request: HttpRequest, patient_id: int, name: str) -> HttpResponse:
    """One lazily loaded chart section (htmx), through its own audited gate read."""
    if name not in LAZY or patient_id > MAX_ID:
        return render(request, "404.html", status=404)
    purpose = purpose_for(role_of(request.user))
    context: dict[str, Any] = {"patient_id": patient_id}
    if name == "gaps":
        context["gaps"] = _gaps(request.user, patient_id, purpose)
    elif name == "outreach":
        context.update(_outreach(request.user, patient_id))
    else:
        context.update(_engagement(request.user, patient_id, purpose))
    return render(request, f"registry/_{name}.html", context)


@require_GET
@login_required
@refusals_as_404
def sections(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Every lazily loaded section in one response (htmx swaps each out of band); the
    engagement panel only when the page asks for it (``?engagement=1``)."""
    if patient_id > MAX_ID:
        return render(request, "404.html", status=404)
    purpose = purpose_for(role_of(request.user))
    context: dict[str, Any] = {
        "patient_id": patient_id,
        "gaps": _gaps(request.user, patient_id, purpose),
        **_outreach(request.user, patient_id),
    }
    if request.GET.get("engagement") == "1":
        context["engagement"] = _engagement(request.user, patient_id, purpose, gaps=context["gaps"])
    return render(request, "registry/_sections.html", context)


def _outreach(user: Any, patient_id: int) -> dict[str, Any]:
    """The patient's worklist items and contact attempts (outreach app, imported here: the
    chart composes the apps above registry)."""
    from tandem.outreach import queries as outreach

    items = outreach.items_for_patient(user=user, patient_id=patient_id)
    attempts = outreach.attempts_for_patient(user=user, patient_id=patient_id)
    return {
        "items": items,
        "attempts": attempts,
        "outreach_redisclosure": redisclosure.for_rows([*items.rows, *attempts.rows]),
    }


def _engagement(
    user: Any, patient_id: int, purpose: str, gaps: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The engagement panel's context; ``shown`` False when it does not apply to this
    reader or patient (not a behavioral-health user, no SMI)."""
    found = queries.primary_care_engagement(
        user=user, patient_id=patient_id, purpose=purpose, extra=_extra_requests()
    )
    if not (found.smi and queries.is_behavioral_health_user(user)):
        return {"shown": False}
    gaps = gaps if gaps is not None else _gaps(user, patient_id, purpose)
    open_tasks = tasks_queries.patient_tasks(found.disclosure).active
    return {
        "shown": True,
        "found": found,
        "gaps": gaps,
        "open_request": next((t for t in open_tasks if t.source == "engagement"), None),
        "withheld": _notices(found.disclosure, ("care_team", "encounters", "observations")),
        "redisclosure": redisclosure.for_disclosure(found.disclosure),
        "interval": engagement.INTERVAL_MONTHS,
    }


def _gaps(user: Any, patient_id: int, purpose: str) -> dict[str, Any]:
    """Open care gaps and a notice per reason for the results withheld."""
    found = measure_queries.open_gaps(user=user, patient_id=patient_id, purpose=purpose)
    merged: dict[str, dict[str, Any]] = {}
    for r in found.withheld:
        merged.setdefault(r.reason, {"count": 0, "reason": r.reason})["count"] += r.count
    return {
        "items": found.items,
        "notices": list(merged.values()),
        "redisclosure": redisclosure.for_rows(found.items),
    }


@require_POST
@login_required
@refusals_as_404
def engagement_request(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The panel's action: a task for the primary-care team ("book an appointment" or "assign
    a PCP"); a second click finds the open request and writes nothing."""
    purpose = purpose_for(role_of(request.user))
    if patient_id > MAX_ID:
        gate.deny(user=request.user, patient_id=None, purpose=purpose, detail="malformed id")
        return render(request, "404.html", status=404)
    found = queries.primary_care_engagement(
        user=request.user, patient_id=patient_id, purpose=purpose, extra=_extra_requests()
    )
    if not (queries.is_behavioral_health_user(request.user) and found.smi):
        gate.deny(
            user=request.user, patient_id=patient_id, purpose=purpose, detail="engagement action"
        )
        return render(request, "403.html", status=403)
    patient = found.disclosure.patient
    task, created = services.request_primary_care(
        by=request.user,
        patient=patient,
        found=found,
        site=queries.primary_care_site(patient=patient, pcp=found.pcp, user=request.user),
        open_tasks=tasks_queries.patient_tasks(found.disclosure).active,
    )
    where = task.queue.name if task.queue else "the primary-care team"
    if created:
        messages.success(request, f"{task.title}: sent to {where}.")
    else:
        messages.info(request, f"Already requested: {task.title} is open with {where}.")
    return redirect(reverse("patient-summary", args=[patient_id]) + "#engagement")


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _notices(disclosure: gate.Disclosure, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """One notice per reason across ``kinds`` (count and reason; the label stays internal)."""
    merged: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        for r in disclosure.withheld(kind):
            notice = merged.setdefault(r.reason, {"count": 0, "reason": r.reason})
            notice["count"] += r.count
    return list(merged.values())


def _withheld_by_section(disclosure: gate.Disclosure) -> dict[str, list[dict[str, Any]]]:
    """For each section: one notice per reason (count and reason; the label stays internal)."""
    return {key.replace("-", "_"): _notices(disclosure, kinds) for key, _, kinds in SECTIONS}
