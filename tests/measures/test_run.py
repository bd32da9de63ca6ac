"""`tandem measure run --store` on the operational database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from tandem.cli import main
from tandem.measures import definitions, run
from tandem.measures.models import MeasurePatientResult, MeasureRun
from tests import builders as b
from tests import shared

pytestmark = pytest.mark.django_db

PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
needs_deck = shared.needs(shared.VALUESETS)


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day + "T10:00:00+00:00")


def hypertensive(team, *, systolic: float, diastolic: float):
    patient = b.patient(birth_date=dt.date(1960, 4, 2), mrn_site=team.pc_site)
    b.condition(patient=patient, code="I10", program=team.pc_program, onset=at("2020-01-01"))
    visit = b.encounter(
        patient=patient,
        program=team.pc_program,
        start=at("2025-05-06"),
        end=at("2025-05-06"),
        status="finished",
        type_system="http://www.ama-assn.org/go/cpt",
        type_code="99213",
    )
    for code, value in (("8480-6", systolic), ("8462-4", diastolic)):
        b.observation(
            patient=patient,
            code=code,
            value_num=value,
            value_unit="mm[Hg]",
            panel_code="85354-9",
            panel_id=f"bp-{patient.pk}",
            category="vital-signs",
            effective_at=at("2025-05-06"),
            encounter=visit,
        )
    return patient


@pytest.fixture
def loaded(team):
    main(["valuesets", "load", str(shared.VALUESETS)])
    controlled = hypertensive(team, systolic=128, diastolic=82)
    uncontrolled = hypertensive(team, systolic=150, diastolic=95)
    return controlled, uncontrolled


def places(run_id):
    return {
        r.patient_id: (r.in_initial_population, r.in_numerator)
        for r in MeasurePatientResult.objects.filter(run_id=run_id)
    }


@needs_deck
def test_results_are_stored_with_their_evidence(loaded):
    controlled, uncontrolled = loaded

    [outcome] = run.run_measures(by=None, keys=["CMS165"], period=PERIOD, store=True)

    stored = places(outcome.run_id)
    assert stored[controlled.pk] == (True, True)
    assert stored[uncontrolled.pk] == (True, False)
    row = MeasurePatientResult.objects.get(run_id=outcome.run_id, patient=controlled)
    assert row.populations["denominator"] == 1
    assert row.evidence  # the reading that decided it
    stored_run = MeasureRun.objects.get(pk=outcome.run_id)
    assert stored_run.patients >= 2
    assert stored_run.version == "CMS165v13"  # the 2025 version, chosen by the period


@needs_deck
def test_an_episode_based_measure_stores_encounter_counts(loaded, team):
    patient = b.patient(birth_date=dt.date(1970, 1, 1), mrn_site=team.pc_site)
    for day in ("2025-02-03", "2025-09-10"):
        b.encounter(
            patient=patient,
            program=team.pc_program,
            start=at(day),
            end=at(day),
            status="finished",
            type_system="http://www.ama-assn.org/go/cpt",
            type_code="99213",
        )

    [outcome] = run.run_measures(by=None, keys=["CMS68"], period=PERIOD, store=True)

    # CMS68 counts encounters: the two loaded patients' visits and this patient's two
    counts = outcome.counts["group-1"]
    assert counts["initial-population"] == 4 and counts["denominator"] == 4
    assert counts["numerator"] == 0
    row = MeasurePatientResult.objects.get(run_id=outcome.run_id, patient=patient)
    assert row.populations["initial-population"] == 2
    assert row.in_initial_population is True


@needs_deck
def test_the_database_engine_agrees_with_duckdb(loaded):
    native = "postgres" if connection.vendor == "postgresql" else "sqlite"

    [on_duckdb] = run.run_measures(by=None, keys=["CMS165"], period=PERIOD, store=True)
    [in_place] = run.run_measures(
        by=None, keys=["CMS165"], period=PERIOD, engine=native, store=True
    )

    assert places(on_duckdb.run_id) == places(in_place.run_id)


@needs_deck
def test_the_command_runs_every_measure(loaded, capsys):
    code = main(["measure", "run", "--all", "--period", "2025-01-01..2025-12-31", "--store"])

    out = capsys.readouterr().out
    assert code == 0
    assert "CMS165v13" in out and "stored as run" in out
    assert MeasureRun.objects.count() >= 6


@needs_deck
def test_evaluate_reads_the_operational_database(loaded, capsys):
    import orjson

    controlled, uncontrolled = loaded

    code = main(
        ["measure", "evaluate", "CMS165", "--source", "db", "--period", "2025-01-01..2025-12-31"]
    )

    doc = orjson.loads(capsys.readouterr().out)
    numerator = {p["id"]: p["groups"][0]["populations"]["numerator"] for p in doc["patients"]}
    assert code == 0
    assert numerator[str(controlled.pk)] == 1
    assert numerator[str(uncontrolled.pk)] == 0


def test_the_engine_must_match_the_database(team, capsys):
    other = "sqlite" if connection.vendor == "postgresql" else "postgres"

    assert main(["measure", "run", "CMS165", "--engine", other, "--valuesets", "/nonexistent"]) == 2
    assert "tandem: error:" in capsys.readouterr().err


def test_it_refuses_a_malformed_period(team, capsys):
    assert main(["measure", "run", "--all", "--period", "2025-13-01..2025-12-31"]) == 2
    assert "--period" in capsys.readouterr().err


class Interrupted(Exception):
    pass


@needs_deck
def test_a_run_that_fails_midway_stores_nothing(loaded):
    written = []

    def fail_on_the_second(key: str) -> None:
        if key == "CMS122":
            written.append(MeasureRun.objects.count())
            raise Interrupted(key)

    with pytest.raises(Interrupted):
        run.run_measures(
            by=None,
            keys=["CMS165", "CMS122"],
            period=PERIOD,
            store=True,
            advance=fail_on_the_second,
        )

    assert written == [2]  # both runs were written when it failed ...
    assert not MeasureRun.objects.exists()  # ... and rolled back with the run
    assert not MeasurePatientResult.objects.exists()


@needs_deck
def test_the_analytic_file_is_removed_after_the_run(loaded, settings):
    run.run_measures(by=None, keys=["CMS165"], period=PERIOD, store=False)

    assert list((settings.VAR_DIR / "tmp").iterdir()) == []


@pytest.fixture
def synthetic(db):
    from tandem.synth.database import write_population

    main(["valuesets", "load", str(shared.VALUESETS)])
    write_population(patients=120, seed=11, start=dt.date(2023, 1, 1), end=dt.date(2025, 12, 31))


def stored_places(outcomes) -> dict[str, dict]:
    return {
        o.measure: {
            (r.patient_id, r.group): (r.populations, r.evidence, r.reasons, r.strata)
            for r in MeasurePatientResult.objects.filter(run_id=o.run_id)
        }
        for o in outcomes
    }


@needs_deck
def test_the_streamed_duckdb_run_matches_the_in_memory_engine(synthetic):
    keys = list(definitions.REGISTRY)

    on_file = run.run_measures(by=None, keys=keys, period=PERIOD, store=True)
    in_memory = run.run_measures(by=None, keys=keys, period=PERIOD, engine="memory", store=True)

    assert [(o.measure, o.counts, o.skipped) for o in on_file] == [
        (o.measure, o.counts, o.skipped) for o in in_memory
    ]
    assert sum(o.counts.get("group-1", {}).get("initial-population", 0) for o in on_file) > 0
    places_on_file, places_in_memory = stored_places(on_file), stored_places(in_memory)
    assert places_on_file == places_in_memory
