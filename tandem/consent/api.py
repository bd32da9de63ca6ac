"""API router for consent directives (F26), mounted under ``/api/patients``:
``/api/patients/{patient_id}/consents…``.

Thin handlers over ``consent.queries`` (the gate: kind ``consents``) and ``consent.services``.
Reads need a token with ``consents:read``, writes ``consents:write`` (a signed-in session may
call both). Reads show what the gate lets the caller see, with ``withheld`` notices; writes
need a treatment basis for the patient (``services.may_manage``). A patient the caller may not
see or manage is the audited 404 ``patient-not-found``; a directive that is not one of this
patient's (or one the caller may not see) the audited 404 ``directive-not-found``; bad input
400 ``invalid-directive`` naming the ``field``; a change the directive's state refuses, or a
stale ``version``, 409 — all ``application/problem+json``. A directive is also given as a FHIR
R4 Consent (``/fhir`` or ``?format=fhir``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from tandem.api import (
    TITLES,
    ApiProblem,
    Page,
    PageQuery,
    audit_detail,
    caller,
    not_found_patient,
    page_of,
    requires,
)
from tandem.audit import services as audit
from tandem.consent import queries, services
from tandem.consent.models import DIRECTIVE_PURPOSES, ConsentDirective, SignedForm
from tandem.core.forms import MAX_ID
from tandem.core.lib.access import AccessDenied
from tandem.core.queries import purpose_for, role_of

router = Router()

NO_NUL = r"^[^\x00]*$"
FHIR_JSON = "application/fhir+json"
CATEGORIES = "|".join(ConsentDirective.Category.values)
PURPOSES = "|".join(DIRECTIVE_PURPOSES)
RELATIONSHIPS = "|".join(ConsentDirective.Relationship.values)
TITLES.update(
    {
        "directive-not-found": "Consent directive not found",
        "invalid-directive": "Invalid consent directive",
        "directive-state": "Not allowed in the directive's state",
        "directive-stale": "Directive changed meanwhile",
    }
)


# --- schemas -------------------------------------------------------------------------------


class RecipientOut(Schema):
    id: int
    kind: str = Field(description="person, organization, site or role")
    name: str = Field(description="The recipient in words")
    practitioner_id: int | None
    organization_id: int | None
    site_id: int | None
    role: str = Field(description="The care-team role (kind role), else empty")
    revoked_on: dt.datetime | None
    revocation_reason: str


class SignatureOut(Schema):
    kind: str = Field(description="typed, pdf, or empty when not signed")
    signer_name: str
    signed_on: dt.date | None
    relationship: str = Field(description=f"One of {RELATIONSHIPS.replace('|', ', ')}")
    signed_form: str | None = Field(description="Path of the scanned signed form (PDF) page")


class VersionOut(Schema):
    version: int
    change: str
    changed_by: str | None = Field(description="User name of who made the change")
    changed_at: dt.datetime
    snapshot: dict[str, Any]


class DirectiveOut(Schema):
    id: int
    patient_id: int
    status: str = Field(description="draft, active, revoked, expired or entered-in-error")
    categories: list[str] = Field(description="'all' covers the four; never psychotherapy notes")
    purposes: list[str]
    part2_tpo: bool = Field(description="A single Part 2 consent for TPO (42 CFR 2.33(b))")
    start: dt.date
    end: dt.date | None
    version: int = Field(description="Send it back with an action to refuse a stale change")
    signature: SignatureOut
    recipients: list[RecipientOut]
    recorded_at: dt.datetime
    revoked_at: dt.datetime | None
    revocation_reason: str
    url: str
    fhir: str = Field(description="Path of the directive as a FHIR R4 Consent")


class DirectiveDetailOut(DirectiveOut):
    versions: list[VersionOut] = Field(description="The full history, oldest first")


class Notice(Schema):
    count: int
    reason: str


class DirectivePage(Page[DirectiveOut]):
    withheld: list[Notice] = Field(description="Directives the gate withheld, per reason")


class RecipientIn(Schema):
    kind: str = Field(pattern="^(person|organization|site|role)$")
    practitioner_id: int | None = Field(None, ge=1, le=MAX_ID)
    organization_id: int | None = Field(None, ge=1, le=MAX_ID)
    site_id: int | None = Field(None, ge=1, le=MAX_ID)
    role: str = Field("", max_length=20, description="A care-team role, e.g. pcp (kind role)")


class DirectiveIn(Schema):
    categories: list[str] = Field(min_length=1, description=f"Any of {CATEGORIES}")
    purposes: list[str] = Field(default_factory=list, description=f"Any of {PURPOSES}")
    part2_tpo: bool = Field(False, description="Adds treatment, payment and operations")
    recipients: list[RecipientIn] = Field(min_length=1, max_length=50)
    start: dt.date
    end: dt.date | None = None


class SignatureIn(Schema):
    signer_name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    signed_on: dt.date
    relationship: str = Field(pattern=f"^({RELATIONSHIPS})$")
    signed_pdf_base64: str | None = Field(
        None,
        max_length=(SignedForm.MAX_BYTES * 4) // 3 + 8,
        description="The scanned signed form: a PDF of at most 5 MB, base64-encoded (optional)",
    )
    version: int | None = Field(None, ge=1, description="The version you saw (optional)")


class RevokeIn(Schema):
    reason: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)
    version: int | None = Field(None, ge=1, description="The version you saw (optional)")


class PreviewIn(Schema):
    categories: list[str] = Field(min_length=1)
    purposes: list[str] = Field(default_factory=list)
    part2_tpo: bool = False
    recipients: list[RecipientIn] = Field(min_length=1, max_length=50)
    start: dt.date
    end: dt.date | None = None


class PreviewOut(Schema):
    recipient: str
    would_see: dict[str, int] = Field(description="Records per kind the recipient would see")
    would_not_see: dict[str, int] = Field(description="Records per kind still withheld")


class ListQuery(PageQuery):
    status: str = Field("", pattern="^(|draft|active|revoked|expired|entered-in-error)$")


# --- helpers -------------------------------------------------------------------------------


def _purpose(request: HttpRequest) -> str:
    return purpose_for(role_of(caller(request).user))


def _deny(request: HttpRequest, patient_id: int | None, what: str) -> None:
    audit.record(
        actor=caller(request).user,
        entry=audit.Entry(
            "consent-manage",
            "denied",
            patient_id,
            "consents",
            _purpose(request),
            audit_detail(request, what)[:400],
        ),
    )


def _directive_not_found() -> ApiProblem:
    return ApiProblem(
        404, "directive-not-found", "No directive with this id for this patient that you may see."
    )


def _check_ids(request: HttpRequest, patient_id: int, *ids: int) -> None:
    if patient_id > MAX_ID or any(i > MAX_ID for i in ids):
        _deny(request, None, "consents: malformed id")
        raise not_found_patient()


def _read(request: HttpRequest, patient_id: int, what: str) -> Any:
    """The patient's directives through the gate (AccessDenied becomes patient-not-found)."""
    _check_ids(request, patient_id)
    return queries.directives_for(
        user=caller(request).user,
        patient_id=patient_id,
        purpose=_purpose(request),
        detail=audit_detail(request, what),
    )


