"""Tandem and fqm-execution (the reference CQL engine) agree on a small synthetic population.

Runs ``benchmarks/fqm_differential.py`` (its ``run``): ``tandem synth --format fhir``, the
published 2025 logic of every CMS measure whose 2025 version is implemented evaluated by
fqm-execution (``tools/fqm``), the same export evaluated by Tandem on DuckDB; every patient must
agree on every population of every group.

Needs the shared folder (skips with a message without it, as every test that reads it), Node.js
and ``tools/fqm/node_modules`` (``npm ci --prefix tools/fqm``): without those it skips with a
message, unless ``TANDEM_REQUIRE_NODE=1`` (CI), where their absence fails.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests import shared

BENCHMARK = shared.REPOSITORY / "benchmarks" / "fqm_differential.py"
FQM = shared.REPOSITORY / "tools" / "fqm"
PATIENTS = 40
SEED = 7

pytestmark = [
    pytest.mark.slow,
    shared.needs(shared.LIBRARIES),
    shared.needs(shared.MEASURES),
    shared.needs(shared.VALUESETS),
]


@pytest.fixture(scope="module")
def differential():
    missing = None
    if shutil.which("node") is None:
        missing = "node (Node.js >= 20) is not on PATH"
    elif not (FQM / "node_modules" / "fqm-execution").is_dir():
        missing = "tools/fqm/node_modules is not installed (npm ci --prefix tools/fqm)"
    if missing:
        if os.environ.get("TANDEM_REQUIRE_NODE") == "1":
            pytest.fail(f"TANDEM_REQUIRE_NODE=1 but {missing}")
        pytest.skip(f"{missing}: the fqm-execution differential needs it")
    spec = importlib.util.spec_from_file_location("fqm_differential", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_patient_agrees_on_every_population(differential, tmp_path: Path):
    results, _ = differential.run(
        patients=PATIENTS, seed=SEED, keys=None, engine="duckdb", work=tmp_path, jobs=2
    )

    assert {c.key for c in results} >= {"CMS2", "CMS159", "CMS128", "CMS165", "CMS122", "CMS138"}
    assert [e for c in results for e in c.reference_errors] == []
    assert [c.patients for c in results] == [PATIENTS] * len(results)
    assert differential.disagreements(results) == ""
    # The population is not empty for the measures: the comparison means something.
    assert sum(c.tandem_counts.get("initial-population", 0) for c in results) > 0


def test_the_reference_engine_refuses_an_export_without_profiles(differential, tmp_path: Path):
    """fqm-execution trusts meta.profile: the export must claim QI-Core (the gap this closes)."""
    import orjson

    data = tmp_path / "fhir"
    differential.synth(data, 3, SEED)
    patients = data / "Patient.ndjson"
    lines = [orjson.loads(line) for line in patients.read_bytes().splitlines()]
    assert all(
        "http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-patient" in p["meta"]["profile"]
        for p in lines
    )
    patients.write_bytes(b"\n".join(orjson.dumps({**p, "meta": {}}) for p in lines))

    with pytest.raises(SystemExit, match="meta.profile"):
        differential.run_reference(
            data,
            ["ControllingHighBloodPressureFHIR"],
            tmp_path / "fqm.json",
            tmp_path / "fqm.log",
        )
