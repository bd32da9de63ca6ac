"""Reads of consent directives: through the gate (``consents`` kind) for what a user sees, and
the few plain reads the services need (row locks, existence checks).

:func:`preview` ("try my policy") computes, for each proposed recipient, what they would see
and not see of the patient with a proposed directive added — with the gate's own policy code
(``gate._policy`` and ``_Policy.filter_for``), so the preview cannot drift from enforcement.
Nothing is saved; the preview is audited as ``consent-preview``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import Count

from tandem.audit import services as audit
from tandem.consent import gate, rules
from tandem.consent.models import (
    ConsentDirective,
    DirectiveRecipient,
    DirectiveVersion,
    Purpose,
    SignedForm,
)
from tandem.core.models import CareTeamMember, Organization, Practitioner, Site

# --- plain reads for the services ---------------------------------------------------------


def patient_user_id(patient_id: int) -> int | None:
    """The login of the patient (the portal's user), or None."""
    patient_model = apps.get_model("registry", "Patient")
    return patient_model.objects.filter(pk=patient_id).values_list("user_id", flat=True).first()


def lock_patient(patient_id: int) -> None:
    """Lock the patient's row for the transaction: serializes recordings of their directives."""
    patient_model = apps.get_model("registry", "Patient")
    list(patient_model.objects.select_for_update().filter(pk=patient_id).values_list("pk"))


def lock_directive(pk: int) -> ConsentDirective | None:
    return ConsentDirective.objects.select_for_update().filter(pk=pk).first()


def recipients_of(directive_id: int, *, lock: bool = False) -> list[DirectiveRecipient]:
    rows = DirectiveRecipient.objects.filter(directive_id=directive_id).order_by("pk")
    if lock:
        rows = rows.select_for_update()
    return list(rows)


def recent_directives(
    *, patient_id: int, recorded_by_id: int | None, since: dt.datetime
) -> list[ConsentDirective]:
    return list(
        ConsentDirective.objects.filter(
            patient_id=patient_id, recorded_by_id=recorded_by_id, recorded_at__gte=since
        ).order_by("-pk")
    )


def expirable_directive_ids(today: dt.date) -> list[int]:
    return list(
        ConsentDirective.objects.filter(
            status=ConsentDirective.Status.ACTIVE, end__lt=today
        ).values_list("pk", flat=True)
    )


def signed_form_digest(directive_id: int) -> str | None:
    return (
        SignedForm.objects.filter(directive_id=directive_id)
        .values_list("sha256", flat=True)
        .first()
    )


def signed_form(directive_id: int) -> SignedForm | None:
    """The scanned form of a directive (callers have read the directive through the gate)."""
    return SignedForm.objects.filter(directive_id=directive_id).first()


def practitioner_exists(pk: int) -> bool:
    return Practitioner.objects.filter(pk=pk).exists()


def organization_exists(pk: int) -> bool:
    return Organization.objects.filter(pk=pk).exists()


def site_exists(pk: int) -> bool:
    return Site.objects.filter(pk=pk).exists()


def recipients_detailed(directive_id: int) -> list[DirectiveRecipient]:
    return list(
        DirectiveRecipient.objects.filter(directive_id=directive_id)
        .select_related("practitioner", "organization", "site")
        .order_by("pk")
    )


def custodian(patient_id: int) -> Organization | None:
    """The organization of the patient's home site (the directive's custodian), or None."""
    patient_model = apps.get_model("registry", "Patient")
    org_id = (
        patient_model.objects.filter(pk=patient_id)
        .values_list("home_site__organization_id", flat=True)
        .first()
    )
    return Organization.objects.filter(pk=org_id).first() if org_id else None


def site_by_code(code: str) -> Site | None:
    return Site.objects.filter(code=code).first()


def versions_of(directive_id: int) -> list[DirectiveVersion]:
    return list(DirectiveVersion.objects.filter(directive_id=directive_id).order_by("version"))


# --- through the gate ----------------------------------------------------------------------


def directives_for(
    *, user: Any, patient_id: int, purpose: str, detail: str = "consents"
) -> gate.Disclosure:
    """The patient's directives this user may see (gate kind ``consents``, labelled by their
    most protective category), newest first, recipients and versions prefetched. Raises
    ``AccessDenied`` (audited) without a basis."""
    return gate.read(
        user=user,
        patient_id=patient_id,
        purpose=purpose,
        requests=[
            gate.Request(
                "consents",
                order_by=("-start", "-pk"),
                select_related=("recorded_by",),
            )
        ],
        detail=detail,
    )


def with_details(directives: Sequence[ConsentDirective]) -> list[ConsentDirective]:
    """Attach recipients (with their practitioner/organization/site) and versions to
    directives already read through the gate: two queries for the lot."""
    ids = [d.pk for d in directives]
    recipients: dict[int, list[DirectiveRecipient]] = {pk: [] for pk in ids}
    for r in (
        DirectiveRecipient.objects.filter(directive_id__in=ids)
        .select_related("practitioner", "organization", "site")
        .order_by("pk")
    ):
        recipients[r.directive_id].append(r)
    versions: dict[int, list[DirectiveVersion]] = {pk: [] for pk in ids}
    for v in DirectiveVersion.objects.filter(directive_id__in=ids).order_by("version"):
        versions[v.directive_id].append(v)
    for d in directives:
        d.recipient_list = recipients[d.pk]  # type: ignore[attr-defined]
        d.version_list = versions[d.pk]  # type: ignore[attr-defined]
    return list(directives)


# --- "try my policy" -----------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientPreview:
    recipient: str
    would_see: dict[str, int] = field(default_factory=dict)
    would_not_see: dict[str, int] = field(default_factory=dict)


def preview(
    *,
    patient_id: int,
    categories: Iterable[str],
    purposes: Iterable[str],
    recipients: Sequence[Any],
    start: dt.date,
    end: dt.date | None = None,
    user: Any = None,
    kinds: Iterable[str] | None = None,
) -> list[RecipientPreview]:
    """What each proposed recipient would see and not see of the patient, per data kind,
    once the proposed directive (not saved) is in force — on its first day in force (today,
    or ``start`` when later), for each of its purposes (counts for the first purpose that the
    recipient has a relationship for; a recipient with none sees nothing).

    ``recipients`` are ``services.RecipientSpec``. A person is previewed as that practitioner;
    an organization, site or role as each practitioner it would cover today (the patient's
    care team in that role; practitioners of that site or organization), summed: the counts
    are what that group would see. ``user``: who asks — the patient, or staff with a
    treatment basis for the patient; anyone else gets ``AccessDenied`` (audited ``denied``).
    Audited as ``consent-preview``.
    """
    patient_model = apps.get_model("registry", "Patient")
    patient = patient_model.objects.filter(pk=patient_id).first()
    own = patient is not None and user is not None and patient.user_id == user.pk
    if patient is None or not (
        own or gate.basis_for(user=user, patient_id=patient_id, purpose=Purpose.TREATMENT)
    ):
        audit.record(
            actor=user,
            entry=audit.Entry("consent-preview", "denied", patient_id, "consents", "", ""),
        )
        raise gate.AccessDenied("only the patient or their treating staff may preview")
    cats = list(categories)
    purps = [p for p in purposes]
    day = max(rules.directive_today(), start)
    in_force = end is None or end >= day
    kinds = list(kinds or gate.KINDS)
    out = []
    for spec in recipients:
        label, practitioners = _covered_practitioners(spec, patient_id, day)
        seen: dict[str, int] = {}
        unseen: dict[str, int] = {}
        for practitioner in practitioners:
            purpose = _first_purpose_with_basis(practitioner, patient, purps)
            counts = _counts(
                practitioner,
                patient,
                purpose,
                cats if in_force else [],
                kinds,
                day,
            )
            for kind, (shown, hidden) in counts.items():
                if shown:
                    seen[kind] = seen.get(kind, 0) + shown
                if hidden:
                    unseen[kind] = unseen.get(kind, 0) + hidden
        if not practitioners:
            unseen = _total_counts(patient_id, kinds)
        out.append(RecipientPreview(label, seen, unseen))
    audit.record(
        actor=user,
        entry=audit.Entry(
            "consent-preview",
            "shown",
            patient_id,
            "consents",
            Purpose.PATIENT_ACCESS if own else Purpose.TREATMENT,
            f"recipients={len(out)} categories={','.join(sorted(cats))}"[:400],
        ),
    )
    return out


def _covered_practitioners(spec: Any, patient_id: int, day: dt.date) -> tuple[str, list[Any]]:
    kind = spec.kind
    if kind == DirectiveRecipient.Kind.PERSON:
        p = Practitioner.objects.filter(pk=spec.practitioner_id, active=True).first()
        return (p.name if p else "Unknown practitioner"), [p] if p else []
    if kind == DirectiveRecipient.Kind.SITE:
        site = Site.objects.filter(pk=spec.site_id).first()
        pracs = list(Practitioner.objects.filter(sites=spec.site_id, active=True).distinct())
        return (site.name if site else "Unknown site"), pracs
    if kind == DirectiveRecipient.Kind.ORGANIZATION:
        org = Organization.objects.filter(pk=spec.organization_id).first()
        pracs = list(
            Practitioner.objects.filter(
                sites__organization_id=spec.organization_id, active=True
            ).distinct()
        )
        return (org.name if org else "Unknown organization"), pracs
    members = (
        CareTeamMember.objects.filter(patient_id=patient_id, role=spec.role, start__lte=day)
        .exclude(end__lt=day)
        .values_list("practitioner_id", flat=True)
    )
    pracs = list(Practitioner.objects.filter(pk__in=members, active=True))
    text = DirectiveRecipient(kind="role", role=spec.role).describe()
    return text, pracs


def _reader_for(practitioner: Any, day: dt.date) -> Any:
    """The gate's reader for a practitioner (their login's, as when they open the chart)."""
    del day  # the gate reads directives on rules.directive_today(); see preview's docstring
    return gate._reader(practitioner.user)


def _first_purpose_with_basis(practitioner: Any, patient: Any, purposes: list[str]) -> str | None:
    if practitioner.user is None:
        return None
    reader = _reader_for(practitioner, rules.directive_today())
    for purpose in purposes:
        if gate._basis(reader, patient, purpose) is not None:
            return purpose
    return None


def _counts(
    practitioner: Any,
    patient: Any,
    purpose: str | None,
    categories: list[str],
    kinds: list[str],
    day: dt.date,
) -> dict[str, tuple[int, int]]:
    totals = _totals(patient.pk, kinds)
    if purpose is None or practitioner.user is None:
        return {kind: (0, sum(by_label.values())) for kind, by_label in totals.items()}
    reader = _reader_for(practitioner, day)
    policy = gate._policy(reader, patient.pk, purpose, proposed=categories)
    out = {}
    for kind, by_label in totals.items():
        model = apps.get_model(gate.KINDS[kind])
        total = sum(by_label.values())
        if kind in gate.WITHHELD_KINDS.get(purpose, ()):
            out[kind] = (0, total)
            continue
        allowed = policy.filter_for(model)
        if allowed is None:
            out[kind] = (total, 0)
            continue
        shown = model.objects.filter(allowed, patient_id=patient.pk).count() if total else 0
        out[kind] = (shown, total - shown)
    return out


def _totals(patient_id: int, kinds: list[str]) -> dict[str, dict[str, int]]:
    out = {}
    for kind in kinds:
        model = apps.get_model(gate.KINDS[kind])
        names = {f.name for f in model._meta.get_fields()}
        rows = model.objects.filter(patient_id=patient_id)
        if "sensitivity" in names:
            out[kind] = {
                r["sensitivity"]: r["n"]
                for r in rows.values("sensitivity").annotate(n=Count("pk")).order_by()
            }
        else:
            n = rows.count()
            out[kind] = {"normal": n} if n else {}
    return {k: v for k, v in out.items() if v}


def _total_counts(patient_id: int, kinds: list[str]) -> dict[str, int]:
    return {kind: sum(v.values()) for kind, v in _totals(patient_id, kinds).items()}


# --- the demo (system use: counts and ids, no patient data shown) --------------------------


def demo_patient_of(user: Any) -> int | None:
    """The patient linked to the demo patient login."""
    patient_model = apps.get_model("registry", "Patient")
    return patient_model.objects.filter(user_id=user.pk).values_list("pk", flat=True).first()


def demo_seeded(user_ids: Iterable[int]) -> bool:
    return ConsentDirective.objects.filter(recorded_by_id__in=list(user_ids)).exists()


def practitioner_of(user: Any) -> Practitioner | None:
    return Practitioner.objects.filter(user_id=user.pk, active=True).first()


def on_care_team(patient_id: int, practitioner: Any, role: str) -> bool:
    return CareTeamMember.objects.filter(
        patient_id=patient_id, practitioner=practitioner, role=role
    ).exists()


def has_part2_records(patient_id: int) -> bool:
    """Whether the patient has a Part 2 diagnosis on the problem list (what the chart shows)."""
    condition = apps.get_model("clinical", "Condition")
    return condition.objects.filter(
        patient_id=patient_id, sensitivity="substance-use", category="problem-list-item"
    ).exists()


def part2_program() -> Any:
    return apps.get_model("core", "Program").objects.filter(is_part2=True).order_by("pk").first()


def caseload_ids(practitioner: Any, *, exclude: Iterable[int], limit: int) -> list[int]:
    """Patients on ``practitioner``'s care teams (the demo spreads directives over them)."""
    return list(
        CareTeamMember.objects.filter(practitioner=practitioner, end__isnull=True)
        .exclude(patient_id__in=list(exclude))
        .order_by("patient_id")
        .values_list("patient_id", flat=True)
        .distinct()[:limit]
    )
