"""The JSON API (F38): one NinjaAPI at ``/api/``; each app contributes the router in its ``api.py``.

What every endpoint shares lives here (documented in ``docs/api.md``):

- **Auth**: ``Authorization: Bearer tnd_…`` (a personal access token, ``tandem.tokens``) or the
  browser's session (CSRF token required on unsafe methods). A token acts as its user: the
  consent gate decides what the user may see; the token's *scopes* decide which endpoints it may
  call (``requires("patients:read")``). A session may call every endpoint.
- **Errors**: RFC 9457 ``application/problem+json`` for every error — validation (400), missing
  or bad credentials (401), missing scope or CSRF (403), unknown path or a patient the reader may
  not see (404), wrong method (405), rate limit (429), a bug (500).
- **Pagination**: page numbers (``page``, ``page_size`` ≤ ``MAX_PAGE_SIZE``), see :class:`Page`.
- **Transactions**: a request that may write runs in one transaction
  (``core.lib.transactions.RequestTransactionMiddleware``; reads run outside one). Errors are
  *returned* as responses, never raised through the transaction, so the audit event of a
  refusal is committed; an unexpected exception in a write marks the transaction for rollback
  before its 500 is returned.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page as DjangoPage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, URLResolver, path, re_path
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.throttling import BaseThrottle
from ninja.utils import check_csrf

from tandem.audit import services as audit
from tandem.consent.gate import AccessDenied
from tandem.core.forms import MAX_PAGE
from tandem.tokens import services as tokens
from tandem.tokens.models import AccessToken

log = logging.getLogger("tandem.api")

VERSION = "0.1.0"
PROBLEM_JSON = "application/problem+json"
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
REQUESTS_PER_MINUTE = 1200  # per token or signed-in user; beyond it 429 until the next minute
# Set by ``tandem serve --workers N`` for its server processes. The counts live in each process's
# own memory, so each process allows its share of the limit: together never more than the limit
# (a caller whose requests happen to land mostly on one process is refused somewhat earlier).
SERVER_PROCESSES_ENV = "TANDEM_SERVER_PROCESSES"

# Routers mounted under /api/: (prefix, "module.router", OpenAPI tag). Later apps add a line.
ROUTERS: list[tuple[str, str, str]] = [
    ("", "tandem.tokens.api.router", "account"),
    ("/patients", "tandem.registry.api.router", "patients"),
    ("/cohorts", "tandem.registry.cohorts.api.router", "cohorts"),
    ("/tasks", "tandem.tasks.api.router", "tasks"),
    ("/worklists", "tandem.outreach.api.router", "worklists"),
    ("/emergency-access", "tandem.breakglass.api.router", "emergency access"),
    ("/patients", "tandem.consent.api.router", "consents"),  # /api/patients/{id}/consents…
]


# --- problems (RFC 9457) -------------------------------------------------------------------


class ApiProblem(Exception):
    """An error to answer with ``application/problem+json``; raise it in a handler or auth."""

    def __init__(
        self,
        status: int,
        slug: str | None = None,
        detail: str = "",
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or slug or status)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title
        self.headers = headers or {}
        self.extra = extra or {}


TITLES = {  # specific problems; others are "about:blank" with the HTTP status phrase
    "validation-error": "Invalid request parameters",
    "malformed-request": "Malformed request",
    "authentication-required": "Authentication required",
    "invalid-token": "Invalid token",
    "token-expired": "Token expired",
    "token-revoked": "Token revoked",
    "insufficient-scope": "Insufficient scope",
    "session-required": "Signed-in session required",
    "csrf-failed": "CSRF check failed",
    "patient-not-found": "Patient not found",
    "cohort-not-found": "Cohort not found",
    "task-not-found": "Task not found",
    "emergency-access-not-found": "Emergency access not found",
    "emergency-access-not-needed": "Emergency access not needed",
    "emergency-access-reviewed": "Emergency access already reviewed",
    "not-a-practitioner": "Practitioners only",
    "lookup-paused": "Emergency look-up paused",
    "task-forbidden": "Not allowed to change this task",
    "task-closed": "Task closed",
    "task-claimed": "Task already claimed",
    "task-stale": "Task changed meanwhile",
    "item-not-found": "Worklist item not found",
    "worklist-not-found": "Worklist not found",
    "no-worklist-role": "No worklist role",
    "treatment-required": "Care-team action only",
    "invalid-attempt": "Invalid contact attempt",
    "invalid-state": "Not allowed in this state",
    "rate-limited": "Too many requests",
}


def problem_type(slug: str) -> str:
    return f"urn:tandem:problem:{slug}"


def problem(request: HttpRequest, exc: ApiProblem) -> HttpResponse:
    """The problem+json response for ``exc`` (``instance`` is the path, never the query)."""
    body: dict[str, Any] = {
        "type": problem_type(exc.slug) if exc.slug else "about:blank",
        "title": exc.title or TITLES.get(exc.slug or "") or HTTPStatus(exc.status).phrase,
        "status": exc.status,
        "detail": exc.detail or HTTPStatus(exc.status).description,
        "instance": request.path,
        **exc.extra,
    }
    response = HttpResponse(
        json.dumps(body, cls=DjangoJSONEncoder), status=exc.status, content_type=PROBLEM_JSON
    )
    for name, value in exc.headers.items():
        response[name] = value
    return response


def _on_problem(request: HttpRequest, exc: ApiProblem) -> HttpResponse:
    return problem(request, exc)


def _on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # Only where and what: pydantic's "input" and "ctx" would echo what was sent (search terms).
    errors = [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors
    ]
    where = "; ".join(f"{'.'.join(map(str, e['loc'][1:] or e['loc']))}: {e['msg']}" for e in errors)
    return problem(request, ApiProblem(400, "validation-error", where, extra={"errors": errors}))


def _on_token_refused(request: HttpRequest, exc: tokens.TokenRefused) -> HttpResponse:
    slug = {"expired": "token-expired", "revoked": "token-revoked"}.get(exc.code, "invalid-token")
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    return problem(request, ApiProblem(401, slug, exc.message, headers=headers))


def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc, AuthenticationError):
        detail = "Send 'Authorization: Bearer tnd_…' or sign in (see /api/docs)."
        headers = {"WWW-Authenticate": "Bearer"}
        return problem(request, ApiProblem(401, "authentication-required", detail, headers=headers))
    if isinstance(exc, Throttled):
        detail = (
            f"At most {REQUESTS_PER_MINUTE} requests a minute; retry after Retry-After seconds."
        )
        return problem(request, ApiProblem(429, "rate-limited", detail))
    slug = "malformed-request" if exc.status_code == 400 else None  # e.g. a body that is not JSON
    return problem(request, ApiProblem(exc.status_code, slug, str(exc)))


def _on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem(request, ApiProblem(404))


def _on_refusal(request: HttpRequest, exc: Exception) -> HttpResponse:
    # The gate has audited the refusal; returning (not raising) keeps that event committed.
    return problem(request, not_found_patient())


def _on_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("API error on %s %s", request.method, request.path)
    if request.method not in SAFE_METHODS and transaction.get_connection().in_atomic_block:
        # The request's transaction (RequestTransactionMiddleware) would commit the response
        # we return: a half-done write must not be. A read runs outside one; its audit events
        # are written before anything is shown and stand.
        transaction.set_rollback(True)
    return problem(request, ApiProblem(500, None, "An unexpected error; it has been logged."))


def not_found_patient() -> ApiProblem:
    """Refused and nonexistent patients get the same answer, so ids cannot be probed."""
    detail = "No patient with this id that you may see. Every attempt is recorded."
    return ApiProblem(404, "patient-not-found", detail)


# --- who is calling ------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """``request.auth`` on every authenticated request: the user, and the token if one was used."""

    user: Any
    token: AccessToken | None

    @property
    def via(self) -> str:
        return f"token={self.token.pk}" if self.token is not None else "session"

    @property
    def scopes(self) -> list[str] | None:
        """The token's scopes; None for a session (every endpoint)."""
        return self.token.scope_list if self.token is not None else None


