"""``consent.gate``: the one door through which patient data is read.

Every read names the reader, the patient(s), the purpose and the data requested. The gate
finds the reader's relationship to the patient (care team, a site role that grants the
purpose, the patient themself, or an emergency), filters each requested kind of data by the
sensitivity rules in :mod:`tandem.consent.rules` and the patient's consent directives, and
records an audit event (shown / redacted / denied). Withheld rows are never loaded into the
caller's hands; the caller receives counts and reasons to show as a notice.

Domain ``queries.py`` modules build on :func:`read`, :func:`visible_patients` and
:func:`record_listing`; nothing else in the code base queries patient-data models
(``tests/test_architecture.py`` enforces it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import BooleanField, Count, F, Func, Q, QuerySet, Value
from django.utils import timezone

from tandem.audit import services as audit
from tandem.consent import rules
from tandem.consent.models import (
    DIRECTIVE_PURPOSES,
    ConsentDirective,
    DirectiveRecipient,
    Purpose,
    covered_categories,
)
from tandem.core.lib import memo
from tandem.core.lib.access import AccessDenied as AccessDenied  # re-exported
from tandem.core.models import CareTeamMember, Practitioner, Sensitivity, Site
from tandem.core.queries import active_practitioner, practitioner_programs, site_roles

# kind -> "app_label.Model". Kinds without a sensitivity column are always "normal". (The
# patient's home site is withheld like a row of its own, as kind "home_site": see ``read``.)
KINDS: dict[str, str] = {
    "coverage": "registry.Coverage",
    "identifiers": "registry.PatientIdentifier",
    "contacts": "registry.PatientContact",
    "care_team": "core.CareTeamMember",
    "encounters": "clinical.Encounter",
    "conditions": "clinical.Condition",
    "observations": "clinical.Observation",
    "procedures": "clinical.Procedure",
    "service_requests": "clinical.ServiceRequest",
    "notes": "clinical.ClinicalNote",
    "medication_orders": "meds.MedicationOrder",
    "medication_dispenses": "meds.MedicationDispense",
    "appointments": "scheduling.Appointment",
    "assessments": "screening.AssessmentResponse",
    "consents": "consent.ConsentDirective",
    "measure_results": "measures.MeasurePatientResult",
    "tasks": "tasks.Task",
    "cohorts": "registry.CohortMembership",
    "risk": "registry.RiskScore",
    "worklist_items": "outreach.WorklistItem",
    "contact_attempts": "outreach.ContactAttempt",
}

PSYCHOTHERAPY_REASON = "Psychotherapy notes are visible to their author only."
# One reason for every consent-based label: naming the category in a notice would itself
# disclose it (42 CFR 2.13(c) restricts even acknowledging that a patient is in a Part 2
# program). The true label stays in ``Redaction.label`` and the audit trail.
CONSENT_REASON = (
    "Protected records: the patient has not consented to share them with you for this purpose "
    "(42 CFR Part 2, state mental health, HIV or reproductive health confidentiality rules)."
)
MINIMUM_NECESSARY_REASON = (
    "Clinical notes are not shown for operations and quality work (minimum necessary)."
)
REASONS = {
    Sensitivity.PSYCHOTHERAPY_NOTE: PSYCHOTHERAPY_REASON,
    Sensitivity.SUBSTANCE_USE: CONSENT_REASON,
    Sensitivity.MENTAL_HEALTH: CONSENT_REASON,
    Sensitivity.HIV: CONSENT_REASON,
    Sensitivity.REPRODUCTIVE_HEALTH: CONSENT_REASON,
}
# Kinds never disclosed for a purpose, whatever their label (HIPAA minimum necessary).
WITHHELD_KINDS: dict[str, frozenset[str]] = {Purpose.OPERATIONS: frozenset({"notes"})}


@dataclass(frozen=True)
class Request:
    """One kind of data: optional filter, ordering and limit, applied after the gate's filter."""

    kind: str
    where: Q | None = None
    order_by: Sequence[str] = ()
    limit: int | None = None
    select_related: Sequence[str] = ()


@dataclass(frozen=True)
class Redaction:
    kind: str
    label: str
    count: int
    reason: str


@dataclass
class Disclosure:
    """What the reader may see of one patient, and a notice for what was withheld."""

    patient: Any
    purpose: str
    basis: str
    data: dict[str, list[Any]] = field(default_factory=dict)
    redactions: list[Redaction] = field(default_factory=list)

    def withheld(self, kind: str) -> list[Redaction]:
        return [r for r in self.redactions if r.kind == kind]


