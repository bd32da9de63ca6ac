"""HTTP helpers shared by views, and Tandem's own middleware."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from tandem.core.lib.access import AccessDenied


def refusals_as_404(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer a gate refusal with the 404 page, *returned* rather than raised.

    A request that may write runs its view in one transaction
    (:mod:`tandem.core.lib.transactions`): an exception leaving the view rolls it back, and
    with it the audit event the gate wrote for the refusal. This decorator sits inside that
    transaction, so the "denied" event is committed. (A GET has no request transaction: the
    gate's event is committed when written.) A refused patient and a missing one look the
    same, so ids cannot be probed.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except AccessDenied:
            return render(request, "404.html", status=404)

    return wrapped


class HeadWithoutBodyMiddleware:
    """Answer HEAD with the headers a GET would get, and no body (RFC 9110 9.3.2).

    Django renders HEAD like GET and leaves dropping the body to the server; waitress does not,
    so the page went out after the headers and a keep-alive client read it as the start of its
    next response. Doing it here holds whichever WSGI server runs Tandem. ``Content-Length``
    keeps the GET length (set here when no inner middleware did, so that no server frames the
    empty reply as chunked); a streamed response loses its iterator, and its file is still
    closed with the response. First in ``MIDDLEWARE``, so every response passes through it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.method != "HEAD":
            return response
        if isinstance(response, HttpResponse):
            if not response.has_header("Content-Length"):
                response.headers["Content-Length"] = str(len(response.content))
            response.content = b""
        elif isinstance(response, StreamingHttpResponse):
            content = response.streaming_content
            if not response.has_header("Content-Length") and isinstance(content, Iterator):
                # Without a length waitress would frame the reply as chunked and still write
                # the closing chunk: a body after all. Counting the stream is what a GET costs.
                response.headers["Content-Length"] = str(sum(len(chunk) for chunk in content))
            response.streaming_content = iter(())
        return response


class NeverStoreSignedInPagesMiddleware:
    """``Cache-Control: no-store, private`` on every response to a signed-in user.

    Any page a signed-in user gets may show patient data (a summary, a caseload, search
    results, an htmx fragment of one), so no browser or proxy cache may keep it. Static files
    never reach this middleware (whitenoise answers them first) and stay cacheable. Sits after
    ``AuthenticationMiddleware``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.user.is_authenticated:
            add_never_cache_headers(response)
        return response
