"""Writes to consent directives (F26): record, sign, revoke (whole or one recipient), expire.

Every change runs in one transaction that locks the rows it changes (``select_for_update``,
through :mod:`tandem.consent.queries`), checks that the actor may manage the patient's
directives (:func:`may_manage`) and that the directive is that patient's, writes a
:class:`DirectiveVersion` snapshot (the full history) and an audit event (``write:consent-*``;
refusals audited ``denied``). A form sent twice writes once: a repeated recording within
:data:`DOUBLE_SUBMIT_SECONDS` returns the first directive, a repeated signature or revocation
finds the row already changed and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from tandem.audit import services as audit
from tandem.consent import gate, queries, rules
from tandem.consent.models import (
    DIRECTIVE_PURPOSES,
    TPO_PURPOSES,
    ConsentDirective,
    DirectiveRecipient,
    DirectiveVersion,
    Purpose,
    SignedForm,
)
from tandem.core.lib.access import AccessDenied
from tandem.core.models import CareTeamMember

DOUBLE_SUBMIT_SECONDS = 60
PDF_MAX_BYTES = SignedForm.MAX_BYTES
Status = ConsentDirective.Status
Kind = DirectiveRecipient.Kind


class DirectiveError(ValueError):
    """Bad input for a directive: ``field`` names the form field, ``message`` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class RecipientSpec:
    kind: str
    practitioner_id: int | None = None
    organization_id: int | None = None
    site_id: int | None = None
    role: str = ""


@dataclass(frozen=True)
class Signature:
    signer_name: str
    signed_on: dt.date
    relationship: str
    pdf: bytes | None = None
    filename: str = ""


directive_today = rules.directive_today


# --- who may manage ---------------------------------------------------------------------


def _patient_id(patient: Any) -> int:
    return int(patient if isinstance(patient, int) else patient.pk)


