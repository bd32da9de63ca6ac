"""API router for worklists, their items and contact attempts (``/api/worklists``).

Thin handlers over ``outreach.queries`` (so over ``consent.gate``) and ``outreach.services``:
reads need ``worklists:read``, writes (claim, log an attempt) ``worklists:write``. An item the
reader may not see and one that does not exist are the same 404 (``item-not-found``), audited.
Logging an attempt is idempotent by ``idempotency_key`` (the same key twice writes once: the
second answer is 200 with the first attempt; the first is 201).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from tandem.api import (
    ApiProblem,
    Page,
    PageQuery,
    audit_detail,
    caller,
    page_of,
    record_read,
    requires,
)
from tandem.consent import gate, redisclosure
from tandem.core.forms import MAX_ID
from tandem.outreach import queries, rules, services

router = Router(auth=requires("worklists:read"))
WRITE = requires("worklists:write")

State = Literal["open", "new", "claimed", "in-outreach", "resolved", "unable-to-reach", "all"]
Channel = Literal[
    "phone",
    "text",
    "letter",
    "certified-letter",
    "next-of-kin",
    "home-visit",
    "accompanied-visit",
    "transport",
]
Outcome = Literal[
    "reached", "left-message", "no-answer", "wrong-number", "declined", "appointment-made"
]


class WorklistOut(Schema):
    key: str
    title: str
    who: str
    closes_when: str
    time_critical: bool
    protocol: str
    counts: dict[str, int] = Field(description="Items you may see, by state (closed: last 30 days)")
    url: str


class ItemOut(Schema):
    id: int
    worklist: str
    patient_id: int
    patient_name: str
    state: str
    reason: str
    evidence: dict[str, Any]
    risk: int | None = Field(description="Risk score, when you may see it")
    time_critical: bool
    due: dt.date | None
    next_due: dt.date | None
    owner: str | None
    opened_at: dt.datetime
    resolved_at: dt.datetime | None
    resolved_reason: str
    sensitivity: str
    url: str


class AttemptOut(Schema):
    id: int
    item_id: int
    channel: str
    outcome: str
    note: str
    attempted_at: dt.datetime
    by: str | None


class ProtocolOut(Schema):
    description: str
    attempts: int
    counted: int
    channels: list[str]
    exhausted: bool
    next_due: dt.date | None


REDISCLOSURE_FIELD = "The 42 CFR 2.32 notice when the response includes Part 2 rows"


class ItemDetailOut(ItemOut):
    protocol: ProtocolOut
    attempts: list[AttemptOut]
    redisclosure_notice: str | None = Field(None, description=REDISCLOSURE_FIELD)


class ItemPage(Page[ItemOut]):
    redisclosure_notice: str | None = Field(None, description=REDISCLOSURE_FIELD)


class ItemQuery(PageQuery):
    state: State = "open"
    owner: Literal["any", "me", "none"] = "any"
    site: int | None = Field(None, ge=1, le=MAX_ID)
    sort: Literal["rank", "due", "opened"] = "rank"


class AttemptIn(Schema):
    channel: Channel
    outcome: Outcome
    attempted_at: dt.datetime | None = Field(
        None, description="When; default now; not in the future"
    )
    note: str = Field("", max_length=rules.NOTE_MAX, pattern=r"^[^\x00]*$")
    idempotency_key: str = Field(
        "",
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]*$",
        description="The same key twice writes once (a retried request)",
    )


def _user_name(user: Any) -> str | None:
    return (user.get_full_name() or user.get_username()) if user is not None else None


def _item(item: Any, risk_visible: bool | None = None) -> dict[str, Any]:
    visible = getattr(item, "risk_visible", False) if risk_visible is None else risk_visible
    return {
        "id": item.pk,
        "worklist": item.worklist,
        "patient_id": item.patient_id,
        "patient_name": f"{item.patient.family_name}, {item.patient.given_name}",
        "state": item.state,
        "reason": item.reason,
        "evidence": item.evidence,
        "risk": item.risk if visible else None,
        "time_critical": item.time_critical,
        "due": item.due,
        "next_due": item.next_due,
        "owner": _user_name(item.owner),
        "opened_at": item.opened_at,
        "resolved_at": item.resolved_at,
        "resolved_reason": item.resolved_reason,
        "sensitivity": item.sensitivity,
        "url": f"/api/worklists/items/{item.pk}",
    }


def _attempt(a: Any) -> dict[str, Any]:
    return {
        "id": a.pk,
        "item_id": a.item_id,
        "channel": a.channel,
        "outcome": a.outcome,
        "note": a.note,
        "attempted_at": a.attempted_at,
        "by": _user_name(a.by),
    }


def _may_use(request: HttpRequest) -> None:
    user = caller(request).user
    if not queries.may_use_worklists(user):
        gate.deny(
            user=user,
            patient_id=None,
            purpose=queries.purpose_of(user),
            detail=audit_detail(request, "worklists: no worklist role"),
        )
        raise ApiProblem(403, "no-worklist-role", "You do not work on worklists.")


def _detail(request: HttpRequest, pk: int) -> queries.ItemView:
    user = caller(request).user
    purpose = queries.purpose_of(user)
    if pk > MAX_ID:
        gate.deny(user=user, patient_id=None, purpose=purpose, detail=audit_detail(request, "item"))
        raise _not_found()
    try:
        return queries.item_detail(
            user=user, purpose=purpose, pk=pk, detail=audit_detail(request, "item")
        )
    except (queries.ItemNotFound, gate.AccessDenied):
        raise _not_found() from None


def _not_found() -> ApiProblem:
    return ApiProblem(
        404,
        "item-not-found",
        "No worklist item with this id that you may see. Every attempt is recorded.",
    )


def _detail_out(request: HttpRequest, view: queries.ItemView) -> dict[str, Any]:
    from tandem.registry.queries import risk_for

    user = caller(request).user
    visible = bool(
        risk_for(patient_ids=[view.item.patient_id], user=user, purpose=view.disclosure.purpose)
    )
    view.item.patient = view.patient
    status = view.status
    return {
        **_item(view.item, risk_visible=visible),
        "protocol": {
            "description": status.protocol.describe(),
            "attempts": status.attempts,
            "counted": status.counted,
            "channels": list(status.channels),
            "exhausted": status.exhausted,
            "next_due": status.next_due if view.item.is_open else None,
        },
        "attempts": [_attempt(a) for a in view.attempts],
        "redisclosure_notice": redisclosure.for_rows([view.item, *view.attempts]) or None,
    }


@router.get("", response=list[WorklistOut], summary="Worklists with counts")
def list_worklists(request: HttpRequest) -> list[dict[str, Any]]:
    _may_use(request)
    user = caller(request).user
    counts = queries.worklist_counts(user=user, purpose=queries.purpose_of(user))
    record_read(request, "worklists")
    return [
        {
            "key": w.key,
            "title": w.title,
            "who": w.who,
            "closes_when": w.closes_when,
            "time_critical": w.time_critical,
            "protocol": w.protocol.describe(),
            "counts": counts.get(w.key, {}),
            "url": f"/api/worklists/{w.key}/items",
        }
        for w in queries.worklists()
    ]


@router.get(
    "/items/{int:item_id}", response=ItemDetailOut, summary="One item, its protocol and attempts"
)
def item_detail(request: HttpRequest, item_id: int) -> dict[str, Any]:
    return _detail_out(request, _detail(request, item_id))


@router.get(
    "/items/{int:item_id}/attempts", response=list[AttemptOut], summary="An item's attempts"
)
def list_attempts(request: HttpRequest, item_id: int) -> list[dict[str, Any]]:
    return [_attempt(a) for a in _detail(request, item_id).attempts]


def _writer(request: HttpRequest, item_id: int) -> queries.ItemView:
    view = _detail(request, item_id)
    if view.disclosure.purpose != "treatment":
        gate.deny(
            user=caller(request).user,
            patient_id=view.item.patient_id,
            purpose=view.disclosure.purpose,
            detail=audit_detail(request, "item write"),
        )
        raise ApiProblem(403, "treatment-required", "Only the care team acts on worklist items.")
    return view


@router.post(
    "/items/{int:item_id}/attempts",
    auth=WRITE,
    response={200: AttemptOut, 201: AttemptOut},
    summary="Log a contact attempt",
)
def create_attempt(request: HttpRequest, item_id: int, body: AttemptIn) -> Status:
    view = _writer(request, item_id)
    try:
        attempt, created = services.log_attempt(
            by=caller(request).user,
            item=view.item,
            channel=body.channel,
            outcome=body.outcome,
            attempted_at=body.attempted_at or timezone.now(),
            note=body.note,
            nonce=f"api:{body.idempotency_key}" if body.idempotency_key else "",
        )
    except services.OutreachError as error:
        raise ApiProblem(
            400 if error.field else 409,
            "invalid-attempt" if error.field else "invalid-state",
            error.message,
            extra={"field": error.field} if error.field else None,
        ) from None
    return Status(201 if created else 200, _attempt(attempt))


@router.post(
    "/items/{int:item_id}/claim", auth=WRITE, response=ItemDetailOut, summary="Claim an item"
)
def claim(request: HttpRequest, item_id: int) -> dict[str, Any]:
    view = _writer(request, item_id)
    try:
        services.claim_item(by=caller(request).user, item=view.item)
    except services.OutreachError as error:
        raise ApiProblem(409, "invalid-state", error.message) from None
    return _detail_out(request, _detail(request, item_id))


@router.get("/{key}/items", response=ItemPage, summary="A worklist's items (ranked)")
def list_items(request: HttpRequest, key: str, q: Query[ItemQuery]) -> dict[str, Any]:
    _may_use(request)
    if queries.worklist(key) is None:
        raise ApiProblem(
            404, "worklist-not-found", f"No worklist {key[:60]!r}; see /api/worklists."
        )
    user = caller(request).user
    filters = queries.Filters(state=q.state, owner=q.owner, site=q.site, sort=q.sort, page=q.page)
    page = queries.worklist_page(
        user=user,
        purpose=queries.purpose_of(user),
        key=key,
        filters=filters,
        page_size=q.page_size,
        detail=audit_detail(request, "worklist"),
    )
    if not page.object_list:
        record_read(request, f"worklist {key[:60]}")
    return {
        **page_of(request, page, [_item(i) for i in page.object_list]),
        "redisclosure_notice": redisclosure.for_rows(page.object_list) or None,
    }