def _one(request: HttpRequest, patient_id: int, directive_id: int, what: str) -> Any:
    _check_ids(request, patient_id, directive_id)
    found = _read(request, patient_id, what)
    directive = next((d for d in found.data["consents"] if d.pk == directive_id), None)
    if directive is None:
        _deny(request, patient_id, f"consents: directive {directive_id} not this patient's")
        raise _directive_not_found()
    return directive


def _manage(request: HttpRequest, patient_id: int) -> None:
    _check_ids(request, patient_id)
    if not services.may_manage(caller(request).user, patient_id):
        _deny(request, patient_id, "consents: no treatment basis")
        raise not_found_patient()


def _notices(redactions: Any) -> list[dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for r in redactions:
        merged.setdefault(r.reason, {"count": 0, "reason": r.reason})["count"] += r.count
    return list(merged.values())


def directive_out(d: ConsentDirective) -> dict[str, Any]:
    args = [d.patient_id, d.pk]
    return {
        "id": d.pk,
        "patient_id": d.patient_id,
        "status": d.status,
        "categories": list(d.categories or ()),
        "purposes": list(d.purposes or ()),
        "part2_tpo": d.part2_tpo,
        "start": d.start,
        "end": d.end,
        "version": d.version,
        "signature": {
            "kind": d.signature_kind,
            "signer_name": d.signer_name,
            "signed_on": d.signed_on,
            "relationship": d.signer_relationship,
            "signed_form": reverse("consent-signed-form", args=args)
            if d.signature_kind == ConsentDirective.SignatureKind.PDF
            else None,
        },
        "recipients": [
            {
                "id": r.pk,
                "kind": r.kind,
                "name": r.describe(),
                "practitioner_id": r.practitioner_id,
                "organization_id": r.organization_id,
                "site_id": r.site_id,
                "role": r.role,
                "revoked_on": r.revoked_on,
                "revocation_reason": r.revocation_reason,
            }
            for r in d.recipient_list  # type: ignore[attr-defined]
        ],
        "recorded_at": d.recorded_at,
        "revoked_at": d.revoked_at,
        "revocation_reason": d.revocation_reason,
        "url": reverse("api:consent", kwargs={"patient_id": d.patient_id, "directive_id": d.pk}),
        "fhir": reverse(
            "api:consent-fhir", kwargs={"patient_id": d.patient_id, "directive_id": d.pk}
        ),
    }


def _detail_out(d: ConsentDirective) -> dict[str, Any]:
    d = queries.with_details([d])[0]  # the row a service returned, with its recipients
    versions = [
        {
            "version": v.version,
            "change": v.change,
            "changed_by": v.changed_by.get_username() if v.changed_by else None,
            "changed_at": v.changed_at,
            "snapshot": v.snapshot if isinstance(v.snapshot, dict) else {"value": v.snapshot},
        }
        for v in d.version_list  # type: ignore[attr-defined]
    ]
    return directive_out(d) | {"versions": versions}


def _specs(recipients: list[RecipientIn]) -> list[services.RecipientSpec]:
    return [
        services.RecipientSpec(
            r.kind,
            practitioner_id=r.practitioner_id,
            organization_id=r.organization_id,
            site_id=r.site_id,
            role=r.role,
        )
        for r in recipients
    ]


def _invalid(error: services.DirectiveError) -> ApiProblem:
    if error.field == "status":
        return ApiProblem(409, "directive-state", error.message)
    return ApiProblem(
        400, "invalid-directive", f"{error.field}: {error.message}", extra={"field": error.field}
    )


def _fresh(directive: ConsentDirective, version: int | None) -> None:
    if version is not None and version != directive.version:
        raise ApiProblem(
            409,
            "directive-stale",
            f"The directive is at version {directive.version}, not {version}: read it again.",
        )


def _fhir_response(directive: ConsentDirective) -> HttpResponse:
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    from tandem.consent import fhir  # H1's exporter

    body = json.dumps(fhir.to_fhir(directive), cls=DjangoJSONEncoder)
    return HttpResponse(body, content_type=FHIR_JSON)


# --- endpoints -----------------------------------------------------------------------------

READ = requires("consents:read")
WRITE = requires("consents:write")


@router.get(
    "/{int:patient_id}/consents",
    response=DirectivePage,
    auth=READ,
    url_name="consents",
    summary="A patient's consent directives",
)
def list_directives(request: HttpRequest, patient_id: int, q: Query[ListQuery]) -> dict[str, Any]:
    """The patient's directives you may see (newest first), each with its recipients (revoked
    ones with date and reason), purposes, period and signature; ``withheld`` counts those the
    gate withheld from you. ``status`` filters."""
    found = _read(request, patient_id, "consents")
    rows = [d for d in found.data["consents"] if not q.status or d.status == q.status]
    page = Paginator(rows, q.page_size).get_page(q.page)
    items = [directive_out(d) for d in queries.with_details(list(page.object_list))]
    body = page_of(request, page, items)
    body["withheld"] = _notices(found.withheld("consents"))
    return body


@router.get(
    "/{int:patient_id}/consents/{int:directive_id}",
    response=DirectiveDetailOut,
    auth=READ,
    url_name="consent",
    summary="A consent directive",
)
def get_directive(
    request: HttpRequest,
    patient_id: int,
    directive_id: int,
    format: str = Query("json", pattern="^(json|fhir)$"),  # noqa: A002
) -> Any:
    """One directive with its full version history; ``?format=fhir`` gives it as a FHIR R4
    Consent (``application/fhir+json``), as ``/fhir`` does."""
    directive = _one(request, patient_id, directive_id, f"consent {directive_id}")
    if format == "fhir":
        return _fhir_response(directive)
    return _detail_out(directive)


@router.get(
    "/{int:patient_id}/consents/{int:directive_id}/fhir",
    auth=READ,
    url_name="consent-fhir",
    summary="A consent directive as FHIR R4 Consent",
    response={200: dict[str, Any]},
)
def get_directive_fhir(request: HttpRequest, patient_id: int, directive_id: int) -> Any:
    """The directive as a FHIR R4 Consent resource (``application/fhir+json``)."""
    directive = _one(request, patient_id, directive_id, f"consent {directive_id} fhir")
    return _fhir_response(directive)


@router.post(
    "/{int:patient_id}/consents",
    response={201: DirectiveDetailOut},
    auth=WRITE,
    summary="Record a consent directive (draft)",
)
def create_directive(request: HttpRequest, patient_id: int, body: DirectiveIn) -> Status:
    """Record a directive as a draft (sign it with ``…/sign``). Sending the same directive
    again within a minute returns the first (nothing written twice)."""
    _manage(request, patient_id)
    try:
        directive = services.record_directive(
            by=caller(request).user,
            patient=patient_id,
            categories=body.categories,
            purposes=body.purposes,
            recipients=_specs(body.recipients),
            start=body.start,
            end=body.end,
            part2_tpo=body.part2_tpo,
        )
    except services.DirectiveError as error:
        raise _invalid(error) from None
    return Status(201, _detail_out(directive))


@router.post(
    "/{int:patient_id}/consents/fhir",
    response={201: DirectiveDetailOut},
    auth=WRITE,
    url_name="consent-fhir-import",
    summary="Import a consent directive from a FHIR R4 Consent",
)
def import_directive_fhir(request: HttpRequest, patient_id: int) -> Status:
    """Record the directive a FHIR R4 ``Consent`` describes (the body, ``application/fhir+json``
    or ``application/json``), as it stands there: status, recipients revoked or not,
    signature. Its ``patient`` must be ``Patient/<patient_id>``. A new directive: the
    resource's id is not kept (what ``…/consents/{id}/fhir`` exports imports back unchanged)."""
    import json

    from tandem.consent import fhir

    _manage(request, patient_id)
    try:
        resource = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiProblem(
            400, "invalid-directive", "body: not JSON", extra={"field": "body"}
        ) from None
    reference = (
        (resource.get("patient") or {}).get("reference") if isinstance(resource, dict) else None
    )
    if reference != f"Patient/{patient_id}":
        raise ApiProblem(
            400,
            "invalid-directive",
            f"patient: the Consent must name Patient/{patient_id}",
            extra={"field": "patient"},
        )
    try:
        directive = fhir.from_fhir(resource, by=caller(request).user)
    except services.DirectiveError as error:
        raise _invalid(error) from None
    except AccessDenied:
        raise not_found_patient() from None
    return Status(201, _detail_out(directive))


def _act(request: HttpRequest, patient_id: int, directive_id: int, version: int | None) -> Any:
    _manage(request, patient_id)
    directive = _one(request, patient_id, directive_id, f"consent {directive_id} write")
    _fresh(directive, version)
    return directive


@router.post(
    "/{int:patient_id}/consents/{int:directive_id}/sign",
    response=DirectiveDetailOut,
    auth=WRITE,
    summary="Sign a draft directive",
)
def sign_directive(
    request: HttpRequest, patient_id: int, directive_id: int, body: SignatureIn
) -> dict[str, Any]:
    """Sign a draft: it becomes active. Signing an active one again changes nothing."""
    directive = _act(request, patient_id, directive_id, body.version)
    pdf = None
    if body.signed_pdf_base64:
        try:
            pdf = base64.b64decode(body.signed_pdf_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ApiProblem(
                400,
                "invalid-directive",
                "signed_pdf_base64: not base64",
                extra={"field": "signed_pdf"},
            ) from None
    signature = services.Signature(
        signer_name=body.signer_name,
        signed_on=body.signed_on,
        relationship=body.relationship,
        pdf=pdf,
    )
    try:
        signed = services.sign_directive(
            by=caller(request).user, directive=directive, signature=signature,
            patient_id=patient_id,
        )  # fmt: skip
    except services.DirectiveError as error:
        raise _invalid(error) from None
    return _detail_out(signed)


@router.post(
    "/{int:patient_id}/consents/{int:directive_id}/revoke",
    response=DirectiveDetailOut,
    auth=WRITE,
    summary="Revoke a directive",
)
def revoke_directive(
    request: HttpRequest, patient_id: int, directive_id: int, body: RevokeIn
) -> dict[str, Any]:
    """Revoke the whole directive (``reason`` required); revoking it again changes nothing."""
    directive = _act(request, patient_id, directive_id, body.version)
    try:
        revoked = services.revoke_directive(
            by=caller(request).user, directive=directive, reason=body.reason,
            patient_id=patient_id,
        )  # fmt: skip
    except services.DirectiveError as error:
        raise _invalid(error) from None
    return _detail_out(revoked)


@router.post(
    "/{int:patient_id}/consents/{int:directive_id}/recipients/{int:recipient_id}/revoke",
    response=DirectiveDetailOut,
    auth=WRITE,
    summary="Revoke one recipient of a directive",
)
def revoke_recipient(
    request: HttpRequest, patient_id: int, directive_id: int, recipient_id: int, body: RevokeIn
) -> dict[str, Any]:
    """Revoke one recipient (``reason`` required); the others keep the directive. Revoking the
    last recipient in force revokes the directive."""
    directive = _act(request, patient_id, directive_id, body.version)
    known = {r.pk for r in queries.with_details([directive])[0].recipient_list}  # type: ignore[attr-defined]
    if recipient_id > MAX_ID or recipient_id not in known:
        _deny(request, patient_id, f"consents: recipient {recipient_id} not this directive's")
        raise ApiProblem(404, "directive-not-found", "No such recipient of this directive.")
    try:
        revoked = services.revoke_recipient(
            by=caller(request).user, directive=directive, recipient_id=recipient_id,
            reason=body.reason, patient_id=patient_id,
        )  # fmt: skip
    except services.DirectiveError as error:
        raise _invalid(error) from None
    return _detail_out(revoked)


@router.post(
    "/{int:patient_id}/consents/preview",
    response=list[PreviewOut],
    auth=READ,
    summary="Try a directive before signing",
)
def preview(request: HttpRequest, patient_id: int, body: PreviewIn) -> list[Any]:
    """ "Try my policy": per recipient, the records (counts per kind) they would see and still
    not see if this directive were signed. Nothing is saved; the preview is audited."""
    _manage(request, patient_id)
    purposes = list(body.purposes)
    if body.part2_tpo:
        purposes = [p for p in DIRECTIVE_PURPOSES if p in {*purposes, "treatment", "payment",
                                                           "operations"}]  # fmt: skip
    try:
        return queries.preview(
            user=caller(request).user,
            patient_id=patient_id,
            categories=body.categories,
            purposes=purposes,
            recipients=_specs(body.recipients),
            start=body.start,
            end=body.end,
        )
    except services.DirectiveError as error:
        raise _invalid(error) from None
