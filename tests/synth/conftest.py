"""Shared fixtures: one small population written once per test session."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

START, END = dt.date(2023, 1, 1), dt.date(2025, 12, 31)


@pytest.fixture(scope="session")
def small_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 patients in chunks of 700, so ids and references cross chunk boundaries."""
    from tandem.synth.parquet import write_parquet

    out = tmp_path_factory.mktemp("synth") / "pq"
    write_parquet(out=out, patients=2000, seed=11, start=START, end=END, chunk_size=700)
    return out
