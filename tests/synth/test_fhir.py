"""FHIR R4 NDJSON output: parses, references resolve, the project's importer reads it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tandem.synth.fhir import write_fhir
from tests.synth.conftest import END, START


@pytest.fixture(scope="module")
def fhir_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fhir")
    write_fhir(out=out, patients=300, seed=9, start=START, end=END)
    return out


def _resources(folder: Path):
    for path in sorted(folder.glob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            yield path.stem, orjson.loads(line)


def _references(node, found: list[str]) -> list[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                found.append(value)
            else:
                _references(value, found)
    elif isinstance(node, list):
        for item in node:
            _references(item, found)
    return found


def test_every_line_is_a_resource_of_its_file_type(fhir_dir: Path) -> None:
    types = set()
    for file_type, res in _resources(fhir_dir):
        assert res["resourceType"] == file_type
        assert res["id"]
        types.add(file_type)
    expected = {
        "Patient",
        "Practitioner",
        "Organization",
        "Encounter",
        "Condition",
        "Observation",
        "MedicationRequest",
        "MedicationDispense",
        "Procedure",
        "ServiceRequest",
        "Coverage",
    }
    assert expected <= types


def test_every_reference_resolves(fhir_dir: Path) -> None:
    ids = set()
    refs: list[str] = []
    for file_type, res in _resources(fhir_dir):
        ids.add(f"{file_type}/{res['id']}")
        _references(res, refs)
    assert refs
    assert set(refs) <= ids


def test_patients_carry_us_core_race_and_ethnicity(fhir_dir: Path) -> None:
    patient = next(res for t, res in _resources(fhir_dir) if t == "Patient")
    urls = {e["url"] for e in patient["extension"]}
    assert "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race" in urls
    assert "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity" in urls
    assert patient["gender"] in {"female", "male", "other", "unknown"}


def test_the_fhir_importer_reads_it_back(fhir_dir: Path) -> None:
    from tandem.importers.fhir.load import load_fhir

    result = load_fhir(fhir_dir)
    assert result.tables["patients"].num_rows == 300
    assert result.tables["encounters"].num_rows > 1000
    assert result.tables["medication_dispenses"].num_rows > 0
