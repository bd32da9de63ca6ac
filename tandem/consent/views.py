"""The staff screens of consent directives (F26), used by a care manager or clinician with the
patient: the patient's directives, one directive with its actions, its version history, the
form to record one, and "try my policy" (what each recipient would see and not see).

Every page is one audited gate read (kind ``consents`` with the banner's ``identifiers`` and
``care_team``, as ``queries.directives_for`` reads ``consents`` alone), so a directive the reader
may not see is a withheld notice, never a silent gap; every write goes through
``consent.services`` (which lock, audit and version).
Only readers who may manage the patient's directives (``services.may_manage``: a treatment
basis for the patient) reach these pages; anyone else gets the 404 page and an audited denial,
as does a directive id that is not one of this patient's (a forged id of another patient's).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.audit import services as audit
from tandem.consent import forms, gate, queries, services
from tandem.consent.models import ConsentDirective, DirectiveRecipient
from tandem.core.forms import MAX_ID
from tandem.core.lib.access import AccessDenied
from tandem.core.lib.http import refusals_as_404
from tandem.core.models import Organization, Practitioner, Site
from tandem.core.queries import purpose_for, role_of
from tandem.core.views import HtmxHttpRequest

STATUS_BADGES = {
    "draft": "text-bg-light border",
    "active": "text-bg-success",
    "revoked": "text-bg-danger",
    "expired": "text-bg-secondary",
    "entered-in-error": "text-bg-dark",
}
CATEGORY_LABELS = dict(forms.CATEGORY_CHOICES) | {forms.ALL: "All sensitive categories"}
PURPOSE_LABELS = dict(forms.PURPOSE_CHOICES)
RELATIONSHIP_LABELS = dict(forms.RELATIONSHIP_CHOICES)
# The gate's kinds of data in words, in the order of the preview's rows.
KIND_LABELS = {
    "conditions": "Problems and diagnoses",
    "encounters": "Encounters",
    "notes": "Clinical notes",
    "medication_orders": "Medications",
    "medication_dispenses": "Pharmacy fills",
    "observations": "Labs and vitals",
    "procedures": "Procedures",
    "service_requests": "Orders and referrals",
    "assessments": "Assessments",
    "appointments": "Appointments",
    "care_team": "Care team",
    "identifiers": "Identifiers (MRNs)",
    "contacts": "Contacts",
    "coverage": "Coverage",
    "consents": "Consent directives",
    "measure_results": "Quality measure results",
    "cohorts": "Registry cohorts",
    "risk": "Risk scores",
    "tasks": "Tasks",
    "worklist_items": "Worklist items",
    "contact_attempts": "Contact attempts",
}


# --- who may come in ------------------------------------------------------------------------


def _purpose(user: Any) -> str:
    return purpose_for(role_of(user))


def _refuse(request: HttpRequest, patient_id: int, why: str) -> HttpResponse:
    """The 404 page, and an audited denial (returned, so the event is committed)."""
    audit.record(
        actor=request.user,
        entry=audit.Entry(
            "consent-manage",
            "denied",
            patient_id if 0 < patient_id <= MAX_ID else None,
            "consents",
            _purpose(request.user),
            f"consent pages: {why}"[:400],
        ),
    )
    return render(request, "404.html", status=404)


def _may_manage(request: HttpRequest, patient_id: int) -> bool:
    return 0 < patient_id <= MAX_ID and services.may_manage(request.user, patient_id)


# --- what the pages show -----------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientRow:
    pk: int
    text: str
    kind: str
    revoked_on: dt.datetime | None
    revocation_reason: str


@dataclass(frozen=True)
class DirectiveView:
    """One directive in words, for the templates."""

    directive: ConsentDirective
    status_label: str
    badge: str
    categories: list[str]
    purposes: list[str]
    recipients: list[RecipientRow]
    relationship: str
    has_pdf: bool

    @property
    def pk(self) -> int:
        return self.directive.pk

    @property
    def active_recipients(self) -> list[RecipientRow]:
        return [r for r in self.recipients if r.revoked_on is None]


def describe(directive: ConsentDirective) -> DirectiveView:
    recipients = [
        RecipientRow(r.pk, r.describe(), r.kind, r.revoked_on, r.revocation_reason)
        for r in directive.recipient_list  # type: ignore[attr-defined]
    ]
    return DirectiveView(
        directive=directive,
        status_label=directive.get_status_display(),
        badge=STATUS_BADGES.get(directive.status, "text-bg-light border"),
        categories=[CATEGORY_LABELS.get(c, c) for c in directive.categories or ()],
        purposes=[PURPOSE_LABELS.get(p, p) for p in directive.purposes or ()],
        recipients=recipients,
        relationship=RELATIONSHIP_LABELS.get(directive.signer_relationship, ""),
        has_pdf=directive.signature_kind == ConsentDirective.SignatureKind.PDF,
    )


def _notices(redactions: Any) -> list[dict[str, Any]]:
    """One notice per reason (count and reason; the label stays internal)."""
    merged: dict[str, dict[str, Any]] = {}
    for r in redactions:
        notice = merged.setdefault(r.reason, {"count": 0, "reason": r.reason})
        notice["count"] += r.count
    return list(merged.values())


# The banner's kinds, read in the same audited gate read as the directives.
BANNER_REQUESTS = (
    gate.Request("identifiers"),
    gate.Request("care_team", select_related=("practitioner",)),
)


def _read(request: HttpRequest, patient_id: int) -> dict[str, Any]:
    """The patient's directives through the gate, and the banner: raises AccessDenied.

    One gate read (one audit event) of ``consents`` with the banner's kinds, as
    ``queries.directives_for`` reads ``consents`` alone."""
    disclosure = gate.read(
        user=request.user,
        patient_id=patient_id,
        purpose=_purpose(request.user),
        requests=[
            gate.Request("consents", order_by=("-start", "-pk"), select_related=("recorded_by",)),
            *BANNER_REQUESTS,
        ],
        detail="consent directives page",
    )
    patient = disclosure.patient
    today = timezone.localdate()
    pcp = next((m.practitioner for m in disclosure.data["care_team"] if m.role == "pcp"), None)
    identifiers = disclosure.data["identifiers"]
    return {
        "patient": patient,
        "age": patient.age_on(patient.deceased_date or today),
        "mrn": next((i.value for i in identifiers if i.kind == "mrn"), ""),
        "pcp": pcp.name if pcp else "",
        "restricted": bool(disclosure.redactions),
        "directives": [describe(d) for d in queries.with_details(disclosure.data["consents"])],
        "withheld": _notices(disclosure.withheld("consents")),
    }


def _trail(patient: Any, *steps: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    name = f"{patient.family_name.upper()}, {patient.given_name}"
    return [
        ("Find a patient", reverse("patient-search")),
        (name, reverse("patient-summary", args=[patient.pk])),
        *steps,
    ]


def _one(request: HttpRequest, patient_id: int, directive_id: int) -> dict[str, Any] | None:
    """The page context with ``view``: the directive, if it is one of this patient's the
    reader may see; None otherwise (the caller answers 404, audited)."""
    context = _read(request, patient_id)
    view = next((d for d in context["directives"] if d.pk == directive_id), None)
    if view is None:
        return None
    context["view"] = view
    return context


# --- pages -------------------------------------------------------------------------------------


@require_GET
@login_required
@refusals_as_404
def directives(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The patient's directives, newest first, each with status, what, to whom, for what and
    when, its signature, and links to its page and its history."""
    if not _may_manage(request, patient_id):
        return _refuse(request, patient_id, "no treatment basis")
    context = _read(request, patient_id)
    context["breadcrumbs"] = _trail(context["patient"], ("Consent directives", None))
    return render(request, "consent/directives.html", context)


