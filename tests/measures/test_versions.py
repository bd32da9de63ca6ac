"""Measure versions: the version whose performance period covers the period is evaluated.

The CMS eCQMs have one version per performance year (CMS122v13 for 2025, CMS122v14 for 2026);
Tandem's HEDIS-style and own measures one version for any period. Checked at the registry, at the command line (one line on stderr, exit 2) and in the
stored results.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import re

import pytest

from tandem.cli import main
from tandem.measures import definitions
from tandem.measures.definitions import versions
from tandem.measures.language import Measure
from tandem.terminology.expansions import canonical_url
from tests import shared

D = dt.date
YEAR_2025 = (D(2025, 1, 1), D(2025, 12, 31))
YEAR_2026 = (D(2026, 1, 1), D(2026, 12, 31))
SHARED = shared.SHARED / "conformance"
MEASURES_2025 = SHARED / "ecqm-qicore-2024" / "measures"
MEASURES_2026 = SHARED / "ecqm-2026" / "measures"
needs_shared = pytest.mark.skipif(
    not MEASURES_2025.is_dir() or not MEASURES_2026.is_dir(),
    reason=f"the published eCQM Measure resources are not at {SHARED}",
)
CMS_2025 = {
    "CMS2": "CMS2v14",
    "CMS159": "CMS159v13",
    "CMS128": "CMS128v13",
    "CMS165": "CMS165v13",
    "CMS122": "CMS122v13",
    "CMS138": "CMS138v13",
    "CMS50": "CMS50v13",
    "CMS68": "CMS68v14",
    "CMS69": "CMS69v13",
    "CMS137": "CMS137v13",
    "CMS177": "CMS177v13",
    "CMS347": "CMS347v8",
}
CMS_2026 = {
    "CMS2": "CMS2v15",
    "CMS159": "CMS159v14",
    "CMS128": "CMS128v14",
    "CMS165": "CMS165v14",
    "CMS122": "CMS122v14",
    "CMS138": "CMS138v14",
    "CMS50": "CMS50v14",
    "CMS68": "CMS68v15",
    "CMS69": "CMS69v14",
    "CMS137": "CMS137v14",
    "CMS177": "CMS177v14",
    "CMS347": "CMS347v9",
}


# --- choosing a version at the registry ------------------------------------------------------


@pytest.mark.parametrize(
    "period",
    [
        YEAR_2025,
        (D(2025, 1, 1), D(2025, 1, 1)),  # the first day of the performance period
        (D(2025, 12, 31), D(2025, 12, 31)),  # the last day
        (D(2025, 4, 1), D(2025, 6, 30)),  # a quarter
    ],
)
@pytest.mark.parametrize("key", list(CMS_2025))
def test_it_chooses_the_2025_version_for_a_period_within_2025(key, period):
    assert definitions.select(key, period).id == CMS_2025[key]


@pytest.mark.parametrize(
    "period", [(D(2024, 12, 31), D(2024, 12, 31)), (D(2024, 1, 1), D(2024, 12, 31))]
)
def test_it_refuses_a_period_no_version_covers(period):
    with pytest.raises(definitions.NoVersionForPeriod) as raised:
        definitions.select("CMS122", period)

    message = str(raised.value)
    assert "CMS122 has no version for the 2024 performance period" in message
    assert "CMS122v13 for 2025" in message


@pytest.mark.parametrize(
    "period",
    [
        (D(2025, 12, 31), D(2026, 1, 1)),
        (D(2025, 7, 1), D(2026, 6, 30)),
        (D(2024, 1, 1), YEAR_2025[1]),
    ],
)
def test_it_refuses_a_period_spanning_two_performance_years(period):
    with pytest.raises(definitions.PeriodSpansPerformanceYears, match="more than one performance"):
        definitions.select("CMS2", period)


@pytest.mark.parametrize(
    "period",
    [YEAR_2026, (D(2026, 1, 1), D(2026, 1, 1)), (D(2026, 12, 31), D(2026, 12, 31))],
)
@pytest.mark.parametrize("key", list(CMS_2026))
def test_it_chooses_the_2026_version_for_a_period_within_2026(key, period):
    chosen = definitions.select(key, period)
    assert chosen.id == CMS_2026[key] and chosen.implemented
    assert chosen.measure().id == key


def test_every_cms_measure_has_a_2025_and_a_2026_version():
    cms = {k: i for k, i in definitions.REGISTRY.items() if i.versions[0].year}
    assert set(cms) == set(CMS_2025) == set(CMS_2026)
    for key, info in cms.items():
        assert [v.id for v in info.versions] == [CMS_2025[key], CMS_2026[key]]


def test_an_explicit_version_is_used_whatever_the_period():
    assert definitions.select("CMS122", YEAR_2026, "CMS122v13").id == "CMS122v13"
    assert definitions.select("cms122", (D(2025, 7, 1), D(2026, 6, 30)), "cms122v13").id == (
        "CMS122v13"
    )
    assert definitions.select("CMS122v13", YEAR_2026).id == "CMS122v13"  # the id as measure


def test_it_refuses_an_unknown_version_and_a_version_of_another_measure():
    with pytest.raises(definitions.UnknownVersion, match=r"unknown version 'CMS122v99' of CMS122"):
        definitions.select("CMS122", YEAR_2025, "CMS122v99")
    with pytest.raises(definitions.UnknownVersion, match="CMS2v14 is a version of CMS2, not of"):
        definitions.select("CMS122", YEAR_2025, "CMS2v14")
    with pytest.raises(definitions.UnknownVersion, match="name different versions"):
        definitions.select("CMS122v13", YEAR_2025, "CMS122v14")


def test_it_refuses_a_version_that_is_not_implemented():
    listed = (
        versions.MeasureVersion("Xv1", "X", 2025, lambda: Measure(id="X", groups=[]), "X", "u"),
        versions.MeasureVersion("Xv2", "X", 2026, None, "X2026", "https://x"),
    )
    with pytest.raises(definitions.NoVersionForPeriod, match="Xv2 .* not implemented yet"):
        versions.choose("X", listed, YEAR_2026, "Xv2")
    with pytest.raises(definitions.NoVersionForPeriod, match="Xv2 .* not implemented yet"):
        versions.choose("X", listed, YEAR_2026)


def test_version_errors_are_one_line_usage_errors():
    from tandem.core.lib.cli import UsageError

    for args in [
        ("CMS122", (D(2025, 7, 1), D(2026, 6, 30))),
        ("CMS122", YEAR_2025, "nope"),
        ("CMS122", (D(2030, 1, 1), D(2030, 12, 31))),
    ]:
        with pytest.raises(UsageError) as raised:
            definitions.select(*args)
        assert "\n" not in str(raised.value)


def test_it_chooses_by_performance_year_once_two_versions_are_implemented():
    """The mechanism the 2026 versions will use: each year gets its own version's logic."""

    def build(name: str):
        return lambda: Measure(id="X", title=name, groups=[])

    both = [
        versions.MeasureVersion("Xv1", "X", 2025, build("2025"), "X2025", "https://x"),
        versions.MeasureVersion("Xv2", "X", 2026, build("2026"), "X2026", "https://x"),
    ]

    assert versions.choose("X", both, (D(2025, 12, 31), D(2025, 12, 31))).id == "Xv1"
    assert versions.choose("X", both, (D(2026, 1, 1), D(2026, 1, 1))).id == "Xv2"
    assert versions.choose("X", both, YEAR_2026).measure().title == "2026"
    with pytest.raises(versions.PeriodSpansPerformanceYears):
        versions.choose("X", both, (D(2025, 12, 31), D(2026, 1, 1)))


