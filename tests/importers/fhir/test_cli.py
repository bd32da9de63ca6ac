"""``tandem measure evaluate --source fhir:PATH`` on bad FHIR, run as a user runs it (issue 9,
item 6): one line on stderr naming file, line, resource and element, exit status 2, no
traceback and no Python internals; ``--skip-invalid`` reports each invalid resource and
evaluates the rest.

Each case runs the real command in a subprocess. The measure (TANDEM-PCENG) needs only
Tandem's own code lists, so ``--valuesets`` points at an empty folder: the tests do not need
the public eCQM expansions.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from . import builders as b
from .builders import DROP

ROOT = Path(__file__).resolve().parents[3]
INTERNALS = re.compile(r"Traceback|Error\b|object has no attribute|unhashable|NoneType")


def evaluate(source: Path, *extra: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    (cwd / "valuesets").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    env |= {"TANDEM_VAR_DIR": str(cwd / "var"), "PYTHONPATH": str(ROOT)}
    args = ["measure", "evaluate", "TANDEM-PCENG", "--source", f"fhir:{source}"]
    args += ["--engine", "memory", "--format", "csv", "--valuesets", str(cwd / "valuesets")]
    return subprocess.run(
        [sys.executable, "-m", "tandem.cli", *args, *extra],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one line of a refusal: exit status 2, nothing on stdout, no Python internals."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert not INTERNALS.search(result.stderr), result.stderr
    assert result.stdout == ""
    assert lines[0].startswith("tandem: error: ")
    return lines[0]


def bundle_with_entry(path: Path, entry) -> Path:
    doc = {"resourceType": "Bundle", "type": "collection", "entry": entry}
    path.write_bytes(orjson.dumps(doc))
    return path


CASES = {
    "resource-type-array": (
        lambda p: b.ndjson(p / "d.ndjson", b.patient(), {"resourceType": ["Patient"]}),
        r"d\.ndjson:2: resourceType must be a resource type name, not an array",
    ),
    "patient-id-number": (
        lambda p: b.ndjson(p / "d.ndjson", b.patient(id=5)),
        r"d\.ndjson:1: Patient: id must be a string, not a number",
    ),
    "bundle-entry-number": (
        lambda p: bundle_with_entry(p / "b.json", 5),
        r"b\.json: Bundle entry must be an array, not a number",
    ),
    "entry-full-url-number": (
        lambda p: bundle_with_entry(p / "b.json", [{"fullUrl": 5, "resource": b.patient(id=DROP)}]),
        r"b\.json entry 0: fullUrl must be a string, not a number",
    ),
    "observation-without-code": (
        lambda p: b.ndjson(p / "d.ndjson", b.patient(), b.observation(id="abc", code=DROP)),
        r"d\.ndjson:2: Observation/abc: code is required \(1 invalid in all, nothing loaded; "
        r"--skip-invalid loads the rest\)$",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_it_refuses_bad_fhir_in_one_line(tmp_path, case):
    make, expected = CASES[case]
    line = refused(evaluate(make(tmp_path), cwd=tmp_path))
    assert re.search(expected, line), line


def test_it_refuses_an_empty_file_in_one_line(tmp_path):
    (tmp_path / "empty.ndjson").write_bytes(b"")
    line = refused(evaluate(tmp_path / "empty.ndjson", cwd=tmp_path))
    assert line.endswith("empty.ndjson: no FHIR resources (the file is empty)")


def test_it_refuses_an_empty_directory_in_one_line(tmp_path):
    (tmp_path / "export").mkdir()
    line = refused(evaluate(tmp_path / "export", cwd=tmp_path))
    assert line.endswith("export: no FHIR files (*.json, *.ndjson, *.jsonl) in this directory")


def test_skip_invalid_reports_each_invalid_resource_and_evaluates_the_rest(tmp_path):
    path = b.ndjson(
        tmp_path / "d.ndjson",
        b.patient(id="alice"),
        b.patient(id="bob", gender=["male"]),
        b.encounter(period="2024"),
    )
    result = evaluate(path, "--skip-invalid", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"skipped invalid input: {path}:2: Patient/bob: gender must be a string, not an array",
        f"skipped invalid input: {path}:3: Encounter/enc-1: period must be an object (Period), "
        "not a string",
        "1 resources loaded; 2 invalid skipped",
    ]
    assert {line.split(",")[0] for line in result.stdout.splitlines()[1:]} == {"alice"}


def test_skip_invalid_caps_its_report_and_counts_the_rest(tmp_path):
    path = b.ndjson(tmp_path / "d.ndjson", b.patient(), *([b.observation(code=DROP)] * 25))
    result = evaluate(path, "--skip-invalid", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 22
    assert lines[20] == "skipped invalid input: ... and 5 more"
    assert lines[21] == "1 resources loaded; 25 invalid skipped"
