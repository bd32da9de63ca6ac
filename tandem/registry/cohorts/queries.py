"""Cohort lists (F1) through the gate: counts, filtered and sorted pages, the CSV export.

A list shows only patients the reader may see (``gate.visible_patients``) and only the
memberships, risk scores, care-team rows, coverage and care gaps whose label the reader may
see on a list (``gate.listable``: what holds whoever the patient is). Each listed page (or
export chunk) is audited with ``gate.record_listing``; counts are aggregates and are not.
The choices a filter offers name only sites, programs and clinicians whose label the reader
may see: filtering by a Part 2 program would confirm that listed patients are its patients.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from tandem.consent import gate, rules
from tandem.core.models import CareTeamMember, Organization, Practitioner, Program, Site
from tandem.registry import rules as registry_rules
from tandem.registry.models import CohortMembership, Coverage, RiskScore, SavedFilter

EXPORT_CHUNK = 500


@dataclass(frozen=True)
class Criteria:
    """A validated cohort list request (``forms.CohortForm`` builds it)."""

    cohort: str
    site: int | None = None
    team: int | None = None  # a care-team program
    clinician: int | None = None  # a practitioner on the patient's active care team
    payer: int | None = None  # an organization with active coverage
    tier: str = ""
    gap: str = ""  # "any" or a measure key
    sort: str = registry_rules.DEFAULT_SORT
    page: int = 1
    per_page: int = registry_rules.DEFAULT_PAGE_SIZE


@dataclass
class Choices:
    """What the filters offer this reader: (value, label) pairs."""

    sites: list[tuple[int, str]] = field(default_factory=list)
    teams: list[tuple[int, str]] = field(default_factory=list)
    clinicians: list[tuple[int, str]] = field(default_factory=list)
    payers: list[tuple[int, str]] = field(default_factory=list)
    gaps: list[tuple[str, str]] = field(default_factory=list)


def _memberships(user: Any, purpose: str) -> QuerySet:
    return CohortMembership.objects.filter(
        gate.listable(user=user, purpose=purpose, model=CohortMembership)
    )


def counts(*, user: Any, purpose: str) -> dict[str, int]:
    """Patients the reader may see on each cohort (one grouped query; aggregate, not audited)."""
    visible = gate.visible_patients(user=user, purpose=purpose)
    rows = (
        _memberships(user, purpose)
        .filter(patient__in=visible.values("pk"))
        .values("cohort")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {r["cohort"]: r["n"] for r in rows}


def last_rebuilt() -> dt.date | None:
    """The day the stored cohorts describe (none yet: None). Reads no patient data."""
    return CohortMembership.objects.order_by("-as_of").values_list("as_of", flat=True).first()


def choices(*, user: Any, purpose: str) -> Choices:
    """The filter choices for this reader (units whose label they may see)."""
    from tandem.measures import queries as measure_queries
    from tandem.measures import rules as measure_rules
    from tandem.measures.definitions import REGISTRY

    labels = gate.listable_labels(user=user, purpose=purpose)
    units = rules.Units.load()
    sites = [
        (s.pk, s.name) for s in Site.objects.order_by("name") if units.of("site", s.pk) in labels
    ]
    teams = [
        (p.pk, f"{p.name} ({p.site.name})")
        for p in Program.objects.select_related("site").order_by("name", "site__name")
        if units.of("program", p.pk) in labels
    ]
    clinicians = [
        (p.pk, f"{p.family_name}, {p.given_name}")
        for p in Practitioner.objects.filter(active=True).order_by("family_name", "given_name")
        if units.of("practitioner", p.pk) in labels
    ]
    payers = [
        (o.pk, o.name)
        for o in Organization.objects.filter(kind="payer").order_by("name")
        if units.of("organization", o.pk) in labels
    ]
    measures = sorted(
        m for m in measure_queries.latest_run_ids() if m not in measure_rules.NOT_GAPS
    )
    gaps = [("any", "Any open care gap")] + [
        (m, f"{m}: {REGISTRY[m].title}" if m in REGISTRY else m) for m in measures
    ]
    return Choices(sites, teams, clinicians, payers, gaps)


def _active(today: dt.date) -> Q:
    return Q(start__lte=today) & (Q(end__isnull=True) | Q(end__gte=today))


def _filtered(user: Any, purpose: str, c: Criteria) -> QuerySet:
    today = timezone.localdate()
    member = _memberships(user, purpose).filter(cohort=c.cohort, patient=OuterRef("pk"))
    risk = RiskScore.objects.filter(
        gate.listable(user=user, purpose=purpose, model=RiskScore), patient=OuterRef("pk")
    )
    patients = (
        gate.visible_patients(user=user, purpose=purpose)
        .filter(Exists(member))
        .annotate(
            cohort_since=Subquery(member.values("since")[:1]),
            risk_score=Subquery(risk.values("score")[:1]),
            risk_tier=Subquery(risk.values("tier")[:1]),
        )
    )
    if c.site is not None:
        labels = sorted(gate.listable_labels(user=user, purpose=purpose))
        patients = patients.filter(home_site_id=c.site, home_site_sensitivity__in=labels)
    team = CareTeamMember.objects.filter(
        _active(today),
        gate.listable(user=user, purpose=purpose, model=CareTeamMember),
        patient=OuterRef("pk"),
    )
    if c.team is not None:
        patients = patients.filter(Exists(team.filter(program_id=c.team)))
    if c.clinician is not None:
        patients = patients.filter(Exists(team.filter(practitioner_id=c.clinician)))
    if c.payer is not None:
        coverage = Coverage.objects.filter(
            _active(today),
            gate.listable(user=user, purpose=purpose, model=Coverage),
            patient=OuterRef("pk"),
            payer_id=c.payer,
        )
        patients = patients.filter(Exists(coverage))
    if c.tier:
        patients = patients.filter(Exists(risk.filter(tier=c.tier)))
    if c.gap:
        from tandem.measures import queries as measure_queries

        gaps = measure_queries.open_gap_results(
            user=user, purpose=purpose, measure=None if c.gap == "any" else c.gap
        )
        patients = patients.filter(Exists(gaps.filter(patient_id=OuterRef("pk"))))
    return patients.select_related("home_site").order_by(*_ordering(c.sort))


def _ordering(sort: str) -> list[Any]:
    """The ORDER BY of a whitelisted sort key (``registry.rules.SORTS``): nulls (no risk
    score yet) last either way; ties broken by id so pages never overlap."""
    descending = sort.startswith("-")
    fields = registry_rules.SORTS[sort.lstrip("-")]
    out: list[Any] = []
    for name in fields:
        expr = F(name)
        if name == "pk":
            out.append(expr.asc())
        else:
            out.append(expr.desc(nulls_last=True) if descending else expr.asc(nulls_last=True))
    return out


def _shown(user: Any, purpose: str, patients: list[Any], detail: str) -> list[Any]:
    gate.withhold_home_sites(user=user, patients=patients, purpose=purpose)
    gate.record_listing(user=user, patients=patients, purpose=purpose, detail=detail)
    return patients


def page(*, user: Any, purpose: str, criteria: Criteria, detail: str = "") -> Page:
    """One page of a cohort's patients the reader may see, filtered and sorted; audited."""
    result = Paginator(_filtered(user, purpose, criteria), criteria.per_page).get_page(
        criteria.page
    )
    result.object_list = _shown(
        user, purpose, list(result.object_list), detail or f"cohort {criteria.cohort}"
    )
    return result


