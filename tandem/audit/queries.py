"""Reads of the audit trail: the privacy officer's viewer, the accounting of disclosures, and a
patient's own access log.

Audit rows hold no clinical content (a patient's internal id, data-kind names, purpose, a
detail without patient data), so they are shown as stored. Who may read them is decided by the
callers: the viewer and the disclosures report are for privacy officers
(:func:`tandem.core.queries.is_privacy_officer`); :func:`access_log` is the patient's own (the
portal calls it with the signed-in patient's id only). Reading them is audited by the callers.

``gate.read`` writes ``basis=<slug>`` and ``consent=<id>,<id>`` tokens into an event's detail
(the relationship that allowed the read, the consent directives that granted a shown label);
:func:`tokens` parses them back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from tandem.audit.models import AuditEvent
from tandem.core.models import Practitioner, SiteRole

PAGE_SIZE = 50
OUTCOMES = tuple(AuditEvent.Outcome.values)
# Purposes of use an event may carry (the consent Purpose values); free text is refused.
PURPOSES = ("treatment", "payment", "operations", "research", "patient-access", "emergency")
EMERGENCY_PURPOSES = frozenset({"emergency"})
EMERGENCY_BASES = frozenset(
    {"emergency", "emergency-access", "break-the-glass", "breakglass", "btg"}
)
# What leaves Tandem about a patient when an event is "shown" or "redacted": every action but
# writes and the reads of the audit trail itself.
AUDIT_ACTIONS = ("audit-view", "audit-export", "audit-disclosures", "audit-anchor")
_TOKEN = re.compile(r"(?:^|\s)([a-z][a-z0-9_-]*)=(\S*)")


@dataclass(frozen=True)
class Filters:
    """The viewer's filters; ``patient_ids`` holds the ids an id or an MRN resolved to."""

    patient_ids: tuple[int, ...] | None = None  # None: any patient (or none)
    user: str = ""  # a username, or a user's numeric id
    outcome: str = ""
    purpose: str = ""
    action: str = ""  # an exact action, or a prefix ending in ":" or "*" ("write:*")
    since: dt.datetime | None = None
    until: dt.datetime | None = None  # exclusive
    up_to: int | None = None  # the newest event id included (an export's snapshot)

    def as_detail(self) -> str:
        """The filters as an audit detail (ids and codes only, never an MRN or a name)."""
        parts = []
        if self.patient_ids is not None:
            parts.append("patients=" + ",".join(map(str, self.patient_ids[:20])))
        for name in ("user", "outcome", "purpose", "action"):
            value = getattr(self, name)
            if value:
                parts.append(f"{name}={str(value)[:40].replace(' ', '_')}")
        if self.since:
            parts.append(f"since={self.since.isoformat()}")
        if self.until:
            parts.append(f"until={self.until.isoformat()}")
        return " ".join(parts) or "unfiltered"


def events(filters: Filters) -> QuerySet[AuditEvent]:
    """The events matching ``filters``, newest first."""
    rows = AuditEvent.objects.all()
    if filters.patient_ids is not None:
        rows = rows.filter(patient_id__in=filters.patient_ids)
    if filters.user:
        if filters.user.isdigit():
            rows = rows.filter(actor_id=int(filters.user))
        else:
            rows = rows.filter(actor_username__iexact=filters.user)
    if filters.outcome:
        rows = rows.filter(outcome=filters.outcome)
    if filters.purpose:
        rows = rows.filter(purpose=filters.purpose)
    if filters.action:
        action = filters.action
        if action.endswith("*"):
            rows = rows.filter(action__startswith=action[:-1])
        elif action.endswith(":"):
            rows = rows.filter(action__startswith=action)
        else:
            rows = rows.filter(action=action)
    if filters.since:
        rows = rows.filter(occurred_at__gte=filters.since)
    if filters.until:
        rows = rows.filter(occurred_at__lt=filters.until)
    if filters.up_to is not None:
        rows = rows.filter(pk__lte=filters.up_to)
    return rows.order_by("-pk")


def frozen(filters: Filters) -> tuple[Filters, int]:
    """``filters`` limited to the events recorded so far, and how many match: an export holds
    what matched when it was asked for, not the audit event of the export itself."""
    newest = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    snapshot = dataclasses.replace(filters, up_to=newest)
    return snapshot, events(snapshot).count()


def page_of(filters: Filters, page: int = 1, page_size: int = PAGE_SIZE) -> Page:  # type: ignore[type-arg]
    """One page of events, read now (the caller's audit event of this view comes after it)."""
    found = Paginator(events(filters), page_size).get_page(page)
    found.object_list = list(found.object_list)
    return found


