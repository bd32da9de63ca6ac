"""Worklist pages: the index, one worklist, one item with its actions, and letters.

Views parse, call ``outreach.queries``/``outreach.services``, and render; htmx requests get
the partial. Who may use worklists: ``queries.may_use_worklists`` (others get 403, audited).
Items are read through the gate; an item the reader may not see, or none with that id, is a
404 (audited by the gate). Actions on an item need the treatment purpose (a leader reads the
lists for operations and gets 403 on an action).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from tandem.consent import gate, redisclosure
from tandem.core.forms import MAX_ID
from tandem.core.lib.http import refusals_as_404
from tandem.core.views import HtmxHttpRequest, bad_request
from tandem.outreach import forms, letters, queries, rules, services


def _forbidden(request: HttpRequest, what: str) -> HttpResponse:
    gate.deny(
        user=request.user,
        patient_id=None,
        purpose=queries.purpose_of(request.user),
        detail=f"{what}: no worklist role",
    )
    return render(request, "403.html", status=403)


def _gated(view: Any) -> Any:
    """Refuse users who do not work worklists (403, audited) before the view runs."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not queries.may_use_worklists(request.user):
            return _forbidden(request, view.__name__)
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@require_GET
@login_required
@_gated
def index(request: HttpRequest) -> HttpResponse:
    """Every worklist with its counts by state; each number links to those items."""
    counts = queries.worklist_counts(user=request.user, purpose=queries.purpose_of(request.user))
    rows = [
        {
            "worklist": w,
            "open": _open(counts.get(w.key, {})),
            "cells": [(s, label, counts.get(w.key, {}).get(s, 0)) for s, label in rules.STATES],
        }
        for w in queries.worklists()
    ]
    context = {"rows": rows, "states": rules.STATES, "breadcrumbs": [("Worklists", None)]}
    return render(request, "outreach/worklists.html", context)


def _open(counts: dict[str, int]) -> int:
    return sum(n for state, n in counts.items() if state in rules.OPEN_STATES)


@require_GET
@login_required
@_gated
def worklist(request: HtmxHttpRequest, key: str) -> HttpResponse:
    """One worklist: items ranked, filtered by state/owner/site, paginated on the server."""
    listed = queries.worklist(key)
    if listed is None:
        raise Http404("no such worklist")
    form = forms.FilterForm(request.GET)
    if not form.is_valid():
        return bad_request(request, form.problems())
    purpose = queries.purpose_of(request.user)
    page = queries.worklist_page(
        user=request.user, purpose=purpose, key=key, filters=form.filters()
    )
    context = {
        "worklist": listed,
        "form": form,
        "page": page,
        "query": _query_without_page(request),
        "can_act": purpose == "treatment",
        "redisclosure": redisclosure.for_rows(page.object_list),
        "breadcrumbs": [("Worklists", reverse("worklists")), (listed.title, None)],
    }
    template = "outreach/_items.html" if request.htmx else "outreach/worklist.html"
    return render(request, template, context)


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _item(request: HttpRequest, pk: int) -> queries.ItemView:
    purpose = queries.purpose_of(request.user)
    if pk > MAX_ID:
        gate.deny(user=request.user, patient_id=None, purpose=purpose, detail="malformed item id")
        raise queries.ItemNotFound(pk)
    return queries.item_detail(user=request.user, purpose=purpose, pk=pk)