@pytest.mark.parametrize(
    "key", [k for k in definitions.REGISTRY if not k.startswith("CMS")], ids=str
)
def test_hedis_style_and_tandem_measures_have_one_version_for_any_period(key):
    (version,) = definitions.REGISTRY[key].versions

    assert version.id == f"{key}v1" and version.period is None
    assert definitions.select(key, (D(2019, 7, 1), D(2027, 6, 30))) is version
    assert definitions.select(key, YEAR_2026) is version


def test_measures_are_still_found_by_key_library_name_and_version_id():
    info = definitions.REGISTRY["CMS122"]

    for name in (
        "CMS122",
        "cms122",
        "DiabetesGlycemicStatusAssessmentGreaterThan9PercentFHIR",
        "CMS122FHIRDiabetesAssessGT9Pct",
        "CMS122v13",
    ):
        assert definitions.get(name) is info
    assert definitions.measure("CMS122") is definitions.measure("CMS122v14")  # newest implemented
    with pytest.raises(KeyError):
        definitions.get("CMS999")


def test_each_version_lists_the_value_sets_its_logic_reads():
    cms122 = definitions.find_version("CMS122v13")
    ssd = definitions.find_version("SSDv1")

    assert "2.16.840.1.113883.3.464.1003.103.12.1001" in cms122.valuesets  # Diabetes
    assert (
        "http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113883.3.464.1003.103.12.1001"
        in cms122.valueset_urls
    )
    assert ssd.valueset_urls and all(u.startswith("tandem:") for u in ssd.valueset_urls)


