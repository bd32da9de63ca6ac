"""Reads for break-the-glass: the active grant, the exact look-up, the privacy officers'
review queue with the audit events of each access.

The look-up (:func:`find_exactly`) is the one read of patient rows here outside the gate: it
answers an id or None for an *exact* MRN, or an exact family name, given name and date of
birth, and only after the reader has given a reason (``services.declare_by_lookup``); it never
lists. The review queue names the patient (name, date of birth) to privacy officers only:
every list and detail is audited, and anyone else gets the same refusal as a missing grant.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from tandem.audit import services as audit
from tandem.audit.models import AuditEvent
from tandem.breakglass import rules
from tandem.breakglass.models import EmergencyAccess
from tandem.consent import gate
from tandem.consent.models import Purpose
from tandem.core import queries as core_queries
from tandem.core.lib.access import AccessDenied
from tandem.core.models import CareTeamMember, Practitioner
from tandem.registry.models import Patient, PatientIdentifier

PAGE_SIZE = 25
# The review pages are oversight of access, not care: they are audited with this purpose.
REVIEW_PURPOSE = Purpose.OPERATIONS
FILTERS = ("all", "unreviewed", "justified", "not-justified")


class NotFound(Exception):
    """No grant with this id that the reader may see (audited by the caller's query)."""


def is_privacy_officer(user: Any) -> bool:
    return core_queries.is_privacy_officer(user)


def privacy_officers() -> QuerySet[Any]:
    return core_queries.privacy_officers()


def is_practitioner(user: Any) -> bool:
    """Only active practitioners may declare an emergency (staff who treat patients)."""
    return Practitioner.objects.filter(user_id=user.pk, active=True).exists()


def active_grant(user: Any, patient_id: int) -> EmergencyAccess | None:
    """The user's active grant for this patient (the one the gate honours), or None."""
    grant = gate.emergency_grant(user, patient_id)
    return grant if isinstance(grant, EmergencyAccess) else None


def has_treatment_access(user: Any, patient_id: int) -> bool:
    """Whether the reader already sees this patient for treatment (no emergency needed)."""
    visible = gate.visible_patients(user=user, purpose=Purpose.TREATMENT)
    return visible.filter(pk=patient_id).exists()


def patient_exists(patient_id: int) -> bool:
    return Patient.objects.filter(pk=patient_id).exists()


def patient_for_alert(patient_id: int) -> Patient:
    """The patient a new grant names (for the alert tasks and their titles)."""
    return Patient.objects.get(pk=patient_id)


@dataclass(frozen=True)
class Lookup:
    """What the reader typed: an MRN, or family name + given name + date of birth."""

    mrn: str = ""
    family_name: str = ""
    given_name: str = ""
    birth_date: dt.date | None = None


def find_exactly(lookup: Lookup) -> int | None:
    """The one patient matching exactly, else None (none and several look the same)."""
    if lookup.mrn:
        ids = PatientIdentifier.objects.filter(kind="mrn", value=lookup.mrn.strip())
        found = list(ids.values_list("patient_id", flat=True).distinct()[:2])
    elif lookup.family_name and lookup.given_name and lookup.birth_date:
        patients = Patient.objects.filter(
            family_name__iexact=lookup.family_name.strip(),
            given_name__iexact=lookup.given_name.strip(),
            birth_date=lookup.birth_date,
        )
        found = list(patients.values_list("pk", flat=True)[:2])
    else:
        return None
    return found[0] if len(found) == 1 else None


def misses_since(user: Any, since: dt.datetime) -> int:
    """Declarations by ``user`` that matched no patient since ``since`` (rate limit)."""
    return AuditEvent.objects.filter(
        actor_id=user.pk,
        action="break-the-glass",
        outcome="denied",
        occurred_at__gte=since,
        detail__startswith=rules.MISS,
    ).count()


def care_team_users(patient_id: int) -> list[Any]:
    """The users of the patient's active care-team members (those who have a login)."""
    today = timezone.localdate()
    members = (
        CareTeamMember.objects.filter(
            Q(end__isnull=True) | Q(end__gte=today),
            patient_id=patient_id,
            start__lte=today,
            practitioner__active=True,
            practitioner__user__isnull=False,
            practitioner__user__is_active=True,
        )
        .select_related("practitioner__user")
        .order_by("practitioner__user_id")
    )
    users: dict[int, Any] = {}
    for member in members:
        user: Any = member.practitioner.user
        users.setdefault(user.pk, user)
    return list(users.values())


def person_name(user: Any) -> str:
    """How a user is named in alerts and lists: their practitioner name, else their name."""
    practitioner = Practitioner.objects.filter(user_id=user.pk).first()
    if practitioner is not None:
        return f"{practitioner.given_name} {practitioner.family_name}".strip()
    return user.get_full_name() or user.get_username()


def _refuse(user: Any, *, patient_id: int | None, detail: str) -> None:
    audit.record(
        actor=user,
        entry=audit.Entry(
            "break-the-glass-review", "denied", patient_id, "", REVIEW_PURPOSE, detail
        ),
    )
    raise AccessDenied("emergency access reviews are for privacy officers")


def _ordered(grants: QuerySet[EmergencyAccess]) -> QuerySet[EmergencyAccess]:
    unreviewed_first = Case(
        When(review_status=EmergencyAccess.Review.UNREVIEWED, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return grants.annotate(unreviewed_first=unreviewed_first).order_by(
        "unreviewed_first", "-declared_at", "-pk"
    )


def review_queue(
    *, user: Any, status: str = "all", page: int = 1, page_size: int = PAGE_SIZE, detail: str = ""
) -> Page:
    """Every grant, unreviewed first, newest first (privacy officers only; audited)."""
    if not is_privacy_officer(user):
        _refuse(user, patient_id=None, detail=(detail + " review queue").strip())
    grants = EmergencyAccess.objects.select_related("user", "patient", "reviewer")
    if status != "all":
        grants = grants.filter(review_status=status)
    listing = Paginator(_ordered(grants), page_size).get_page(page)
    audit.record_many(
        actor=user,
        entries=[
            audit.Entry(
                "break-the-glass-review",
                "shown",
                g.patient_id,
                "emergency-access",
                REVIEW_PURPOSE,
                (f"{detail} list grant={g.pk}").strip(),
            )
            for g in listing
        ]
        or [
            audit.Entry(
                "break-the-glass-review", "shown", None, "", REVIEW_PURPOSE, f"{detail} list empty"
            )
        ],
    )
    return listing


def own_grants(
    *, user: Any, status: str = "all", page: int = 1, page_size: int = PAGE_SIZE
) -> Page:
    """The grants a reader declared, newest first (their own history; audited by the API)."""
    grants = EmergencyAccess.objects.filter(user_id=user.pk).select_related("user", "reviewer")
    if status != "all":
        grants = grants.filter(review_status=status)
    return Paginator(grants.order_by("-declared_at", "-pk"), page_size).get_page(page)


@dataclass(frozen=True)
class GrantDetail:
    grant: EmergencyAccess
    events: list[AuditEvent]  # what the grant's holder did with this patient while it ran
    active: bool


def access_events(grant: EmergencyAccess) -> list[AuditEvent]:
    """The audit events of the holder about this patient from declaration to expiry."""
    return list(
        AuditEvent.objects.filter(
            actor_id=grant.user_id,
            patient_id=grant.patient_id,
            occurred_at__gte=grant.declared_at,
            occurred_at__lte=grant.expires_at,
        ).order_by("occurred_at", "pk")
    )


def grant_detail(*, user: Any, pk: int, detail: str = "") -> GrantDetail:
    """One grant with its reason and the audit events of the access (privacy officers only)."""
    if not is_privacy_officer(user):
        patient_id = EmergencyAccess.objects.filter(pk=pk).values_list("patient_id", flat=True)
        _refuse(user, patient_id=patient_id.first(), detail=f"{detail} grant={pk}".strip())
    grant = (
        EmergencyAccess.objects.select_related("user", "patient", "reviewer").filter(pk=pk).first()
    )
    if grant is None:
        audit.record(
            actor=user,
            entry=audit.Entry(
                "break-the-glass-review",
                "denied",
                None,
                "",
                REVIEW_PURPOSE,
                f"{detail} no grant={pk}".strip(),
            ),
        )
        raise NotFound(pk)
    audit.record(
        actor=user,
        entry=audit.Entry(
            "break-the-glass-review",
            "shown",
            grant.patient_id,
            "emergency-access,audit",
            REVIEW_PURPOSE,
            f"{detail} grant={grant.pk}".strip(),
        ),
    )
    now = timezone.now()
    return GrantDetail(grant, access_events(grant), grant.declared_at <= now < grant.expires_at)


def locked_grant(pk: int) -> EmergencyAccess | None:
    """The grant row, locked for a review (inside the caller's transaction)."""
    return EmergencyAccess.objects.select_for_update().filter(pk=pk).first()


def demo_grants(user: Any) -> QuerySet[EmergencyAccess]:
    return EmergencyAccess.objects.filter(user_id=user.pk)


def demo_patient_outside_team(user: Any, *, exclude: list[int]) -> int | None:
    """A demo patient the user has no treatment basis for (for the seeded grants)."""
    visible = gate.visible_patients(user=user, purpose=Purpose.TREATMENT).values("pk")
    others = (
        Patient.objects.exclude(pk__in=visible)
        .exclude(pk__in=exclude)
        .filter(deceased_date__isnull=True)
        .order_by("pk")
    )
    return others.values_list("pk", flat=True).first()


def demo_chart_read(user: Any, patient_id: int) -> None:
    """An audited read of some of the chart under the grant (so the demo's review shows one)."""
    gate.read(
        user=user,
        patient_id=patient_id,
        purpose=Purpose.TREATMENT,
        requests=[gate.Request("conditions"), gate.Request("medication_orders")],
        detail="demo",
    )


def open_privacy_tasks(grant: EmergencyAccess) -> list[Any]:
    """The privacy office's open alert tasks about this grant (closed when it is reviewed)."""
    from tandem.tasks.models import Task

    office = Q(queue__key=rules.PRIVACY_QUEUE_KEY) | Q(claimed_from__key=rules.PRIVACY_QUEUE_KEY)
    return list(
        Task.objects.filter(office, source="alert", source_ref=f"breakglass:{grant.pk}").exclude(
            status__in=[Task.Status.DONE, Task.Status.CANCELLED]
        )
    )