def _acting_purpose(user: Any, patient_id: int) -> str | None:
    """``patient-access`` for the patient themself, ``treatment`` for staff with a treatment
    basis for the patient, else None."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if queries.patient_user_id(patient_id) == user.pk:
        return Purpose.PATIENT_ACCESS
    if gate.basis_for(user=user, patient_id=patient_id, purpose=Purpose.TREATMENT):
        return Purpose.TREATMENT
    return None


def may_manage(user: Any, patient_id: int) -> bool:
    """The patient themself, or staff with a treatment basis for the patient."""
    return _acting_purpose(user, patient_id) is not None


def _deny(by: Any, patient_id: int | None, action: str, detail: str) -> AccessDenied:
    audit.record(
        actor=by,
        entry=audit.Entry(f"write:{action}", "denied", patient_id, "consents", "", detail[:400]),
    )
    return AccessDenied("you may not manage this patient's consent directives")


def _require(by: Any, patient_id: int, action: str, detail: str = "") -> str:
    purpose = _acting_purpose(by, patient_id)
    if purpose is None:
        raise _deny(by, patient_id, action, detail)
    return purpose


def _audit(
    by: Any, action: str, directive: ConsentDirective, purpose: str, detail: str = ""
) -> None:
    audit.record(
        actor=by,
        entry=audit.Entry(
            f"write:{action}",
            "written",
            directive.patient_id,
            "consents",
            purpose,
            f"consent={directive.pk} version={directive.version} {detail}".strip()[:400],
        ),
    )


# --- validation --------------------------------------------------------------------------


def _categories(categories: Iterable[str]) -> list[str]:
    cats = sorted(set(categories))
    if not cats:
        raise DirectiveError("categories", "Choose at least one category of records to share.")
    unknown = set(cats) - set(ConsentDirective.Category.values)
    if unknown:
        if "psychotherapy-note" in unknown:
            raise DirectiveError(
                "categories", "Psychotherapy notes cannot be shared through a directive."
            )
        raise DirectiveError("categories", f"Unknown category: {', '.join(sorted(unknown))}.")
    if ConsentDirective.Category.ALL in cats:
        return [ConsentDirective.Category.ALL.value]
    return cats


def _purposes(purposes: Iterable[str], part2_tpo: bool) -> list[str]:
    chosen = set(purposes) | (set(TPO_PURPOSES) if part2_tpo else set())
    if not chosen:
        raise DirectiveError("purposes", "Choose at least one purpose.")
    unknown = chosen - set(DIRECTIVE_PURPOSES)
    if unknown:
        raise DirectiveError("purposes", f"Unknown purpose: {', '.join(sorted(unknown))}.")
    return [p for p in DIRECTIVE_PURPOSES if p in chosen]


def _recipients(specs: Sequence[RecipientSpec]) -> list[DirectiveRecipient]:
    if not specs:
        raise DirectiveError("recipients", "Name at least one recipient.")
    rows, seen = [], set()
    for spec in specs:
        if spec.kind not in Kind.values:
            raise DirectiveError("recipients", f"Unknown kind of recipient: {spec.kind}.")
        row = DirectiveRecipient(kind=spec.kind)
        if spec.kind == Kind.PERSON:
            if spec.practitioner_id is None or not queries.practitioner_exists(
                spec.practitioner_id
            ):
                raise DirectiveError("recipients", "Choose the practitioner to share with.")
            row.practitioner_id = spec.practitioner_id
        elif spec.kind == Kind.ORGANIZATION:
            if spec.organization_id is None or not queries.organization_exists(
                spec.organization_id
            ):
                raise DirectiveError("recipients", "Choose the organization to share with.")
            row.organization_id = spec.organization_id
        elif spec.kind == Kind.SITE:
            if spec.site_id is None or not queries.site_exists(spec.site_id):
                raise DirectiveError("recipients", "Choose the site to share with.")
            row.site_id = spec.site_id
        else:
            if spec.role not in CareTeamMember.Role.values:
                raise DirectiveError("recipients", "Choose a care-team role to share with.")
            row.role = spec.role
        key = (row.kind, row.practitioner_id, row.organization_id, row.site_id, row.role)
        if key not in seen:
            seen.add(key)
            rows.append(row)
    return rows


def _check_period(start: dt.date | None, end: dt.date | None) -> None:
    if not isinstance(start, dt.date):
        raise DirectiveError("start", "Give the date the directive takes effect.")
    if end is not None and end < start:
        raise DirectiveError("end", "The directive cannot end before it starts.")


def _check_signature(signature: Signature) -> None:
    if not signature.signer_name.strip():
        raise DirectiveError("signer_name", "Type the signer's name.")
    if not isinstance(signature.signed_on, dt.date):
        raise DirectiveError("signed_on", "Give the date of the signature.")
    if signature.signed_on > directive_today() + dt.timedelta(days=1):
        raise DirectiveError("signed_on", "The signature cannot be dated in the future.")
    if signature.relationship not in ConsentDirective.Relationship.values:
        raise DirectiveError("signer_relationship", "Say who signed: the patient or whom.")
    if signature.pdf is not None:
        if len(signature.pdf) > PDF_MAX_BYTES:
            raise DirectiveError("signed_pdf", "The signed form must be a PDF of at most 5 MB.")
        if not signature.pdf.startswith(b"%PDF"):
            raise DirectiveError("signed_pdf", "The signed form must be a PDF file.")


def _apply_signature(directive: ConsentDirective, signature: Signature) -> None:
    directive.signer_name = signature.signer_name.strip()[:200]
    directive.signed_on = signature.signed_on
    directive.signer_relationship = signature.relationship
    directive.signature_kind = (
        ConsentDirective.SignatureKind.PDF
        if signature.pdf is not None
        else ConsentDirective.SignatureKind.TYPED
    )


def _store_pdf(directive: ConsentDirective, signature: Signature) -> None:
    if signature.pdf is None:
        return
    SignedForm.objects.update_or_create(
        directive=directive,
        defaults={
            "content": signature.pdf,
            "filename": (signature.filename or f"consent-{directive.pk}.pdf")[:200],
            "sha256": hashlib.sha256(signature.pdf).hexdigest(),
            "size": len(signature.pdf),
        },
    )


# --- history -----------------------------------------------------------------------------


def snapshot(directive: ConsentDirective, recipients: Iterable[DirectiveRecipient]) -> dict:
    """The directive as it stands: what a :class:`DirectiveVersion` keeps (no PDF bytes: its
    SHA-256)."""
    form = queries.signed_form_digest(directive.pk)
    return {
        "status": directive.status,
        "categories": list(directive.categories),
        "purposes": list(directive.purposes),
        "part2_tpo": directive.part2_tpo,
        "start": directive.start.isoformat(),
        "end": directive.end.isoformat() if directive.end else None,
        "signature": {
            "kind": directive.signature_kind,
            "signer_name": directive.signer_name,
            "signed_on": directive.signed_on.isoformat() if directive.signed_on else None,
            "relationship": directive.signer_relationship,
            "pdf_sha256": form,
        },
        "revoked_at": directive.revoked_at.isoformat() if directive.revoked_at else None,
        "revocation_reason": directive.revocation_reason,
        "recipients": [
            {
                "id": r.pk,
                "kind": r.kind,
                "practitioner": r.practitioner_id,
                "organization": r.organization_id,
                "site": r.site_id,
                "role": r.role,
                "revoked_on": r.revoked_on.isoformat() if r.revoked_on else None,
                "revocation_reason": r.revocation_reason,
            }
            for r in recipients
        ],
    }


def _version(directive: ConsentDirective, by: Any, change: str) -> DirectiveVersion:
    recipients = queries.recipients_of(directive.pk)
    return DirectiveVersion.objects.create(
        directive=directive,
        version=directive.version,
        change=change,
        snapshot=snapshot(directive, recipients),
        changed_by=by if getattr(by, "is_authenticated", False) else None,
    )


def _bump(directive: ConsentDirective, by: Any, change: str, fields: list[str]) -> None:
    directive.version += 1
    directive.save(update_fields=[*fields, "version"])
    _version(directive, by, change)


# --- the services ------------------------------------------------------------------------


def record_directive(
    *,
    by: Any,
    patient: Any,
    categories: Iterable[str],
    purposes: Iterable[str],
    recipients: Sequence[RecipientSpec],
    start: dt.date,
    end: dt.date | None = None,
    signature: Signature | None = None,
    part2_tpo: bool = False,
    activate: bool = False,
) -> ConsentDirective:
    """Record a directive: a draft, or (``activate`` with a signature) an active one.

    Raise :class:`DirectiveError` for bad input (nothing written), ``AccessDenied`` (audited)
    when ``by`` may not manage the patient's directives.
    """
    patient_id = _patient_id(patient)
    purpose = _require(by, patient_id, "consent-record")
    cats = _categories(categories)
    if part2_tpo and not ({"substance-use", "all"} & set(cats)):
        raise DirectiveError(
            "part2_tpo",
            "A Part 2 consent for treatment, payment and operations covers "
            "substance-use records: include that category.",
        )
    purps = _purposes(purposes, part2_tpo)
    rows = _recipients(recipients)
    _check_period(start, end)
    if signature is not None:
        _check_signature(signature)
    if activate and signature is None:
        raise DirectiveError("signature", "A directive takes effect only once it is signed.")
    with transaction.atomic():
        queries.lock_patient(patient_id)
        recent = queries.recent_directives(
            patient_id=patient_id,
            recorded_by_id=getattr(by, "pk", None),
            since=timezone.now() - dt.timedelta(seconds=DOUBLE_SUBMIT_SECONDS),
        )
        wanted = _shape(cats, purps, part2_tpo, start, end, rows)
        for earlier in recent:
            if _shape(
                earlier.categories,
                earlier.purposes,
                earlier.part2_tpo,
                earlier.start,
                earlier.end,
                queries.recipients_of(earlier.pk),
            ) == wanted and (earlier.status == Status.ACTIVE) == bool(activate):
                return earlier  # the same form sent twice
        directive = ConsentDirective(
            patient_id=patient_id,
            categories=cats,
            purposes=purps,
            part2_tpo=part2_tpo,
            start=start,
            end=end,
            status=Status.ACTIVE if activate else Status.DRAFT,
            recorded_by=by if getattr(by, "is_authenticated", False) else None,
            sensitivity=rules.label_directive(cats),
        )
        if signature is not None:
            _apply_signature(directive, signature)
        directive.save()
        for row in rows:
            row.directive = directive
        DirectiveRecipient.objects.bulk_create(rows)
        if signature is not None:
            _store_pdf(directive, signature)
        _version(directive, by, "recorded" if not activate else "recorded-signed")
        _audit(by, "consent-record", directive, purpose, f"status={directive.status}")
    return directive


def _shape(
    cats: Iterable[str],
    purps: Iterable[str],
    tpo: bool,
    start: dt.date,
    end: dt.date | None,
    rows: Iterable[DirectiveRecipient],
) -> tuple:
    return (
        tuple(sorted(cats)),
        tuple(sorted(purps)),
        tpo,
        start,
        end,
        tuple(
            sorted(
                (r.kind, r.practitioner_id or 0, r.organization_id or 0, r.site_id or 0, r.role)
                for r in rows
            )
        ),
    )


class _Refused(Exception):
    """A refusal found under a row lock: audited once the transaction is rolled back."""

    def __init__(self, patient_id: int | None, action: str, detail: str) -> None:
        super().__init__(detail)
        self.patient_id, self.action, self.detail = patient_id, action, detail


def _locked(
    by: Any, directive: ConsentDirective | int, action: str, patient_id: int | None
) -> tuple[ConsentDirective, str]:
    """The directive re-read under a row lock, after checking ``by`` may manage it; a
    directive of another patient than ``patient_id`` (when given) is refused (``_Refused``)."""
    pk = directive if isinstance(directive, int) else directive.pk
    current = queries.lock_directive(pk)
    if current is None or (patient_id is not None and current.patient_id != patient_id):
        raise _Refused(patient_id, action, f"consent={pk} not this patient's")
    purpose = _acting_purpose(by, current.patient_id)
    if purpose is None:
        raise _Refused(current.patient_id, action, f"consent={pk}")
    return current, purpose


class _audited_refusals:
    """Turn a ``_Refused`` raised inside the transaction into an audited ``AccessDenied``
    after it (the denial must outlive the rollback)."""

    def __init__(self, by: Any) -> None:
        self.by = by

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if isinstance(exc, _Refused):
            raise _deny(self.by, exc.patient_id, exc.action, exc.detail) from None


def sign_directive(
    *,
    by: Any,
    directive: ConsentDirective | int,
    signature: Signature,
    patient_id: int | None = None,
) -> ConsentDirective:
    """Sign a draft: it becomes active. Signing an already active one again writes nothing."""
    _check_signature(signature)
    with _audited_refusals(by), transaction.atomic():
        current, purpose = _locked(by, directive, "consent-sign", patient_id)
        if current.status == Status.ACTIVE:
            return current  # sent twice
        if current.status != Status.DRAFT:
            raise DirectiveError("status", "Only a draft directive can be signed.")
        _apply_signature(current, signature)
        current.status = Status.ACTIVE
        _store_pdf(current, signature)
        _bump(
            current,
            by,
            "signed",
            ["signer_name", "signed_on", "signer_relationship", "signature_kind", "status"],
        )
        _audit(by, "consent-sign", current, purpose, f"signature={current.signature_kind}")
    return current


def revoke_directive(
    *,
    by: Any,
    directive: ConsentDirective | int,
    reason: str,
    patient_id: int | None = None,
) -> ConsentDirective:
    """Revoke the whole directive from now on (a draft is withdrawn the same way).

    ``patient_id``: the patient the caller acts for (a portal or chart URL); a directive of
    another patient is refused with ``AccessDenied`` and audited.
    """
    with _audited_refusals(by), transaction.atomic():
        current, purpose = _locked(by, directive, "consent-revoke", patient_id)
        if current.status == Status.REVOKED:
            return current  # sent twice
        if current.status not in (Status.ACTIVE, Status.DRAFT):
            raise DirectiveError("status", "Only an active or draft directive can be revoked.")
        current.status = Status.REVOKED
        current.revoked_at = timezone.now()
        current.revoked_by = by if getattr(by, "is_authenticated", False) else None
        current.revocation_reason = reason.strip()[:2000]
        _bump(current, by, "revoked", ["status", "revoked_at", "revoked_by", "revocation_reason"])
        _audit(by, "consent-revoke", current, purpose)
    return current


def revoke_recipient(
    *,
    by: Any,
    directive: ConsentDirective | int,
    recipient_id: int,
    reason: str,
    patient_id: int | None = None,
) -> ConsentDirective:
    """Revoke one recipient of a (multi-party) directive; the others stay in force. Revoking
    the last one still in force revokes the directive."""
    with _audited_refusals(by), transaction.atomic():
        current, purpose = _locked(by, directive, "consent-revoke-recipient", patient_id)
        rows = queries.recipients_of(current.pk, lock=True)
        target = next((r for r in rows if r.pk == recipient_id), None)
        if target is None:
            raise _Refused(
                current.patient_id,
                "consent-revoke-recipient",
                f"consent={current.pk} recipient={recipient_id} not this directive's",
            )
        if target.revoked_on is not None:
            return current  # sent twice
        if current.status not in (Status.ACTIVE, Status.DRAFT):
            raise DirectiveError("status", "This directive is no longer in force.")
        target.revoked_on = timezone.now()
        target.revoked_by = by if getattr(by, "is_authenticated", False) else None
        target.revocation_reason = reason.strip()[:2000]
        target.save(update_fields=["revoked_on", "revoked_by", "revocation_reason"])
        fields: list[str] = []
        change = "recipient-revoked"
        if all(r.revoked_on is not None for r in rows):
            current.status = Status.REVOKED
            current.revoked_at = target.revoked_on
            current.revoked_by = target.revoked_by
            current.revocation_reason = target.revocation_reason
            fields = ["status", "revoked_at", "revoked_by", "revocation_reason"]
            change = "revoked"
        _bump(current, by, change, fields)
        _audit(by, "consent-revoke-recipient", current, purpose, f"recipient={target.pk}")
    return current


def expire_directives(*, today: dt.date | None = None) -> int:
    """Mark active directives whose end date has passed as expired (the daily refresh).

    The gate never relies on it (it checks the dates itself, in the site time zone); this
    keeps statuses true for lists and FHIR. Returns how many were expired.
    """
    today = today or directive_today()
    done = 0
    for pk in queries.expirable_directive_ids(today):
        with transaction.atomic():
            current = queries.lock_directive(pk)
            if current is None or current.status != Status.ACTIVE:
                continue
            if current.end is None or current.end >= today:
                continue
            current.status = Status.EXPIRED
            _bump(current, None, "expired", ["status"])
            _audit(None, "consent-expire", current, "", f"end={current.end.isoformat()}")
            done += 1
    return done


def import_directive(
    *,
    by: Any,
    patient_id: int,
    status: str,
    categories: list[str],
    purposes: list[str],
    recipients: Sequence[tuple[RecipientSpec, dt.datetime | None, str]],
    start: dt.date,
    end: dt.date | None,
    signature: Signature | None,
    part2_tpo: bool,
    revoked_at: dt.datetime | None = None,
    revocation_reason: str = "",
) -> ConsentDirective:
    """Record a directive as it stands elsewhere (FHIR import: :mod:`tandem.consent.fhir`),
    whatever its status, recipients revoked or not; version 1, change ``imported``."""
    _require(by, patient_id, "consent-import")
    cats = _categories(categories)
    purps = _purposes(purposes, part2_tpo)
    rows = _recipients([spec for spec, _, _ in recipients])
    _check_period(start, end)
    if status not in Status.values:
        raise DirectiveError("status", f"Unknown status: {status}.")
    if signature is not None:
        _check_signature(signature)
    by_key = {
        (s.kind, s.practitioner_id, s.organization_id, s.site_id, s.role): (when, why)
        for s, when, why in recipients
    }
    with transaction.atomic():
        directive = ConsentDirective(
            patient_id=patient_id,
            categories=cats,
            purposes=purps,
            part2_tpo=part2_tpo,
            start=start,
            end=end,
            status=status,
            recorded_by=by if getattr(by, "is_authenticated", False) else None,
            sensitivity=rules.label_directive(cats),
            revoked_at=revoked_at,
            revocation_reason=revocation_reason,
        )
        if signature is not None:
            _apply_signature(directive, signature)
        directive.save()
        for row in rows:
            row.directive = directive
            when, why = by_key.get(
                (row.kind, row.practitioner_id, row.organization_id, row.site_id, row.role),
                (None, ""),
            )
            row.revoked_on, row.revocation_reason = when, why
        DirectiveRecipient.objects.bulk_create(rows)
        if signature is not None:
            _store_pdf(directive, signature)
        _version(directive, by, "imported")
        _audit(by, "consent-import", directive, Purpose.TREATMENT, f"status={status}")
    return directive
