"""Reads of worklists and outreach, always through ``consent.gate``.

Lists (a worklist, the home panel, the API) show the items of patients the reader may see
(``gate.visible_patients``) whose label the reader may see whoever the patient is
(``gate.listable``), and audit the listed patients (``gate.record_listing``). One item, a
patient's items and attempts, and a letter are read with ``gate.read`` (audited per patient;
a refusal raises ``AccessDenied``). Counts name no patient and are not audited.

Ranking: the item's risk score (copied from ``registry.RiskScore`` by the refresh) when the
reader may see that score's label — a score moved by a psychiatric admission is
``mental-health`` — else 0; then time-critical items by deadline; then the oldest first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone

from tandem.consent import gate
from tandem.core.lib import memo
from tandem.core.models import CareTeamMember, Practitioner, Site
from tandem.core.queries import active_practitioner, has_site_role, purpose_for, role_of
from tandem.outreach import rules
from tandem.outreach.criteria import queries as criteria
from tandem.outreach.models import ContactAttempt, ItemEvent, WorklistItem

PAGE_SIZE = 25
SORTS = {
    "rank": ("-rank", "-time_critical", F("due").asc(nulls_last=True), "opened_at", "pk"),
    "due": (F("next_due").asc(nulls_last=True), "-rank", "pk"),
    "opened": ("-opened_at", "pk"),
}
# The "rank" order of a list ranked by its deadline (``Worklist.rank_by_due``: expiring consents).
BY_DUE = (F("due").asc(nulls_last=True), "-rank", "opened_at", "pk")
STATE_FILTERS = ("open", *[s for s, _ in rules.STATES], "all")
OWNER_FILTERS = ("any", "me", "none")


class ItemNotFound(Exception):
    """No item with this id that the reader may see (answered as 404, like a refused one)."""


def purpose_of(user: Any) -> str:
    return purpose_for(role_of(user))


def may_use_worklists(user: Any) -> bool:
    """Whether the user works where worklists apply: a practitioner with a site or a care
    team, or a site role granting treatment or operations. (Patients and staff without such a
    role are refused; the outsider with no relationship to anyone sees no list.)"""
    if role_of(user).key == "patient":
        return False
    if has_site_role(user, ["clinician", "care-manager", "leader", "quality"]):
        return True
    practitioner = active_practitioner(user)
    if practitioner is None:
        return False
    return memo.remember(
        ("works_worklists", practitioner.pk),
        lambda: (
            practitioner.sites.exists()
            or CareTeamMember.objects.filter(practitioner=practitioner).exists()
        ),
    )


def worklists() -> list[rules.Worklist]:
    return memo.remember(("current_worklists",), criteria.current_worklists)


def worklist(key: str) -> rules.Worklist | None:
    if key in rules.BUILT_IN:
        return rules.BUILT_IN[key]
    return next((w for w in worklists() if w.key == key), None)


def _visible(user: Any, purpose: str) -> Any:
    patients = gate.visible_patient_rows(user=user, purpose=purpose)
    allowed = gate.listable(user=user, purpose=purpose, model=WorklistItem)
    return WorklistItem.objects.filter(allowed, patients)


def _ranked(items: Any, user: Any, purpose: str) -> Any:
    from tandem.registry.models import RiskScore

    seen = RiskScore.objects.filter(
        gate.listable(user=user, purpose=purpose, model=RiskScore),
        patient_id=OuterRef("patient_id"),
    )
    return items.annotate(
        risk_visible=Exists(seen),
        rank=Case(When(risk_visible=True, then=F("risk")), default=Value(0)),
    )


# --- counts (no patient named: not audited) --------------------------------------------------


def worklist_counts(*, user: Any, purpose: str) -> dict[str, dict[str, int]]:
    """Per worklist: open items by state, and those closed in the last 30 days."""
    since = timezone.now() - dt.timedelta(days=30)
    rows = (
        _visible(user, purpose)
        .filter(Q(state__in=sorted(rules.OPEN_STATES)) | Q(resolved_at__gte=since))
        .values("worklist", "state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["worklist"], {})[row["state"]] = row["n"]
    return counts


def worklist_summary(*, user: Any) -> list[dict[str, Any]]:
    """For the home panel: each worklist with open items, mine, and overdue (next attempt due
    before today), in one query."""
    if not may_use_worklists(user):
        return []
    today = timezone.localdate()
    rows = (
        _visible(user, purpose_of(user))
        .filter(state__in=sorted(rules.OPEN_STATES))
        .values("worklist")
        .annotate(
            open=Count("pk"),
            mine=Count("pk", filter=Q(owner_id=user.pk)),
            overdue=Count("pk", filter=Q(next_due__lt=today)),
            critical=Count("pk", filter=Q(time_critical=True)),
        )
        .order_by()
    )
    by_key = {row["worklist"]: row for row in rows}
    return [
        {"key": w.key, "title": w.title, "time_critical": w.time_critical, **by_key[w.key]}
        for w in worklists()
        if w.key in by_key
    ]


# --- one worklist ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    state: str = "open"
    owner: str = "any"
    site: int | None = None
    sort: str = "rank"
    page: int = 1


def worklist_page(
    *,
    user: Any,
    purpose: str,
    key: str,
    filters: Filters,
    page_size: int = PAGE_SIZE,
    detail: str = "worklist",
) -> Page:
    """One page of a worklist's items the reader may see, ranked; the listed patients audited."""
    items = _visible(user, purpose).filter(worklist=key)
    if filters.state == "open":
        items = items.filter(state__in=sorted(rules.OPEN_STATES))
    elif filters.state != "all":
        items = items.filter(state=filters.state)
    if filters.owner == "me":
        items = items.filter(owner_id=user.pk)
    elif filters.owner == "none":
        items = items.filter(owner__isnull=True)
    if filters.site is not None:
        items = items.filter(site_id=filters.site)
    attempts = ContactAttempt.objects.filter(item=OuterRef("pk")).order_by().values("item")
    items = (
        _ranked(items, user, purpose)
        .annotate(attempt_count=attempts.annotate(n=Count("pk")).values("n")[:1])
        .select_related("patient", "owner", "site")
        .order_by(*_sort(key, filters.sort))
    )
    result = Paginator(items, page_size).get_page(filters.page)
    result.object_list = list(result.object_list)
    patients = [item.patient for item in result.object_list]
    gate.record_listing(user=user, patients=patients, purpose=purpose, detail=f"{detail} {key}")
    return result


