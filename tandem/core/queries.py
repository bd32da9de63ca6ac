"""Reads about staff and their roles (no patient data here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from tandem.core.lib import memo
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


def active_practitioner(user: Any) -> Practitioner | None:
    """The user's active practitioner record, or None (read once per request: ``memo``)."""
    if user is None or getattr(user, "pk", None) is None:
        return None
    return memo.remember(
        ("practitioner", user.pk),
        lambda: Practitioner.objects.filter(user_id=user.pk, active=True).first(),
    )


def site_roles(user: Any) -> list[tuple[int, str]]:
    """The user's site roles as (site id, role) pairs (read once per request: ``memo``)."""
    if user is None or getattr(user, "pk", None) is None:
        return []
    return memo.remember(
        ("site_roles", user.pk),
        lambda: list(
            SiteRole.objects.filter(user_id=user.pk).order_by("pk").values_list("site_id", "role")
        ),
    )


def practitioner_programs(practitioner: Practitioner) -> list[tuple[int, str, bool, int | None]]:
    """The practitioner's programs as (id, kind, is_part2, site id) (once per request)."""
    return memo.remember(
        ("programs", practitioner.pk),
        lambda: list(
            practitioner.programs.order_by("pk").values_list("pk", "kind", "is_part2", "site_id")
        ),
    )


def has_site_role(user: Any, roles: Any) -> bool:
    """Whether the user holds one of ``roles`` at any site."""
    wanted = set(roles)
    return any(role in wanted for _, role in site_roles(user))


def role_of(user: Any) -> Role:
    return memo.remember(("role", getattr(user, "pk", None)), lambda: _role_of(user))


def _role_of(user: Any) -> Role:
    practitioner = active_practitioner(user)
    if practitioner is not None:
        key, label = _DISCIPLINE_ROLE[practitioner.discipline]
        return Role(key, label, practitioner)
    if hasattr(user, "patient"):
        return Role("patient", "Patient", None)
    if is_privacy_officer(user):  # before leader: audit work is what a privacy officer does
        return Role("privacy-officer", "Privacy officer", None)
    if has_site_role(user, ["leader", "quality"]):
        return Role("leader", "Leader / quality", None)
    return Role("staff", "Staff", None)


def is_privacy_officer(user: Any) -> bool:
    """Whether ``user`` holds the privacy-officer role at any site (audit data, no charts)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return has_site_role(user, [SiteRole.Role.PRIVACY_OFFICER])


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
    return [site_id for site_id, role in site_roles(user) if role in ("leader", "quality")]


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