# --- the registry against the published Measure resources -------------------------------------


def _published(version: definitions.MeasureVersion) -> dict:
    folder = MEASURES_2025 if version.year == 2025 else MEASURES_2026
    return json.loads((folder / f"{version.library}.json").read_text())


def _identifier(measure: dict, kind: str) -> str:
    for ident in measure["identifier"]:
        if any(c.get("code") == kind for c in ident.get("type", {}).get("coding", [])):
            return ident["value"]
    raise KeyError(kind)


CMS_VERSIONS = [v for k in CMS_2025 for v in definitions.REGISTRY[k].versions]


@needs_shared
@pytest.mark.parametrize("version", CMS_VERSIONS, ids=lambda v: v.id)
def test_each_cms_version_is_the_published_measure_for_its_year(version):
    published = _published(version)

    assert published["name"] == version.library
    assert published["version"] == version.published_version
    assert _identifier(published, "version-specific") == version.identifier
    assert published["effectivePeriod"] == {
        "start": f"{version.year}-01-01",
        "end": f"{version.year}-12-31",
    }
    # "CMS122v13", or "CMS 347v8" with a space in some published texts
    derived = re.findall(r"derived from the QDM-based measure:? CMS ?(\d+v\d+)", published["usage"])
    assert [f"CMS{d}" for d in derived] == [version.id]


PAYER_TYPE = "2.16.840.1.114222.4.11.3591"  # supplemental data, not logic


@needs_shared
@pytest.mark.parametrize("version", CMS_VERSIONS, ids=lambda v: v.id)
def test_the_value_sets_are_among_the_ones_the_published_measure_references(version):
    text = json.dumps(_published(version))
    published = {
        canonical_url(u)
        for u in re.findall(r"http://cts\.nlm\.nih\.gov/fhir/ValueSet/[0-9.]+", text)
    }

    ours = set(version.valueset_urls)
    assert ours <= published
    assert {u.rsplit("/", 1)[1] for u in published - ours} <= {PAYER_TYPE}


# --- the command line: one line on stderr, exit 2 -----------------------------------------------


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tandem: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--period", "2025-07-01..2026-06-30"], "spans more than one performance year"),
        (["--period", "2024-01-01..2024-12-31"], "no version for the 2024 performance period"),
        (["--version", "CMS122v99"], "unknown version 'CMS122v99' of CMS122"),
        (["--version", "CMS2v14"], "CMS2v14 is a version of CMS2"),
    ],
)
@pytest.mark.parametrize("command", ["evaluate", "conformance"])
def test_the_commands_refuse_a_version_they_cannot_choose(tmp_path, capsys, command, argv, says):
    where = ["CMS122", "--source", f"fhir:{tmp_path}"]
    if command == "conformance":
        where = ["--measure", "CMS122", str(tmp_path)]

    assert main(["measure", command, *where, *argv]) == 2
    assert says in one_error_line(capsys)


def test_a_version_whose_value_sets_are_missing_is_refused_naming_them(tmp_path, capsys):
    """--valuesets names a folder without the expansions CMS122 reads: nothing is evaluated
    with empty value sets."""
    empty = tmp_path / "vs"
    empty.mkdir()
    where = ["CMS122", "--source", f"fhir:{tmp_path}", "--valuesets", str(empty)]

    assert main(["measure", "evaluate", *where, "--period", "2025-01-01..2025-12-31"]) == 2
    line = one_error_line(capsys)
    assert "CMS122v13 cannot be evaluated" in line and "value sets not loaded" in line
    assert "2.16.840.1.113883.3.464.1003.103.12.1001 (Diabetes)" in line


