"""Value-set expansions: parsing, loading a directory, lookup by OID, URL and name."""

from __future__ import annotations

import orjson
import pytest

from tandem.measures.valuesets import ValueSets
from tandem.terminology.expansions import (
    ExpansionError,
    ValueSetIndex,
    load_directory,
    load_file,
    parse_expansion,
)
from tests import shared

VALUESETS = shared.VALUESETS
needs_deck = shared.needs(VALUESETS)

MDD = "2.16.840.1.113883.3.67.1.101.3.2444"
VSAC = "http://cts.nlm.nih.gov/fhir/ValueSet/"


def a_valueset(**over):
    vs = {
        "resourceType": "ValueSet",
        "id": "2.16.840.1.999.1",
        "url": VSAC + "2.16.840.1.999.1",
        "name": "TinySet",
        "version": "20240101",
        "expansion": {
            "contains": [
                {"system": "http://loinc.org", "code": "1-8"},
                {
                    "display": "a grouper without a code",
                    "contains": [{"system": "http://snomed.info/sct", "code": "22"}],
                },
            ]
        },
    }
    vs.update(over)
    return vs


def test_it_flattens_nested_contains():
    exp = parse_expansion(a_valueset())
    assert exp.oid == exp.id == "2.16.840.1.999.1"
    assert exp.codes == frozenset({("http://loinc.org", "1-8"), ("http://snomed.info/sct", "22")})
    assert ("http://loinc.org", "1-8") in exp and len(exp) == 2


def test_expansions_are_immutable():
    exp = parse_expansion(a_valueset())
    with pytest.raises(AttributeError):
        exp.name = "other"  # type: ignore[misc]


def test_it_refuses_a_valueset_without_expansion():
    with pytest.raises(ExpansionError, match="has no expansion"):
        parse_expansion(a_valueset(expansion=None), source="x.json")


def test_a_malformed_file_is_one_line_naming_the_file(tmp_path):
    bad = tmp_path / "valueset-bad.json"
    bad.write_bytes(b'{"resourceType": "ValueSet",\n "url": }')
    with pytest.raises(ExpansionError, match=r"valueset-bad\.json: not valid JSON") as exc:
        load_file(bad)
    assert "\n" not in str(exc.value)


def test_a_bundle_of_valuesets_loads(tmp_path):
    bundle = {"resourceType": "Bundle", "entry": [{"resource": a_valueset()}]}
    (tmp_path / "b.json").write_bytes(orjson.dumps(bundle))
    assert [e.name for e in load_directory(tmp_path)] == ["TinySet"]


def test_index_resolves_oid_url_versioned_url_and_name():
    index = ValueSetIndex([parse_expansion(a_valueset())])
    for key in (
        "2.16.840.1.999.1",
        VSAC + "2.16.840.1.999.1",
        VSAC + "2.16.840.1.999.1|2024",
        "TinySet",
    ):
        assert index.resolve(key).name == "TinySet"
    with pytest.raises(KeyError):
        index.resolve("nope")


def test_value_sets_mapping_includes_local_code_lists():
    vs = ValueSets(
        [parse_expansion(a_valueset())], local={"tandem:phq9": [("http://loinc.org", "44261-6")]}
    )
    assert vs["tandem:phq9"] == {("http://loinc.org", "44261-6")}
    assert "2.16.840.1.999.1" in vs and len(vs) == 2


@needs_deck
def test_it_loads_the_public_expansions_and_resolves_the_mistyped_depression_url():
    vs = ValueSets.from_directories(VALUESETS)
    assert len(vs) == len(list(VALUESETS.glob("*.json")))
    wrong = VSAC + "2.16.840.113883.3.67.1.101.3.2444"
    assert vs[wrong] == vs[MDD] == vs[VSAC + MDD]
    assert ("http://hl7.org/fhir/sid/icd-10-cm", "F32.9") in vs[MDD]
    assert vs.expansion(MDD).name == "MajorDepressionIncludingRemission"


@needs_deck
def test_load_adds_tandem_code_lists_and_caches():
    from tandem.measures import valuesets

    vs = valuesets.load(VALUESETS)
    assert vs is valuesets.load(VALUESETS)
    local = [k for k in vs if k.startswith("tandem:")]
    assert local and all(vs[k] for k in local)


def test_load_names_a_missing_directory(tmp_path):
    from tandem.measures import valuesets

    with pytest.raises(ExpansionError, match="not a directory"):
        valuesets.load(tmp_path / "absent")
