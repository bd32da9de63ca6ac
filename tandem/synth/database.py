"""Write a synthetic population straight into the operational database.

One transaction: a failure anywhere leaves nothing behind. Organization, sites, programs and
practitioners go through the ORM; the patients and everything about them are written one
generator chunk at a time (memory bounded by a chunk), as Arrow tables shaped like the
database tables (:mod:`tandem.synth.dbcopy`: ``COPY`` on PostgreSQL, ``executemany`` on
SQLite). Every row is labelled before it is written: clinical rows through
``tandem.consent.rules.label_code`` (Part 2 program rows come out ``substance-use``,
psychotherapy notes ``psychotherapy-note``, BH program rows ``mental-health``); identifiers,
care-team memberships, coverage, home sites and consent directives by the site, program,
payer or category they name (``rules.Units``). Check constraints and foreign keys still apply.
Rows keep ``source="synth"`` and ``source_id`` = the analytic id, so the Parquet/FHIR outputs
of the same seed (and chunk size) describe the same people.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pyarrow as pa
from django.conf import settings
from django.db import models, transaction

from tandem.audit import services as audit
from tandem.consent import rules
from tandem.consent.models import ConsentDirective, DirectiveRecipient
from tandem.core.models import CareTeamMember, Organization, Practitioner, Program, Site
from tandem.registry.models import Coverage, Patient, PatientContact, PatientIdentifier
from tandem.synth import database_clinical, queries
from tandem.synth.database_clinical import SOURCE, Keys
from tandem.synth.dbcolumns import Keyed, by_index, per_unique
from tandem.synth.dbcopy import Sink, frame, sink
from tandem.synth.generator import CHUNK_SIZE, Chunk, Generator, SynthConfig, default_period
from tandem.synth.parquet import SynthReport
from tandem.synth.progress import bar

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
    chunk_size: int = CHUNK_SIZE,
) -> SynthReport:
    """Generate ``patients`` people and store them; returns counts and realised rates.

    Refuses a seed already stored, and (unless ``append``) a database that holds any patient:
    a second population brings its own sites and would silently double the demo's caseloads.
    Memory is bounded by one generator chunk of ``chunk_size`` patients (the default is the
    Parquet writer's, so the same seed gives the same people in both).
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
        chunk_size=chunk_size,
        time_zone=settings.TIME_ZONE,
    )
    gen = Generator(config, operational=True)
    report = SynthReport(patients, seed, start, end, sites, output="database")
    with transaction.atomic():
        held = queries.patient_count()
        stored = 0 if append else held
        if stored and not Site.objects.filter(code=gen.world.sites[0].code).exists():
            raise DatabaseNotEmpty(stored)  # (this seed again: PopulationExists, below)
        world = _write_world(gen)
        out = sink(defer_indexes=patients >= held)  # rebuilding beats updating
        out.prepare(MODELS)
        with bar(max(patients, 1), "Writing patients", progress) as advance:
            for chunk in gen.chunks():
                counts = _write_chunk(chunk, world, out)
                chunk.tables.clear()  # before the next chunk is generated
                report.stats.add(chunk.stats)
                for k, n in counts.items():
                    report.rows[k] = report.rows.get(k, 0) + n
                advance(chunk.patients)
        out.finish()
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
    return world | {"units": rules.Units.load()}  # labels of the units rows name


def _write_chunk(chunk: Chunk, world: dict[str, Any], sink: Sink) -> dict[str, int]:
    """Write one chunk, table by table; each table is dropped once written (bounded memory)."""
    t = chunk.tables
    sites, programs, pracs = world["sites"], world["programs"], world["pracs"]
    patients = t.pop("patients")
    ids = patients.column("patient_id").combine_chunks()
    keys = database_clinical.Keys(
        patients=Keyed(ids, sink.ids(Patient, patients.num_rows)),
        pracs=Keyed(pa.array([f"prac-{i + 1}" for i in range(len(pracs))]), _pks(pracs)),
        sites=Keyed(pa.array([f"site-{i + 1}" for i in range(len(sites))]), _pks(sites)),
        prac_pk=[p.pk for p in pracs],
        site_pk=[s.pk for s in sites],
        prog_pk=[p.pk for p in programs],
        label=database_clinical.labeller(programs),
    )
    counts = {"patients": sink.write(Patient, _patients(patients, t.pop("details"), keys, world))}
    for name, model, build in PEOPLE:
        counts[name] = sink.write(model, build(t.pop(name), keys, world))
    counts.update(database_clinical.write(t, keys, sink))
    counts["consents"] = _consents(t.pop("consents"), keys, sink)
    return counts


def _pks(objs: list[Any]) -> pa.Array:
    return pa.array([o.pk for o in objs], pa.int64())


