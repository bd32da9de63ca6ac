"""The synthetic population generator: deterministic, vectorised, chunked.

``Generator(config).chunks()`` yields one :class:`Chunk` per ``chunk_size`` patients: Arrow
tables in the analytic contract (with a few extra columns the database and FHIR writers use)
plus operational records. Each chunk draws from its own ``PCG64`` stream seeded by
``(seed, chunk number)``, and ids continue across chunks, so the same seed and arguments give
byte-identical output, and memory stays bounded by one chunk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from tandem.synth import care, records, tables, tables_meds, tables_people
from tandem.synth import encounters as E
from tandem.synth import medications as M
from tandem.synth import observations as O
from tandem.synth.arrow import Clock
from tandem.synth.parameters import DEFAULT, Parameters
from tandem.synth.population import NEVER, build_population
from tandem.synth.report import Stats, care_stats, chunk_stats
from tandem.synth.vocab import get as get_vocab
from tandem.synth.world import World, build_world

CHUNK_SIZE = 50_000
# The period must lie within these dates. Birth dates and histories (onsets, registrations,
# coverage) reach up to ~110 years before the start, bookings and order periods ~60 days
# after the end; these bounds keep every date written inside what the databases, Parquet
# readers and pandas (nanosecond timestamps: 1677-09-21 to 2262-04-11) handle.
EARLIEST_START = dt.date(1900, 1, 1)
LATEST_END = dt.date(2199, 12, 31)
ANALYTIC = (
    "patients",
    "encounters",
    "conditions",
    "observations",
    "medication_requests",
    "medication_dispenses",
    "medication_administrations",
    "procedures",
    "service_requests",
    "device_requests",
    "tasks",
    "encounter_reasons",
    "assessments",
    "coverage",
    "claims",
    "care_team",
)
OPERATIONAL = ("details", "identifiers", "contacts", "appointments", "notes", "consents")


def default_period(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """Three years up to ``today`` (the demo wants recent data)."""
    end = today or dt.date.today()
    try:
        start = end.replace(year=end.year - 3)
    except ValueError:  # 29 February
        start = end.replace(year=end.year - 3, day=28)
    return start, end


@dataclass(frozen=True)
class SynthConfig:
    patients: int
    seed: int
    start: dt.date
    end: dt.date
    sites: int = 4
    chunk_size: int = CHUNK_SIZE
    params: Parameters = field(default=DEFAULT)
    time_zone: str = "America/New_York"  # clinic-local hours -> UTC timestamps

    def __post_init__(self) -> None:
        if self.patients < 0:
            raise ValueError("patients must be 0 or more")
        if self.end <= self.start:
            raise ValueError("the end date must come after the start date")
        if self.start < EARLIEST_START or self.end > LATEST_END:
            raise ValueError(f"the period must lie within {EARLIEST_START}..{LATEST_END}")
        if not 3 <= self.sites <= 200:
            raise ValueError("sites must be between 3 and 200")


@dataclass
class Chunk:
    number: int
    patients: int
    tables: dict[str, pa.Table]
    stats: Stats


class Generator:
    def __init__(self, config: SynthConfig, *, operational: bool = True) -> None:
        self.config = config
        self.operational = operational  # also build names, appointments, notes, consents…
        self.vocab = get_vocab()
        self.span = (config.end - config.start).days
        self.world: World = build_world(
            seed=config.seed,
            sites=config.sites,
            patients=config.patients,
            start=config.start,
            end=config.end,
            params=config.params,
        )
        self.clock = Clock(config.start, config.time_zone, end=config.end)
        self.offsets: dict[str, int] = {}

    @property
    def n_chunks(self) -> int:
        return -(-self.config.patients // self.config.chunk_size)

    def chunks(self) -> Iterator[Chunk]:
        for number in range(self.n_chunks):
            first = number * self.config.chunk_size
            n = min(self.config.chunk_size, self.config.patients - first)
            yield self._chunk(number, first, n)

    def _chunk(self, number: int, first: int, n: int) -> Chunk:
        cfg, v, w, p = self.config, self.vocab, self.world, self.config.params
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([cfg.seed, 1, number])))
        pop = build_population(rng, first=first, n=n, span=self.span, world=w, vocab=v, params=p)
        enc, episodes, sud_window = E.build_encounters(rng, pop, w, v, p)
        eps = M.build_episodes(rng, pop, w, v, p, sud_window)
        fills = M.build_fills(rng, eps)
        statin_start = np.full(n, NEVER, dtype=np.int32)  # the day each patient's statin began
        on_statin = eps["cls"] == M.STATIN
        np.minimum.at(statin_start, eps["pid"][on_statin], eps["start"][on_statin])
        obs, assess, requests, procs = O.build(rng, pop, enc, episodes, w, v, p, statin_start)
        referrals = care.referrals(rng, pop, enc, v, p)
        requests = {k: np.concatenate([requests[k], referrals[k]]) for k in requests}
        reports = care.reports(rng, pop, requests, v, p)
        procs = care.concat([procs, care.procedures(rng, pop, enc, obs, v, p)])

        ctx = tables.Context(self.clock, v, w, pop, self.offsets, self.span)
        out: dict[str, pa.Table] = {"patients": tables_people.patients(ctx)}
        enc_t = tables.encounters(ctx, enc)
        enc_ids = enc_t.column("encounter_id").combine_chunks()
        out["encounters"] = enc_t
        out["conditions"] = tables.conditions(ctx, enc, enc_ids, enc_t)
        cond_ids = out["conditions"].column("condition_id")
        out["encounter_reasons"] = tables.encounter_reasons(
            ctx, enc_t, cond_ids.slice(len(cond_ids) - enc_t.num_rows).combine_chunks()
        )
        out["observations"] = tables.observations(ctx, obs, enc_ids)
        mreq, mdisp, madmin, injections = tables_meds.medications(ctx, eps, fills, rng)
        out["medication_requests"], out["medication_dispenses"] = mreq, mdisp
        out["medication_administrations"] = madmin
        out["procedures"] = tables.procedures(ctx, care.concat([procs, injections]), enc_ids)
        out["service_requests"] = tables.service_requests(ctx, requests, enc_ids)
        out["tasks"] = tables.tasks(
            ctx, reports, out["service_requests"].column("request_id").combine_chunks()
        )
        out["device_requests"] = _empty("device_requests")
        out["assessments"] = tables.assessments(ctx, assess, enc_ids, enc["prac"])
        out["coverage"] = tables_people.coverage(ctx, rng, p.coverage_gap)
        out["claims"] = tables.claims(ctx, enc, enc_t)
        out["care_team"] = tables_people.care_team(ctx)
        if self.operational:
            out["details"] = records.details(ctx, rng)
            out["identifiers"] = records.identifiers(ctx, enc)
            out["contacts"] = records.contacts(ctx, rng, p.contact_share)
            out["appointments"] = records.appointments(ctx, rng, enc, enc_ids, p)
            out["notes"] = records.notes(ctx, rng, enc, enc_ids, p)
            out["consents"] = records.consents(ctx, rng, p)
        stats = chunk_stats(pop, enc, eps, fills, obs, assess, out, self.vocab, self.span)
        care_stats(stats, pop, enc, procs, requests, reports, eps, self.vocab)
        return Chunk(number, n, out, stats)

    def dimension_tables(self) -> dict[str, pa.Table]:
        """The two tables not keyed by patient: practitioners and sites."""
        w = self.world
        return {
            "practitioners": pa.table(
                {
                    "practitioner_id": pa.array(w.prac_id),
                    "discipline": pa.array(w.prac_discipline),
                    "npi": pa.array(w.prac_npi),
                    "site_id": pa.array([w.sites[s].id for s in w.prac_site]),
                    "given_name": pa.array(w.prac_given),
                    "family_name": pa.array(w.prac_family),
                    "program": pa.array(w.prac_program, type=pa.int32()),
                }
            ),
            "sites": pa.table(
                {
                    "site_id": pa.array([s.id for s in w.sites]),
                    "name": pa.array([s.name for s in w.sites]),
                    "kind": pa.array([s.kind for s in w.sites]),
                    "integration_go_live": pa.array([s.go_live for s in w.sites], type=pa.date32()),
                    "code": pa.array([s.code for s in w.sites]),
                }
            ),
        }


def _empty(name: str) -> pa.Table:
    from tandem.measures.schema import empty

    return empty(name)