def _sort(key: str, sort: str) -> tuple[Any, ...]:
    listed = rules.BUILT_IN.get(key)
    if sort == "rank" and listed is not None and listed.rank_by_due:
        return BY_DUE
    return SORTS[sort]


def sites() -> list[Site]:
    """Sites for the site filter (names of places, no patient data)."""
    return list(Site.objects.exclude(kind="hospital").order_by("name"))


def pc_sites() -> list[Site]:
    return list(Site.objects.filter(kind="primary-care").order_by("name"))


# --- one item -------------------------------------------------------------------------------


@dataclass
class ItemView:
    item: WorklistItem
    patient: Any
    worklist: rules.Worklist
    attempts: list[ContactAttempt]
    events: list[ItemEvent]
    status: rules.ProtocolStatus
    disclosure: gate.Disclosure
    extra: dict[str, Any] = field(default_factory=dict)


def _patient_of(pk: int) -> int | None:
    return WorklistItem.objects.filter(pk=pk).values_list("patient_id", flat=True).first()


def item_detail(*, user: Any, purpose: str, pk: int, detail: str = "worklist item") -> ItemView:
    """One item with its attempts and history, through the gate (AccessDenied, ItemNotFound)."""
    patient_id = _patient_of(pk)
    if patient_id is None:
        gate.deny(user=user, patient_id=None, purpose=purpose, detail=f"{detail}: no item {pk}")
        raise ItemNotFound(pk)
    disclosure = gate.read(
        user=user,
        patient_id=patient_id,
        purpose=purpose,
        requests=[
            gate.Request(
                "worklist_items",
                where=Q(pk=pk),
                select_related=("owner", "site", "appointment", "escalation", "resolved_by"),
            ),
            gate.Request(
                "contact_attempts",
                where=Q(item_id=pk),
                order_by=("-attempted_at", "-pk"),
                select_related=("by",),
            ),
            gate.Request("identifiers", where=Q(kind="mrn"), order_by=("pk",), limit=1),
            gate.Request(
                "care_team",
                where=Q(role="pcp", start__lte=timezone.localdate())
                & (Q(end__isnull=True) | Q(end__gte=timezone.localdate())),
                select_related=("practitioner",),
                limit=1,
            ),
        ],
        detail=f"{detail} {pk}",
    )
    if not disclosure.data["worklist_items"]:
        raise ItemNotFound(pk)  # its label is withheld from this reader: the gate audited it
    item = disclosure.data["worklist_items"][0]
    item.patient = disclosure.patient
    attempts = disclosure.data["contact_attempts"]
    events = list(ItemEvent.objects.filter(item_id=pk).select_related("by").order_by("at", "pk"))
    listed = worklist(item.worklist) or rules.gap_worklist(item.worklist[4:].upper(), item.worklist)
    mrns, pcps = disclosure.data["identifiers"], disclosure.data["care_team"]
    extra = {
        "mrn": mrns[0].value if mrns else "",
        "pcp": pcps[0].practitioner.name if pcps else "",
    }
    return ItemView(
        item,
        disclosure.patient,
        listed,
        attempts,
        events,
        _status(item, attempts),
        disclosure,
        extra,
    )


def _status(item: WorklistItem, attempts: list[ContactAttempt]) -> rules.ProtocolStatus:
    listed = worklist(item.worklist)
    protocol = listed.protocol if listed is not None else rules.DEFAULT_PROTOCOL
    return rules.evaluate(
        protocol,
        [rules.Attempt(a.channel, a.outcome, timezone.localdate(a.attempted_at)) for a in attempts],
        opened=timezone.localdate(item.opened_at),
        due=item.due,
    )