def export(*, user: Any, purpose: str, criteria: Criteria) -> Iterator[list[Any]]:
    """Every patient of the filtered list the reader may see (all pages), in chunks; each
    chunk is audited as it is read (the CSV export streams them)."""
    patients = _filtered(user, purpose, criteria)
    offset = 0
    while True:
        chunk = list(patients[offset : offset + EXPORT_CHUNK])
        if not chunk:
            return
        offset += len(chunk)
        yield _shown(user, purpose, chunk, f"cohort {criteria.cohort} CSV export")


def export_carries_part2(*, user: Any, purpose: str, criteria: Criteria) -> bool:
    """Whether the export includes 42 CFR Part 2 data (then it carries the redisclosure
    notice): a listed patient whose membership of the cohort is labelled ``substance-use``, or
    whose home site, shown in the file, is a Part 2 site. One EXISTS query, not audited (it
    names no patient)."""
    part2 = _memberships(user, purpose).filter(
        cohort=criteria.cohort, patient=OuterRef("pk"), sensitivity="substance-use"
    )
    home = Q(home_site_sensitivity="substance-use")
    if "substance-use" not in gate.listable_labels(user=user, purpose=purpose):
        home = Q(pk__in=[])  # withheld from the file (gate.withhold_home_sites)
    return _filtered(user, purpose, criteria).order_by().filter(Exists(part2) | home).exists()


# --- saved filters (the reader's own; no patient data) --------------------------------------


def saved_filters(*, user: Any, cohort: str) -> list[SavedFilter]:
    return list(SavedFilter.objects.filter(user_id=user.pk, cohort=cohort).order_by("name"))


def saved_filter(*, user: Any, pk: int) -> SavedFilter | None:
    """One of the reader's saved filters (someone else's is None: not found)."""
    return SavedFilter.objects.filter(user_id=user.pk, pk=pk).first()
