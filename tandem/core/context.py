"""Template context: who is signed in and in which capacity (for the navigation bar)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def persona(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from tandem.core.queries import role_of

    return {"tandem_role": role_of(user)}
