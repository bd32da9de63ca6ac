"""Value sets load from FHIR expansions into the database."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tandem.cli import main
from tandem.terminology.models import ValueSet, ValueSetCode
from tests import shared

pytestmark = pytest.mark.django_db


def write_valueset(path: Path, oid: str, codes: list[str]) -> Path:
    resource = {
        "resourceType": "ValueSet",
        "id": oid,
        "url": f"http://cts.nlm.nih.gov/fhir/ValueSet/{oid}",
        "name": "TestSet",
        "version": "1",
        "expansion": {
            "contains": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": c} for c in codes]
        },
    }
    path.write_bytes(orjson.dumps(resource))
    return path


def test_it_loads_a_valueset_file(tmp_path, capsys):
    write_valueset(tmp_path / "vs.json", "1.2.3.4", ["F20.9", "F25.0"])

    assert main(["valuesets", "load", str(tmp_path / "vs.json")]) == 0

    vs = ValueSet.objects.get(identifier="1.2.3.4")
    assert sorted(vs.codes.values_list("code", flat=True)) == ["F20.9", "F25.0"]
    assert "loaded 1 value sets" in capsys.readouterr().out


def test_loading_again_replaces_the_members(tmp_path):
    write_valueset(tmp_path / "vs.json", "1.2.3.4", ["F20.9", "F25.0"])
    main(["valuesets", "load", str(tmp_path)])
    write_valueset(tmp_path / "vs.json", "1.2.3.4", ["F20.9"])

    main(["valuesets", "load", str(tmp_path)])

    assert ValueSetCode.objects.filter(valueset__identifier="1.2.3.4").count() == 1


def test_a_malformed_file_is_refused_with_one_line_naming_it(tmp_path, capsys):
    (tmp_path / "broken.json").write_text("{not json")

    assert main(["valuesets", "load", str(tmp_path)]) == 2

    err = capsys.readouterr().err.strip()
    assert "broken.json" in err and "\n" not in err
    assert ValueSet.objects.count() == 0


@shared.needs(shared.VALUESETS)
def test_it_loads_the_official_vsac_expansions():
    main(["valuesets", "load", str(shared.VALUESETS)])

    assert ValueSet.objects.count() >= 90
    assert ValueSetCode.objects.filter(
        valueset__identifier="2.16.840.1.113883.3.464.1003.105.12.1104", code="F20.9"
    ).exists()