def caller(request: HttpRequest) -> Caller:
    auth = getattr(request, "auth", None)
    assert isinstance(auth, Caller), "an endpoint without auth asked for its caller"
    return auth


def audit_detail(request: HttpRequest, what: str) -> str:
    """The audit ``detail`` of an API read: what was asked and how the caller signed in."""
    return f"api {what} {caller(request).via}"


def record_read(request: HttpRequest, what: str) -> None:
    """Audit an API read that names no patient (who-am-I, a token list, an empty search), so
    that every API request leaves an event; reads of patients are audited by the gate."""
    audit.record(
        actor=caller(request).user,
        entry=audit.Entry("api-read", "shown", detail=audit_detail(request, what)[:400]),
    )


SESSION_ONLY = "session-only"  # a pseudo-scope no token holds: token management


class BearerToken(HttpBearer):
    """``Authorization: Bearer tnd_…``. A bad token is refused at once (and audited)."""

    def __init__(self, scope: str | None = None) -> None:
        self.scope = scope
        super().__init__()

    def __call__(self, request: HttpRequest) -> Caller | None:
        header = request.headers.get(self.header)
        if header is None:
            return None  # no token: the session may still authenticate
        scheme, _, value = header.strip().partition(" ")
        presented = value.strip() if scheme.lower() == "bearer" else ""
        token = tokens.authenticate(presented=presented)  # raises TokenRefused (audited)
        if self.scope == SESSION_ONLY:
            tokens.deny_scope(token=token, scope=SESSION_ONLY, path=request.path)
            raise ApiProblem(
                403, "session-required", "Manage tokens while signed in, not with a token."
            )
        if self.scope is not None and self.scope not in token.scope_list:
            tokens.deny_scope(token=token, scope=self.scope, path=request.path)
            raise ApiProblem(
                403,
                "insufficient-scope",
                f"This endpoint needs a token with the scope {self.scope}.",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{self.scope}"'
                },
                extra={"required_scope": self.scope},
            )
        request.user = token.user  # the token acts as its user everywhere below
        return Caller(token.user, token)

    def authenticate(self, request: HttpRequest, token: str) -> Any:  # pragma: no cover
        raise NotImplementedError("__call__ does the work")


