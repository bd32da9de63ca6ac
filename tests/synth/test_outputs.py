"""Parquet output: schema conformance, determinism, references across chunk boundaries."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from tandem.measures import schema
from tandem.synth.parquet import write_parquet
from tests.synth.conftest import END, START


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_every_table_conforms_to_the_analytic_schema(small_parquet: Path) -> None:
    for name in schema.TABLES:
        table = pq.read_table(small_parquet / f"{name}.parquet")
        assert table.schema.equals(schema.arrow_schema(name)), name


def test_the_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    args = {"patients": 600, "start": START, "end": END, "chunk_size": 250}
    write_parquet(out=tmp_path / "a", seed=5, **args)
    write_parquet(out=tmp_path / "b", seed=5, **args)
    write_parquet(out=tmp_path / "c", seed=6, **args)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    differ = [n for n, h in _digest(tmp_path / "a").items() if _digest(tmp_path / "c")[n] != h]
    assert "encounters.parquet" in differ and "patients.parquet" in differ


def test_ids_are_unique_and_references_resolve_across_chunks(small_parquet: Path) -> None:
    read = lambda name: pq.read_table(small_parquet / f"{name}.parquet")  # noqa: E731
    patients = set(read("patients").column("patient_id").to_pylist())
    assert len(patients) == 2000
    encounters = read("encounters")
    enc_ids = encounters.column("encounter_id").to_pylist()
    assert len(set(enc_ids)) == len(enc_ids)
    enc_ids = set(enc_ids)
    practitioners = set(read("practitioners").column("practitioner_id").to_pylist())
    sites = set(read("sites").column("site_id").to_pylist())
    for name in schema.PATIENT_TABLES:
        table = read(name)
        assert set(table.column("patient_id").to_pylist()) <= patients, name
        if "encounter_id" in table.column_names and name != "encounters":
            refs = set(table.column("encounter_id").drop_null().to_pylist())
            assert refs <= enc_ids, name
    assert set(encounters.column("practitioner_id").drop_null().to_pylist()) <= practitioners
    assert set(encounters.column("site_id").to_pylist()) <= sites
    requests = set(read("medication_requests").column("request_id").to_pylist())
    assert set(read("medication_dispenses").column("request_id").to_pylist()) <= requests


def test_blood_pressure_is_a_panel_with_two_components(small_parquet: Path) -> None:
    obs = pq.read_table(small_parquet / "observations.parquet")
    panels = obs.filter(pc.equal(obs.column("code"), "85354-9"))
    systolic = obs.filter(pc.equal(obs.column("code"), "8480-6"))
    assert panels.num_rows == systolic.num_rows > 0
    assert set(systolic.column("panel_code").to_pylist()) == {"85354-9"}
    assert set(panels.column("observation_id").to_pylist()) == set(
        systolic.column("observation_id").to_pylist()
    )
    assert panels.column("panel_code").null_count == panels.num_rows


def test_codes_come_from_the_package_code_lists(small_parquet: Path) -> None:
    from tandem.synth.vocab import get

    vocab = get()
    known = set(zip(vocab.systems, vocab.codes, strict=True))
    for name in ("conditions", "encounters", "observations", "medication_dispenses", "procedures"):
        t = pq.read_table(small_parquet / f"{name}.parquet", columns=["system", "code"])
        pairs = set(zip(t.column("system").to_pylist(), t.column("code").to_pylist(), strict=True))
        assert pairs <= known, name