@dataclass(frozen=True)
class _Reader:
    user: Any
    practitioner: Practitioner | None
    own_patient_id: int | None
    today: dt.date
    # The reader's care-team roles per patient, read at most once per gate call (``_team_roles``).
    team_roles: dict[int, frozenset[str]] = field(default_factory=dict, compare=False)


def _reader(user: Any) -> _Reader:
    """Who reads. The staff facts (practitioner, own patient record) are read once per request
    (``core.lib.memo``); the patient-level ones by each gate call."""
    practitioner = active_practitioner(user)
    patient_model = apps.get_model("registry", "Patient")
    own = memo.remember(
        ("own_patient", user.pk),
        lambda: patient_model.objects.filter(user_id=user.pk).values_list("pk", flat=True).first(),
    )
    return _Reader(user, practitioner, own, timezone.localdate())


def _active_membership(reader: _Reader) -> Q:
    return Q(practitioner=reader.practitioner, start__lte=reader.today) & (
        Q(end__isnull=True) | Q(end__gte=reader.today)
    )


def _team_roles(reader: _Reader, patient_id: int) -> frozenset[str]:
    """The reader's active care-team roles for the patient (one query per gate call)."""
    if reader.practitioner is None:
        return frozenset()
    if patient_id not in reader.team_roles:
        reader.team_roles[patient_id] = frozenset(
            CareTeamMember.objects.filter(_active_membership(reader), patient_id=patient_id)
            .values_list("role", flat=True)
            .distinct()
        )
    return reader.team_roles[patient_id]


def _site_ids_granting(reader: _Reader, purpose: str) -> list[int]:
    roles = {r for r, purposes in rules.SITE_ROLE_PURPOSES.items() if purpose in purposes}
    return [site_id for site_id, role in site_roles(reader.user) if role in roles]


# A reader's care-team patients are listed by id (one indexed read) when there are at most this
# many: the database then starts from those rows. A correlated EXISTS (or IN) over care teams
# was planned from the other side, scanning every patient (a name search) or every item of a
# worklist at a site (tens of milliseconds at 100,000 patients).
CARE_TEAM_IDS_LISTED = 5000