class BrowserSession(APIKeyCookie):
    """The signed-in browser (Django's session cookie); CSRF token required on unsafe methods."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest) -> Caller | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise ApiProblem(403, "csrf-failed", "Send the CSRF token in the X-CSRFToken header.")
        return Caller(user, None)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:  # pragma: no cover
        raise NotImplementedError("__call__ does the work")


def requires(scope: str) -> list[Callable[[HttpRequest], Caller | None]]:
    """Auth for an operation or router: a token with ``scope``, or a signed-in session."""
    return [BearerToken(scope), BrowserSession()]


def session_only() -> list[Callable[[HttpRequest], Caller | None]]:
    """Auth for token management: a signed-in session; a token is refused with 403."""
    return [BearerToken(SESSION_ONLY), BrowserSession()]


def process_share(limit: int) -> int:
    """This server process's share of a per-minute limit (``SERVER_PROCESSES_ENV``)."""
    try:
        processes = max(1, int(os.environ.get(SERVER_PROCESSES_ENV, "1")))
    except ValueError:
        processes = 1
    return max(1, limit // processes)


class PerCaller(BaseThrottle):
    """At most ``REQUESTS_PER_MINUTE`` per token or user, in fixed one-minute windows."""

    def allow_request(self, request: HttpRequest) -> bool:
        auth = getattr(request, "auth", None)
        if not isinstance(auth, Caller):
            return True
        who = f"t{auth.token.pk}" if auth.token is not None else f"u{auth.user.pk}"
        key = f"tandem-api-rate:{who}:{int(time.time() // 60)}"
        cache.add(key, 0, timeout=120)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=120)
            count = 1
        return count <= process_share(REQUESTS_PER_MINUTE)

    def wait(self) -> float:
        return 60 - time.time() % 60


# --- pagination ----------------------------------------------------------------------------

T = TypeVar("T")


