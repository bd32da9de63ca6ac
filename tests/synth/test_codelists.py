from __future__ import annotations

from pathlib import Path

import pytest

from tandem.terminology import codelists

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def test_every_list_loads_with_a_version_and_codes() -> None:
    for key in codelists.names():
        cl = codelists.load(key)
        assert cl.version == codelists.version()
        assert len(cl) > 0, key
        assert all(c.system.startswith(("http", "urn")) and c.code for c in cl.codes), key


def test_the_smi_cohort_holds_the_product_definition() -> None:
    smi = {c.code for c in codelists.load("smi-diagnoses").codes}
    for code in (
        "F20.0",
        "F20.9",
        "F22",
        "F24",
        "F25.0",
        "F29",
        "F30.10",
        "F31.9",
        "F32.3",
        "F33.3",
    ):
        assert code in smi
    assert "F32.9" not in smi and "F33.1" not in smi


def test_antipsychotics_group_joins_oral_and_injectable_lists() -> None:
    group = codelists.load("antipsychotics")
    parts = sum(
        len(codelists.load(k))
        for k in ("antipsychotics-oral-fga", "antipsychotics-oral-sga", "antipsychotics-lai")
    )
    assert len(group) == parts
    assert (RXNORM, "1719803") in group.pairs()  # haloperidol decanoate
    assert not group.verified  # HEDIS list membership is unverified


def test_sud_list_leaves_out_nicotine() -> None:
    assert not any(c.code.startswith("F17") for c in codelists.load("sud").codes)


def test_it_refuses_an_unknown_list() -> None:
    with pytest.raises(codelists.CodeListError):
        codelists.load("no-such-list")


def test_code_lists_ship_inside_the_package() -> None:
    import json
    from importlib import resources

    folder = resources.files("tandem.terminology").joinpath("codelists")
    manifest = json.loads(folder.joinpath("manifest.json").read_text())
    for meta in manifest["lists"].values():
        assert folder.joinpath(meta["file"]).is_file()
    source = Path(codelists.__file__).read_text() + "".join(
        p.read_text() for p in Path(codelists.__file__).parent.parent.joinpath("synth").glob("*.py")
    )
    assert "/work/shared" not in source and "conformance" not in source
