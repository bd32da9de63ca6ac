"""The conformance harness and the ``tandem measure`` command, on small hand-made cases."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tandem.core.lib.cli import UsageError
from tandem.measures import cli, conformance

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-05-01"}


def a_report(counts: dict[str, int], description: str = "adult, screened") -> dict:
    return {
        "resourceType": "MeasureReport",
        "contained": [
            {"resourceType": "Parameters", "parameter": [{"name": "subject", "valueString": "p1"}]}
        ],
        "extension": [{"url": conformance.DESCRIPTION_URL, "valueMarkdown": description}],
        "group": [
            {
                "population": [
                    {"code": {"coding": [{"code": c}]}, "count": n} for c, n in counts.items()
                ]
            }
        ],
    }


@pytest.fixture
def deck(tmp_path: Path) -> Path:
    case = tmp_path / "case-1"
    case.mkdir()
    (case / "Patient-p1.json").write_text(json.dumps(PATIENT))
    (case / "MeasureReport-1.json").write_text(
        json.dumps(a_report({"initial-population": 1, "denominator": 1, "numerator": 1}))
    )
    return tmp_path


def test_it_reads_expected_counts_and_description(deck):
    (case,) = conformance.load_cases(deck)
    assert case.patient_id == "p1" and case.description == "adult, screened"
    assert case.expected[0]["numerator"] == 1 and case.expected[0]["denominator-exclusion"] == 0


@pytest.mark.parametrize("batch", [True, False])
def test_it_passes_when_the_counts_agree(deck, batch):
    def evaluate(tables, period):
        assert tables["patients"].num_rows == 1
        return {"p1": [{"initial-population": 1, "denominator": 1, "numerator": 1}]}

    report = conformance.run("X", deck, evaluate, batch=batch)
    assert report.summary() == "1 passed, 0 failed"


def test_it_lists_each_population_that_differs(deck):
    report = conformance.run("X", deck, lambda t, p: {"p1": [{"initial-population": 1}]})
    assert report.summary() == "0 passed, 1 failed"
    (m1, m2) = report.mismatches
    assert (m1.group, m1.population, m1.expected, m1.got) == (1, "denominator", 1, 0)
    assert m2.population == "numerator" and "adult, screened" in m2.line()


def test_a_folder_without_cases_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no test cases"):
        conformance.load_cases(tmp_path)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tandem")
    cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_lists_the_measures(capsys):
    args = parse("measure", "list")
    assert args.func(args) == 0
    assert "CMS159" in capsys.readouterr().out


def test_cli_refuses_a_bad_period_and_an_unknown_measure(tmp_path):
    args = parse("measure", "evaluate", "CMS2", "--source", f"fhir:{tmp_path}", "--period", "2025")
    with pytest.raises(UsageError, match="--period"):
        args.func(args)
    args = parse("measure", "evaluate", "CMS999", "--source", f"fhir:{tmp_path}")
    with pytest.raises(UsageError, match="unknown measure"):
        args.func(args)


@pytest.mark.parametrize("fmt", ["json", "csv", "measurereport"])
def test_cli_evaluates_fhir_files(tmp_path, capsys, fmt):
    (tmp_path / "p.json").write_text(json.dumps(PATIENT))
    args = parse(
        "measure",
        "evaluate",
        "CMS2",
        "--source",
        f"fhir:{tmp_path}",
        "--engine",
        "memory",
        "--format",
        fmt,
    )  # the expansions shipped with Tandem: no --valuesets needed
    assert args.func(args) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        doc = json.loads(out)
        assert doc["measure"] == "CMS2" and doc["patients"][0]["id"] == "p1"
        assert doc["patients"][0]["groups"][0]["populations"]["initial-population"] == 0
    elif fmt == "csv":
        assert out.splitlines()[1].startswith("p1,group-1,0")
    else:
        bundle = json.loads(out)
        summary, individual = (e["resource"] for e in bundle["entry"])
        assert (summary["type"], individual["type"]) == ("summary", "individual")
        assert individual["subject"] == {"reference": "Patient/p1"}
        counts = {
            p["code"]["coding"][0]["code"]: p["count"] for p in individual["group"][0]["population"]
        }
        assert counts["initial-population"] == 0


def test_cli_names_a_missing_valueset_folder(tmp_path):
    args = parse(
        "measure",
        "evaluate",
        "CMS2",
        "--source",
        f"fhir:{tmp_path}",
        "--valuesets",
        str(tmp_path / "absent"),
    )
    with pytest.raises(UsageError, match="--valuesets"):
        args.func(args)


def test_cli_reads_a_parquet_source(tmp_path, capsys):
    import pyarrow.parquet as pq

    from tandem.importers.fhir import load_fhir

    (tmp_path / "fhir").mkdir()
    (tmp_path / "fhir" / "p.json").write_text(json.dumps(PATIENT))
    out = tmp_path / "parquet"
    out.mkdir()
    for name, table in load_fhir(tmp_path / "fhir").tables.items():
        pq.write_table(table, out / f"{name}.parquet")
    args = parse(
        "measure",
        "evaluate",
        "CMS165",
        "--source",
        f"parquet:{out}",
        "--engine",
        "memory",
    )
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["patients"][0]["id"] == "p1"