def test_evaluate_reports_the_version_it_chose(tmp_path, capsys):
    """With no --valuesets, the expansions shipped with Tandem for the version's year."""
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-05-01"}
    (tmp_path / "p.json").write_text(json.dumps(patient))
    base = ["measure", "evaluate", "CMS2", "--source", f"fhir:{tmp_path}", "--engine", "memory"]

    assert main([*base, "--period", "2025-03-01..2025-03-31"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "CMS2v14"

    assert main([*base, "--period", "2026-01-01..2026-12-31"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "CMS2v15"

    assert main([*base, "--period", "2026-01-01..2026-12-31", "--version", "CMS2v14"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["version"] == "CMS2v14"
    assert "note: CMS2v14 is for the 2025-01-01..2025-12-31 performance period" in captured.err

    assert main([*base, "--format", "measurereport"]) == 0
    summary = json.loads(capsys.readouterr().out)["entry"][0]["resource"]
    assert summary["measure"] == (
        "https://madie.cms.gov/Measure/PCSDepressionScreenAndFollowUpFHIR|0.2.000"
    )


@needs_shared
def test_conformance_evaluates_the_2025_version_for_the_decks_period(capsys):
    deck = SHARED / "ecqm-qicore-2024" / "tests" / "ControllingHighBloodPressureFHIR"

    code = main(["measure", "conformance", "--measure", "CMS165", "--engine", "memory", str(deck)])

    assert code == 0
    assert capsys.readouterr().out.splitlines()[-1] == "CMS165v13 on memory: 60 passed, 0 failed"


def test_measure_list_shows_every_version_and_its_period(capsys):
    assert main(["measure", "list"]) == 0

    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    by_version = {row[1]: row for row in rows}
    assert set(by_version) == {v.id for i in definitions.REGISTRY.values() for v in i.versions}
    assert by_version["CMS122v13"][:3] == ["CMS122", "CMS122v13", "2025-01-01..2025-12-31"]
    assert by_version["CMS122v14"][:3] == ["CMS122", "CMS122v14", "2026-01-01..2026-12-31"]
    assert "not yet implemented" not in " ".join(by_version["CMS122v14"])
    assert by_version["SSDv1"][:4] == ["SSD", "SSDv1", "any", "period"]


# --- stored results record the version -------------------------------------------------------


@pytest.mark.django_db
def test_a_stored_run_records_the_version_it_evaluated(team):
    from tandem.measures import run
    from tandem.measures.models import MeasureRun

    [outcome] = run.run_measures(by=None, keys=["SSD"], period=YEAR_2025, store=True)

    assert outcome.version == "SSDv1"
    assert MeasureRun.objects.get(pk=outcome.run_id).version == "SSDv1"


@pytest.mark.django_db
def test_running_every_measure_skips_those_without_a_version_for_the_period(team):
    from tandem.measures import run

    outcomes = run.run_measures(
        by=None, keys=["CMS165", "SSD"], period=(D(2024, 1, 1), D(2024, 12, 31)),
        skip_unversioned=True,
    )  # fmt: skip

    skipped, ran = outcomes
    assert skipped.skipped and "CMS165 has no version for the 2024" in skipped.skipped
    assert ran.version == "SSDv1" and not ran.skipped
    with pytest.raises(definitions.NoVersionForPeriod):
        run.run_measures(by=None, keys=["CMS165"], period=(D(2024, 1, 1), D(2024, 12, 31)))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["CMS165", "--period", "2024-01-01..2024-12-31"], "no version for the 2024"),
        (["--all", "--period", "2025-07-01..2026-06-30"], "spans more than one performance"),
        (["--version", "CMS122v99"], "unknown measure version 'CMS122v99'"),
        (["CMS122v13", "--version", "CMS122v14"], "two versions of CMS122"),
    ],
)
def test_measure_run_refuses_a_version_it_cannot_choose(team, capsys, argv, says):
    assert main(["measure", "run", *argv]) == 2
    assert says in one_error_line(capsys)


@pytest.mark.django_db
def test_runs_stored_before_versions_get_the_2025_version_of_their_measure(team):
    from django.apps import apps
    from django.utils import timezone

    from tandem.measures.models import MeasureRun

    migration = importlib.import_module(
        "tandem.measures.migrations.0003_existing_runs_are_2025_versions"
    )
    now = timezone.now()
    common = dict(
        period_start=YEAR_2025[0], period_end=YEAR_2025[1], engine="duckdb", started_at=now,
        finished_at=now, patients=0, summary=[],
    )  # fmt: skip
    for key in ("CMS122", "CMS2", "SSD", "TANDEM-UTIL", "RETIRED"):
        MeasureRun.objects.create(measure=key, version="", **common)

    migration.record_versions(apps, None)

    stored = dict(MeasureRun.objects.values_list("measure", "version"))
    assert stored == {
        "CMS122": "CMS122v13",
        "CMS2": "CMS2v14",
        "SSD": "SSDv1",
        "TANDEM-UTIL": "TANDEM-UTILv1",
        "RETIRED": "",
    }


def test_the_data_migration_gives_each_measure_its_first_version():
    """Every measure registered before versions existed, with the version that was its logic."""
    migration = importlib.import_module(
        "tandem.measures.migrations.0003_existing_runs_are_2025_versions"
    )
    mapping = migration.VERSION_OF_UNVERSIONED_RUNS

    assert len(mapping) == 20
    assert mapping == {key: definitions.REGISTRY[key].versions[0].id for key in mapping}
