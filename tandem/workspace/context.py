"""Template context for the shell: the navigation of the signed-in user's role, the version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

import tandem
from tandem.core.queries import role_of
from tandem.workspace import rules


@dataclass(frozen=True)
class NavLink:
    url_name: str
    label: str
    href: str
    current: str | None  # aria-current: "page", "true" (a page in its section) or None


def navigation(role_key: str, url_name: str | None) -> list[NavLink]:
    """The role's navigation; entries whose page does not exist (no such URL name) left out."""
    links = []
    for entry in rules.entries_for(role_key):
        try:
            href = reverse(entry.url_name)
        except NoReverseMatch:
            continue
        links.append(NavLink(entry.url_name, entry.label, href, rules.current(entry, url_name)))
    return links


def shell(request: HttpRequest) -> dict[str, Any]:
    """``tandem_version``; for a signed-in user also ``tandem_role`` (the capacity they work
    in, shown beside their name) and ``tandem_nav`` (their role's navigation)."""
    context: dict[str, Any] = {"tandem_version": tandem.__version__}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return context
    role = role_of(user)
    match = getattr(request, "resolver_match", None)
    context["tandem_role"] = role
    context["tandem_nav"] = navigation(role.key, match.url_name if match else None)
    return context
