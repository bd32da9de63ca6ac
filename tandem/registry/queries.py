"""Reads of patients: search and the summary, both through ``consent.gate``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.utils import timezone

from tandem.consent import gate
from tandem.consent.models import Purpose
from tandem.core.models import CareTeamMember, Practitioner, Site
from tandem.registry.models import Patient, PatientIdentifier

PAGE_SIZE = 25


@dataclass(frozen=True)
class Search:
    """Validated search criteria (the view's form builds this)."""

    name: str = ""
    mrn: str = ""
    birth_date: dt.date | None = None
    page: int = 1


def search_patients(
    *,
    user: Any,
    criteria: Search,
    purpose: str,
    page_size: int = PAGE_SIZE,
    detail: str = "patient search",
) -> Page:
    """One page of the patients this user may see that match; the page is audited."""
    patients = gate.visible_patients(user=user, purpose=purpose)
    for token in criteria.name.split():
        patients = patients.filter(Q(given_name__icontains=token) | Q(family_name__icontains=token))
    if criteria.mrn:  # only identifiers the reader may see: an MRN can name a Part 2 site
        identifiers = gate.searchable_identifiers(user=user, purpose=purpose)
        patients = patients.filter(
            Exists(identifiers.filter(patient=OuterRef("pk"), value=criteria.mrn))
        )
    if criteria.birth_date:
        patients = patients.filter(birth_date=criteria.birth_date)
    patients = patients.select_related("home_site").order_by("family_name", "given_name", "pk")
    page = Paginator(patients, page_size).get_page(criteria.page)
    page.object_list = list(page.object_list)
    gate.withhold_home_sites(user=user, patients=page.object_list, purpose=purpose)
    gate.record_listing(user=user, patients=page.object_list, purpose=purpose, detail=detail)
    return page


def summary_requests(today: dt.date) -> list[gate.Request]:
    """What the summary page asks the gate for (care team as of ``today``)."""
    return [
        gate.Request("identifiers", select_related=("site",)),
        gate.Request("contacts"),
        gate.Request("coverage", order_by=("-start",), select_related=("payer",)),
        gate.Request(
            "care_team",
            where=Q(end__isnull=True) | Q(end__gte=today),
            order_by=("role",),
            select_related=("practitioner", "program"),
        ),
        gate.Request(
            "conditions",
            where=Q(category="problem-list-item"),
            order_by=("clinical_status", "-onset"),
        ),
        gate.Request(
            "medication_orders",
            where=Q(status="active"),
            order_by=("-authored_at",),
            select_related=("prescriber",),
        ),
        gate.Request("medication_dispenses", order_by=("-dispensed_at",), limit=10),
        gate.Request(
            "encounters", order_by=("-start",), limit=10, select_related=("site", "practitioner")
        ),
        gate.Request(
            "observations",
            # Only rows with a value: a blood-pressure panel row is a header for its components.
            where=Q(category__in=["laboratory", "vital-signs", "social-history"])
            & (Q(value_num__isnull=False) | ~Q(value_code="") | ~Q(value_text="")),
            order_by=("-effective_at",),
            limit=25,
        ),
        gate.Request("assessments", order_by=("-effective_at",), limit=10),
        gate.Request("notes", order_by=("-authored_at",), limit=10, select_related=("author",)),
        gate.Request(
            "appointments", order_by=("-start",), limit=10, select_related=("site", "practitioner")
        ),
    ]


def patient_summary(*, user: Any, patient_id: int, purpose: str) -> gate.Disclosure:
    """Everything the summary page shows, filtered by the gate (raises AccessDenied)."""
    return gate.read(
        user=user,
        patient_id=patient_id,
        purpose=purpose,
        requests=summary_requests(timezone.localdate()),
        detail="patient summary",
    )


def chart_section(
    *, user: Any, patient_id: int, purpose: str, kinds: tuple[str, ...], detail: str
) -> gate.Disclosure:
    """Some kinds of the summary (same filters, order and limits), through the gate (raises
    AccessDenied). No kinds: the patient alone (the banner). Used by the JSON API."""
    requests = [r for r in summary_requests(timezone.localdate()) if r.kind in kinds]
    return gate.read(
        user=user, patient_id=patient_id, purpose=purpose, requests=requests, detail=detail
    )


def population_is_empty() -> bool:
    """True when no patient is stored yet (system check for the demo; reads no patient data)."""
    return not Patient.objects.exists()


def link_demo_patient(*, user: Any, practitioner: Practitioner) -> None:
    """Give the demo patient login to a patient on ``practitioner``'s caseload (system use)."""
    if Patient.objects.filter(user=user).exists():
        return
    patient = (
        Patient.objects.filter(
            user__isnull=True,
            deceased_date__isnull=True,
            pk__in=CareTeamMember.objects.filter(practitioner=practitioner).values("patient_id"),
        )
        .order_by("pk")
        .first()
    )
    if patient is not None:
        from tandem.registry import services

        services.link_patient_login(by=None, patient=patient, user=user)


def _active_memberships_of(user: Any) -> Any:
    today = timezone.localdate()
    return CareTeamMember.objects.filter(
        Q(end__isnull=True) | Q(end__gte=today),
        practitioner__user_id=user.pk,
        practitioner__active=True,
        start__lte=today,
    )


def caseload(*, user: Any, page: int = 1) -> Page:
    """One page of the patients on ``user``'s active care teams (treatment); the page is audited.

    Built on ``gate.visible_patients`` so it can never show more than the gate allows; a site
    role that grants treatment access does not put a patient on the caseload. Each patient
    carries ``caseload_role``: the reader's care-team role for them.
    """
    mine = _active_memberships_of(user).filter(patient=OuterRef("pk"))
    patients = (
        gate.visible_patients(user=user, purpose=Purpose.TREATMENT)
        .filter(Exists(mine))
        .annotate(caseload_role=Subquery(mine.order_by("role").values("role")[:1]))
        .select_related("home_site")
        .order_by("family_name", "given_name", "pk")
    )
    result = Paginator(patients, PAGE_SIZE).get_page(page)
    result.object_list = list(result.object_list)
    gate.withhold_home_sites(user=user, patients=result.object_list, purpose=Purpose.TREATMENT)
    for patient in result.object_list:
        patient.caseload_role_label = CareTeamMember.Role(patient.caseload_role).label
    gate.record_listing(
        user=user,
        patients=result.object_list,
        purpose=Purpose.TREATMENT,
        detail="caseload",
    )
    return result


def own_record(*, user: Any) -> Any | None:
    """The patient record of a patient who signs in (patient access), audited; else None."""
    patient = (
        gate.visible_patients(user=user, purpose=Purpose.PATIENT_ACCESS).order_by("pk").first()
    )
    if patient is not None:
        gate.record_listing(
            user=user, patients=[patient], purpose=Purpose.PATIENT_ACCESS, detail="home"
        )
    return patient


@dataclass(frozen=True)
class SiteCounts:
    """Aggregate counts for one site: no patient data, so no audit event."""

    site_id: int
    name: str
    kind: str
    patients: int  # registered at the site: home site or an MRN assigned there
    with_care_team: int  # of those, patients with at least one active care-team member


def site_overview(*, user: Any, site_ids: list[int]) -> list[SiteCounts]:
    """Counts per site for a leader's overview. Aggregate-only: returns numbers, never rows.

    Only patients the gate lets ``user`` see for operations are counted. The counting is done
    by the database in two grouped queries, whatever the number of sites and patients: one
    over home sites, one over MRNs at a site other than the patient's home site. A patient
    registered at a site both ways, or with two MRNs there, is counted once; the two queries
    count disjoint (patient, site) pairs, so their sums are the counts per site.
    """
    sites = list(Site.objects.filter(pk__in=site_ids).order_by("name"))
    visible = gate.visible_patients(user=user, purpose=Purpose.OPERATIONS)
    today = timezone.localdate()
    with_team = CareTeamMember.objects.filter(
        Q(end__isnull=True) | Q(end__gte=today), start__lte=today
    ).values("patient_id")
    by_home = (
        visible.filter(home_site_id__in=site_ids)
        .values_list("home_site_id")
        .annotate(patients=Count("pk"), with_care_team=Count("pk", filter=Q(pk__in=with_team)))
        .order_by()
    )
    by_mrn_elsewhere = (
        PatientIdentifier.objects.filter(kind="mrn", site_id__in=site_ids, patient__in=visible)
        .exclude(site_id=F("patient__home_site_id"))
        .values_list("site_id")
        .annotate(
            patients=Count("patient_id", distinct=True),
            with_care_team=Count("patient_id", distinct=True, filter=Q(patient_id__in=with_team)),
        )
        .order_by()
    )
    counts = {s.pk: [0, 0] for s in sites}
    for site_id, patients, with_care_team in [*by_home, *by_mrn_elsewhere]:
        counts[site_id][0] += patients
        counts[site_id][1] += with_care_team
    return [
        SiteCounts(s.pk, s.name, s.get_kind_display(), counts[s.pk][0], counts[s.pk][1])
        for s in sites
    ]