def _not_found(view: Any) -> Any:
    """An item the reader may not see, or none: the 404 page, returned (the audit stands)."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except queries.ItemNotFound:
            return render(request, "404.html", status=404)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return refusals_as_404(wrapped)


def _item_context(request: HttpRequest, view: queries.ItemView, **forms_: Any) -> dict[str, Any]:
    from tandem.registry.queries import risk_for

    item = view.item
    purpose = view.disclosure.purpose
    risk = risk_for(patient_ids=[item.patient_id], user=request.user, purpose=purpose)
    now = timezone.localtime().replace(second=0, microsecond=0)
    site = queries.suggested_pc_site(patient_id=item.patient_id, home_site=view.patient.home_site)
    defaults = {
        "attempt_form": forms.AttemptForm(
            initial={"attempted_at": now, "nonce": forms.new_nonce(), "channel": "phone"}
        ),
        "book_form": forms.BookForm(
            initial={
                "start": (now + dt.timedelta(days=7)).replace(hour=9, minute=0),
                "site": site,
                "nonce": forms.new_nonce(),
            }
        ),
        "resolve_form": forms.ResolveForm(),
        "unable_form": forms.UnableForm(),
    }
    defaults.update(forms_)
    return {
        "view": view,
        "item": item,
        "patient": view.patient,
        "age": view.patient.age_on(view.patient.deceased_date or timezone.localdate()),
        "status": view.status,
        "evidence": rules.evidence_rows(item.evidence),
        "redisclosure": redisclosure.notice_if(
            redisclosure.carries_part2([item]) or redisclosure.in_disclosure(view.disclosure)
        ),
        "mrn": view.extra.get("mrn", ""),
        "pcp": view.extra.get("pcp", ""),
        "risk": risk.get(item.patient_id),
        "withheld": {"risk": []},
        "can_act": purpose == "treatment" and item.is_open,
        "letter_languages": letters.languages(),
        "breadcrumbs": [
            ("Worklists", reverse("worklists")),
            (view.worklist.title, reverse("worklist", args=[item.worklist])),
            ("Item", None),
        ],
        **defaults,
    }


@require_GET
@login_required
@_not_found
def item_page(request: HttpRequest, pk: int) -> HttpResponse:
    """One item: banner, reason and evidence, risk, protocol, attempts, and the actions."""
    view = _item(request, pk)
    return render(request, "outreach/item.html", _item_context(request, view))


def _act(request: HttpRequest, pk: int) -> queries.ItemView | HttpResponse:
    view = _item(request, pk)
    if view.disclosure.purpose != "treatment":
        gate.deny(
            user=request.user,
            patient_id=view.item.patient_id,
            purpose=view.disclosure.purpose,
            detail=f"worklist item {pk}: action needs treatment",
        )
        return render(request, "403.html", status=403)
    return view


def _refused(
    request: HttpRequest, view: queries.ItemView, form_name: str, form: Any, error: Any
) -> HttpResponse:
    if error is not None:
        form.add_error(error.field if error.field in form.fields else None, error.message)
    context = _item_context(request, view, **{form_name: form})
    context["error_form"] = form_name
    return render(request, "outreach/item.html", context, status=400)


@require_POST
@login_required
@_not_found
def claim(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Claim the item (inline on the list with htmx: the row comes back)."""
    view = _act(request, pk)
    if isinstance(view, HttpResponse):
        return view
    try:
        item = services.claim_item(by=request.user, item=view.item)
    except services.OutreachError as error:
        return bad_request(request, [("Claim", error.message)])
    if request.htmx:
        return _row(request, view, item, just_claimed=True)
    messages.success(request, "You claimed this item.")
    return redirect("worklist-item", pk=pk)


