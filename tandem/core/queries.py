"""Reads about staff and their roles (no patient data here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from tandem.core.models import Practitioner, SiteRole


@dataclass(frozen=True)
class Role:
    """The capacity a user works in, for navigation and the home page."""

    # pcp | care-manager | bh-clinician | psychiatrist | leader | privacy-officer | patient | staff
    key: str
    label: str
    practitioner: Practitioner | None


_DISCIPLINE_ROLE = {
    "pcp": ("pcp", "Primary care clinician"),
    "np-pa": ("pcp", "Primary care clinician"),
    "nurse": ("care-manager", "Nurse"),
    "care-manager": ("care-manager", "Care manager"),
    "psychologist": ("bh-clinician", "Behavioral health clinician"),
    "social-worker": ("bh-clinician", "Behavioral health clinician"),
    "peer-specialist": ("bh-clinician", "Peer specialist"),
    "psychiatrist": ("psychiatrist", "Psychiatrist"),
}


def role_of(user: Any) -> Role:
    practitioner = Practitioner.objects.filter(user_id=user.pk, active=True).first()
    if practitioner is not None:
        key, label = _DISCIPLINE_ROLE[practitioner.discipline]
        return Role(key, label, practitioner)
    if hasattr(user, "patient"):
        return Role("patient", "Patient", None)
    if is_privacy_officer(user):  # before leader: audit work is what a privacy officer does
        return Role("privacy-officer", "Privacy officer", None)
    if SiteRole.objects.filter(user_id=user.pk, role__in=["leader", "quality"]).exists():
        return Role("leader", "Leader / quality", None)
    return Role("staff", "Staff", None)


def is_privacy_officer(user: Any) -> bool:
    """Whether ``user`` holds the privacy-officer role at any site (audit data, no charts)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return SiteRole.objects.filter(user_id=user.pk, role=SiteRole.Role.PRIVACY_OFFICER).exists()


def privacy_officers() -> QuerySet[Any]:
    """Active users holding the privacy-officer role at any site."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(is_active=True, site_roles__role=SiteRole.Role.PRIVACY_OFFICER)
        .distinct()
        .order_by("pk")
    )


def leader_site_ids(user: Any) -> list[int]:
    return list(
        SiteRole.objects.filter(user_id=user.pk, role__in=["leader", "quality"]).values_list(
            "site_id", flat=True
        )
    )


def busiest_practitioner(*, discipline: str, site_kind: str | None) -> Practitioner | None:
    """The unlinked practitioner of this discipline with the most care-team memberships.

    Used by the demo to give each persona a real caseload. Counts only, no patient data.
    """
    from django.db.models import Count

    candidates = Practitioner.objects.filter(discipline=discipline, user__isnull=True)
    if site_kind:
        candidates = candidates.filter(sites__kind=site_kind)
    return (
        candidates.annotate(caseload=Count("memberships", distinct=True))
        .order_by("-caseload", "pk")
        .first()
    )


# The purpose each role reads patient data for. The gate decides what that purpose allows;
# this is the one place that says which purpose a page asks for.
_ROLE_PURPOSE = {
    "patient": "patient-access",
    "leader": "operations",
}


def purpose_for(role: Role) -> str:
    """The purpose of use a user in ``role`` reads patient data for: treatment by default."""
    return _ROLE_PURPOSE.get(role.key, "treatment")