@require_GET
@login_required
@refusals_as_404
def detail(request: HttpRequest, patient_id: int, directive_id: int) -> HttpResponse:
    """One directive: everything it says, and the actions its status allows."""
    return _detail_page(request, patient_id, directive_id)


def _detail_page(
    request: HttpRequest,
    patient_id: int,
    directive_id: int,
    *,
    status: int = 200,
    sign_form: forms.SignForm | None = None,
    revoke_form: forms.RevokeForm | None = None,
    recipient_forms: dict[int, forms.RevokeForm] | None = None,
) -> HttpResponse:
    if not _may_manage(request, patient_id):
        return _refuse(request, patient_id, "no treatment basis")
    context = _one(request, patient_id, min(directive_id, MAX_ID))
    if context is None:
        return _refuse(request, patient_id, f"directive {directive_id} is not this patient's")
    view: DirectiveView = context["view"]
    version = view.directive.version
    forms_by_recipient = recipient_forms or {}
    context.update(
        sign_form=sign_form or forms.SignForm(initial={"version": version}),
        revoke_form=revoke_form or forms.RevokeForm(initial={"version": version}),
        recipient_forms=[
            (
                row,
                forms_by_recipient.get(row.pk)
                or forms.RevokeForm(prefix=f"r{row.pk}", initial={"version": version}),
                f"r{row.pk}-",
            )
            for row in view.active_recipients
        ],
        breadcrumbs=_trail(
            context["patient"],
            ("Consent directives", reverse("consent-directives", args=[patient_id])),
            (f"Directive {view.pk}", None),
        ),
    )
    return render(request, "consent/directive.html", context, status=status)