def _patients(p: pa.Table, d: pa.Table, keys: Keys, world: dict[str, Any]) -> pa.Table:
    if not p.column("patient_id").equals(d.column("patient_id")):
        raise ValueError("the generator's patients and details are not aligned")
    home = by_index(p.column("home_site"), keys.site_pk)
    units = world["units"]
    cols = {
        "id": keys.patients.pks,
        "birth_date": p.column("birth_date"),
        "sex": p.column("sex"),
        "race": p.column("race"),
        "ethnicity": p.column("ethnicity"),
        "deceased_date": p.column("death_date"),
        "home_site_id": home,
        "home_site_sensitivity": per_unique(lambda pk: units.of("site", pk), home),
        "source": SOURCE,
        "source_id": p.column("patient_id"),
    }
    for name in DETAILS:
        cols[name] = d.column(name)
    return frame(Patient, cols, p.num_rows)


DETAILS = [
    "given_name",
    "middle_name",
    "family_name",
    "language",
    "address_line",
    "city",
    "state",
    "postal_code",
    "phone",
]


def _identifiers(t: pa.Table, keys: Keys, world: dict[str, Any]) -> pa.Table:
    site = by_index(t.column("site"), keys.site_pk)  # an MRN: the label of its site
    return frame(
        PatientIdentifier,
        {
            "patient_id": keys.patients.of(t.column("patient_id")),
            "kind": t.column("kind"),
            "system": t.column("system"),
            "value": t.column("value"),
            "site_id": site,
            "sensitivity": per_unique(lambda pk: world["units"].of_row(site=pk), site),
        },
        t.num_rows,
    )


def _contacts(t: pa.Table, keys: Keys, world: dict[str, Any]) -> pa.Table:
    cols = {c: t.column(c) for c in ("kind", "name", "relationship", "phone")}
    cols |= {"patient_id": keys.patients.of(t.column("patient_id")), "address": ""}
    return frame(PatientContact, cols, t.num_rows)


def _coverage(t: pa.Table, keys: Keys, world: dict[str, Any]) -> pa.Table:
    payers = {k: org.pk for k, org in world["payers"].items()}
    payer = per_unique(lambda kind: payers[kind], t.column("payer")).cast(pa.int64())
    return frame(
        Coverage,
        {
            "patient_id": keys.patients.of(t.column("patient_id")),
            "payer_id": payer,
            "kind": t.column("payer"),
            "plan": t.column("plan"),
            "member_id": t.column("member_id"),
            "start": t.column("start_date"),
            "end": t.column("end_date"),
            "source": SOURCE,
            "source_id": t.column("coverage_id"),
            "sensitivity": per_unique(lambda pk: world["units"].of("organization", pk), payer),
        },
        t.num_rows,
    )


def _care_team(t: pa.Table, keys: Keys, world: dict[str, Any]) -> pa.Table:
    program = by_index(t.column("program"), keys.prog_pk)
    return frame(
        CareTeamMember,
        {
            "patient_id": keys.patients.of(t.column("patient_id")),
            "practitioner_id": keys.pracs.of(t.column("practitioner_id")),
            "role": t.column("role"),
            "program_id": program,
            "start": t.column("start_date"),
            "end": t.column("end_date"),
            "sensitivity": per_unique(lambda pk: world["units"].of_row(program=pk), program),
        },
        t.num_rows,
    )


def _consents(t: pa.Table, keys: Keys, sink: Sink) -> int:
    """Each generated consent: one active directive (one category, one purpose, typed signature
    by the patient) and its one recipient."""
    n = t.num_rows
    ids = sink.ids(ConsentDirective, n) if n else pa.array([], pa.int64())
    directives = frame(
        ConsentDirective,
        {
            "id": ids,
            "patient_id": keys.patients.of(t.column("patient_id")),
            "categories": per_unique(lambda c: json.dumps([c]), t.column("category")),
            "purposes": per_unique(lambda p: json.dumps([p]), t.column("purpose")),
            "part2_tpo": False,
            "start": t.column("start_date"),
            "end": None,
            "status": t.column("status"),
            "version": 1,
            "signature_kind": "",
            "signer_name": "",
            "signed_on": None,
            "signer_relationship": "",
            "recorded_by_id": None,
            "revoked_at": None,
            "revoked_by_id": None,
            "revocation_reason": "",
            "sensitivity": per_unique(rules.label_consent, t.column("category")),
        },
        n,
    )
    written = sink.write(ConsentDirective, directives)
    recipients = frame(
        DirectiveRecipient,
        {
            "directive_id": ids,
            "kind": t.column("recipient_kind"),
            "practitioner_id": by_index(t.column("recipient_practitioner"), keys.prac_pk),
            "organization_id": None,
            "site_id": None,
            "role": t.column("recipient_role"),
            "revoked_on": None,
            "revoked_by_id": None,
            "revocation_reason": "",
        },
        n,
    )
    sink.write(DirectiveRecipient, recipients)
    return written


PEOPLE = [
    ("identifiers", PatientIdentifier, _identifiers),
    ("contacts", PatientContact, _contacts),
    ("coverage", Coverage, _coverage),
    ("care_team", CareTeamMember, _care_team),
]
MODELS: list[type[models.Model]] = [
    Patient,
    *(m for _, m, _ in PEOPLE),
    *database_clinical.MODELS,
    ConsentDirective,
    DirectiveRecipient,
]
