"""The eCQM expansions shipped with Tandem: exactly what the measure versions read, per year,
identical to the published content, and overridden by expansions loaded into the database."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tandem.cli import main
from tandem.measures import definitions, valuesets
from tandem.terminology import packaged
from tandem.terminology.expansions import load_directory
from tandem.terminology.queries import stored_expansions
from tests import shared

CMS_YEARS = sorted(
    {v.year for info in definitions.REGISTRY.values() for v in info.versions if v.year}
)


def _vsac_oids(year: int) -> set[str]:
    return {
        oid
        for info in definitions.REGISTRY.values()
        for v in info.versions
        if v.year == year and v.implemented
        for oid in v.valuesets
        if not oid.startswith("tandem:")
    }


@pytest.mark.parametrize("year", CMS_YEARS)
def test_each_year_ships_exactly_the_value_sets_its_measure_versions_read(year):
    shipped = {vs.oid for vs in packaged.expansions(year)}
    assert shipped == _vsac_oids(year), (
        "rebuild with: tandem valuesets package --year "
        f"{year} --from <the CQF expansions of {year}>"
    )
    assert all(vs.codes for vs in packaged.expansions(year))


@pytest.mark.parametrize("year", CMS_YEARS)
def test_every_implemented_version_runs_on_the_shipped_value_sets(year):
    vs = valuesets.for_year(year)
    for info in definitions.REGISTRY.values():
        for v in info.versions:
            if v.implemented and v.year in (year, None):
                valuesets.require(v, vs)  # raises naming any missing


@pytest.mark.parametrize("year", CMS_YEARS)
def test_the_shipped_data_records_its_source_and_licence(year):
    source = packaged.source(year)
    assert source["licence"] == "CC0-1.0"
    assert source["repository"].startswith("https://github.com/cqframework/")
    assert source["commit"]


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_shipped_codes_are_the_published_expansions(year):
    folder = shared.VALUESETS_BY_YEAR[year]
    if not folder.is_dir():
        pytest.skip(f"{folder} not found: the project's shared folder is not here")
    published = {vs.oid: vs.codes for vs in load_directory(folder)}
    for vs in packaged.expansions(year):
        assert vs.codes == published[vs.oid], vs.oid


def test_a_year_before_the_first_shipped_uses_the_first_and_a_later_one_the_newest():
    years = packaged.years()
    assert valuesets.shipped_year(years[0] - 5) == years[0]
    assert valuesets.shipped_year(years[-1] + 3) == years[-1]
    assert valuesets.shipped_year(None) == years[-1]


def test_a_missing_value_set_is_named_not_evaluated_as_empty():
    version = definitions.get("CMS122").versions[0]
    some = sorted(version.valuesets)[0]
    vs = valuesets.ValueSets(
        [e for e in packaged.expansions(2025) if e.oid != some], local=valuesets.codelist_entries()
    )
    with pytest.raises(valuesets.MissingValueSets) as raised:
        valuesets.require(version, vs)
    message = str(raised.value)
    assert "\n" not in message and version.id in message and some in message


def test_build_writes_the_same_bytes_for_the_same_input(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _write(src / "a.json", "1.2.3.4", "1", ["A1", "B2"])
    first, second = tmp_path / "one.json.gz", tmp_path / "two.json.gz"
    assert packaged.build(2099, src, {"1.2.3.4", "9.9.9"}, out=first) == (1, ["9.9.9"])
    packaged.build(2099, src, {"1.2.3.4"}, out=second)
    assert first.read_bytes() == second.read_bytes()


def _write(path: Path, oid: str, version: str, codes: list[str]) -> None:
    path.write_bytes(
        orjson.dumps(
            {
                "resourceType": "ValueSet",
                "id": oid,
                "url": f"http://cts.nlm.nih.gov/fhir/ValueSet/{oid}",
                "name": "Test",
                "version": version,
                "expansion": {
                    "contains": [{"system": "http://loinc.org", "code": c} for c in codes]
                },
            }
        )
    )


@pytest.mark.django_db
def test_loaded_expansions_are_kept_by_version_and_take_precedence(tmp_path, capsys):
    cms122 = definitions.get("CMS122").versions[0]
    oid = sorted(o for o in cms122.valuesets if not o.startswith("tandem:"))[0]
    _write(tmp_path / "old.json", oid, "2020", ["OLD-1"])
    assert main(["valuesets", "load", str(tmp_path / "old.json")]) == 0
    _write(tmp_path / "new.json", oid, "2026-05", ["NEW-1"])
    assert main(["valuesets", "load", str(tmp_path / "new.json"), "--year", "2026"]) == 0
    assert "loaded 1 value sets for 2026" in capsys.readouterr().out

    from tandem.terminology.models import ValueSet

    assert sorted(ValueSet.objects.filter(identifier=oid).values_list("version", flat=True)) == [
        "2020",
        "2026-05",
    ]
    # 2026: the version loaded for 2026; 2025: the one loaded for any year; both win over the
    # shipped expansions.
    assert valuesets.for_year(2026, stored=stored_expansions(2026))[oid] == {
        ("http://loinc.org", "NEW-1")
    }
    assert valuesets.for_year(2025, stored=stored_expansions(2025))[oid] == {
        ("http://loinc.org", "OLD-1")
    }
    assert valuesets.for_year(2025)[oid] != {("http://loinc.org", "OLD-1")}  # shipped


@pytest.mark.django_db
def test_load_refuses_a_year_that_is_not_one(tmp_path, capsys):
    _write(tmp_path / "a.json", "1.2.3", "1", ["X"])
    with pytest.raises(SystemExit) as exited:
        main(["valuesets", "load", str(tmp_path / "a.json"), "--year", "26"])
    assert exited.value.code == 2
    assert "not a performance year" in capsys.readouterr().err
