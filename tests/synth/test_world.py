"""The care system for 3, 4 and more sites; configuration checks."""

from __future__ import annotations

import datetime as dt

import pytest

from tandem.core.lib.npi import is_valid_npi
from tandem.synth.generator import Generator, SynthConfig, default_period
from tests.synth.conftest import END, START


@pytest.mark.parametrize(("sites", "pc_clinics"), [(3, 1), (4, 1), (7, 3)])
def test_every_layout_has_primary_care_a_cmhc_a_part2_program_and_a_hospital(
    sites: int, pc_clinics: int
) -> None:
    gen = Generator(SynthConfig(patients=300, seed=1, start=START, end=END, sites=sites))
    w = gen.world
    kinds = [s.kind for s in w.sites]
    assert len(w.sites) == sites
    assert kinds.count("primary-care") == pc_clinics
    assert {"cmhc", "hospital"} <= set(kinds)
    assert [p.kind for p in w.programs if p.is_part2] == ["sud"]
    assert all(s.go_live is not None for s in w.sites if s.kind in ("primary-care", "cmhc"))
    assert all(is_valid_npi(n) for n in w.prac_npi)
    assert len(set(w.prac_npi)) == len(w.prac_npi)
    [chunk] = list(gen.chunks())
    assert chunk.tables["patients"].num_rows == 300
    used = set(chunk.tables["encounters"].column("site_id").to_pylist())
    assert used <= {s.id for s in w.sites}
    assert {w.sites[w.cmhc].id, w.sites[w.hospital].id, w.sites[w.pc_sites[0]].id} <= used


def test_it_refuses_impossible_configurations() -> None:
    with pytest.raises(ValueError):
        SynthConfig(patients=-1, seed=1, start=START, end=END)
    with pytest.raises(ValueError):
        SynthConfig(patients=1, seed=1, start=END, end=START)
    with pytest.raises(ValueError):
        SynthConfig(patients=1, seed=1, start=START, end=END, sites=2)


def test_the_default_period_is_three_years_to_today_even_from_a_leap_day() -> None:
    assert default_period(dt.date(2028, 2, 29)) == (dt.date(2025, 2, 28), dt.date(2028, 2, 29))
    assert default_period(dt.date(2026, 11, 22)) == (dt.date(2023, 11, 22), dt.date(2026, 11, 22))


def test_an_empty_population_writes_empty_tables(tmp_path) -> None:
    import pyarrow.parquet as pq

    from tandem.synth.parquet import write_parquet

    write_parquet(out=tmp_path, patients=0, seed=1, start=START, end=END)
    assert pq.read_table(tmp_path / "patients.parquet").num_rows == 0
    assert pq.read_table(tmp_path / "sites.parquet").num_rows == 4