@require_POST
@login_required
@_not_found
def release(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Give a claimed item back (the undo of a claim; inline with htmx)."""
    view = _act(request, pk)
    if isinstance(view, HttpResponse):
        return view
    try:
        item = services.release_item(by=request.user, item=view.item)
    except services.OutreachError as error:
        return bad_request(request, [("Release", error.message)])
    if request.htmx:
        return _row(request, view, item, just_claimed=False)
    messages.success(request, "You released this item.")
    return redirect("worklist-item", pk=pk)


def _row(
    request: HttpRequest, view: queries.ItemView, item: Any, *, just_claimed: bool
) -> HttpResponse:
    from tandem.registry.queries import risk_for

    risk = risk_for(patient_ids=[item.patient_id], user=request.user, purpose="treatment")
    item.patient, item.attempt_count = view.patient, len(view.attempts)
    item.risk_visible = item.patient_id in risk
    item.rank = item.risk if item.risk_visible else 0
    context = {"item": item, "can_act": True, "just_claimed": just_claimed}
    return render(request, "outreach/_item_row.html", context)


@require_POST
@login_required
@_not_found
def log_attempt(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a contact attempt; a second submission of the same form writes nothing."""
    view = _act(request, pk)
    if isinstance(view, HttpResponse):
        return view
    form = forms.AttemptForm(request.POST)
    if not form.is_valid():
        return _refused(request, view, "attempt_form", form, None)
    data = form.cleaned_data
    try:
        _, created = services.log_attempt(
            by=request.user,
            item=view.item,
            channel=data["channel"],
            outcome=data["outcome"],
            attempted_at=data["attempted_at"],
            note=data["note"],
            nonce=data["nonce"],
        )
    except services.OutreachError as error:
        return _refused(request, view, "attempt_form", form, error)
    if created:
        messages.success(request, "Contact attempt logged.")
    else:
        messages.info(request, "This attempt was already logged; nothing was added.")
    return redirect("worklist-item", pk=pk)


@require_POST
@login_required
@_not_found
def book(request: HttpRequest, pk: int) -> HttpResponse:
    """Book a primary-care appointment from the item ("appointment made")."""
    view = _act(request, pk)
    if isinstance(view, HttpResponse):
        return view
    form = forms.BookForm(request.POST)
    if not form.is_valid():
        return _refused(request, view, "book_form", form, None)
    data = form.cleaned_data
    try:
        services.book_appointment(
            by=request.user,
            item=view.item,
            start=data["start"],
            site=data["site"],
            channel=data["channel"],
            nonce=data["nonce"],
        )
    except services.OutreachError as error:
        return _refused(request, view, "book_form", form, error)
    when = timezone.localtime(data["start"]).strftime("%d-%b-%Y %H:%M")
    messages.success(request, f"Primary-care appointment booked for {when}.")
    return redirect("worklist-item", pk=pk)


@require_POST
@login_required
@_not_found
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """Resolve the item by hand, with a reason."""
    view = _act(request, pk)
    if isinstance(view, HttpResponse):
        return view
    form = forms.ResolveForm(request.POST)
    if not form.is_valid():
        return _refused(request, view, "resolve_form", form, None)
    try:
        services.resolve_item(by=request.user, item=view.item, reason=form.cleaned_data["reason"])
    except services.OutreachError as error:
        return _refused(request, view, "resolve_form", form, error)
    messages.success(request, "Item resolved.")
    return redirect("worklist-item", pk=pk)


@require_POST
@login_required
@_not_found
def unable(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark unable to reach (only once the protocol is exhausted) and escalate."""
    view = _act(request, pk)
    if isinstance(view, HttpResponse):
        return view
    form = forms.UnableForm(request.POST)
    if not form.is_valid():
        return _refused(request, view, "unable_form", form, None)
    try:
        services.mark_unable_to_reach(
            by=request.user, item=view.item, note=form.cleaned_data["note"]
        )
    except services.OutreachError as error:
        return _refused(request, view, "unable_form", form, error)
    messages.success(request, "Marked unable to reach; a task went to the supervisors' queue.")
    return redirect("worklist-item", pk=pk)


@require_GET
@login_required
@_not_found
def letter(request: HttpRequest, pk: int) -> HttpResponse:
    """One item's letter as PDF (the read is audited as ``letter``)."""
    purpose = queries.purpose_of(request.user)
    found = queries.letter_items(user=request.user, purpose=purpose, pks=[pk])
    if not found:
        raise queries.ItemNotFound(pk)
    return _pdf(found, f"letter-{pk}.pdf")


@require_POST
@login_required
@_gated
def batch_letters(request: HtmxHttpRequest) -> HttpResponse:
    """Letters for the selected items, one PDF, one per page. Logged as letter attempts only
    when the user says they will be mailed (``mark_sent``)."""
    form = forms.LettersForm(request.POST)
    if not form.is_valid():
        return bad_request(request, form.problems())
    purpose = queries.purpose_of(request.user)
    found = queries.letter_items(user=request.user, purpose=purpose, pks=form.cleaned_data["items"])
    if not found:
        return bad_request(request, [("Items", "None of the selected items can be printed.")])
    if form.cleaned_data["mark_sent"] and purpose == "treatment":
        for item in found:
            if item.is_open:
                services.log_attempt(
                    by=request.user,
                    item=item,
                    channel="letter",
                    outcome="left-message",
                    attempted_at=timezone.now(),
                    note="Outreach letter mailed.",
                )
    return _pdf(found, "letters.pdf")


def _pdf(items: list[Any], name: str) -> HttpResponse:
    day = timezone.localdate()
    body = letters.render(letters.letter_for(item, day=day) for item in items)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response
