"""Cohort pages (F1): the index with counts, a cohort's list (filters, sort, pages, saved
filters) and its CSV export. Parse → call ``cohorts.queries`` → render; htmx asks for the
list partial.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tandem.consent import redisclosure
from tandem.core.queries import purpose_for, role_of
from tandem.core.views import HtmxHttpRequest, bad_request
from tandem.measures.definitions import cohorts as definitions
from tandem.registry import rules, services
from tandem.registry.cohorts import queries
from tandem.registry.cohorts.forms import CohortForm, SavedFilterForm

CSV_COLUMNS = [
    "Family name", "Given name", "Birth date", "Sex", "Home site", "On cohort since",
    "Risk tier", "Risk score", "Chart",
]  # fmt: skip


def _cohort(key: str) -> definitions.Cohort:
    try:
        return definitions.get(key)
    except KeyError:
        raise Http404("no such cohort") from None


@require_GET
@login_required
def index(request: HttpRequest) -> HttpResponse:
    """Every cohort with the number of its patients the reader may see (each a link)."""
    purpose = purpose_for(role_of(request.user))
    found = queries.counts(user=request.user, purpose=purpose)
    rows = [(c, found.get(c.key, 0)) for c in definitions.COHORTS]
    context = {
        "rows": rows,
        "as_of": queries.last_rebuilt(),
        "breadcrumbs": [("Cohorts", None)],
    }
    return render(request, "registry/cohorts.html", context)


def _parse(request: HttpRequest, key: str) -> tuple[CohortForm, str]:
    purpose = purpose_for(role_of(request.user))
    form = CohortForm(request.GET, choices=queries.choices(user=request.user, purpose=purpose))
    return form, purpose


@require_GET
@login_required
def cohort(request: HtmxHttpRequest, key: str) -> HttpResponse:
    """One cohort's list: filters, sortable columns, pages; the list partial for htmx."""
    definition = _cohort(key)
    form, purpose = _parse(request, key)
    if not form.is_valid():
        return bad_request(request, form.problems())
    criteria = form.criteria(key)
    context: dict[str, Any] = {
        "cohort": definition,
        "form": form,
        "criteria": criteria,
        "page": queries.page(user=request.user, purpose=purpose, criteria=criteria),
        "filter_query": form.filter_query(),
        "unsorted_query": form.filter_query(without=("sort",)),
        "filtered": form.is_filtered(),
        "sorts": _sort_links(criteria.sort),
        "tiers": rules.TIER_LABELS,
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "registry/_cohort_list.html", context)
    context["saved"] = queries.saved_filters(user=request.user, cohort=key)
    context["breadcrumbs"] = [("Cohorts", reverse("cohorts")), (definition.title, None)]
    return render(request, "registry/cohort.html", context)


def _sort_links(current: str) -> dict[str, dict[str, str]]:
    """Per sortable column: the sort a click asks for, and its aria-sort state."""
    out = {}
    for name in rules.SORTS:
        if current == name:
            out[name] = {"next": f"-{name}", "aria": "ascending"}
        elif current == f"-{name}":
            out[name] = {"next": name, "aria": "descending"}
        else:
            out[name] = {"next": name, "aria": "none"}
    return out


@require_GET
@login_required
def export(request: HtmxHttpRequest, key: str) -> HttpResponse | StreamingHttpResponse:
    """The filtered list as CSV: every patient the reader may see (all pages), streamed;
    each chunk is audited as it is sent."""
    _cohort(key)
    form, purpose = _parse(request, key)
    if not form.is_valid():
        return bad_request(request, form.problems())
    criteria = form.criteria(key)
    part2 = queries.export_carries_part2(user=request.user, purpose=purpose, criteria=criteria)
    chunks = queries.export(user=request.user, purpose=purpose, criteria=criteria)
    response = StreamingHttpResponse(_csv_lines(request, chunks, part2), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="cohort-{key}.csv"'
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_lines(
    request: HttpRequest, chunks: Iterator[list[Any]], part2: bool = False
) -> Iterator[str]:
    """The CSV; with Part 2 data, a leading ``#`` comment line with the 42 CFR 2.32 notice."""
    writer = csv.writer(_Echo())
    if part2:
        yield redisclosure.csv_comment()
    yield writer.writerow(CSV_COLUMNS)
    for chunk in chunks:
        for p in chunk:
            site = p.home_site.name if p.home_site_id and p.home_site else ""
            row = [
                p.family_name, p.given_name, p.birth_date.isoformat(), p.get_sex_display(),
                site, p.cohort_since.isoformat() if p.cohort_since else "",
                rules.TIER_LABELS.get(p.risk_tier or "", ""), p.risk_score,
                request.build_absolute_uri(reverse("patient-summary", args=[p.pk])),
            ]  # fmt: skip
            yield writer.writerow([_cell(v) for v in row])


@require_POST
@login_required
def save_filter(request: HtmxHttpRequest, key: str) -> HttpResponse:
    """Save the current filter under a name (the same name again updates it: no duplicate)."""
    _cohort(key)
    form = SavedFilterForm(request.POST)
    if not form.is_valid():
        return bad_request(request, form.problems())
    query = QueryDict(form.cleaned_data["query"])
    check, _ = _parse_query(request, query)
    if not check.is_valid():
        return bad_request(request, check.problems())
    saved, created = services.save_filter(
        by=request.user, cohort=key, name=form.cleaned_data["name"], query=check.filter_query()
    )
    verb = "Saved" if created else "Updated"
    messages.success(request, f"{verb} the filter “{saved.name}”.")
    return redirect(reverse("cohort", args=[key]) + (f"?{saved.query}" if saved.query else ""))


def _parse_query(request: HttpRequest, query: QueryDict) -> tuple[CohortForm, str]:
    purpose = purpose_for(role_of(request.user))
    return CohortForm(query, choices=queries.choices(user=request.user, purpose=purpose)), purpose


@require_POST
@login_required
def delete_filter(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    """Delete one of the reader's saved filters. Someone else's, or one already deleted (a
    second click), is not found: nothing is written and the page says so."""
    _cohort(key)
    saved = queries.saved_filter(user=request.user, pk=pk)
    if saved is None or saved.cohort != key:
        messages.info(request, "That saved filter no longer exists.")
        return redirect(reverse("cohort", args=[key]))
    services.delete_filter(by=request.user, saved=saved)
    messages.success(request, f"Deleted the filter “{saved.name}”.")
    return redirect(reverse("cohort", args=[key]))