@require_GET
@login_required
@refusals_as_404
def history(request: HttpRequest, patient_id: int, directive_id: int) -> HttpResponse:
    """Every version of the directive, oldest first: what changed, who, when, and the whole
    directive as it then stood."""
    if not _may_manage(request, patient_id):
        return _refuse(request, patient_id, "no treatment basis")
    context = _one(request, patient_id, min(directive_id, MAX_ID))
    if context is None:
        return _refuse(request, patient_id, f"directive {directive_id} is not this patient's")
    view: DirectiveView = context["view"]
    context["versions"] = [
        {
            "version": v.version,
            "change": v.change,
            "changed_at": v.changed_at,
            "changed_by": v.changed_by,
            "fields": _snapshot_rows(v.snapshot),
        }
        for v in view.directive.version_list  # type: ignore[attr-defined]
    ]
    context["breadcrumbs"] = _trail(
        context["patient"],
        ("Consent directives", reverse("consent-directives", args=[patient_id])),
        (f"Directive {view.pk}", reverse("consent-directive", args=[patient_id, view.pk])),
        ("History", None),
    )
    return render(request, "consent/history.html", context)


def _snapshot_rows(snapshot: Any) -> list[tuple[str, str]]:
    """A stored snapshot as (field, value) lines, in words (recipients by name)."""
    if not isinstance(snapshot, dict):
        return [("snapshot", str(snapshot))]
    rows = []
    for key, value in snapshot.items():
        if key == "recipients" and isinstance(value, list):
            text = "; ".join(_recipient_text(r) for r in value) or "—"
        elif key == "categories" and isinstance(value, list):
            text = "; ".join(CATEGORY_LABELS.get(c, str(c)) for c in value) or "—"
        elif key == "purposes" and isinstance(value, list):
            text = ", ".join(PURPOSE_LABELS.get(p, str(p)) for p in value) or "—"
        elif isinstance(value, list):
            text = "; ".join(_snapshot_value(v) for v in value) or "—"
        else:
            text = _snapshot_value(value)
        rows.append((SNAPSHOT_LABELS.get(key, str(key).replace("_", " ")), text))
    return rows


SNAPSHOT_LABELS = {
    "part2_tpo": "Part 2 consent for TPO",
    "start": "Effective from",
    "end": "Expires on",
    "revoked_at": "Revoked at",
}


def _recipient_text(recipient: Any) -> str:
    """One recipient of a snapshot in words: its name, and its revocation if any."""
    if not isinstance(recipient, dict):
        return str(recipient)
    row = DirectiveRecipient(kind=recipient.get("kind", ""), role=recipient.get("role") or "")
    ids = {k: recipient.get(k) or 0 for k in ("practitioner", "organization", "site")}
    row.practitioner = Practitioner.objects.filter(pk=ids["practitioner"]).first()
    row.organization = Organization.objects.filter(pk=ids["organization"]).first()
    row.site = Site.objects.filter(pk=ids["site"]).first()
    text = row.describe()
    if recipient.get("revoked_on"):
        text += f" (revoked {str(recipient['revoked_on'])[:10]}: {recipient.get('revocation_reason', '')})"
    return text


