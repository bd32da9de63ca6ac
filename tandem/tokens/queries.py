"""Reads about access tokens and about the caller (no patient data here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from tandem.core.models import SiteRole
from tandem.core.queries import Role, purpose_for, role_of
from tandem.tokens.models import AccessToken


def tokens_of(user: Any) -> QuerySet[AccessToken]:
    """A user's tokens, newest first (revoked and expired ones included)."""
    return AccessToken.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")


def own_token(*, user: Any, token_id: int) -> AccessToken | None:
    """The user's token with this id, or None (someone else's token is as good as missing)."""
    if not 0 < token_id < 2**63:
        return None
    return AccessToken.objects.filter(user_id=user.pk, pk=token_id).first()


def token_by_id(token_id: int) -> AccessToken | None:
    if not 0 < token_id < 2**63:
        return None
    return AccessToken.objects.select_related("user").filter(pk=token_id).first()


def all_tokens(*, username: str | None = None) -> QuerySet[AccessToken]:
    """Every token (for the console), optionally one user's, newest first."""
    tokens = AccessToken.objects.select_related("user").order_by("-created_at", "-pk")
    if username:
        tokens = tokens.filter(user__username=username)
    return tokens


def user_named(username: str) -> Any | None:
    return get_user_model().objects.filter(username=username).first()


@dataclass(frozen=True)
class Profile:
    """Who a caller is: the role they work in, its purpose of use, and their site roles."""

    role: Role
    purpose: str
    site_roles: list[tuple[str, str]]  # (site name, role)


def profile_of(user: Any) -> Profile:
    role = role_of(user)
    site_roles = [
        (r.site.name, r.role)
        for r in SiteRole.objects.filter(user_id=user.pk)
        .select_related("site")
        .order_by("site__name", "role")
    ]
    return Profile(role, purpose_for(role), site_roles)