def actions() -> list[str]:
    """The distinct actions recorded so far (for the viewer's action filter)."""
    return sorted(AuditEvent.objects.order_by().values_list("action", flat=True).distinct())


def patient_ids_for(text: str) -> tuple[int, ...]:
    """The patients a viewer's patient filter names: an internal id, or an MRN (any site).

    Only ids leave this function; the MRN is never shown or audited.
    """
    from tandem.registry.models import Patient, PatientIdentifier

    text = text.strip()
    found: set[int] = set()
    if text.isdigit() and len(text) < 19:
        found |= set(Patient.objects.filter(pk=int(text)).values_list("pk", flat=True))
    found |= set(
        PatientIdentifier.objects.filter(kind="mrn", value__iexact=text).values_list(
            "patient_id", flat=True
        )
    )
    return tuple(sorted(found))


def patient_exists(patient_id: int) -> bool:
    from tandem.registry.models import Patient

    return Patient.objects.filter(pk=patient_id).exists()


def tokens(detail: str) -> dict[str, str]:
    """``key=value`` tokens of an event's detail (``basis``, ``consent``, ``withheld`` …)."""
    return {key: value for key, value in _TOKEN.findall(detail or "")}


def consent_ids(detail: str) -> tuple[int, ...]:
    raw = tokens(detail).get("consent", "")
    return tuple(int(part) for part in raw.split(",") if part.isdigit())


def kinds_of(event: AuditEvent) -> tuple[str, ...]:
    return tuple(kind for kind in event.categories.split(",") if kind)


def is_emergency(event: AuditEvent) -> bool:
    return (
        event.purpose in EMERGENCY_PURPOSES
        or tokens(event.detail).get("basis", "") in EMERGENCY_BASES
        or "break-glass" in event.action
        or "breakglass" in event.action
    )


# --- who: a display name and the capacity they work in --------------------------------------


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    name: str  # display name
    role: str  # their discipline or site role, with their site(s)
    is_patient: bool = False


SYSTEM = Actor(None, "system", "Tandem (automatic)", "the system itself")


def actors(
    user_ids: Iterable[int | None], *, subject_patient_id: int | None = None
) -> dict[int, Actor]:
    """Display names and roles of these users. A user who is a patient is named only when they
    are ``subject_patient_id`` themself ("You"); another patient is never named."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=ids)}
    practitioners = {
        p.user_id: p for p in Practitioner.objects.filter(user_id__in=ids).prefetch_related("sites")
    }
    site_roles: dict[int, list[str]] = {}
    for grant in SiteRole.objects.filter(user_id__in=ids).select_related("site").order_by("pk"):
        label = grant.get_role_display().split(" (")[0]
        site_roles.setdefault(grant.user_id, []).append(f"{label}, {grant.site.name}")
    own_patient = _patient_user_ids(ids)
    out: dict[int, Actor] = {}
    for user_id in ids:
        user = users.get(user_id)
        if user_id in own_patient:
            mine = own_patient[user_id] == subject_patient_id
            name = "You" if mine else "Another patient"
            out[user_id] = Actor(
                user_id, "" if not mine else _username(user), name, "Patient", True
            )
            continue
        username = _username(user)
        practitioner = practitioners.get(user_id)
        if practitioner is not None:
            sites = ", ".join(s.name for s in practitioner.sites.all())
            role = practitioner.get_discipline_display() + (f", {sites}" if sites else "")
            out[user_id] = Actor(user_id, username, practitioner.name, role)
            continue
        full = user.get_full_name() if user is not None else ""
        role = "; ".join(site_roles.get(user_id, [])) or "Staff"
        out[user_id] = Actor(user_id, username, full or username or f"user {user_id}", role)
    return out


def _username(user: Any) -> str:
    return user.get_username() if user is not None else ""


def _patient_user_ids(ids: set[int]) -> dict[int, int]:
    from tandem.registry.models import Patient

    return dict(Patient.objects.filter(user_id__in=ids).values_list("user_id", "pk"))


def actor_of(event: AuditEvent, known: dict[int, Actor]) -> Actor:
    if event.actor_id is None:
        return SYSTEM
    return known.get(
        event.actor_id, Actor(event.actor_id, event.actor_username, event.actor_username, "")
    )


# --- a patient's access log (the portal renders it in plain language) ------------------------


@dataclass(frozen=True)
class Access:
    """One access to a patient's record, for the patient's own access log."""

    event_id: int
    when: dt.datetime
    who: str  # display name ("You" for the patient themself); never another patient's name
    who_role: str  # their discipline or role and site
    action: str
    kinds: tuple[str, ...]  # data kinds asked for ("conditions", "demographics" …)
    purpose: str
    outcome: str  # shown | redacted | denied | written
    basis: str  # the relationship or consent that allowed it ("care-team", "consent" …)
    emergency: bool  # break-the-glass
    by_patient: bool  # the patient themself


def access_log(
    *, patient_id: int, since: dt.datetime | None = None, include_own: bool = False
) -> list[Access]:
    """Every recorded access to (or refused attempt at) ``patient_id``'s record, newest first.

    The patient's own accesses are left out unless ``include_own``. Reads of the audit trail by
    a privacy officer are included (the patient sees that their log was looked at).
    """
    rows = AuditEvent.objects.filter(patient_id=patient_id)
    if since is not None:
        rows = rows.filter(occurred_at__gte=since)
    found = list(rows.order_by("-pk")[:2000])
    known = actors((e.actor_id for e in found), subject_patient_id=patient_id)
    out = []
    for event in found:
        who = actor_of(event, known)
        if who.is_patient and who.name == "You" and not include_own:
            continue
        out.append(
            Access(
                event_id=event.pk,
                when=event.occurred_at,
                who=who.name,
                who_role=who.role,
                action=event.action,
                kinds=kinds_of(event),
                purpose=event.purpose,
                outcome=event.outcome,
                basis=tokens(event.detail).get("basis", ""),
                emergency=is_emergency(event),
                by_patient=who.is_patient and who.name == "You",
            )
        )
    return out


# --- the accounting of disclosures ------------------------------------------------------------


@dataclass(frozen=True)
class Disclosure:
    """One disclosure of a patient's data: who received what, when, why and on what basis."""

    event_id: int
    when: dt.datetime
    recipient: str
    recipient_username: str
    recipient_role: str
    action: str  # read, list, export …
    kinds: tuple[str, ...]
    purpose: str
    outcome: str  # shown | redacted
    basis: str
    directive_ids: tuple[int, ...]  # consent directives that granted a shown label
    emergency: bool
    withheld: str = ""  # kind:label×count withheld from this disclosure


