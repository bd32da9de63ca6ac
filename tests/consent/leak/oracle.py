"""The leak test's oracle: which canary rows a reader may see, written from the rules table in
``docs/consent-and-audit.md`` and issue 12 — independently of ``tandem.consent.gate`` (it
imports nothing from the gate and reads the world and the generated directives from plain
Python values, not through the gate's queries).

Rules (each line a sentence of the docs):

1. **Basis** (else nothing): treatment — an active care-team membership, or a site role
   ``clinician``/``care-manager`` at a site where the patient is registered (home site or an
   MRN issued there); operations — a site role ``leader``/``quality`` at such a site; the
   patient's own access — being the patient; emergency — an active break-the-glass grant for
   this reader and patient (before the ``breakglass`` app: any active practitioner).
   Payment and research: no site role grants them, so no basis.
2. ``normal``: anyone with a basis.
3. ``hiv``, ``reproductive-health``: treatment, the patient, emergencies; others with consent.
4. ``mental-health``: readers inside behavioral health (a member of a behavioral-health,
   psychiatry or SUD program, or the patient's active bh-clinician / psychiatrist), the
   patient, emergencies, or with consent.
5. ``substance-use``: members of the recording Part 2 unit (the row's program is one of the
   reader's Part 2 programs; a row without a program: its site is one of those programs'
   sites; neither: its practitioner works in one of them), the patient, emergencies, or with
   consent.
6. ``psychotherapy-note``: the author only — never the patient, never an emergency, never
   by consent (a directive can never cover them).
7. Operations never sees clinical notes, whatever their label (minimum necessary).
8. A directive counts when it is active, started and not ended (today), names the purpose,
   covers the category ("all" is the four consent categories), and names the reader through a
   recipient that is not revoked: as a person (the reader's practitioner), an organization of
   one of the reader's sites, one of the reader's sites, or a care-team role the reader holds
   actively for this patient. The reader's sites are their practitioner's sites and their
   site-role sites (the wider reading: the oracle may allow more than the gate, never less).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from tests.consent.leak.world import CONSENT_LABELS, Row, World

BEHAVIORAL_PROGRAM_KINDS = {"behavioral-health", "psychiatry", "sud"}
BEHAVIORAL_TEAM_ROLES = {"bh-clinician", "psychiatrist"}
TREATMENT_SITE_ROLES = {"clinician", "care-manager"}
OPERATIONS_SITE_ROLES = {"leader", "quality"}


@dataclass(frozen=True)
class Recipient:
    kind: str  # person | organization | site | role
    ref: Any  # practitioner key (person), "org"/"other_org", site key, or role code
    revoked: bool = False


@dataclass(frozen=True)
class Directive:
    patient_no: int
    categories: frozenset[str]
    purposes: frozenset[str]
    recipients: tuple[Recipient, ...]
    start: dt.date
    end: dt.date | None
    status: str  # draft | active | revoked | expired | entered-in-error

    def covers(self) -> frozenset[str]:
        if "all" in self.categories:
            return frozenset(CONSENT_LABELS)
        return frozenset(self.categories) & frozenset(CONSENT_LABELS)


@dataclass(frozen=True)
class Grant:
    """An active break-the-glass grant (reader key, patient number)."""

    reader: str
    patient_no: int


@dataclass
class Facts:
    """Plain facts about the world the oracle reasons from, read once (not through the gate)."""

    practitioner: dict[str, int | None]  # reader key -> practitioner id (active)
    practitioner_sites: dict[str, set[int]]
    program_kinds: dict[str, set[str]]  # reader key -> kinds of their programs
    part2_programs: dict[str, set[int]]
    part2_sites: dict[str, set[int]]
    part2_colleagues: dict[str, set[int]]  # practitioner ids working in their Part 2 programs
    site_roles: dict[str, set[tuple[int, str]]]  # reader -> {(site_id, role)}
    team: dict[tuple[str, int], set[str]]  # (reader, patient_no) -> active roles
    registered: dict[int, set[int]]  # patient_no -> site ids (home, MRN)
    site_org: dict[int, int]
    site_ids: dict[str, int]
    org_ids: dict[str, int]
    own_patient: dict[str, int]
    emergency_needs_grant: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def facts_of(world: World, *, emergency_needs_grant: bool) -> Facts:
    from tandem.core.models import CareTeamMember, Practitioner, SiteRole
    from tandem.registry.models import PatientIdentifier

    today = timezone.localdate()
    pract: dict[str, int | None] = {}
    psites: dict[str, set[int]] = {}
    pkinds: dict[str, set[str]] = {}
    p2prog: dict[str, set[int]] = {}
    p2site: dict[str, set[int]] = {}
    p2coll: dict[str, set[int]] = {}
    roles: dict[str, set[tuple[int, str]]] = {}
    for key, user in world.users.items():
        p = Practitioner.objects.filter(user_id=user.pk, active=True).first()
        pract[key] = p.pk if p else None
        psites[key] = set(p.sites.values_list("pk", flat=True)) if p else set()
        progs = list(p.programs.values_list("pk", "kind", "is_part2", "site_id")) if p else []
        pkinds[key] = {k for _, k, _, _ in progs}
        p2prog[key] = {pk for pk, _, part2, _ in progs if part2}
        p2site[key] = {s for _, _, part2, s in progs if part2}
        p2coll[key] = set(
            Practitioner.objects.filter(programs__in=p2prog[key]).values_list("pk", flat=True)
        )
        roles[key] = set(SiteRole.objects.filter(user_id=user.pk).values_list("site_id", "role"))
    team: dict[tuple[str, int], set[str]] = {}
    by_pract = {v: k for k, v in pract.items() if v is not None}
    for no, patient in world.patients.items():
        for m in CareTeamMember.objects.filter(patient=patient):
            active = m.start <= today and (m.end is None or m.end >= today)
            if active and m.practitioner_id in by_pract:
                team.setdefault((by_pract[m.practitioner_id], no), set()).add(m.role)
    registered = {}
    for no, patient in world.patients.items():
        mrn_sites = set(
            PatientIdentifier.objects.filter(patient=patient, kind="mrn").values_list(
                "site_id", flat=True
            )
        )
        registered[no] = mrn_sites | ({patient.home_site_id} if patient.home_site_id else set())
    return Facts(
        practitioner=pract,
        practitioner_sites=psites,
        program_kinds=pkinds,
        part2_programs=p2prog,
        part2_sites=p2site,
        part2_colleagues=p2coll,
        site_roles=roles,
        team=team,
        registered=registered,
        site_org={s.pk: s.organization_id for s in world.sites.values()},
        site_ids={k: s.pk for k, s in world.sites.items()},
        org_ids={"org": world.org.pk, "other_org": world.extra["other_org"].pk},
        own_patient=dict(world.patient_users),
        emergency_needs_grant=emergency_needs_grant,
    )


@dataclass
class Oracle:
    world: World
    facts: Facts

    def has_basis(
        self, reader: str, no: int, purpose: str, grants: frozenset[Grant] = frozenset()
    ) -> bool:
        f = self.facts
        if purpose == "patient-access":
            return f.own_patient.get(reader) == no
        if purpose == "emergency":
            if f.emergency_needs_grant:
                return Grant(reader, no) in grants and f.practitioner[reader] is not None
            return f.practitioner[reader] is not None
        site_roles = {
            "treatment": TREATMENT_SITE_ROLES,
            "operations": OPERATIONS_SITE_ROLES,
        }.get(purpose, set())
        if purpose == "treatment" and f.team.get((reader, no)):
            return True
        granting = {site for site, role in f.site_roles[reader] if role in site_roles}
        return bool(granting & f.registered[no])

    def reader_sites(self, reader: str) -> set[int]:
        return self.facts.practitioner_sites[reader] | {s for s, _ in self.facts.site_roles[reader]}

    def recipient_names(self, r: Recipient, reader: str, no: int) -> bool:
        f = self.facts
        if r.revoked:
            return False
        if r.kind == "person":
            return f.practitioner[reader] is not None and (
                self.world.practitioners[r.ref].pk == f.practitioner[reader]
            )
        if r.kind == "organization":
            return f.org_ids[r.ref] in {f.site_org[s] for s in self.reader_sites(reader)}
        if r.kind == "site":
            return f.site_ids[r.ref] in self.reader_sites(reader)
        if r.kind == "role":
            return r.ref in f.team.get((reader, no), set())
        raise AssertionError(r.kind)

    def consented(
        self, reader: str, no: int, purpose: str, directives: tuple[Directive, ...], today: dt.date
    ) -> set[str]:
        labels: set[str] = set()
        for d in directives:
            if d.patient_no != no or d.status != "active" or purpose not in d.purposes:
                continue
            if d.start > today or (d.end is not None and d.end < today):
                continue
            if any(self.recipient_names(r, reader, no) for r in d.recipients):
                labels |= d.covers()
        return labels

    def may_see(
        self,
        row: Row,
        reader: str,
        purpose: str,
        directives: tuple[Directive, ...] = (),
        grants: frozenset[Grant] = frozenset(),
        today: dt.date | None = None,
    ) -> bool:
        f = self.facts
        no = row.patient_no
        if not self.has_basis(reader, no, purpose, grants):
            return False
        if purpose == "operations" and row.kind == "notes":
            return False
        label = row.label
        if label == "normal":
            return True
        if label == "psychotherapy-note":
            return row.author_id is not None and row.author_id == f.practitioner[reader]
        own = purpose == "patient-access"
        emergency = purpose == "emergency"
        if own or emergency:
            return True
        if label in ("hiv", "reproductive-health") and purpose == "treatment":
            return True
        if label == "mental-health" and (
            f.program_kinds[reader] & BEHAVIORAL_PROGRAM_KINDS
            or f.team.get((reader, no), set()) & BEHAVIORAL_TEAM_ROLES
        ):
            return True
        if label == "substance-use" and self._own_part2_row(row, reader):
            return True
        today = today or timezone.localdate()
        return label in self.consented(reader, no, purpose, directives, today)

    def _own_part2_row(self, row: Row, reader: str) -> bool:
        f = self.facts
        if row.program_id is not None:
            return row.program_id in f.part2_programs[reader]
        if row.site_id is not None:
            return row.site_id in f.part2_sites[reader]
        if row.practitioner_id is not None:
            return row.practitioner_id in f.part2_colleagues[reader]
        return False

    def allowed(
        self,
        reader: str,
        purposes: tuple[str, ...],
        directives: tuple[Directive, ...] = (),
        grants: frozenset[Grant] = frozenset(),
        patients: tuple[int, ...] | None = None,
    ) -> set[str]:
        """The canaries ``reader`` may see for any of ``purposes`` (of ``patients``, or all)."""
        today = timezone.localdate()
        return {
            row.canary
            for row in self.world.rows
            if (patients is None or row.patient_no in patients)
            and any(self.may_see(row, reader, p, directives, grants, today) for p in purposes)
        }

    def denied(
        self,
        canaries: set[str],
        reader: str,
        purposes: tuple[str, ...],
        directives: tuple[Directive, ...] = (),
        grants: frozenset[Grant] = frozenset(),
        patients: tuple[int, ...] | None = None,
    ) -> list[str]:
        """The canaries among ``canaries`` that ``reader`` may not see (``allowed``'s
        complement, computed for the canaries found only)."""
        today = timezone.localdate()
        rows = self.world.by_canary
        return sorted(
            c
            for c in canaries
            if (patients is not None and rows[c].patient_no not in patients)
            or not any(
                self.may_see(rows[c], reader, p, directives, grants, today) for p in purposes
            )
        )

    def withheld(
        self,
        reader: str,
        no: int,
        purpose: str,
        kinds: set[str],
        directives: tuple[Directive, ...] = (),
        grants: frozenset[Grant] = frozenset(),
    ) -> set[str]:
        """The canaries of ``kinds`` of patient ``no`` a reader with a basis may not see."""
        if not self.has_basis(reader, no, purpose, grants):
            return set()
        return {
            row.canary
            for row in self.world.rows
            if row.patient_no == no
            and row.kind in kinds
            and not self.may_see(row, reader, purpose, directives, grants)
        }


def purpose_of(facts: Facts, reader: str) -> str:
    """The purpose a reader's pages read for (independent of ``core.queries.purpose_for``):
    practitioners treatment, patients their own access, leaders and quality operations."""
    if facts.practitioner[reader] is not None:
        return "treatment"
    if reader in facts.own_patient:
        return "patient-access"
    if any(role in OPERATIONS_SITE_ROLES for _, role in facts.site_roles[reader]):
        return "operations"
    return "treatment"
