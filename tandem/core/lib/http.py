"""HTTP helpers shared by views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tandem.consent.gate import AccessDenied


def refusals_as_404(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer a gate refusal with the 404 page, *returned* rather than raised.

    Under ``ATOMIC_REQUESTS`` an exception leaving the view rolls back the request's
    transaction, and with it the audit event the gate wrote for the refusal. This decorator
    sits inside that transaction, so the "denied" event is committed. A refused patient and a
    missing one look the same, so ids cannot be probed.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except AccessDenied:
            return render(request, "404.html", status=404)

    return wrapped
