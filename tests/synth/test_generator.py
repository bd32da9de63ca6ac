"""The generator takes any population size and any period of a day or more within its bounds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tandem.synth.fhir import write_fhir
from tandem.synth.generator import EARLIEST_START, LATEST_END, Generator, SynthConfig
from tandem.synth.parquet import write_parquet
from tests.synth.conftest import END, START


def _chunks(patients: int, start: dt.date, end: dt.date) -> list:
    config = SynthConfig(patients=patients, seed=5, start=start, end=end)
    return list(Generator(config, operational=True).chunks())


def test_it_generates_a_period_of_one_day(tmp_path: Path) -> None:
    start = dt.date(2025, 1, 1)
    write_parquet(out=tmp_path, patients=50, seed=1, start=start, end=start + dt.timedelta(1))
    assert pq.read_table(tmp_path / "patients.parquet").num_rows == 50


def test_it_generates_a_single_patient() -> None:
    (chunk,) = _chunks(1, START, END)
    assert chunk.tables["patients"].num_rows == 1


@pytest.mark.parametrize("patients", [1, 3, 50])
@pytest.mark.parametrize("days", [1, 7, 30, 365])
def test_small_populations_and_short_periods_generate(patients: int, days: int) -> None:
    start = dt.date(2025, 1, 1)
    (chunk,) = _chunks(patients, start, start + dt.timedelta(days))
    assert chunk.tables["patients"].num_rows == patients


def test_a_tiny_population_writes_fhir(tmp_path: Path) -> None:
    start = dt.date(2025, 3, 1)
    write_fhir(out=tmp_path, patients=2, seed=3, start=start, end=start + dt.timedelta(1))
    assert (tmp_path / "Patient.ndjson").read_text().count("\n") == 2


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (dt.date(1, 1, 1), dt.date(2, 1, 1)),
        (EARLIEST_START - dt.timedelta(1), dt.date(1901, 1, 1)),
        (dt.date(9998, 1, 1), dt.date(9999, 12, 31)),
        (dt.date(2199, 1, 1), LATEST_END + dt.timedelta(1)),
    ],
)
def test_it_refuses_a_period_outside_its_bounds(start: dt.date, end: dt.date) -> None:
    with pytest.raises(ValueError, match="1900-01-01..2199-12-31"):
        SynthConfig(patients=1, seed=1, start=start, end=end)


def test_the_bounds_themselves_generate() -> None:
    assert _chunks(3, EARLIEST_START, dt.date(1901, 1, 1))
    assert _chunks(3, dt.date(2199, 1, 1), LATEST_END)


def test_a_long_period_keeps_summer_visits_at_their_clinic_hour() -> None:
    start = dt.date(2010, 1, 1)
    gen = Generator(SynthConfig(patients=0, seed=1, start=start, end=dt.date(2025, 12, 31)))
    day = (dt.date(2022, 7, 1) - start).days
    nine_am = gen.clock.ts(np.array([day]), 9 * 60)[0].as_py()
    assert nine_am == dt.datetime(2022, 7, 1, 13, 0)  # 09:00 EDT is 13:00 UTC
