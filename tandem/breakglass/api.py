"""API router for break-the-glass (``/api/emergency-access``): list, declare, one grant, review.

Thin handlers over ``breakglass.queries`` and ``breakglass.services``. Reads need a token with
``emergency-access:read``, writes ``emergency-access:write`` (a signed-in session may call
both). A privacy officer lists every grant and reads and reviews each one; anyone else lists
only the grants they declared, and any grant's detail or review is the same audited 404 as a
missing one. Declaring needs an active practitioner (403 ``not-a-practitioner``), a reason (400
``validation-error`` naming ``reason``, audited as a denied declaration) and a patient that
exists (404 ``patient-not-found``, audited, counted as a miss: after
``MAX_MISSES_PER_HOUR`` misses in an hour, 429 ``lookup-paused``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

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
    not_found_patient,
    page_of,
    record_read,
    requires,
)
from tandem.breakglass import queries, rules, services
from tandem.breakglass.models import EmergencyAccess
from tandem.core.forms import MAX_ID
from tandem.core.lib.access import AccessDenied

router = Router()

NO_NUL = r"^[^\x00]*$"


class GrantOut(Schema):
    id: int
    patient_id: int
    user: str = Field(description="User name of the reader who declared it")
    reason: str
    declared_at: dt.datetime
    expires_at: dt.datetime
    active: bool = Field(description="True until expires_at")
    review_status: str = Field(description="unreviewed, justified or not-justified")
    reviewer: str | None
    review_note: str
    reviewed_at: dt.datetime | None


class EventOut(Schema):
    occurred_at: dt.datetime
    action: str
    categories: str
    purpose: str
    outcome: str


class GrantDetailOut(GrantOut):
    events: list[EventOut] = Field(
        description="The holder's audit events about this patient from declaration to expiry"
    )


class ListQuery(PageQuery):
    status: str = Field("all", pattern="^(all|unreviewed|justified|not-justified)$")


class DeclareIn(Schema):
    patient_id: int = Field(ge=1, le=MAX_ID)
    reason: str = Field(max_length=rules.MAX_REASON_LENGTH, pattern=NO_NUL)


class ReviewIn(Schema):
    justified: bool
    note: str = Field("", max_length=rules.MAX_NOTE_LENGTH, pattern=NO_NUL)


def _out(grant: EmergencyAccess) -> dict[str, Any]:
    return {
        "id": grant.pk,
        "patient_id": grant.patient_id,
        "user": grant.user.get_username(),
        "reason": grant.reason,
        "declared_at": grant.declared_at,
        "expires_at": grant.expires_at,
        "active": grant.declared_at <= timezone.now() < grant.expires_at,
        "review_status": grant.review_status,
        "reviewer": grant.reviewer.get_username() if grant.reviewer else None,
        "review_note": grant.review_note,
        "reviewed_at": grant.reviewed_at,
    }


def _not_found() -> ApiProblem:
    return ApiProblem(
        404, "emergency-access-not-found", "No emergency access with this id that you may see."
    )


def _detail(request: HttpRequest, grant_id: int, what: str) -> queries.GrantDetail:
    user = caller(request).user
    if grant_id > MAX_ID:
        raise _not_found()
    try:
        return queries.grant_detail(user=user, pk=grant_id, detail=audit_detail(request, what))
    except (AccessDenied, queries.NotFound):
        raise _not_found() from None


@router.get(
    "",
    response=Page[GrantOut],
    auth=requires("emergency-access:read"),
    summary="Emergency access grants",
)
def list_grants(request: HttpRequest, q: Query[ListQuery]) -> dict[str, Any]:
    """Privacy officers: every grant, awaiting review first. Others: the grants they declared."""
    user = caller(request).user
    if queries.is_privacy_officer(user):
        page = queries.review_queue(
            user=user,
            status=q.status,
            page=q.page,
            page_size=q.page_size,
            detail=audit_detail(request, "emergency"),
        )
    else:
        page = queries.own_grants(user=user, status=q.status, page=q.page, page_size=q.page_size)
        record_read(request, "own emergency access")
    return page_of(request, page, [_out(g) for g in page])


@router.post(
    "",
    response={201: GrantOut},
    auth=requires("emergency-access:write"),
    summary="Declare emergency access",
)
def declare(request: HttpRequest, body: DeclareIn) -> Any:
    """Break the glass for one patient: a reason is required; lasts TANDEM_BREAK_GLASS_MINUTES."""
    user = caller(request).user
    try:
        grant = services.declare(by=user, patient_id=body.patient_id, reason=body.reason)
    except services.BreakGlassError as error:
        if error.code == "not-needed":
            raise ApiProblem(409, "emergency-access-not-needed", error.message) from None
        raise ApiProblem(
            400, "validation-error", f"{error.field}: {error.message}", extra={"field": error.field}
        ) from None
    except services.TooManyMisses:
        raise ApiProblem(
            429,
            "lookup-paused",
            f"More than {rules.MAX_MISSES_PER_HOUR} declarations matched no patient in the "
            "last hour; call the privacy office.",
        ) from None
    except AccessDenied:
        if not queries.is_practitioner(user):
            raise ApiProblem(
                403, "not-a-practitioner", "Only practitioners may declare emergency access."
            ) from None
        raise not_found_patient() from None
    return Status(201, _out(grant))


@router.get(
    "/{grant_id}",
    response=GrantDetailOut,
    auth=requires("emergency-access:read"),
    summary="One emergency access",
)
def grant_detail(request: HttpRequest, grant_id: int) -> dict[str, Any]:
    """A grant with its reason and the holder's audit events during it (privacy officers)."""
    found = _detail(request, grant_id, f"emergency grant={grant_id}")
    events = [
        {
            "occurred_at": e.occurred_at,
            "action": e.action,
            "categories": e.categories,
            "purpose": e.purpose,
            "outcome": e.outcome,
        }
        for e in found.events
    ]
    return {**_out(found.grant), "events": events}


@router.post(
    "/{grant_id}/review",
    response=GrantOut,
    auth=requires("emergency-access:write"),
    summary="Review an emergency access",
)
def review(request: HttpRequest, grant_id: int, body: ReviewIn) -> dict[str, Any]:
    """Mark a grant justified or not (a note is required when not); once only."""
    found = _detail(request, grant_id, f"emergency review grant={grant_id}")
    try:
        grant = services.review(
            by=caller(request).user, grant=found.grant, justified=body.justified, note=body.note
        )
    except services.BreakGlassError as error:
        if error.code == "reviewed":
            raise ApiProblem(409, "emergency-access-reviewed", error.message) from None
        raise ApiProblem(
            400, "validation-error", f"{error.field}: {error.message}", extra={"field": error.field}
        ) from None
    return _out(grant)
