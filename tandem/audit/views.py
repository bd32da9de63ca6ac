"""The privacy officer's pages: the audit viewer, its exports, the accounting of disclosures.

Only privacy officers (``core.queries.is_privacy_officer``) see them; anyone else gets a 404
(the pages' existence is not confirmed) and the refusal is audited. Every view and export of
audit data is itself audited (actions ``audit-view``, ``audit-export``, ``audit-disclosures``),
with the filters as ids and codes — never an MRN typed into the patient filter.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from tandem.audit import exports, forms, jobs, queries
from tandem.audit import services as audit
from tandem.audit.models import AuditChainHead
from tandem.core.forms import MAX_ID
from tandem.core.queries import is_privacy_officer
from tandem.core.views import HtmxHttpRequest, bad_request


def _refuse(request: HttpRequest, action: str, patient_id: int | None = None) -> HttpResponse:
    audit.record(
        actor=request.user,
        entry=audit.Entry(action, "denied", patient_id, "audit-log", "", "not a privacy officer"),
    )
    return render(request, "404.html", status=404)


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _filters(form: forms.FilterForm) -> queries.Filters:
    text = form.cleaned_data.get("patient") or ""
    return form.filters(queries.patient_ids_for(text) if text else None)


def _single(filters: queries.Filters) -> int | None:
    ids = filters.patient_ids
    return ids[0] if ids is not None and len(ids) == 1 else None


# A chain longer than this is verified at most every CHAIN_CACHE_SECONDS per process for the
# viewer (walking millions of rows on every page load would make it unusable); the daily job and
# `tandem audit verify` always walk it all. A new event or anchor changes the key at once.
CHAIN_CACHE_FROM = 20_000
CHAIN_CACHE_SECONDS = 300


def _chain_status() -> tuple[Any, str]:
    head = AuditChainHead.objects.filter(singleton=1).first()
    if head is None or head.count < CHAIN_CACHE_FROM:
        return jobs.chain_status()
    path = jobs.anchor_file()
    size = path.stat().st_size if path.exists() else -1
    key = f"tandem-audit-chain:{head.last_event_id}:{head.last_hash}:{head.count}:{path}:{size}"
    found = cache.get(key)
    if found is None:
        found = jobs.chain_status()
        cache.set(key, found, CHAIN_CACHE_SECONDS)
    return found  # type: ignore[no-any-return]


def chain_context() -> dict[str, Any]:
    """The chain's status for the top of the viewer: intact, or broken at the first event."""
    result, note = _chain_status()
    broken_at = next((p.event_id for p in result.problems if p.event_id is not None), None)
    return {
        "chain": result,
        "chain_note": note,
        "chain_broken_at": broken_at,
        "chain_problems": result.problems[:10],
    }


@require_GET
@login_required
def audit_log(request: HtmxHttpRequest) -> HttpResponse:
    """The audit viewer: filter, page through, export; the chain's status at the top."""
    if not is_privacy_officer(request.user):
        return _refuse(request, "audit-view")
    form = forms.FilterForm(request.GET)
    if not form.is_valid():
        return bad_request(request, form.problems())
    filters = _filters(form)
    page = queries.page_of(filters, form.cleaned_data.get("page") or 1)
    audit.record(
        actor=request.user,
        entry=audit.Entry(
            "audit-view",
            "shown",
            _single(filters),
            "audit-log",
            "operations",
            f"{filters.as_detail()} page={page.number}",
        ),
    )
    rows = list(page)
    known = queries.actors(e.actor_id for e in rows)
    context: dict[str, Any] = {
        "form": form,
        "page": page,
        "rows": [(e, queries.actor_of(e, known)) for e in rows],
        "query": _query_without_page(request),
        "filtered": form.filtered,
        "patient_ids": filters.patient_ids,
        "single_patient": _single(filters),
    }
    if request.htmx:
        return render(request, "audit/_events.html", context)
    context.update(chain_context())
    context["actions"] = queries.actions()
    return render(request, "audit/log.html", context)


@require_GET
@login_required
def audit_export(request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    """The filtered events as CSV or as a FHIR Bundle of AuditEvents (streamed; audited)."""
    if not is_privacy_officer(request.user):
        return _refuse(request, "audit-export")
    if fmt not in exports.FORMATS:
        return render(request, "404.html", status=404)
    form = forms.FilterForm(request.GET)
    if not form.is_valid():
        return bad_request(request, form.problems())  # type: ignore[arg-type]  # not htmx
    filters = _filters(form)
    filters, count = queries.frozen(filters)
    audit.record(
        actor=request.user,
        entry=audit.Entry(
            "audit-export",
            "shown",
            _single(filters),
            "audit-log",
            "operations",
            f"format={fmt} {filters.as_detail()} events={count}",
        ),
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        exports.chunks(fmt, queries.iterate(filters)), content_type=exports.CONTENT_TYPES[fmt]
    )
    response["Content-Disposition"] = (
        f'attachment; filename="tandem-audit-{stamp}.{exports.EXTENSIONS[fmt]}"'
    )
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@login_required
def disclosures_index(request: HtmxHttpRequest) -> HttpResponse:
    """Pick a patient (id or MRN) for the accounting of disclosures."""
    if not is_privacy_officer(request.user):
        return _refuse(request, "audit-disclosures")
    form = forms.PatientForm(request.GET)
    if not form.is_valid():
        return bad_request(request, form.problems())
    text = form.cleaned_data.get("patient") or ""
    matches: tuple[int, ...] = queries.patient_ids_for(text) if text else ()
    if text:
        audit.record(
            actor=request.user,
            entry=audit.Entry(
                "audit-disclosures",
                "shown" if matches else "denied",
                matches[0] if len(matches) == 1 else None,
                "audit-log",
                "operations",
                "lookup patients=" + (",".join(map(str, matches[:20])) or "none"),
            ),
        )
    if len(matches) == 1:
        return redirect("audit-disclosures", patient_id=matches[0])
    return render(
        request,
        "audit/disclosures_index.html",
        {
            "form": form,
            "searched": bool(text),
            "matches": matches,
            "breadcrumbs": [("Audit log", reverse("audit-log")), ("Disclosures", None)],
        },
    )


@require_GET
@login_required
def disclosures(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The accounting of disclosures of one patient: printable."""
    if not is_privacy_officer(request.user):
        return _refuse(request, "audit-disclosures", patient_id if patient_id <= MAX_ID else None)
    if patient_id > MAX_ID or not queries.patient_exists(patient_id):
        audit.record(
            actor=request.user,
            entry=audit.Entry(
                "audit-disclosures", "denied", None, "audit-log", "operations", "no such patient"
            ),
        )
        return render(request, "404.html", status=404)
    accounting = queries.disclosures(patient_id=patient_id)
    audit.record(
        actor=request.user,
        entry=audit.Entry(
            "audit-disclosures",
            "shown",
            patient_id,
            "audit-log",
            "operations",
            f"disclosures={len(accounting.disclosures)} refused={accounting.refused}",
        ),
    )
    return render(
        request,
        "audit/disclosures.html",
        {
            "accounting": accounting,
            "patient_id": patient_id,
            "generated_at": timezone.now(),
            "breadcrumbs": [
                ("Audit log", reverse("audit-log")),
                ("Disclosures", reverse("audit-disclosures-index")),
                (f"Patient {patient_id}", None),
            ],
        },
    )
