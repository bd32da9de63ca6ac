"""Write a synthetic population straight into the operational database.

One transaction. Organization, sites, programs, practitioners and patients go through
``bulk_create``; the bulk of the clinical rows through :mod:`tandem.synth.dbinsert` (batched
``executemany`` driven by the models' metadata, ~6x faster than ``bulk_create``). Every
clinical row is labelled through ``tandem.consent.rules.label_code`` before it is written
(Part 2 program rows come out ``substance-use``, psychotherapy notes ``psychotherapy-note``,
BH program rows ``mental-health``); so are the identifiers, care-team memberships, coverage
and consent directives (by the site, program, payer or category they name, through
``rules.Units``). The database's check constraints still apply. Rows keep
``source="synth"`` and ``source_id`` = the analytic id, so the Parquet/FHIR outputs of the
same seed describe the same people.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.db import transaction

from tandem.audit import services as audit
from tandem.consent import rules
from tandem.consent.models import ConsentDirective
from tandem.core.models import CareTeamMember, Organization, Practitioner, Program, Site
from tandem.registry.models import Coverage, Patient, PatientContact, PatientIdentifier
from tandem.synth import database_clinical, queries
from tandem.synth.database_clinical import SOURCE, rows_of
from tandem.synth.dbinsert import insert
from tandem.synth.generator import Chunk, Generator, SynthConfig, default_period
from tandem.synth.parquet import SynthReport
from tandem.synth.progress import bar

BATCH = 2000
PAYER_NAMES = {
    "medicaid": "State Medicaid (synthetic)",
    "dual": "State Medicaid (synthetic)",
    "medicare": "Medicare (synthetic)",
    "commercial": "Commercial Health Plan (synthetic)",
}


class PopulationExists(ValueError):
    """A population with this seed is already in the database."""


class DatabaseNotEmpty(PopulationExists):
    """The database already holds patients, and the caller did not ask to append."""

    def __init__(self, patients: int) -> None:
        super().__init__(f"the database already holds {patients} patients (append=True adds)")
        self.patients = patients


def write_population(
    *,
    patients: int,
    seed: int,
    start: dt.date | None = None,
    end: dt.date | None = None,
    sites: int = 4,
    progress: bool = False,
    append: bool = False,
) -> SynthReport:
    """Generate ``patients`` people and store them; returns counts and realised rates.

    Refuses a seed already stored, and (unless ``append``) a database that holds any patient:
    a second population brings its own sites and would silently double the demo's caseloads.
    """
    began = time.perf_counter()
    if start is None or end is None:
        d_start, d_end = default_period()
        start, end = start or d_start, end or d_end
    config = SynthConfig(
        patients=patients,
        seed=seed,
        start=start,
        end=end,
        sites=sites,
        time_zone=settings.TIME_ZONE,
    )
    gen = Generator(config, operational=True)
    report = SynthReport(patients, seed, start, end, sites, output="database")
    with transaction.atomic():
        stored = 0 if append else queries.patient_count()
        if stored and not Site.objects.filter(code=gen.world.sites[0].code).exists():
            raise DatabaseNotEmpty(stored)  # (this seed again: PopulationExists, below)
        world = _write_world(gen)
        with bar(max(patients, 1), "Writing patients", progress) as advance:
            for chunk in gen.chunks():
                counts = _write_chunk(chunk, world)
                report.stats.add(chunk.stats)
                for k, n in counts.items():
                    report.rows[k] = report.rows.get(k, 0) + n
                advance(chunk.patients)
        # One event for the whole bulk write (counts only: the rows are synthetic, and one
        # event per row would dwarf the population itself).
        audit.record(
            actor=None,
            entry=audit.Entry(
                "write:synth_population",
                "written",
                detail=f"patients={patients} seed={seed} rows={sum(report.rows.values())}",
            ),
        )
    report.seconds = time.perf_counter() - began
    return report


def _write_world(gen: Generator) -> dict[str, Any]:
    w = gen.world
    if Site.objects.filter(code=w.sites[0].code).exists():
        raise PopulationExists(f"a synthetic population with seed {w.seed} is already stored")
    org = Organization.objects.create(
        name=f"Riverbend Health Partners (synthetic {w.sites[0].code})"
    )
    site_objs = Site.objects.bulk_create(
        [
            Site(
                organization=org,
                code=s.code,
                name=s.name,
                kind=s.kind,
                integration_go_live=s.go_live,
            )
            for s in w.sites
        ]
    )
    programs = Program.objects.bulk_create(
        [
            Program(site=site_objs[p.site], name=p.name, kind=p.kind, is_part2=p.is_part2)
            for p in w.programs
        ]
    )
    pracs = Practitioner.objects.bulk_create(
        [
            Practitioner(
                given_name=w.prac_given[i],
                family_name=w.prac_family[i],
                discipline=w.prac_discipline[i],
                npi=w.prac_npi[i],
            )
            for i in range(len(w.prac_id))
        ]
    )
    Practitioner.sites.through.objects.bulk_create(
        [
            Practitioner.sites.through(practitioner_id=pr.pk, site_id=site_objs[w.prac_site[i]].pk)
            for i, pr in enumerate(pracs)
        ]
    )
    Practitioner.programs.through.objects.bulk_create(
        [
            Practitioner.programs.through(
                practitioner_id=pr.pk, program_id=programs[w.prac_program[i]].pk
            )
            for i, pr in enumerate(pracs)
        ]
    )
    payers = {
        kind: Organization.objects.get_or_create(name=name, defaults={"kind": "payer"})[0]
        for kind, name in PAYER_NAMES.items()
    }
    world = {"sites": site_objs, "programs": programs, "pracs": pracs, "payers": payers}
    return world | {"units": rules.Units.load()}  # labels of the units rows name (bulk inserts)


def _write_chunk(chunk: Chunk, world: dict[str, Any]) -> dict[str, int]:
    t = chunk.tables
    sites, programs, units = world["sites"], world["programs"], world["units"]
    objs = []
    for row, d in zip(rows_of(t["patients"]), rows_of(t["details"]), strict=True):
        objs.append(
            Patient(
                given_name=d["given_name"],
                middle_name=d["middle_name"],
                family_name=d["family_name"],
                birth_date=row["birth_date"],
                sex=row["sex"],
                race=row["race"],
                ethnicity=row["ethnicity"],
                language=d["language"],
                address_line=d["address_line"],
                city=d["city"],
                state=d["state"],
                postal_code=d["postal_code"],
                phone=d["phone"],
                deceased_date=row["death_date"],
                home_site=sites[row["home_site"]],
                home_site_sensitivity=units.of("site", sites[row["home_site"]].pk),
                source=SOURCE,
                source_id=row["patient_id"],
            )
        )
    Patient.objects.bulk_create(objs, batch_size=BATCH)
    ppk = {p.source_id: p.pk for p in objs}
    prac_pk = {f"prac-{i + 1}": p.pk for i, p in enumerate(world["pracs"])}
    counts = {"patients": len(objs)}
    identifiers = [
        {
            "patient_id": ppk[r["patient_id"]],
            "kind": r["kind"],
            "system": r["system"],
            "value": r["value"],
            "site_id": sites[r["site"]].pk if r["site"] is not None and r["site"] >= 0 else None,
        }
        for r in rows_of(t["identifiers"])
    ]
    for row in identifiers:  # an MRN carries the label of the site that issued it
        row["sensitivity"] = units.of_row(site=row["site_id"])
    counts["identifiers"] = insert(PatientIdentifier, identifiers)
    counts["contacts"] = insert(
        PatientContact,
        [
            {
                "patient_id": ppk[r["patient_id"]],
                "kind": r["kind"],
                "name": r["name"],
                "relationship": r["relationship"],
                "phone": r["phone"],
                "address": "",
            }
            for r in rows_of(t["contacts"])
        ],
    )
    payers = {k: org.pk for k, org in world["payers"].items()}
    counts["coverage"] = insert(
        Coverage,
        [
            {
                "patient_id": ppk[r["patient_id"]],
                "payer_id": payers[r["payer"]],
                "kind": r["payer"],
                "plan": r["plan"],
                "member_id": r["member_id"],
                "start": r["start_date"],
                "end": r["end_date"],
                "source": SOURCE,
                "source_id": r["coverage_id"],
                "sensitivity": units.of("organization", payers[r["payer"]]),
            }
            for r in rows_of(t["coverage"])
        ],
    )
    counts["care_team"] = insert(
        CareTeamMember,
        [
            {
                "patient_id": ppk[r["patient_id"]],
                "practitioner_id": prac_pk[r["practitioner_id"]],
                "role": r["role"],
                "program_id": programs[r["program"]].pk,
                "start": r["start_date"],
                "end": r["end_date"],
                "sensitivity": units.of_row(program=programs[r["program"]].pk),
            }
            for r in rows_of(t["care_team"])
        ],
    )
    counts.update(database_clinical.write(t, ppk, world))
    counts["consents"] = insert(
        ConsentDirective,
        [
            {
                "patient_id": ppk[r["patient_id"]],
                "category": r["category"],
                "recipient_kind": r["recipient_kind"],
                "recipient_practitioner_id": _prac_pk(world, r["recipient_practitioner"]),
                "recipient_organization_id": None,
                "recipient_role": r["recipient_role"],
                "purpose": r["purpose"],
                "start": r["start_date"],
                "end": None,
                "status": r["status"],
                "recorded_by_id": None,
                "sensitivity": rules.label_consent(r["category"]),
            }
            for r in rows_of(t["consents"])
        ],
    )
    return counts


def _prac_pk(world: dict[str, Any], idx: int | None) -> int | None:
    return None if idx is None or idx < 0 else world["pracs"][idx].pk
