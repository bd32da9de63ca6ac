"""Writes about staff, sites and logins. Each records an audit event; none commits."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tandem.audit import services as audit
from tandem.core.lib.cli import UsageError
from tandem.core.models import Practitioner, Site, SiteRole


def create_user(
    *,
    by: Any,
    username: str,
    password: str,
    email: str = "",
    superuser: bool = False,
    check_password: bool = True,
) -> Any:
    """Create a login. Refuses an existing username or a weak password."""
    user_model = get_user_model()
    if not username or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise UsageError(f"username {username!r}: use letters, digits, '.', '-' or '_'")
    if user_model.objects.filter(username=username).exists():
        raise UsageError(f"username {username!r} is taken")
    if check_password:
        try:
            validate_password(password, user_model(username=username, email=email))
        except ValidationError as exc:
            raise UsageError("password refused: " + " ".join(exc.messages)) from None
    if superuser:
        user = user_model.objects.create_superuser(username, email, password)
    else:
        user = user_model.objects.create_user(username, email, password)
    audit.record(
        actor=by,
        entry=audit.Entry("write:create_user", "written", detail=f"user={user.pk}"),
    )
    return user


def link_practitioner(*, by: Any, user: Any, practitioner: Practitioner) -> Practitioner:
    """Make ``user`` the login of ``practitioner``."""
    practitioner.user = user
    practitioner.save(update_fields=["user"])
    audit.record(
        actor=by,
        entry=audit.Entry(
            "write:link_practitioner",
            "written",
            detail=f"user={user.pk} practitioner={practitioner.pk}",
        ),
    )
    return practitioner


def grant_site_role(*, by: Any, user: Any, site: Site, role: str) -> SiteRole:
    if role not in SiteRole.Role.values:
        raise UsageError(f"unknown site role {role!r} (one of {', '.join(SiteRole.Role.values)})")
    grant, _ = SiteRole.objects.get_or_create(user=user, site=site, role=role)
    audit.record(
        actor=by,
        entry=audit.Entry(
            "write:grant_site_role", "written", detail=f"user={user.pk} site={site.pk} role={role}"
        ),
    )
    return grant


def record_sign_in(*, user: Any, detail: str = "") -> None:
    """Audit a successful sign-in by ``user`` (the session it opens is the write). ``detail``
    says how, when not by password alone (``via=oidc``, ``second-factor=totp``)."""
    audit.record(actor=user, entry=audit.Entry("sign-in", "written", detail=detail))


def record_failed_sign_in(*, by: Any, username: str, reason: str) -> None:
    """Audit a refused sign-in: wrong credentials, the failure that starts a lockout, or an
    attempt while locked out. The actor is whoever asked (anonymous); the username they typed
    goes in the detail, printable characters only and cut to 150 (Django's username length).
    """
    typed = "".join(c if c.isprintable() else "?" for c in username)[:150]
    audit.record(
        actor=by, entry=audit.Entry("sign-in", "denied", detail=f"{reason}; username={typed}")
    )


def record_sign_out(*, user: Any, reason: str = "") -> None:
    """Audit ``user`` signing out; ``reason`` idle when the session timed out."""
    detail = f"reason={reason}" if reason else ""
    audit.record(actor=user, entry=audit.Entry("sign-out", "written", detail=detail))


def record_account_change(*, user: Any, action: str, detail: str = "") -> None:
    """Audit a change a user made to their own sign-in (password, second factor)."""
    audit.record(actor=user, entry=audit.Entry(f"write:{action}", "written", detail=detail))
