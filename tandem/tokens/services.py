"""Writes about access tokens: issue, revoke, and check a presented token.

Each records an audit event in the caller's transaction. A refused token is audited with
outcome ``denied``; callers must *return* their error response (not raise through the
request's transaction), or the refusal's audit event is rolled back with it.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from tandem.audit import services as audit
from tandem.tokens import rules
from tandem.tokens.models import AccessToken

# Recording every use would write the token row on every request; a minute is precise enough
# (each request is in the audit trail anyway).
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Issued:
    """A new token and its secret, which exists only here: show it once, never store it."""

    token: AccessToken
    secret: str


class TokenRefused(Exception):
    """A presented token cannot be used. ``code``: malformed, unknown, expired, revoked, inactive."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def create_token(
    *, by: Any, user: Any, name: str, scopes: Iterable[str], expires_in_days: int
) -> Issued:
    """Issue a token acting as ``user``. Raises ValueError on unknown scopes or a bad lifetime."""
    scope_list = rules.parse_scopes(scopes)
    rules.check_lifetime(expires_in_days)
    name = name.strip()
    if not name:
        raise ValueError("give the token a name (what it is for)")
    if not getattr(user, "is_active", False):
        raise ValueError(f"user {user.get_username()} is inactive")
    secret = rules.generate()
    while AccessToken.objects.filter(prefix=rules.lookup_prefix(secret)).exists():
        secret = rules.generate()  # 62**8 prefixes: a clash is astronomically rare
    now = timezone.now()
    token = AccessToken.objects.create(
        user=user,
        name=name[:100],
        prefix=rules.lookup_prefix(secret),
        digest=rules.digest(secret),
        scopes=" ".join(scope_list),
        created_at=now,
        expires_at=now + dt.timedelta(days=expires_in_days),
    )
    audit.record(
        actor=by,
        entry=audit.Entry(
            "write:create_token",
            "written",
            detail=f"token={token.pk} prefix={token.prefix} user={user.pk} "
            f"scopes={','.join(scope_list)} expires={token.expires_at:%Y-%m-%d}",
        ),
    )
    return Issued(token, secret)


def revoke_token(*, by: Any, token: AccessToken) -> AccessToken:
    """Revoke a token for good. Raises ValueError when it is already revoked."""
    if token.revoked_at is not None:
        raise ValueError(f"token {token.pk} was already revoked on {token.revoked_at:%Y-%m-%d}")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record(
        actor=by,
        entry=audit.Entry(
            "write:revoke_token",
            "written",
            detail=f"token={token.pk} prefix={token.prefix} user={token.user_id}",
        ),
    )
    return token


def authenticate(*, presented: str) -> AccessToken:
    """The active token ``presented`` is; records its use. Raises TokenRefused (audited)."""
    if not rules.is_well_formed(presented):
        _refuse(None, "malformed", "The bearer token is not a Tandem token (tnd_ + 48 characters).")
    token = (
        AccessToken.objects.select_related("user")
        .filter(prefix=rules.lookup_prefix(presented))
        .first()
    )
    if token is None or not hmac.compare_digest(token.digest, rules.digest(presented)):
        _refuse(None, f"unknown prefix={rules.lookup_prefix(presented)}", "Unknown token.")
    now = timezone.now()
    status = token.status_on(now)
    if status == "revoked":
        _refuse(token, "revoked", "This token was revoked.")
    if status == "expired":
        _refuse(token, "expired", f"This token expired on {token.expires_at:%Y-%m-%d}.")
    if not token.user.is_active:
        _refuse(token, "inactive", "This token's user can no longer sign in.")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def deny_scope(*, token: AccessToken, scope: str, path: str) -> None:
    """Audit a call the token's scopes do not allow."""
    audit.record(
        actor=token.user,
        entry=audit.Entry(
            "api-scope",
            "denied",
            detail=f"token={token.pk} lacks scope {scope} for {path}"[:400],
        ),
    )


def _refuse(token: AccessToken | None, why: str, message: str) -> NoReturn:
    actor = token.user if token is not None else AnonymousUser()
    which = f" token={token.pk}" if token is not None else ""
    audit.record(actor=actor, entry=audit.Entry("api-auth", "denied", detail=f"{why}{which}"))
    raise TokenRefused(why.split()[0], message)
