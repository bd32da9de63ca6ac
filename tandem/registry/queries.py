"""Reads of patients: search and the summary, both through ``consent.gate``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from tandem.consent import gate
from tandem.consent.models import Purpose
from tandem.core.models import CareTeamMember, Practitioner, Program, Site
from tandem.core.queries import active_practitioner, practitioner_programs
from tandem.registry import engagement
from tandem.registry.models import Patient, PatientIdentifier, RiskScore

PAGE_SIZE = 25
# The chart's bounded reads: results (labs and vitals) for the latest of each test and its
# trend, instrument totals for score trends, pharmacy fills for each order's last fill.
CHART_RESULTS = 300
CHART_SCORES = 60
CHART_FILLS = 60


@dataclass(frozen=True)
class Search:
    """Validated search criteria (the view's form builds this)."""

    name: str = ""
    mrn: str = ""
    birth_date: dt.date | None = None
    site_id: int | None = None  # registered there: home site or an MRN (site_overview's count)
    with_care_team: bool = False  # only patients with an active care-team membership
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
    if criteria.site_id is not None:
        patients = patients.filter(_registered_at_site(criteria.site_id))
    if criteria.with_care_team:
        patients = patients.filter(pk__in=_with_active_care_team())
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
        # enough fills to find each active order's last one (the chart's supply and gap)
        gate.Request("medication_dispenses", order_by=("-dispensed_at",), limit=CHART_FILLS),
        gate.Request(
            "encounters", order_by=("-start",), limit=10, select_related=("site", "practitioner")
        ),
        gate.Request(
            "observations",
            # Only rows with a value: a blood-pressure panel row is a header for its components.
            where=Q(category__in=["laboratory", "vital-signs", "social-history"])
            & (Q(value_num__isnull=False) | ~Q(value_code="") | ~Q(value_text="")),
            order_by=("-effective_at",),
            limit=CHART_RESULTS,  # the latest of each test and its trend (registry.chart)
        ),
        gate.Request("assessments", order_by=("-effective_at",), limit=CHART_SCORES),
        gate.Request("notes", order_by=("-authored_at",), limit=10, select_related=("author",)),
        gate.Request(
            "appointments", order_by=("-start",), limit=10, select_related=("site", "practitioner")
        ),
        gate.Request("cohorts", order_by=("cohort",)),
        gate.Request("risk"),
    ]


