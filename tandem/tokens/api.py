"""API router: who am I (``GET /api/me``) and the caller's own tokens (session only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from tandem.api import (
    ApiProblem,
    Page,
    PageQuery,
    caller,
    page_of,
    record_read,
    session_only,
)
from tandem.tokens import queries, rules, services
from tandem.tokens.models import AccessToken

router = Router()


class RoleOut(Schema):
    key: str = Field(
        description="pcp, care-manager, bh-clinician, psychiatrist, leader, patient or staff"
    )
    label: str


class SiteRoleOut(Schema):
    site: str
    role: str


class TokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="The token's first characters (tnd_ + lookup prefix)")
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    status: str = Field(description="active, expired or revoked")


class MeOut(Schema):
    username: str
    name: str
    role: RoleOut
    purpose: str = Field(description="The purpose of use the consent gate applies to your reads")
    site_roles: list[SiteRoleOut]
    authenticated_by: str = Field(description="token or session")
    scopes: list[str] = Field(description="Scopes you may use now (a session has all)")
    token: TokenOut | None = Field(description="The token used for this request, if any")


class TokenIn(Schema):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")
    scopes: list[str] = Field(min_length=1, description=f"Any of: {', '.join(rules.SCOPES)}")
    expires_in_days: int = Field(rules.DEFAULT_LIFETIME_DAYS, ge=1, le=rules.MAX_LIFETIME_DAYS)


class IssuedOut(Schema):
    token: TokenOut
    secret: str = Field(description="The token itself: shown this once, never stored")


def token_out(token: AccessToken) -> dict[str, Any]:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.display_prefix,
        "scopes": token.scope_list,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
        "status": token.status_on(timezone.now()),
    }


@router.get("/me", response=MeOut, summary="Who am I")
def me(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user or the token's user: role, purpose of use, site roles and scopes."""
    who = caller(request)
    profile = queries.profile_of(who.user)
    record_read(request, "me")
    practitioner = profile.role.practitioner
    return {
        "username": who.user.get_username(),
        "name": practitioner.name if practitioner else who.user.get_full_name(),
        "role": {"key": profile.role.key, "label": profile.role.label},
        "purpose": profile.purpose,
        "site_roles": [{"site": site, "role": role} for site, role in profile.site_roles],
        "authenticated_by": "token" if who.token else "session",
        "scopes": who.scopes if who.scopes is not None else list(rules.SCOPES),
        "token": token_out(who.token) if who.token else None,
    }


@router.get("/tokens", response=Page[TokenOut], auth=session_only(), summary="List my tokens")
def list_tokens(request: HttpRequest, paging: Query[PageQuery]) -> dict[str, Any]:
    """Your personal access tokens, newest first (revoked and expired ones too)."""
    who = caller(request)
    page = Paginator(queries.tokens_of(who.user), paging.page_size).get_page(paging.page)
    record_read(request, "tokens")
    return page_of(request, page, [token_out(t) for t in page.object_list])


@router.post("/tokens", response={201: IssuedOut}, auth=session_only(), summary="Create a token")
def create_token(request: HttpRequest, data: TokenIn) -> Status:
    """Issue a token acting as you. The response carries its secret, once."""
    who = caller(request)
    try:
        issued = services.create_token(
            by=who.user,
            user=who.user,
            name=data.name,
            scopes=data.scopes,
            expires_in_days=data.expires_in_days,
        )
    except ValueError as exc:
        raise ApiProblem(400, "validation-error", str(exc)) from None
    return Status(201, {"token": token_out(issued.token), "secret": issued.secret})


@router.delete(
    "/tokens/{int:token_id}", response=TokenOut, auth=session_only(), summary="Revoke a token"
)
def revoke_token(request: HttpRequest, token_id: int) -> dict[str, Any]:
    """Revoke one of your tokens for good (it stays listed, as revoked)."""
    who = caller(request)
    token = queries.own_token(user=who.user, token_id=token_id)
    if token is None:
        raise ApiProblem(404, None, "You have no token with this id.")
    try:
        services.revoke_token(by=who.user, token=token)
    except ValueError as exc:
        raise ApiProblem(409, None, str(exc)) from None
    return token_out(token)
