"""FHIR R4 ``Consent`` export and import of consent directives (F26): a round trip without loss.

Mapping (written down in docs/consent-and-audit.md, "Consent directives"):

- ``scope`` patient-privacy; ``category`` LOINC 59284-0 (Patient consent); ``patient``
  ``Patient/<id>``; ``dateTime`` the signature's date (the start date while unsigned);
  ``organization`` the organization of the patient's home site (the custodian).
- ``status``: draft → draft, active → active, revoked and expired → inactive (with the
  extension ``consent-status`` saying which), entered-in-error → entered-in-error. On import
  ``rejected`` is read as revoked, and ``inactive`` without the extension as expired when its
  period has ended, else revoked; ``proposed`` as draft.
- The signature: ``performer`` (the patient, or the signer's name), the extension
  ``signature`` (kind, signer name, date, relationship — v3-RoleCode where one fits) and
  ``sourceAttachment``: the signed PDF (base64) or, for a typed signature, a text/plain line.
- ``policyRule``: v3-ActCode ``42CFRPart2`` when a category is substance-use, else
  ``HIPAAAuth``. The extension ``part2-tpo`` marks a single Part 2 consent for treatment,
  payment and operations (2024 rule).
- ``provision``: type permit; ``period``; ``actor`` (role IRCP) per recipient — a person
  ``Practitioner/<id>``, an organization ``Organization/<id>``, a site an Organization
  reference by the site's code (system ``…/CodeSystem/site``), a care-team role a
  PractitionerRole reference by role code (``…/CodeSystem/care-team-role``); a recipient
  revoked alone carries the extension ``recipient-revoked`` (when, why). ``purpose``: v3-
  ActReason TREAT, HPAYMT, HOPERAT, HRESCH. ``securityLabel``: v3-ActCode ETH (substance
  use), PSY (mental health), HIV, SEX (reproductive health); category ``all`` is the four plus
  Tandem's ``all`` (``…/CodeSystem/consent-category``), so it comes back as ``all``.
- Revocation of the whole directive: extension ``revocation`` (when, why).
- Part 2 data leaving Tandem carries the redisclosure notice (42 CFR 2.32): a Consent that
  covers substance-use records carries it in ``text`` and in the extension
  ``redisclosure-notice``.

The resource ``id`` and ``identifier`` are the directive's own and are not kept on import (an
imported directive is a new directive, version 1, change ``imported``).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from typing import Any

from tandem.consent import queries, rules
from tandem.consent.models import ConsentDirective, DirectiveRecipient
from tandem.consent.services import DirectiveError, RecipientSpec, Signature, import_directive

BASE = "https://tandem.health/fhir"
EXT = f"{BASE}/StructureDefinition"
CS = f"{BASE}/CodeSystem"
LOINC = "http://loinc.org"
SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"

PURPOSE_CODES = {
    "treatment": "TREAT",
    "payment": "HPAYMT",
    "operations": "HOPERAT",
    "research": "HRESCH",
}
CATEGORY_CODES = {
    "substance-use": (ACT_CODE, "ETH"),
    "mental-health": (ACT_CODE, "PSY"),
    "hiv": (ACT_CODE, "HIV"),
    "reproductive-health": (ACT_CODE, "SEX"),
}
RELATIONSHIP_CODES = {
    "self": (ROLE_CODE, "ONESELF"),
    "parent": (ROLE_CODE, "PRN"),
    "guardian": (ROLE_CODE, "GUARD"),
    "representative": (ROLE_CODE, "POWATT"),
    "other": (f"{CS}/signer-relationship", "other"),
}
STATUS_OUT = {
    "draft": "draft",
    "active": "active",
    "revoked": "inactive",
    "expired": "inactive",
    "entered-in-error": "entered-in-error",
}


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _ext(name: str, **value: Any) -> dict[str, Any]:
    return {"url": f"{EXT}/{name}", **value}


def _recipient_actor(r: DirectiveRecipient) -> dict[str, Any]:
    if r.kind == "person":
        ref: dict[str, Any] = {
            "reference": f"Practitioner/{r.practitioner_id}",
            "display": r.practitioner.name if r.practitioner else "",
        }
    elif r.kind == "organization":
        ref = {
            "reference": f"Organization/{r.organization_id}",
            "display": r.organization.name if r.organization else "",
        }
    elif r.kind == "site":
        ref = {
            "type": "Organization",
            "identifier": {"system": f"{CS}/site", "value": r.site.code if r.site else ""},
            "display": r.site.name if r.site else "",
        }
    else:
        ref = {
            "type": "PractitionerRole",
            "identifier": {"system": f"{CS}/care-team-role", "value": r.role},
            "display": r.describe(),
        }
    actor: dict[str, Any] = {
        "role": {"coding": [_coding(PARTICIPATION, "IRCP", "information recipient")]},
        "reference": ref,
    }
    if r.revoked_on is not None:
        actor["extension"] = [
            _ext(
                "recipient-revoked",
                extension=[
                    {"url": "revokedOn", "valueDateTime": _stamp(r.revoked_on)},
                    {"url": "reason", "valueString": r.revocation_reason},
                ],
            )
        ]
    return actor


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _security_labels(categories: list[str]) -> list[dict[str, Any]]:
    if "all" in categories:
        return [_coding(*CATEGORY_CODES[c]) for c in CATEGORY_CODES] + [
            _coding(f"{CS}/consent-category", "all", "All sensitive categories")
        ]
    return [_coding(*CATEGORY_CODES[c]) for c in CATEGORY_CODES if c in categories]


def to_fhir(directive: ConsentDirective) -> dict[str, Any]:
    """The directive as a FHIR R4 Consent resource (a dict ready for JSON)."""
    d = directive
    recipients = queries.recipients_detailed(d.pk)
    part2 = rules.carries_part2(d.categories)
    extensions: list[dict[str, Any]] = []
    if d.status in ("revoked", "expired"):
        extensions.append(_ext("consent-status", valueCode=d.status))
    if d.part2_tpo:
        extensions.append(_ext("part2-tpo", valueBoolean=True))
    if d.revoked_at is not None:
        extensions.append(
            _ext(
                "revocation",
                extension=[
                    {"url": "revokedAt", "valueDateTime": _stamp(d.revoked_at)},
                    {"url": "reason", "valueString": d.revocation_reason},
                ],
            )
        )
    if part2:
        extensions.append(_ext("redisclosure-notice", valueString=rules.REDISCLOSURE_NOTICE))
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": str(d.pk),
        "identifier": [{"system": f"{CS}/consent-directive", "value": str(d.pk)}],
        "status": STATUS_OUT[d.status],
        "scope": {"coding": [_coding(SCOPE, "patient-privacy", "Privacy Consent")]},
        "category": [{"coding": [_coding(LOINC, "59284-0", "Patient Consent")]}],
        "patient": {"reference": f"Patient/{d.patient_id}"},
        "dateTime": (d.signed_on or d.start).isoformat(),
        "policyRule": {
            "coding": [
                _coding(ACT_CODE, "42CFRPart2", "42 CFR Part2")
                if part2
                else _coding(ACT_CODE, "HIPAAAuth", "HIPAA Authorization for Disclosure")
            ]
        },
        "provision": {
            "type": "permit",
            "period": {"start": d.start.isoformat()}
            | ({"end": d.end.isoformat()} if d.end else {}),
            "actor": [_recipient_actor(r) for r in recipients],
            "purpose": [
                _coding(ACT_REASON, PURPOSE_CODES[p]) for p in d.purposes if p in PURPOSE_CODES
            ],
            "securityLabel": _security_labels(list(d.categories)),
        },
    }
    if part2:
        resource["text"] = {
            "status": "additional",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>'
            + html.escape(rules.REDISCLOSURE_NOTICE)
            + "</p></div>",
        }
    custodian = queries.custodian(d.patient_id)
    if custodian is not None:
        resource["organization"] = [
            {"reference": f"Organization/{custodian.pk}", "display": custodian.name}
        ]
    if d.signature_kind:
        sig = [
            {"url": "kind", "valueCode": d.signature_kind},
            {"url": "signerName", "valueString": d.signer_name},
            {"url": "signedOn", "valueDate": d.signed_on.isoformat() if d.signed_on else None},
        ]
        if d.signer_relationship:
            system, code = RELATIONSHIP_CODES[d.signer_relationship]
            sig.append({"url": "relationship", "valueCoding": _coding(system, code)})
        extensions.append(_ext("signature", extension=sig))
        resource["performer"] = [
            {"reference": f"Patient/{d.patient_id}", "display": d.signer_name}
            if d.signer_relationship == "self"
            else {"type": "RelatedPerson", "display": d.signer_name}
        ]
        form = queries.signed_form(d.pk) if d.signature_kind == "pdf" else None
        if form is not None:
            resource["sourceAttachment"] = {
                "contentType": "application/pdf",
                "data": base64.b64encode(bytes(form.content)).decode("ascii"),
                "title": form.filename,
                "size": form.size,
                "creation": d.signed_on.isoformat() if d.signed_on else None,
            }
        else:
            line = f"Signed by {d.signer_name} ({d.signer_relationship}) on {d.signed_on}"
            resource["sourceAttachment"] = {
                "contentType": "text/plain",
                "data": base64.b64encode(line.encode()).decode("ascii"),
                "title": "Typed signature",
                "creation": d.signed_on.isoformat() if d.signed_on else None,
            }
    if extensions:
        resource["extension"] = extensions
    if part2:  # 42 CFR 2.32: security labels 42CFRPart2 + NORDSCLCD (consent.redisclosure)
        from tandem.consent import redisclosure

        redisclosure.label_fhir(resource)
    return resource


# --- import ---------------------------------------------------------------------------------


def _find_ext(items: list[dict[str, Any]] | None, name: str) -> dict[str, Any] | None:
    return next((e for e in items or () if e.get("url") == f"{EXT}/{name}"), None)


def _sub(ext: dict[str, Any], name: str) -> dict[str, Any]:
    return next((e for e in ext.get("extension", ()) if e.get("url") == name), {})


def _ref_id(ref: dict[str, Any], kind: str) -> int | None:
    value = str(ref.get("reference", ""))
    prefix = f"{kind}/"
    if value.startswith(prefix) and value[len(prefix) :].isdigit():
        return int(value[len(prefix) :])
    return None


def _date(value: Any, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise DirectiveError(field, f"Not a date: {value!r}.") from exc


def _datetime(value: Any, field: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise DirectiveError(field, f"Not a date and time: {value!r}.") from exc


def _recipient_spec(actor: dict[str, Any]) -> tuple[RecipientSpec, dt.datetime | None, str]:
    ref = actor.get("reference") or {}
    revoked = _find_ext(actor.get("extension"), "recipient-revoked")
    when = None
    why = ""
    if revoked is not None:
        when = _datetime(_sub(revoked, "revokedOn").get("valueDateTime"), "recipients")
        why = str(_sub(revoked, "reason").get("valueString", ""))
    if (pk := _ref_id(ref, "Practitioner")) is not None:
        return RecipientSpec("person", practitioner_id=pk), when, why
    if (pk := _ref_id(ref, "Organization")) is not None:
        return RecipientSpec("organization", organization_id=pk), when, why
    ident = ref.get("identifier") or {}
    if ident.get("system") == f"{CS}/site":
        site = queries.site_by_code(str(ident.get("value", "")))
        if site is None:
            raise DirectiveError("recipients", f"Unknown site: {ident.get('value')!r}.")
        return RecipientSpec("site", site_id=site.pk), when, why
    if ident.get("system") == f"{CS}/care-team-role":
        return RecipientSpec("role", role=str(ident.get("value", ""))), when, why
    raise DirectiveError(
        "recipients", "A recipient must be a practitioner, organization, site or role."
    )


def _status(resource: dict[str, Any], end: dt.date | None) -> str:
    status = resource.get("status")
    marked = _find_ext(resource.get("extension"), "consent-status")
    if status == "inactive":
        if marked is not None and marked.get("valueCode") in ("revoked", "expired"):
            return str(marked["valueCode"])
        return "expired" if end is not None and end < rules.directive_today() else "revoked"
    if status in ("draft", "proposed"):
        return "draft"
    if status == "rejected":
        return "revoked"
    if status in ("active", "entered-in-error"):
        return str(status)
    raise DirectiveError("status", f"Unknown Consent status: {status!r}.")


def _categories(labels: list[dict[str, Any]]) -> list[str]:
    by_code = {(s, c): name for name, (s, c) in CATEGORY_CODES.items()}
    by_code[(ACT_CODE, "MH")] = "mental-health"  # MH and SUD-like codes some senders use
    if any(x.get("system") == f"{CS}/consent-category" and x.get("code") == "all" for x in labels):
        return ["all"]
    cats = {by_code.get((str(x.get("system")), str(x.get("code")))) for x in labels}
    cats.discard(None)
    return sorted(str(c) for c in cats)


def _signature(resource: dict[str, Any], patient_id: int) -> Signature | None:
    sig = _find_ext(resource.get("extension"), "signature")
    attachment = resource.get("sourceAttachment") or {}
    pdf = None
    filename = ""
    if attachment.get("contentType") == "application/pdf" and attachment.get("data"):
        try:
            pdf = base64.b64decode(attachment["data"], validate=True)
        except ValueError as exc:
            raise DirectiveError("signed_pdf", "The attached form is not valid base64.") from exc
        filename = str(attachment.get("title", ""))
    if sig is None:
        if pdf is None:
            return None
        performer = (resource.get("performer") or [{}])[0]
        self_signed = _ref_id(performer, "Patient") == patient_id
        return Signature(
            signer_name=str(performer.get("display", "")) or "Unknown signer",
            signed_on=_date(attachment.get("creation") or resource.get("dateTime"), "signed_on"),
            relationship="self" if self_signed else "other",
            pdf=pdf,
            filename=filename,
        )
    relationship = ""
    coding = _sub(sig, "relationship").get("valueCoding") or {}
    for name, (system, code) in RELATIONSHIP_CODES.items():
        if coding.get("system") == system and coding.get("code") == code:
            relationship = name
    kind = _sub(sig, "kind").get("valueCode")
    return Signature(
        signer_name=str(_sub(sig, "signerName").get("valueString", "")),
        signed_on=_date(_sub(sig, "signedOn").get("valueDate"), "signed_on"),
        relationship=relationship,
        pdf=pdf if kind == "pdf" else None,
        filename=filename,
    )


def from_fhir(resource: dict[str, Any], *, by: Any) -> ConsentDirective:
    """Record the directive a FHIR R4 Consent describes (a new directive: the resource's id is
    not kept). Raise :class:`DirectiveError` naming what is wrong (nothing written), or
    ``AccessDenied`` (audited) when ``by`` may not manage the patient's directives."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Consent":
        raise DirectiveError("resourceType", "Not a FHIR Consent resource.")
    patient_id = _ref_id(resource.get("patient") or {}, "Patient")
    if patient_id is None:
        raise DirectiveError("patient", "The Consent names no Patient/<id>.")
    provision = resource.get("provision") or {}
    if provision.get("type", "permit") != "permit":
        raise DirectiveError("provision", "Only permit provisions can be imported.")
    period = provision.get("period") or {}
    if not period.get("start"):
        raise DirectiveError("start", "The Consent's provision has no period start.")
    start = _date(period["start"], "start")
    end = _date(period["end"], "end") if period.get("end") else None
    purposes_by_code = {code: name for name, code in PURPOSE_CODES.items()}
    purposes = [
        purposes_by_code[p["code"]]
        for p in provision.get("purpose", ())
        if p.get("system") == ACT_REASON and p.get("code") in purposes_by_code
    ]
    revocation = _find_ext(resource.get("extension"), "revocation")
    revoked_at = None
    reason = ""
    if revocation is not None:
        revoked_at = _datetime(_sub(revocation, "revokedAt").get("valueDateTime"), "status")
        reason = str(_sub(revocation, "reason").get("valueString", ""))
    tpo = _find_ext(resource.get("extension"), "part2-tpo")
    return import_directive(
        by=by,
        patient_id=patient_id,
        status=_status(resource, end),
        categories=_categories(list(provision.get("securityLabel", ()))),
        purposes=purposes,
        recipients=[_recipient_spec(a) for a in provision.get("actor", ())],
        start=start,
        end=end,
        signature=_signature(resource, patient_id),
        part2_tpo=bool(tpo and tpo.get("valueBoolean")),
        revoked_at=revoked_at,
        revocation_reason=reason,
    )