def _snapshot_value(value: Any) -> str:
    if isinstance(value, dict):
        return (
            ", ".join(
                f"{str(k).replace('_', ' ')}: {v}" for k, v in value.items() if v not in ("", None)
            )
            or "—"
        )
    if value in ("", None):
        return "—"
    if value is True or value is False:
        return "yes" if value else "no"
    return str(value)


@require_GET
@login_required
@refusals_as_404
def signed_form(request: HttpRequest, patient_id: int, directive_id: int) -> HttpResponse:
    """The scanned signed form (PDF) of a directive the reader may see."""
    if not _may_manage(request, patient_id):
        return _refuse(request, patient_id, "no treatment basis")
    context = _one(request, patient_id, min(directive_id, MAX_ID))
    if context is None or not context["view"].has_pdf:
        return _refuse(request, patient_id, f"directive {directive_id}: no signed form")
    form = queries.signed_form(directive_id)
    if form is None:
        return _refuse(request, patient_id, f"directive {directive_id}: no signed form")
    response = HttpResponse(bytes(form.content), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="consent-{directive_id}.pdf"'
    return response


# --- record a directive ----------------------------------------------------------------------


def _specs(recipients: list[forms.Recipient]) -> list[services.RecipientSpec]:
    specs = []
    for r in recipients:
        if r.kind == "person":
            specs.append(services.RecipientSpec("person", practitioner_id=int(r.key)))
        elif r.kind == "organization":
            specs.append(services.RecipientSpec("organization", organization_id=int(r.key)))
        elif r.kind == "site":
            specs.append(services.RecipientSpec("site", site_id=int(r.key)))
        else:
            specs.append(services.RecipientSpec("role", role=r.key))
    return specs


def _signature(data: dict[str, Any]) -> services.Signature:
    upload = data.get("signed_pdf")
    return services.Signature(
        signer_name=(data.get("signer_name") or "").strip(),
        signed_on=data["signed_on"],
        relationship=data["relationship"],
        pdf=upload.read() if upload else None,
        filename=upload.name if upload else "",
    )


FIELD_OF_ERROR = {  # a service error's field -> the form's field that shows it
    "recipients": "recipient_1",
    "signature": "signer_name",
    "pdf": "signed_pdf",
    "signer_relationship": "relationship",
}


def _add_service_error(form: Any, error: services.DirectiveError) -> None:
    field = FIELD_OF_ERROR.get(error.field, error.field)
    form.add_error(field if field in form.fields else None, error.message)


@require_http_methods(["GET", "POST"])
@login_required
@refusals_as_404
def new(request: HtmxHttpRequest, patient_id: int) -> HttpResponse:
    """Record a directive with the patient: saved as a draft, or signed now (active)."""
    if not _may_manage(request, patient_id):
        return _refuse(request, patient_id, "no treatment basis")
    if request.method == "GET":
        return _form_page(request, patient_id, forms.DirectiveForm())
    signing = request.POST.get("action") == "sign"
    form = forms.DirectiveForm(request.POST, request.FILES, signing=signing)
    if not form.is_valid():
        return _form_page(request, patient_id, form, status=400)
    data = form.cleaned_data
    try:
        with transaction.atomic():
            directive = services.record_directive(
                by=request.user,
                patient=patient_id,
                categories=data["categories"],
                purposes=data["purposes"],
                recipients=_specs(data["recipients"]),
                start=data["start"],
                end=data["end"],
                signature=_signature(data) if signing else None,
                part2_tpo=data["part2_tpo"],
                activate=signing,
            )
    except services.DirectiveError as error:
        _add_service_error(form, error)
        return _form_page(request, patient_id, form, status=400)
    except AccessDenied:
        return _refuse(request, patient_id, "record refused")
    if signing:
        messages.success(request, "Directive signed: it is in force from its effective date.")
    else:
        messages.success(request, "Directive saved as a draft. Try it, then sign it.")
    visible = {d.pk for d in _read(request, patient_id)["directives"]}
    if directive.pk not in visible:
        # Its category is one the gate withholds from the recorder (a substance-use directive
        # recorded by a mental-health care manager): the list shows it as withheld.
        messages.info(
            request,
            f"Directive {directive.pk} names records you may not see yourself, so it is listed "
            "as withheld; its recipients and the patient see it.",
        )
        return redirect("consent-directives", patient_id=patient_id)
    return redirect("consent-directive", patient_id=patient_id, directive_id=directive.pk)


def _form_page(
    request: HttpRequest, patient_id: int, form: forms.DirectiveForm, *, status: int = 200
) -> HttpResponse:
    context = _read(request, patient_id)
    context["form"] = form
    context["breadcrumbs"] = _trail(
        context["patient"],
        ("Consent directives", reverse("consent-directives", args=[patient_id])),
        ("Record a directive", None),
    )
    return render(request, "consent/new.html", context, status=status)


# --- try my policy -----------------------------------------------------------------------------


def _preview(
    request: HttpRequest,
    patient_id: int,
    *,
    categories: list[str],
    purposes: list[str],
    recipients: list[services.RecipientSpec],
    start: dt.date,
    end: dt.date | None,
) -> list[dict[str, Any]]:
    """``queries.preview`` in words: per recipient, one row per kind of data with what they
    would see and what would still be withheld."""
    found = queries.preview(
        user=request.user,
        patient_id=patient_id,
        categories=categories,
        purposes=purposes,
        recipients=recipients,
        start=start,
        end=end,
    )
    out = []
    for row in found:
        kinds = [*KIND_LABELS, *sorted({*row.would_see, *row.would_not_see} - KIND_LABELS.keys())]
        out.append(
            {
                "recipient": row.recipient[:1].upper() + row.recipient[1:],
                "kinds": [
                    (KIND_LABELS.get(k, k), row.would_see.get(k, 0), row.would_not_see.get(k, 0))
                    for k in kinds
                    if row.would_see.get(k) or row.would_not_see.get(k)
                ],
                "sees": sum(row.would_see.values()),
                "withheld": sum(row.would_not_see.values()),
            }
        )
    return out


@require_POST
@login_required
@refusals_as_404
def preview_form(request: HtmxHttpRequest, patient_id: int) -> HttpResponse:
    """ "Try my policy" on the form's values, before anything is saved: the partial for htmx,
    else the whole page."""
    if not _may_manage(request, patient_id):
        return _refuse(request, patient_id, "no treatment basis")
    form = forms.DirectiveForm(request.POST, request.FILES, signing=False)
    if not form.is_valid():
        if request.htmx:
            context = {"problems": form.problems(), "patient_id": patient_id}
            return render(request, "consent/_preview.html", context, status=400)
        return _form_page(request, patient_id, form, status=400)
    data = form.cleaned_data
    rows = _preview(
        request,
        patient_id,
        categories=data["categories"],
        purposes=data["purposes"],
        recipients=_specs(data["recipients"]),
        start=data["start"],
        end=data["end"],
    )
    context = {"rows": rows, "patient_id": patient_id, "from_form": True}
    if request.htmx:
        return render(request, "consent/_preview.html", context)
    context |= _read(request, patient_id)
    context["breadcrumbs"] = _trail(
        context["patient"],
        ("Consent directives", reverse("consent-directives", args=[patient_id])),
        ("Try the directive", None),
    )
    return render(request, "consent/preview.html", context)


@require_GET
@login_required
@refusals_as_404
def preview_draft(request: HttpRequest, patient_id: int, directive_id: int) -> HttpResponse:
    """ "Try my policy" for a draft: what each of its recipients would see once it is signed."""
    if not _may_manage(request, patient_id):
        return _refuse(request, patient_id, "no treatment basis")
    context = _one(request, patient_id, min(directive_id, MAX_ID))
    if context is None:
        return _refuse(request, patient_id, f"directive {directive_id} is not this patient's")
    directive = context["view"].directive
    recipients = [
        services.RecipientSpec(
            r.kind,
            practitioner_id=r.practitioner_id,
            organization_id=r.organization_id,
            site_id=r.site_id,
            role=r.role,
        )
        for r in directive.recipient_list
        if r.revoked_on is None
    ]
    context["rows"] = _preview(
        request,
        patient_id,
        categories=list(directive.categories),
        purposes=list(directive.purposes),
        recipients=recipients,
        start=directive.start,
        end=directive.end,
    )
    context["patient_id"] = patient_id
    context["breadcrumbs"] = _trail(
        context["patient"],
        ("Consent directives", reverse("consent-directives", args=[patient_id])),
        (
            f"Directive {directive.pk}",
            reverse("consent-directive", args=[patient_id, directive.pk]),
        ),
        ("Try the directive", None),
    )
    return render(request, "consent/preview.html", context)


# --- sign and revoke ---------------------------------------------------------------------------


def _act(
    request: HttpRequest,
    patient_id: int,
    directive_id: int,
    form: Any,
    action: Any,
    *,
    form_slot: str,
    done: str,
) -> HttpResponse:
    """Validate ``form``; refuse a stale version; run ``action(directive, data)`` in a savepoint;
    redirect back with a message, or show the page again with the form's errors (400)."""
    if not _may_manage(request, patient_id):
        return _refuse(request, patient_id, "no treatment basis")
    context = _one(request, patient_id, min(directive_id, MAX_ID))
    if context is None:
        return _refuse(request, patient_id, f"directive {directive_id} is not this patient's")
    directive = context["view"].directive
    back = redirect("consent-directive", patient_id=patient_id, directive_id=directive.pk)
    if not form.is_valid():
        return _detail_page(request, patient_id, directive_id, status=400, **{form_slot: form})
    data = form.cleaned_data
    if data.get("version") and data["version"] != directive.version:
        messages.warning(
            request, "The directive changed since you opened it (nothing was saved): see it now."
        )
        return back
    try:
        with transaction.atomic():
            action(directive, data)
    except services.DirectiveError as error:
        if error.field in {"status", "version", "recipient"}:
            messages.warning(request, f"Nothing was saved: {error.message}")
            return back
        _add_service_error(form, error)
        return _detail_page(request, patient_id, directive_id, status=400, **{form_slot: form})
    except AccessDenied:
        return _refuse(request, patient_id, f"directive {directive_id}: refused")
    messages.success(request, done)
    return back


@require_POST
@login_required
@refusals_as_404
def sign(request: HttpRequest, patient_id: int, directive_id: int) -> HttpResponse:
    """Sign a draft: it becomes active."""
    form = forms.SignForm(request.POST, request.FILES)

    def action(directive: ConsentDirective, data: dict[str, Any]) -> None:
        services.sign_directive(
            by=request.user, directive=directive, signature=_signature(data), patient_id=patient_id
        )

    return _act(
        request, patient_id, directive_id, form, action,
        form_slot="sign_form", done="Directive signed: it is in force from its effective date.",
    )  # fmt: skip


@require_POST
@login_required
@refusals_as_404
def revoke(request: HttpRequest, patient_id: int, directive_id: int) -> HttpResponse:
    """Revoke the whole directive (the reason is required)."""
    form = forms.RevokeForm(request.POST)

    def action(directive: ConsentDirective, data: dict[str, Any]) -> None:
        services.revoke_directive(
            by=request.user, directive=directive, reason=data["reason"], patient_id=patient_id
        )

    return _act(
        request, patient_id, directive_id, form, action,
        form_slot="revoke_form", done="Directive revoked: nobody receives records under it now.",
    )  # fmt: skip


@require_POST
@login_required
@refusals_as_404
def revoke_recipient(
    request: HttpRequest, patient_id: int, directive_id: int, recipient_id: int
) -> HttpResponse:
    """Revoke one recipient of the directive (the reason is required); the others keep it."""
    form = forms.RevokeForm(request.POST, prefix=f"r{recipient_id}")
    recipient_id = min(recipient_id, MAX_ID)

    def action(directive: ConsentDirective, data: dict[str, Any]) -> None:
        services.revoke_recipient(
            by=request.user,
            directive=directive,
            recipient_id=recipient_id,
            reason=data["reason"],
            patient_id=patient_id,
        )

    if not form.is_valid():
        if not _may_manage(request, patient_id):
            return _refuse(request, patient_id, "no treatment basis")
        return _detail_page(
            request, patient_id, directive_id, status=400, recipient_forms={recipient_id: form}
        )
    return _act(
        request, patient_id, directive_id, form, action,
        form_slot="revoke_form", done="Recipient revoked: the others keep the directive.",
    )  # fmt: skip