class _AnyOf(Func):
    """``field = ANY(ids)``: on PostgreSQL the ids are one array parameter, so the statement
    costs the same to build whatever their number (an ``IN`` list of 700 ids took 3 ms of
    Python per query); elsewhere an ``IN`` list."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, field: str, ids: list[int]) -> None:
        super().__init__(F(field))
        self.ids = ids

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, tuple[Any, ...]]:
        column, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"{column} = ANY(%s)", (*params, self.ids)
        if not self.ids:
            return "1 = 0", tuple(params)
        marks = ", ".join(["%s"] * len(self.ids))
        return f"{column} IN ({marks})", (*params, *self.ids)


def _care_team_patients(reader: _Reader, field: str) -> Q:
    """Rows whose ``field`` is a patient of the reader's active care teams: the ids listed (one
    indexed read per request), or a subquery for a caseload above ``CARE_TEAM_IDS_LISTED``."""
    memberships = CareTeamMember.objects.filter(_active_membership(reader)).values_list(
        "patient_id", flat=True
    )

    def ids() -> list[int] | None:
        found = list(memberships.order_by("patient_id").distinct()[: CARE_TEAM_IDS_LISTED + 1])
        return found if len(found) <= CARE_TEAM_IDS_LISTED else None

    assert reader.practitioner is not None
    listed = memo.remember(("care_team_patients", reader.practitioner.pk, reader.today), ids)
    if listed is None:
        return Q(**{f"{field}__in": memberships})
    return Q(_AnyOf(field, listed))


def _registered_at(site_ids: list[int]) -> Q:
    # An uncorrelated IN list, read once per query: a correlated EXISTS here was planned on the
    # (site, kind) index and scanned a site's every MRN once per patient (seconds per page).
    identifier = apps.get_model("registry", "PatientIdentifier")
    mrn_holders = identifier.objects.filter(kind="mrn", site_id__in=site_ids).values("patient_id")
    return Q(home_site_id__in=site_ids) | Q(pk__in=mrn_holders)


def visible_patients(*, user: Any, purpose: str) -> QuerySet:
    """The patients this reader may see for this purpose (not yet audited: see record_listing)."""
    patient_model = apps.get_model("registry", "Patient")
    reader = _reader(user)
    if purpose == Purpose.PATIENT_ACCESS:
        return patient_model.objects.filter(pk=reader.own_patient_id or -1)
    if purpose not in (Purpose.TREATMENT, Purpose.OPERATIONS):
        return patient_model.objects.none()
    site_ids = _site_ids_granting(reader, purpose)
    if not (reader.practitioner or site_ids):
        return patient_model.objects.none()
    condition = _registered_at(site_ids) if site_ids else Q(pk__in=[])
    if purpose == Purpose.TREATMENT and reader.practitioner is not None:
        condition |= _care_team_patients(reader, "pk")
    return patient_model.objects.filter(condition)


def visible_patient_rows(*, user: Any, purpose: str, field: str = "patient_id") -> Q:
    """A filter on ``field`` (a patient foreign key) for rows of the patients
    :func:`visible_patients` lists — for lists of many patients' rows (a worklist).

    The same decision, written so the database starts from the reader's care teams and sites
    rather than from every patient (``patient_id IN (SELECT id FROM patient WHERE …)``)."""
    reader = _reader(user)
    if purpose == Purpose.PATIENT_ACCESS:
        return Q(**{field: reader.own_patient_id or -1})
    if purpose not in (Purpose.TREATMENT, Purpose.OPERATIONS):
        return Q(**{f"{field}__in": []})
    site_ids = _site_ids_granting(reader, purpose)
    condition = Q(**{f"{field}__in": []})
    if site_ids:
        patient_model = apps.get_model("registry", "Patient")
        identifier = apps.get_model("registry", "PatientIdentifier")
        at_sites = patient_model.objects.filter(home_site_id__in=site_ids).values("pk")
        mrns = identifier.objects.filter(kind="mrn", site_id__in=site_ids).values("patient_id")
        condition = Q(**{f"{field}__in": at_sites}) | Q(**{f"{field}__in": mrns})
    if purpose == Purpose.TREATMENT and reader.practitioner is not None:
        condition |= _care_team_patients(reader, field)
    return condition


def searchable_identifiers(*, user: Any, purpose: str) -> QuerySet:
    """The identifiers a search by this reader may match: those whose label they may see,
    whoever the patient is.

    A search that found a patient by an MRN of a Part 2 site would confirm that the person is
    its patient. Consent directives and care-team roles, which can disclose more of one
    patient, are per patient and not consulted here: the summary applies them.
    """
    identifier = apps.get_model("registry", "PatientIdentifier")
    reader = _reader(user)
    if purpose == Purpose.PATIENT_ACCESS:
        return identifier.objects.filter(patient_id=reader.own_patient_id or -1)
    return identifier.objects.filter(_policy(reader, None, purpose).filter_for(identifier))


# The basis of a read under an active break-the-glass grant (``tandem.breakglass``).
EMERGENCY_BASIS = "emergency access (break-the-glass)"


def emergency_grant(user: Any, patient_id: int) -> Any:
    """The user's active break-the-glass grant for this patient, or None (F28).

    A grant covers one patient, from its declaration until it expires (by time: no job needed),
    and only while its holder is an active practitioner. Without one there is no emergency
    basis, whoever asks (issue 12: emergency access used to need no grant)."""
    if user is None or getattr(user, "pk", None) is None:
        return None
    if active_practitioner(user) is None:
        return None
    now = timezone.now()
    grants = apps.get_model("breakglass", "EmergencyAccess")
    return (
        grants.objects.filter(
            user_id=user.pk, patient_id=patient_id, declared_at__lte=now, expires_at__gt=now
        )
        .order_by("-expires_at")
        .first()
    )


def _basis(reader: _Reader, patient: Any, purpose: str) -> str | None:
    if purpose == Purpose.PATIENT_ACCESS:
        return "the patient" if reader.own_patient_id == patient.pk else None
    if purpose == Purpose.EMERGENCY:
        if reader.practitioner is None:
            return None
        return EMERGENCY_BASIS if emergency_grant(reader.user, patient.pk) else None
    if purpose == Purpose.TREATMENT and reader.practitioner is not None:
        roles = _team_roles(reader, patient.pk)
        if roles:
            return "care team (" + ", ".join(sorted(roles)) + ")"
    site_ids = _site_ids_granting(reader, purpose)
    if (
        site_ids
        and patient.__class__.objects.filter(_registered_at(site_ids), pk=patient.pk).exists()
    ):
        return "site role"
    return None


def _consented_labels(reader: _Reader, patient_id: int, purpose: str) -> dict[str, frozenset[int]]:
    """The labels the patient's consent directives share with this reader for this purpose,
    each with the ids of the directives that share it. One query; two when the patient has
    an active directive.

    A directive shares when it is active, in force today (start ≤ today ≤ end, in the patient's
    home site's time zone: ``rules.directive_today``), names the purpose, and names the reader
    through a recipient not revoked: the reader (a person); an organization of one of the
    reader's sites; one of the reader's sites; or a care-team role the reader holds for this
    patient. The reader's sites are their practitioner's sites and the sites of their site
    roles. Category ``all`` shares the four categories (psychotherapy notes never).
    """
    if purpose not in DIRECTIVE_PURPOSES:
        return {}
    # Most patients have no active directive: one plain indexed read says so before the
    # recipient query (whose building is most of this function's cost) is made.
    active = ConsentDirective.objects.filter(
        patient_id=patient_id, status=ConsentDirective.Status.ACTIVE
    )
    if not active.exists():
        return {}
    today = rules.directive_today()
    practitioner = reader.practitioner
    at_site = Q(roles__user_id=reader.user.pk)
    if practitioner is not None:
        at_site |= Q(practitioners=practitioner)
    reader_sites = Site.objects.filter(at_site).values("pk")
    reader_orgs = Site.objects.filter(pk__in=reader_sites).values("organization_id")
    match = Q(kind="site", site_id__in=reader_sites) | Q(
        kind="organization", organization_id__in=reader_orgs
    )
    if practitioner is not None:
        team_roles = CareTeamMember.objects.filter(
            _active_membership(reader), patient_id=patient_id
        ).values("role")
        match |= Q(kind="person", practitioner=practitioner) | Q(kind="role", role__in=team_roles)
    rows = (
        DirectiveRecipient.objects.filter(
            match,
            Q(directive__end__isnull=True) | Q(directive__end__gte=today),
            directive__patient_id=patient_id,
            directive__status=ConsentDirective.Status.ACTIVE,
            directive__start__lte=today,
            revoked_on__isnull=True,
        )
        .values_list("directive_id", "directive__categories", "directive__purposes")
        .distinct()
    )
    granted: dict[str, set[int]] = {}
    for directive_id, categories, purposes in rows:
        if purpose not in (purposes or ()):
            continue
        for label in covered_categories(categories or ()):
            granted.setdefault(label, set()).add(directive_id)
    return {label: frozenset(ids) for label, ids in granted.items()}


def basis_slug(basis: str) -> str:
    """The audit token for a basis: ``care team (pcp)`` → ``care-team``, ``site role`` →
    ``site-role``, ``the patient`` → ``the-patient``, ``emergency access …`` →
    ``emergency-access`` (read back by the disclosures report from ``basis=<slug>``)."""
    words = basis.split("(")[0].strip().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in words).split()) or "unknown"


def basis_for(*, user: Any, patient_id: int, purpose: str) -> str | None:
    """The reader's basis for ``purpose`` access to the patient, or None (not audited: for
    decisions such as who may manage a patient's directives)."""
    patient = apps.get_model("registry", "Patient").objects.filter(pk=patient_id).first()
    if patient is None or user is None or getattr(user, "pk", None) is None:
        return None
    return _basis(_reader(user), patient, purpose)


def _inside_behavioral_health(reader: _Reader, patient_id: int | None) -> bool:
    if reader.practitioner is None:
        return False
    if any(
        kind in rules.BEHAVIORAL_PROGRAM_KINDS
        for _, kind, _, _ in practitioner_programs(reader.practitioner)
    ):
        return True
    return patient_id is not None and bool(
        _team_roles(reader, patient_id) & set(rules.BEHAVIORAL_CARE_TEAM_ROLES)
    )


@dataclass(frozen=True)
class _Policy:
    """What one reader may see of one patient for one purpose."""

    labels: frozenset[str]
    author_id: int | None
    # The units of the reader's Part 2 programs, by ``rules.UNIT_FIELDS`` name: the programs,
    # their sites and their practitioners. A ``substance-use`` row of one of them is shown.
    part2_units: tuple[tuple[str, frozenset[int]], ...] = ()
    # The labels granted only by consent directives, with the directives' ids.
    consents: tuple[tuple[str, frozenset[int]], ...] = ()
    # The reader's user id: a consent directive is shown to whoever recorded it, whatever its
    # label (they took it down with the patient; hiding it would stop them signing or revoking
    # what they recorded, and tells them nothing they were not told).
    recorder_id: int | None = None

    def consent_ids(self) -> list[int]:
        """The directives that widen this policy (for the audit detail ``consent=``)."""
        return sorted({pk for _, ids in self.consents for pk in ids if pk})

    def filter_for(self, model: Any) -> Q | None:
        """The row filter for ``model``; None when the model carries no label."""
        fields = {f.name for f in model._meta.get_fields()}
        if "sensitivity" not in fields:
            return None
        allowed = Q(sensitivity__in=sorted(self.labels))
        own_part2 = self._own_part2_rows(fields)
        if own_part2 is not None:
            allowed |= Q(sensitivity=Sensitivity.SUBSTANCE_USE) & own_part2
        if self.recorder_id is not None and "recorded_by" in fields:
            allowed |= Q(recorded_by_id=self.recorder_id)
        if self.author_id is not None and "author" in fields:
            allowed |= Q(sensitivity=Sensitivity.PSYCHOTHERAPY_NOTE, author_id=self.author_id)
        return allowed

    def shows_home_site(self, patient: Any) -> bool:
        """Whether the patient's home site may be named to this reader (its label, as a row's)."""
        label = patient.home_site_sensitivity
        if patient.home_site_id is None or label in self.labels:
            return True
        part2_sites = dict(self.part2_units).get("site", frozenset())
        return label == Sensitivity.SUBSTANCE_USE and patient.home_site_id in part2_sites

    def _own_part2_rows(self, fields: set[str]) -> Q | None:
        """Rows whose unit (as ``rules.unit_label`` finds it) is one of the reader's Part 2 units."""
        ids = dict(self.part2_units)
        present = [name for name in rules.UNIT_FIELDS if name in fields]
        match: Q | None = None
        for i, name in enumerate(present):
            if not ids.get(name):
                continue
            term = Q(**{f"{name}_id__in": sorted(ids[name])})
            for earlier in present[:i]:
                term &= Q(**{f"{earlier}__isnull": True})
            match = term if match is None else match | term
        return match


def _part2_units(practitioner: Practitioner | None) -> tuple[tuple[str, frozenset[int]], ...]:
    if practitioner is None:
        return ()
    programs: list[tuple[int, Any]] = [
        (pk, site_id) for pk, _, part2, site_id in practitioner_programs(practitioner) if part2
    ]
    if not programs:
        return ()
    program_ids = frozenset(pk for pk, _ in programs)
    colleagues = memo.remember(
        ("part2_colleagues", program_ids),
        lambda: frozenset(
            Practitioner.objects.filter(programs__in=program_ids).values_list("pk", flat=True)
        ),
    )
    return (
        ("program", program_ids),
        ("site", frozenset(site_id for _, site_id in programs)),
        ("practitioner", colleagues),
    )


def _policy(
    reader: _Reader, patient_id: int | None, purpose: str, *, proposed: Iterable[str] = ()
) -> _Policy:
    """The policy for one patient; with ``patient_id`` None, what holds whoever the patient is
    (no care-team role, no consent directive: what a search may match on).

    ``proposed``: the categories of a directive not yet saved that names this reader for this
    purpose (the "try my policy" preview, ``queries.preview``; its id is 0).
    """
    labels = {Sensitivity.NORMAL.value}
    own = purpose == Purpose.PATIENT_ACCESS
    emergency = purpose == Purpose.EMERGENCY
    if own or emergency or purpose == Purpose.TREATMENT:
        labels |= {Sensitivity.HIV, Sensitivity.REPRODUCTIVE_HEALTH}
    if own or emergency or _inside_behavioral_health(reader, patient_id):
        labels.add(Sensitivity.MENTAL_HEALTH)
    if own or emergency:
        labels.add(Sensitivity.SUBSTANCE_USE)
    consents: dict[str, frozenset[int]] = {}
    if patient_id is not None:
        # Only what a directive adds counts as its grant (``read`` names those directives).
        found = dict(_consented_labels(reader, patient_id, purpose))
        for label in covered_categories(proposed):
            found[label] = found.get(label, frozenset()) | {0}
        consents = {label: ids for label, ids in found.items() if label not in labels}
        labels |= set(consents)
    author = reader.practitioner.pk if reader.practitioner is not None else None
    return _Policy(
        frozenset(labels),
        author,
        _part2_units(reader.practitioner),
        tuple(sorted(consents.items())),
        reader.user.pk if reader.user is not None else None,
    )


def read(
    *,
    user: Any,
    patient_id: int,
    purpose: str,
    requests: Iterable[Request],
    action: str = "read",
    detail: str = "",
) -> Disclosure:
    """Return what ``user`` may see of the patient; audit the access. Raise AccessDenied."""
    requests = list(requests)
    kinds = ",".join(r.kind for r in requests)
    patient_model = apps.get_model("registry", "Patient")
    patient = patient_model.objects.filter(pk=patient_id).first()
    reader = _reader(user)
    basis = _basis(reader, patient, purpose) if patient is not None else None
    # No treatment basis: an active break-the-glass grant reads as an emergency (F28).
    if (
        basis is None
        and patient is not None
        and purpose == Purpose.TREATMENT
        and _basis(reader, patient, Purpose.EMERGENCY) is not None
    ):
        purpose, basis = Purpose.EMERGENCY, EMERGENCY_BASIS
    if basis is None:
        audit.record_reads(
            actor=user,
            entries=[audit.Entry(action, "denied", patient_id, kinds, purpose, detail)],
        )
        raise AccessDenied(f"no relationship allows {purpose} access to this patient")
    policy = _policy(reader, patient.pk, purpose)
    disclosure = Disclosure(patient=patient, purpose=purpose, basis=basis)
    if not policy.shows_home_site(patient):
        label = patient.home_site_sensitivity
        disclosure.redactions.append(Redaction("home_site", label, 1, REASONS[label]))
        _withhold_home_site(patient)
    withheld: dict[int, list[Redaction]] = {}  # by position in ``requests``
    hidden: list[tuple[int, QuerySet]] = []
    pending: list[tuple[str, QuerySet]] = []
    for i, request in enumerate(requests):
        model = apps.get_model(KINDS[request.kind])
        base = model.objects.filter(patient_id=patient.pk)
        if request.where is not None:
            base = base.filter(request.where)
        if request.kind in WITHHELD_KINDS.get(purpose, ()):
            count = base.count()
            if count:
                withheld[i] = [
                    Redaction(request.kind, "minimum-necessary", count, MINIMUM_NECESSARY_REASON)
                ]
            disclosure.data[request.kind] = []
            continue
        shown = base
        allowed = policy.filter_for(model)
        if allowed is not None:
            shown = base.filter(allowed)
            hidden.append((i, base.exclude(allowed)))
        if request.select_related:
            shown = shown.select_related(*request.select_related)
        if request.order_by:
            shown = shown.order_by(*request.order_by)
        if request.limit is not None:
            shown = shown[: request.limit]
        pending.append((request.kind, shown))
    for i, label, count in _withheld_counts(hidden):
        kind = requests[i].kind
        withheld.setdefault(i, []).append(Redaction(kind, label, count, REASONS[label]))
    for i in sorted(withheld):
        disclosure.redactions.extend(withheld[i])
    for kind, shown in pending:
        disclosure.data[kind] = list(shown)
    withheld_detail = ";".join(f"{r.kind}:{r.label}x{r.count}" for r in disclosure.redactions)
    consent_ids = policy.consent_ids()
    tokens = f" basis={basis_slug(basis)}" + (
        " consent=" + ",".join(map(str, consent_ids)) if consent_ids else ""
    )
    audit.record_reads(
        actor=user,
        entries=[
            audit.Entry(
                action,
                "redacted" if disclosure.redactions else "shown",
                patient.pk,
                kinds,
                purpose,
                (
                    detail + (f" withheld={withheld_detail}" if withheld_detail else "") + tokens
                ).strip(),
            )
        ],
    )
    return disclosure


def _withheld_counts(parts: list[tuple[int, QuerySet]]) -> list[tuple[int, Any, int]]:
    """(part, label, count) of the rows each queryset holds, by label: one query for all the
    kinds of a read (``UNION ALL``), not one per kind. Counts only: no withheld row is loaded."""
    if not parts:
        return []
    counts = [
        rows.values("sensitivity").annotate(n=Count("pk"), part=Value(i)).order_by()
        for i, rows in parts
    ]
    combined = counts[0].union(*counts[1:], all=True) if len(counts) > 1 else counts[0]
    return sorted((row["part"], row["sensitivity"], row["n"]) for row in combined)


def population_scope(*, user: Any, purpose: str, detail: str) -> list[int] | None:
    """Sites whose patients ``user`` may measure (None: all — the system, run at the console).

    Population reads (measure runs, exports) are for operations; a user needs a leader or
    quality role, and sees only the patients registered at those sites. Audited once.
    """
    scope: list[int] | None = None
    if user is not None:
        scope = _site_ids_granting(_reader(user), purpose)
        if purpose != Purpose.OPERATIONS or not scope:
            audit.record(
                actor=user,
                entry=audit.Entry("population-read", "denied", None, "", purpose, detail),
            )
            raise AccessDenied("population reads need a leader or quality role at a site")
    where = "all sites" if scope is None else "sites=" + ",".join(map(str, sorted(scope)))
    audit.record(
        actor=user,
        entry=audit.Entry(
            "population-read", "shown", None, "analytic-tables", purpose, f"{detail} {where}"
        ),
    )
    return scope


def _withhold_home_site(patient: Any) -> None:
    """Blank the home site of this copy of the patient, and mark it so it cannot be saved."""
    patient.home_site = None
    patient.home_site_withheld = True


def withhold_home_sites(*, user: Any, patients: Iterable[Any], purpose: str) -> None:
    """Blank the home site of listed patients where it may not be named to ``user``.

    Lists (search, caseload) use what holds for the reader whoever the patient is, as
    :func:`searchable_identifiers` does; the summary (:func:`read`) applies the patient's own
    consent directives and care-team roles.
    """
    if purpose == Purpose.PATIENT_ACCESS:
        return  # the patient's own record (visible_patients lists nobody else)
    policy = _policy(_reader(user), None, purpose)
    for patient in patients:
        if not policy.shows_home_site(patient):
            _withhold_home_site(patient)


def listable(*, user: Any, purpose: str, model: Any) -> Q:
    """The rows of a labelled ``model`` that a list may show ``user``, whoever the patient is.

    Population lists (registry cohorts, risk scores on worklists) filter each row by its label
    as :func:`searchable_identifiers` does: what holds for the reader without a care-team
    role or a consent directive of one patient (the chart, through :func:`read`, applies
    those). ``user`` None (a caller that names no reader) may see ``normal`` rows only.
    """
    if user is None:
        return Q(sensitivity=Sensitivity.NORMAL)
    if purpose == Purpose.PATIENT_ACCESS:
        return Q()  # the patient's own rows (visible_patients lists nobody else)
    return _policy(_reader(user), None, purpose).filter_for(model) or Q()


def listing_filter(*, user: Any, purpose: str, model: Any) -> Q | None:
    """The label filter for a list of ``model`` rows of many patients (a task queue, a
    worklist): what ``user`` may see for ``purpose`` whoever the patient is, as
    :func:`searchable_identifiers` applies it. Combine it with :func:`visible_patients`; one
    patient's own page (:func:`read`) applies their consent directives and care-team roles.
    None when the model carries no label."""
    if purpose == Purpose.PATIENT_ACCESS:
        return None
    return _policy(_reader(user), None, purpose).filter_for(model)


def listable_labels(*, user: Any, purpose: str) -> frozenset[str]:
    """The labels a list may show ``user`` whoever the patient is (as :func:`listable`): for
    choices that name a unit (a site or program filter on a list would otherwise confirm
    that listed patients are a protected program's)."""
    if user is None:
        return frozenset({Sensitivity.NORMAL.value})
    return _policy(_reader(user), None, purpose).labels


def record_listing(*, user: Any, patients: Sequence[Any], purpose: str, detail: str) -> None:
    """Audit that these patients' identifying details were listed to ``user`` (search, lists)."""
    audit.record_reads(
        actor=user,
        entries=[
            audit.Entry("list", "shown", p.pk, "demographics", purpose, detail) for p in patients
        ],
    )


def deny(*, user: Any, patient_id: int | None, purpose: str, detail: str) -> None:
    """Audit a refused request that never reached :func:`read` (e.g. a malformed id)."""
    audit.record_reads(
        actor=user, entries=[audit.Entry("read", "denied", patient_id, "", purpose, detail)]
    )