class PageQuery(Schema):
    """Query parameters of every paginated list."""

    page: int = Field(1, ge=1, le=MAX_PAGE, description="Page number, from 1.")
    page_size: int = Field(
        DEFAULT_PAGE_SIZE,
        ge=1,
        le=MAX_PAGE_SIZE,
        description=f"Items per page (1–{MAX_PAGE_SIZE}).",
    )


class Page(Schema, Generic[T]):
    """One page of a list. Follow ``next`` until it is null; a page past the end is the last."""

    count: int = Field(description="Items in the whole list.")
    page: int = Field(description="This page's number (the last page if a later one was asked).")
    pages: int = Field(description="Number of pages.")
    page_size: int
    next: str | None = Field(description="Path and query of the next page, or null.")
    previous: str | None = Field(description="Path and query of the previous page, or null.")
    items: list[T]


def page_of(request: HttpRequest, page: DjangoPage, items: list[Any]) -> dict[str, Any]:
    """The :class:`Page` body for a Django page whose rows became ``items``."""

    def link(number: int) -> str:
        query = request.GET.copy()
        query["page"] = str(number)
        return f"{request.path}?{query.urlencode()}"

    return {
        "count": page.paginator.count,
        "page": page.number,
        "pages": page.paginator.num_pages,
        "page_size": page.paginator.per_page,
        "next": link(page.next_page_number()) if page.has_next() else None,
        "previous": link(page.previous_page_number()) if page.has_previous() else None,
        "items": items,
    }


# --- the API -------------------------------------------------------------------------------


class Problem(Schema):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str = Field(description="urn:tandem:problem:<slug>, or about:blank for plain HTTP errors")
    title: str
    status: int
    detail: str
    instance: str = Field(description="The request path")


class TandemAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI document says that every error is problem+json."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = Problem.model_json_schema()
        error = {
            "description": "An error, as RFC 9457 problem details",
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.setdefault("responses", {})["default"] = error
        return schema


api = TandemAPI(
    title="Tandem API",
    version=VERSION,
    description=(
        "Tandem's JSON API. Authenticate with `Authorization: Bearer tnd_…` (a personal access "
        "token from the API tokens page or `tandem token create`) or a signed-in session. Every "
        "read goes through the consent gate and is audited. Errors are RFC 9457 problem details; "
        "lists are paginated by page number. See docs/api.md."
    ),
    openapi_url="/openapi.json",
    docs_url="/docs",
    urls_namespace="api",
    auth=[BearerToken(), BrowserSession()],
    throttle=[PerCaller()],
)
HANDLERS: list[tuple[type[Exception], Callable[[HttpRequest, Any], HttpResponse]]] = [
    (ApiProblem, _on_problem),
    (ValidationError, _on_validation),
    (tokens.TokenRefused, _on_token_refused),
    (HttpError, _on_http_error),
    (Http404, _on_not_found),
    (AccessDenied, _on_refusal),
    (Exception, _on_error),
]
for _exception, _handler in HANDLERS:
    api.add_exception_handler(_exception, _handler)


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any other path under /api/: 404 as problem+json."""
    return problem(request, ApiProblem(404, None, "No such API endpoint; see /api/docs."))


def _errors_as_problems(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Ninja answers a wrong method (405) and its root (404) outside its handlers: convert."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return not_found(request)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            detail = f"{request.method} is not allowed here; use {allowed}."
            return problem(request, ApiProblem(405, None, detail, headers={"Allow": allowed}))
        return response

    return wrapped


def _convert(patterns: list[Any]) -> list[Any]:
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = _errors_as_problems(pattern.callback)
        elif isinstance(pattern, URLResolver):
            _convert(pattern.url_patterns)
    return patterns


@functools.cache
def urlpatterns() -> list[Any]:
    """Mount every app's router (once) and return the URL patterns for ``/api/``."""
    for prefix, router, tag in ROUTERS:
        api.add_router(prefix, router, tags=[tag])
    patterns, app_name, namespace = api.urls
    return [
        path("api/", (_convert(patterns), app_name, namespace)),
        re_path(r"^api(/|$)", not_found),
    ]