def patient_summary(
    *, user: Any, patient_id: int, purpose: str, extra: Iterable[gate.Request] = ()
) -> gate.Disclosure:
    """Everything the chart page shows, filtered by the gate (raises AccessDenied); ``extra``:
    requests of apps above the registry (the patient's tasks), in the same audited read."""
    return gate.read(
        user=user,
        patient_id=patient_id,
        purpose=purpose,
        requests=[*summary_requests(timezone.localdate()), *extra],
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


def _registered_at_site(site_id: int) -> Q:
    """Home site there, or an MRN issued there: the patients ``site_overview`` counts."""
    mrns = PatientIdentifier.objects.filter(kind="mrn", site_id=site_id, patient=OuterRef("pk"))
    return Q(home_site_id=site_id) | Q(Exists(mrns))


def _with_active_care_team() -> QuerySet:
    today = timezone.localdate()
    return CareTeamMember.objects.filter(
        Q(end__isnull=True) | Q(end__gte=today), start__lte=today
    ).values("patient_id")


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
    with_team = _with_active_care_team()
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


def risk_for(
    *, patient_ids: Iterable[int], user: Any = None, purpose: str = Purpose.TREATMENT
) -> dict[int, RiskScore]:
    """The stored risk score (F5) of each of these patients that has one, by patient id.

    One query, whatever the number of patients. The caller lists patients it already read
    through the gate (a worklist, a cohort, a chart); the scores are filtered by their label
    for ``user`` (``gate.listable``: a score moved by a psychiatric admission is
    ``mental-health``). Without ``user`` only ``normal`` scores are returned. Listing the
    patients is audited by the caller's own listing; a score adds no event.
    """
    ids = sorted({int(pk) for pk in patient_ids})
    if not ids:
        return {}
    allowed = gate.listable(user=user, purpose=purpose, model=RiskScore)
    scores = RiskScore.objects.filter(allowed, patient_id__in=ids)
    return {score.patient_id: score for score in scores}


# --- the primary-care engagement panel (registry.engagement) ------------------------------

ENGAGEMENT_RESULTS = 400  # monitoring results read to find each item's last date


def is_behavioral_health_user(user: Any) -> bool:
    """Whether ``user`` works in behavioral health (the rule: ``registry.engagement``)."""
    practitioner = active_practitioner(user)
    if practitioner is None:
        return False
    return practitioner.discipline in Practitioner.BEHAVIORAL_DISCIPLINES or any(
        kind in Program.BEHAVIORAL_KINDS for _, kind, _, _ in practitioner_programs(practitioner)
    )


def engagement_requests(today: dt.date) -> list[gate.Request]:
    """What the engagement panel asks the gate for."""
    return [
        gate.Request(
            "care_team",
            where=Q(role="pcp", start__lte=today) & (Q(end__isnull=True) | Q(end__gte=today)),
            order_by=("-start", "-pk"),
            select_related=("practitioner",),
        ),
        gate.Request(
            "encounters",
            where=Q(setting="pc", status="finished", start__lte=timezone.now()),
            order_by=("-start",),
            limit=1,
        ),
        gate.Request(
            "observations",
            where=Q(code__in=sorted(engagement.monitor_codes())),
            order_by=("-effective_at",),
            limit=ENGAGEMENT_RESULTS,
        ),
        gate.Request(
            "conditions", where=Q(code__in=sorted(engagement.smi_codes())), order_by=("pk",)
        ),
        gate.Request("cohorts", where=Q(cohort=engagement.SMI_COHORT)),
    ]


@dataclass
class Engagement:
    """What the panel shows of one patient (withheld rows are named by the caller)."""

    disclosure: gate.Disclosure
    smi: bool
    pcp: Any | None  # the assigned PCP (a Practitioner) or None
    last_visit: dt.date | None
    monitoring: list[engagement.Due]

    @property
    def visit_overdue(self) -> bool:
        """No primary-care visit, or none in the last ``engagement.INTERVAL_MONTHS`` months."""
        if self.last_visit is None:
            return True
        due = engagement.add_months(self.last_visit, engagement.INTERVAL_MONTHS)
        return due < timezone.localdate()


def primary_care_engagement(
    *, user: Any, patient_id: int, purpose: str, extra: Iterable[gate.Request] = ()
) -> Engagement:
    """The engagement panel's facts, through one audited gate read (raises AccessDenied)."""
    today = timezone.localdate()
    disclosure = gate.read(
        user=user,
        patient_id=patient_id,
        purpose=purpose,
        requests=[*engagement_requests(today), *extra],
        detail="primary-care engagement",
    )
    data = disclosure.data
    last_dates: dict[str, dt.date] = {}
    codes = engagement.monitor_codes()
    for row in data["observations"]:  # newest first: the first of each monitor is its last
        last_dates.setdefault(codes[row.code], timezone.localdate(row.effective_at))
    visit = data["encounters"][0].start if data["encounters"] else None
    team = data["care_team"]
    return Engagement(
        disclosure=disclosure,
        smi=bool(data["cohorts"] or data["conditions"]),
        pcp=team[0].practitioner if team else None,
        last_visit=timezone.localdate(visit) if visit else None,
        monitoring=engagement.monitoring_due(last_dates, today=today),
    )


def primary_care_site(*, patient: Any, pcp: Any | None, user: Any) -> Site | None:
    """Where the patient's primary care happens, for the queue an engagement task goes to:
    the home site when it is a primary-care clinic, else the PCP's primary-care site, else a
    primary-care site of the requesting user's organization; None when there is none."""
    primary = Site.Kind.PRIMARY_CARE
    home = getattr(patient, "home_site", None)
    if home is not None and home.kind == primary:
        return home
    if pcp is not None:
        site = pcp.sites.filter(kind=primary).order_by("pk").first()
        if site is not None:
            return site
    orgs = Site.objects.filter(practitioners__user_id=user.pk).values("organization_id")
    return Site.objects.filter(kind=primary, organization_id__in=orgs).order_by("pk").first()