@dataclass
class Accounting:
    patient_id: int
    disclosures: list[Disclosure] = field(default_factory=list)
    refused: int = 0  # attempts refused (not disclosures; shown as a count)

    @property
    def emergencies(self) -> list[Disclosure]:
        return [d for d in self.disclosures if d.emergency]

    @property
    def recipients(self) -> list[str]:
        return sorted({d.recipient for d in self.disclosures})


def _disclosure_rows(patient_id: int) -> QuerySet[AuditEvent]:
    return (
        AuditEvent.objects.filter(patient_id=patient_id, outcome__in=("shown", "redacted"))
        .exclude(action__startswith="write:")
        .exclude(action__in=AUDIT_ACTIONS)
        .order_by("-pk")
    )


def disclosures(*, patient_id: int, limit: int = 5000) -> Accounting:
    """The accounting of disclosures of ``patient_id``'s data, newest first.

    A disclosure is an event about the patient whose outcome is ``shown`` or ``redacted``
    (reads, lists, exports, API reads, emergency reads), by anyone but the patient themself;
    writes and reads of the audit trail are not disclosures. Refused attempts are counted.
    """
    found = list(_disclosure_rows(patient_id)[:limit])
    known = actors((e.actor_id for e in found), subject_patient_id=patient_id)
    out = Accounting(
        patient_id,
        refused=AuditEvent.objects.filter(patient_id=patient_id, outcome="denied").count(),
    )
    for event in found:
        who = actor_of(event, known)
        if who.is_patient and who.name == "You":
            continue  # a patient's own access is not a disclosure
        parsed = tokens(event.detail)
        out.disclosures.append(
            Disclosure(
                event_id=event.pk,
                when=event.occurred_at,
                recipient=who.name,
                recipient_username=who.username,
                recipient_role=who.role,
                action=event.action,
                kinds=kinds_of(event),
                purpose=event.purpose,
                outcome=event.outcome,
                basis=parsed.get("basis", ""),
                directive_ids=consent_ids(event.detail),
                emergency=is_emergency(event),
                withheld=parsed.get("withheld", ""),
            )
        )
    return out


def iterate(filters: Filters, chunk_size: int = 2000) -> Iterator[AuditEvent]:
    """The filtered events oldest first, streamed (for exports)."""
    return events(filters).order_by("pk").iterator(chunk_size=chunk_size)