def protocol_status(*, item: WorklistItem) -> rules.ProtocolStatus:
    """Where the item stands against its protocol (all its attempts; for services)."""
    return _status(item, list(ContactAttempt.objects.filter(item_id=item.pk)))


def locked_item(*, pk: int) -> WorklistItem:
    """The item under a row lock, for a service about to change it."""
    return WorklistItem.objects.select_for_update().get(pk=pk)


def owned_by(*, user: Any) -> bool:
    """Whether ``user`` owns any item (the demo seeds once)."""
    return WorklistItem.objects.filter(owner_id=user.pk).exists()


def attempt_by_nonce(*, nonce: str) -> ContactAttempt | None:
    return ContactAttempt.objects.filter(nonce=nonce).first() if nonce else None


def pcp_at(*, patient_id: int, site: Site) -> Practitioner | None:
    """The patient's active PCP if they work at ``site`` (else the appointment has none)."""
    today = timezone.localdate()
    member = (
        CareTeamMember.objects.filter(
            Q(end__isnull=True) | Q(end__gte=today),
            patient_id=patient_id,
            role="pcp",
            start__lte=today,
            practitioner__sites=site,
        )
        .select_related("practitioner")
        .first()
    )
    return member.practitioner if member is not None else None


def suggested_pc_site(*, patient_id: int, home_site: Site | None) -> Site | None:
    """Where to book: the PCP's primary-care site, else the home site if primary care."""
    today = timezone.localdate()
    site = (
        Site.objects.filter(
            kind="primary-care",
            practitioners__memberships__patient_id=patient_id,
            practitioners__memberships__role="pcp",
            practitioners__memberships__start__lte=today,
        )
        .order_by("pk")
        .first()
    )
    if site is None and home_site is not None and home_site.kind == "primary-care":
        return home_site
    return site


# --- a patient's items (the chart) and letters -----------------------------------------------


@dataclass
class Listing:
    """A patient's rows for the chart: ``rows`` (model instances, with display attributes) and
    ``notices`` (one per reason rows were withheld: ``{"count", "reason"}``). Iterable."""

    rows: list[Any]
    notices: list[dict[str, Any]]

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def _notices(disclosure: gate.Disclosure, kind: str) -> list[dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for r in disclosure.withheld(kind):
        merged.setdefault(r.reason, {"count": 0, "reason": r.reason})["count"] += r.count
    return list(merged.values())


def items_for_patient(*, user: Any, patient_id: int) -> Listing:
    """The patient's worklist items the reader may see, newest first (AccessDenied). Each row
    has ``title`` (the worklist's) and ``state_display``."""
    disclosure = gate.read(
        user=user,
        patient_id=patient_id,
        purpose=purpose_of(user),
        requests=[
            gate.Request(
                "worklist_items", order_by=("-opened_at", "-pk"), select_related=("owner",)
            )
        ],
        detail="outreach items",
    )
    items = disclosure.data["worklist_items"]
    titles = {w.key: w.title for w in worklists()}
    for item in items:
        item.title = item.worklist_title = titles.get(item.worklist, item.worklist)
        item.state_display = item.get_state_display()
    return Listing(items, _notices(disclosure, "worklist_items"))


def attempts_for_patient(*, user: Any, patient_id: int, limit: int = 20) -> Listing:
    """The patient's contact attempts the reader may see, newest first (AccessDenied). Each
    row has ``at``, ``channel_display`` and ``outcome_display``."""
    disclosure = gate.read(
        user=user,
        patient_id=patient_id,
        purpose=purpose_of(user),
        requests=[
            gate.Request(
                "contact_attempts",
                order_by=("-attempted_at", "-pk"),
                limit=limit,
                select_related=("by",),
            )
        ],
        detail="outreach attempts",
    )
    attempts = disclosure.data["contact_attempts"]
    for a in attempts:
        a.at = a.attempted_at
        a.channel_display, a.outcome_display = a.get_channel_display(), a.get_outcome_display()
    return Listing(attempts, _notices(disclosure, "contact_attempts"))


def letter_items(*, user: Any, purpose: str, pks: list[int]) -> list[WorklistItem]:
    """The items to print letters for, each read through the gate (audited as ``letter``);
    items the reader may not see are left out (and the refusal audited)."""
    found = []
    rows = WorklistItem.objects.filter(pk__in=pks).values_list("pk", "patient_id")
    for pk, patient_id in sorted(rows):
        try:
            disclosure = gate.read(
                user=user,
                patient_id=patient_id,
                purpose=purpose,
                requests=[gate.Request("worklist_items", where=Q(pk=pk), select_related=("site",))],
                action="letter",
                detail=f"outreach letter item={pk}",
            )
        except gate.AccessDenied:
            continue
        for item in disclosure.data["worklist_items"]:
            item.patient = disclosure.patient
            found.append(item)
    return found
