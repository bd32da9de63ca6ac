"""The leak test's world: sites, programs, readers and patients whose every labelled row
carries a unique **canary** string in a field that pages, APIs and exports display.

A canary reads ``CANARY_<label>__<kind>__p<n>`` (label with ``_`` for ``-``): a leak is found
by searching a response's bytes for ``CANARY_`` and mapping each hit back to its row. The
world is built once per test module (``tests/consent/test_leak.py``) and every generated case
runs inside a savepoint that is rolled back.

Readers (users) and what they are:

- ``alice`` PCP at the primary care site, on p1's and p3's care team (pcp);
- ``bob`` care manager in the CMHC's behavioral health program, on p1's and p2's team;
- ``charlie`` psychiatrist (same program), on p1's team (psychiatrist), author of every
  psychotherapy note;
- ``sam`` counselor in the Part 2 program, on p2's team (bh-clinician, program Part 2);
- ``sara`` counselor in the same Part 2 program, on nobody's team (a Part 2 colleague);
- ``cora`` covering clinician: a site role ``clinician`` at the primary care site, no team;
- ``pete`` a PCP at the primary care site on nobody's team (site member, no role);
- ``leo`` leader at the primary care site and the CMHC (operations);
- ``quinn`` quality analyst at the Part 2 site (operations);
- ``olive`` an outsider nurse with no relationship to anyone;
- ``fran`` front desk at the primary care site (a role that grants no purpose);
- ``priya`` privacy officer (when the role exists) at every site;
- ``pat`` the patient p1 (signs in); ``pia`` the patient p2.

Patients: p1 home primary care (MRN there), p2 home CMHC (MRNs at the CMHC and the Part 2
site), p3 home Part 2 site (MRN there).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.utils import timezone

from tandem.core.models import CareTeamMember, Practitioner, Sensitivity, SiteRole
from tests import builders as b

LABELS: tuple[str, ...] = tuple(Sensitivity.values)
CONSENT_LABELS = ("substance-use", "mental-health", "hiv", "reproductive-health")
CANARY_RE = re.compile(rb"CANARY_([a-z_]+?)__([a-z_]+?)__p(\d+)")

# Kinds the gate serves whose rows carry no free text any page or export displays (their
# presence is still checked through the notices): kind -> why no canary.
NO_CANARY: dict[str, str] = {
    "contacts": "carries no label (names no program, site or practitioner): always normal",
    "consents": "directives are generated per case; their label is their category",
    "cohorts": "a cohort key, no free text: the patient's name on a cohort's list and the"
    " membership's id at the gate stand for it",
    "risk": "one score per patient, no free text",
    "measure_results": "populations and evidence codes, no free text",
    "care_team": "names a practitioner, whose name also shows in pickers: checked by id at the"
    " gate (the canary is not in its text)",
}


# (patient number, cohort key, label) of every cohort membership in the world.
COHORT_MEMBERS = [
    (1, "smi", "mental-health"),
    (1, "sud", "substance-use"),
    (2, "smi", "mental-health"),
    (2, "sud", "substance-use"),
    (3, "depression", "normal"),
    (3, "sud", "substance-use"),
]
COHORT_KEYS = ("smi", "sud", "depression")


def canary(label: str, kind: str, patient_no: int) -> str:
    return f"CANARY_{label.replace('-', '_')}__{kind}__p{patient_no}"


def parse_canary(raw: bytes) -> tuple[str, str, int] | None:
    match = CANARY_RE.fullmatch(raw)
    if match is None:
        return None
    label, kind, no = match.groups()
    return label.decode().replace("_", "-"), kind.decode(), int(no)


@dataclass(frozen=True)
class Row:
    """One canary row: which patient, kind, label, and the units the oracle needs."""

    canary: str
    patient_no: int
    kind: str
    label: str
    pk: int
    program_id: int | None = None
    site_id: int | None = None
    practitioner_id: int | None = None
    author_id: int | None = None  # practitioner id of a note's author


@dataclass
class World:
    org: Any
    sites: dict[str, Any]
    programs: dict[str, Any]
    users: dict[str, Any]
    practitioners: dict[str, Any]  # user key -> Practitioner
    patients: dict[int, Any]  # 1.. -> Patient
    patient_users: dict[str, int]  # user key -> patient number
    rows: list[Row] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # ids for probes (task, item, ...)

    @functools.cached_property
    def by_canary(self) -> dict[str, Row]:
        return {r.canary: r for r in self.rows}

    def patient_no(self, patient_id: int) -> int:
        return next(no for no, p in self.patients.items() if p.pk == patient_id)


_seq = itertools.count(1)


def _label_unit(world: World, label: str, patient_no: int) -> dict[str, Any]:
    """The unit a row of ``label`` is recorded by: Part 2 program for substance use, the
    behavioral program for mental health, primary care otherwise."""
    if label == "substance-use":
        return {"program": world.programs["part2"]}
    if label in ("mental-health", "psychotherapy-note"):
        return {"program": world.programs["bh"]}
    return {"program": world.programs["pc"]}


def build_world() -> World:
    org = b.organization(name="Leak County Health")
    other_org = b.organization(name="Leak Harbor Recovery Inc")
    sites = {
        "pc": b.site(organization=org, code="leak-pc", name="Leak Family Medicine"),
        "cmhc": b.site(organization=org, code="leak-cmhc", name="Leak CMHC", kind="cmhc"),
        "sud": b.site(
            organization=other_org, code="leak-sud", name="Leak Recovery", kind="sud-program"
        ),
    }
    programs = {
        "pc": b.program(site=sites["pc"], name="Leak primary care", kind="primary-care"),
        "bh": b.program(site=sites["cmhc"], name="Leak adult MH", kind="behavioral-health"),
        "part2": b.program(site=sites["sud"], name="Leak OTP", kind="sud", is_part2=True),
    }
    users: dict[str, Any] = {}
    practitioners: dict[str, Any] = {}

    def staff(key: str, discipline: str, site: str | None, program: str | None) -> None:
        users[key] = b.user(f"leak-{key}")
        practitioners[key] = b.practitioner(
            user=users[key],
            given_name=key.title(),
            family_name=f"Leak{key.title()}",
            discipline=discipline,
            sites=[sites[site]] if site else [],
            programs=[programs[program]] if program else [],
        )

    staff("alice", "pcp", "pc", "pc")
    staff("bob", "care-manager", "cmhc", "bh")
    staff("charlie", "psychiatrist", "cmhc", "bh")
    staff("sam", "social-worker", "sud", "part2")
    staff("sara", "social-worker", "sud", "part2")
    staff("pete", "pcp", "pc", "pc")
    staff("olive", "nurse", None, None)
    for key in ("cora", "leo", "quinn", "fran", "priya"):
        users[key] = b.user(f"leak-{key}")
    staff_cora = b.practitioner(
        user=users["cora"], given_name="Cora", family_name="LeakCora", discipline="np-pa"
    )
    practitioners["cora"] = staff_cora
    b.site_role(user=users["cora"], site=sites["pc"], role="clinician")
    b.site_role(user=users["leo"], site=sites["pc"], role="leader")
    b.site_role(user=users["leo"], site=sites["cmhc"], role="leader")
    b.site_role(user=users["quinn"], site=sites["sud"], role="quality")
    b.site_role(user=users["fran"], site=sites["pc"], role="front-desk")
    if "privacy-officer" in SiteRole.Role.values:
        for site in sites.values():
            b.site_role(user=users["priya"], site=site, role="privacy-officer")

    users["pat"] = b.user("leak-pat")
    users["pia"] = b.user("leak-pia")
    patients = {
        1: b.patient(
            given_name="Pat",
            family_name="Leakone",
            user=users["pat"],
            mrn_site=sites["pc"],
            home_site=sites["pc"],
        ),
        2: b.patient(
            given_name="Pia",
            family_name="Leaktwo",
            user=users["pia"],
            mrn_site=sites["cmhc"],
            home_site=sites["cmhc"],
        ),
        3: b.patient(
            given_name="Quin",
            family_name="Leakthree",
            mrn_site=sites["sud"],
            home_site=sites["sud"],
        ),
    }
    world = World(
        org=org,
        sites=sites,
        programs=programs,
        users=users,
        practitioners=practitioners,
        patients=patients,
        patient_users={"pat": 1, "pia": 2},
    )
    world.extra["other_org"] = other_org
    P = practitioners
    team = [
        (1, "alice", "pcp", None),
        (1, "bob", "care-manager", "bh"),
        (1, "charlie", "psychiatrist", "bh"),
        (2, "bob", "care-manager", "bh"),
        (2, "sam", "bh-clinician", "part2"),
        (3, "alice", "pcp", None),
        (3, "sam", "bh-clinician", "part2"),
    ]
    for no, who, role, program in team:
        b.care_team_member(
            patient=patients[no],
            practitioner=P[who],
            role=role,
            program=programs[program] if program else None,
        )
    # A former member: ended membership gives nothing.
    b.care_team_member(
        patient=patients[2],
        practitioner=P["pete"],
        role="pcp",
        start=timezone.localdate() - dt.timedelta(days=400),
        end=timezone.localdate() - dt.timedelta(days=30),
    )
    # Extra MRN of p2 at the Part 2 site (an identifier that names the program).
    _rows(world)
    return world


def _rows(world: World) -> None:
    from tandem.clinical.models import (
        ClinicalNote,
        Condition,
        Encounter,
        Observation,
        Procedure,
        ServiceRequest,
    )
    from tandem.meds.models import MedicationDispense, MedicationOrder
    from tandem.outreach.models import ContactAttempt, WorklistItem
    from tandem.registry.models import Coverage, PatientIdentifier
    from tandem.scheduling.models import Appointment
    from tandem.tasks.models import Queue, Task

    now = timezone.now()
    today = timezone.localdate()
    queue = Queue.objects.create(
        key="leak-pc-primary-care", name="Leak PC team", kind="primary-care", site=world.sites["pc"]
    )
    queue.members.add(world.users["alice"], world.users["pete"])
    world.extra["queue"] = queue
    worklists = ["smi-disengaged", "no-shows", "antipsychotic-monitoring", "follow-up-7-day"]
    worklists += ["gap-cms122", "gap-cms2"]
    # Canary practitioners for care-team rows (no user: never a reader).
    for no, patient in world.patients.items():
        for li, label in enumerate(LABELS):
            unit = _label_unit(world, label, no)
            program = unit["program"]
            author = world.practitioners["charlie"]
            base = {"patient": patient, "sensitivity": label, "program": program}

            def add(kind: str, obj: Any, label: str = label, no: int = no, **units: Any) -> None:
                world.rows.append(
                    Row(
                        canary=canary(label, kind, no),
                        patient_no=no,
                        kind=kind,
                        label=label,
                        pk=obj.pk,
                        program_id=getattr(obj, "program_id", None),
                        site_id=getattr(obj, "site_id", None),
                        practitioner_id=getattr(obj, "practitioner_id", None),
                        **units,
                    )
                )

            c = lambda kind, label=label, no=no: canary(label, kind, no)  # noqa: E731
            add(
                "notes",
                ClinicalNote.objects.create(
                    **base,
                    note_type="psychotherapy" if label == "psychotherapy-note" else "progress",
                    title=c("notes"),
                    text=c("notes"),
                    author=author,
                    authored_at=now - dt.timedelta(days=2, minutes=li),
                ),
                author_id=author.pk,
            )
            if label == "psychotherapy-note":
                continue  # the label belongs to notes only
            add(
                "encounters",
                Encounter.objects.create(
                    **base,
                    encounter_class="ambulatory",
                    type_display=c("encounters"),
                    start=now - dt.timedelta(days=20, minutes=li),
                    status="finished",
                ),
            )
            add(
                "conditions",
                Condition.objects.create(
                    **base,
                    code_system=b.ICD10,
                    code="E11.9",
                    display=c("conditions"),
                    category="problem-list-item",
                    clinical_status="active",
                    onset=now - dt.timedelta(days=100, minutes=li),
                ),
            )
            add(
                "observations",
                Observation.objects.create(
                    **base,
                    code_system=b.LOINC,
                    code=f"9999-{li}",
                    display=c("observations"),
                    category="laboratory",
                    status="final",
                    value_text=c("observations"),
                    effective_at=now - dt.timedelta(days=5, minutes=li),
                ),
            )
            add(
                "procedures",
                Procedure.objects.create(
                    **base,
                    code_system="http://www.ama-assn.org/go/cpt",
                    code="99213",
                    display=c("procedures"),
                    performed_start=now - dt.timedelta(days=15, minutes=li),
                ),
            )
            add(
                "service_requests",
                ServiceRequest.objects.create(
                    **base,
                    code_system="http://snomed.info/sct",
                    code="306206005",
                    display=c("service_requests"),
                    authored_at=now - dt.timedelta(days=9, minutes=li),
                ),
            )
            order = MedicationOrder.objects.create(
                **base,
                code_system=b.RXNORM,
                code="860975",
                display=c("medication_orders"),
                status="active",
                authored_at=now - dt.timedelta(days=40, minutes=li),
                start=today - dt.timedelta(days=40),
            )
            add("medication_orders", order)
            add(
                "medication_dispenses",
                MedicationDispense.objects.create(
                    **base,
                    order=order,
                    code_system=b.RXNORM,
                    code="860975",
                    display=c("medication_dispenses"),
                    days_supply=30,
                    dispensed_at=now - dt.timedelta(days=10, minutes=li),
                ),
            )
            site = {"substance-use": "sud", "mental-health": "cmhc"}.get(label, "pc")
            add(
                "appointments",
                Appointment.objects.create(
                    **base,
                    start=now + dt.timedelta(days=7, minutes=li),
                    end=now + dt.timedelta(days=7, minutes=li + 30),
                    status="booked",
                    service_type=c("appointments"),
                    site=world.sites[site],
                ),
            )
            add(
                "identifiers",
                PatientIdentifier.objects.create(
                    patient=world.patients[no],
                    sensitivity=label,
                    kind="other",
                    system=f"urn:leak:{label}",
                    value=c("identifiers"),
                ),
            )
            add(
                "coverage",
                Coverage.objects.create(
                    patient=world.patients[no],
                    sensitivity=label,
                    payer=world.org,
                    kind="commercial",
                    plan=c("coverage"),
                    member_id=c("coverage"),
                    start=today - dt.timedelta(days=300 + li),
                ),
            )
            task = Task.objects.create(
                patient=world.patients[no],
                sensitivity=label,
                title=c("tasks"),
                detail=c("tasks"),
                queue=queue,
                created_by=world.users["alice"],
            )
            add("tasks", task)
            item = WorklistItem.objects.create(
                patient=world.patients[no],
                sensitivity=label,
                worklist=worklists[li],
                site=world.sites["pc"],
                reason=c("worklist_items"),
                opened_at=now - dt.timedelta(days=3),
                trigger_date=today - dt.timedelta(days=3),
            )
            add("worklist_items", item)
            add(
                "contact_attempts",
                ContactAttempt.objects.create(
                    item=item,
                    patient=world.patients[no],
                    sensitivity=label,
                    channel="phone",
                    outcome="no-answer",
                    note=c("contact_attempts"),
                    attempted_at=now - dt.timedelta(days=1, minutes=li),
                    by=world.users["alice"],
                ),
            )
            # A care-team membership of this label (a practitioner without a user: never a
            # reader). Its canary is not in any text (a practitioner's name also shows in
            # filters and pickers): the gate-level property finds it by its id.
            member = b.practitioner(
                given_name="Member", family_name=f"Nurse{li}x{no}", discipline="nurse"
            )
            add(
                "care_team",
                CareTeamMember.objects.create(
                    patient=world.patients[no],
                    practitioner=member,
                    role="nurse",
                    program=program,
                    sensitivity=label,
                    start=today - dt.timedelta(days=100),
                ),
            )
            world.extra.setdefault("tasks", {})[(no, label)] = task.pk
            world.extra.setdefault("items", {})[(no, label)] = item.pk
    # Cohort memberships: their "canary" is the patient's name on the cohort's list (checked by
    # ``test_leak.check_path`` for the cohort paths) and their id at the gate.
    from tandem.registry.models import CohortMembership

    for no, cohort, label in COHORT_MEMBERS:
        member = CohortMembership.objects.create(
            cohort=cohort,
            patient=world.patients[no],
            sensitivity=label,
            since=today - dt.timedelta(days=30),
            as_of=today,
        )
        world.rows.append(Row(f"COHORT_{cohort}__p{no}", no, "cohorts", label, member.pk))


def model_of(kind: str) -> Any:
    from tandem.consent import gate

    return apps.get_model(gate.KINDS[kind])


def practitioner_of(user: Any) -> Practitioner | None:
    return Practitioner.objects.filter(user_id=user.pk, active=True).first()
