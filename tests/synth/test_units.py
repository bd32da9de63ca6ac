"""Every lab and vital the generator writes carries its LOINC code's one UCUM unit and a
plausible value, and the database, Parquet and FHIR outputs say the same (issue 9, item 9).

The expected unit and limits of each code are data: ``tandem.synth.parameters.QUANTITIES``
(with sources). Coded results (smoking status, depression screen) must carry an answer from
their code list and no number; the blood pressure panel header carries neither. Instrument
totals (PHQ-9, GAD-7, AUDIT-C) are FHIR ``valueInteger`` (no unit: ``{score}`` is implied).
"""

from __future__ import annotations

from collections import Counter

import orjson
import pyarrow.parquet as pq
import pytest

from tandem.synth.parameters import QUANTITIES
from tandem.synth.vocab import get as vocabulary
from tests.synth.conftest import END, START

PATIENTS, SEED = 3000, 31
CODED = {"72166-2": "smoking-status-values", "73832-8": "depression-screening-results"}
PANELS = {"85354-9"}

Key = tuple[str, str]  # (observation id, LOINC code)
Result = tuple[float | None, str | None, str | None]  # (value, unit, answer code)


def _problems(results: dict[Key, Result]) -> list[str]:
    """One line per kind of problem, with how many rows have it."""
    answers = {
        key: {vocabulary().codes[i] for i in vocabulary().codes_of(key)} for key in CODED.values()
    }
    found: Counter[str] = Counter()
    for (_oid, code), (value, unit, answer) in results.items():
        q = QUANTITIES.get(code)
        if q is not None:
            if unit != q.unit:
                found[f"{code} ({q.name}) in {unit!r}, expected {q.unit!r}"] += 1
            if value is None or not q.low <= value <= q.high:
                found[f"{code} ({q.name}) value outside {q.low}-{q.high} {q.unit}"] += 1
        elif code in CODED:
            if value is not None or unit or answer not in answers[CODED[code]]:
                found[f"{code}: not an answer from {CODED[code]} alone"] += 1
        elif code in PANELS:
            if value is not None or unit:
                found[f"{code}: a panel header with a value"] += 1
        else:
            found[f"{code}: an observation code with no expected unit and range"] += 1
    return [f"{n} rows: {what}" for what, n in sorted(found.items())]


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> dict[Key, Result]:
    from tandem.synth.parquet import write_parquet

    out = tmp_path_factory.mktemp("units") / "pq"
    write_parquet(out=out, patients=PATIENTS, seed=SEED, start=START, end=END)
    t = pq.read_table(out / "observations.parquet").to_pydict()
    return {
        (oid, code): (value, unit, answer)
        for oid, code, value, unit, answer in zip(
            t["observation_id"],
            t["code"],
            t["value_num"],
            t["value_unit"],
            t["value_code"],
            strict=True,
        )
    }


def _fhir_result(node: dict) -> Result:
    if "valueInteger" in node:  # an instrument's total score: the unit {score} goes unsaid
        return float(node["valueInteger"]), "{score}", None
    q = node.get("valueQuantity")
    if q is not None:
        assert q["system"] == "http://unitsofmeasure.org" and q["code"] == q["unit"], q
        return q["value"], q["unit"], None
    concept = node.get("valueCodeableConcept")
    return None, None, concept["coding"][0]["code"] if concept else None


@pytest.fixture(scope="module")
def fhir(tmp_path_factory: pytest.TempPathFactory) -> dict[Key, Result]:
    from tandem.synth.fhir import write_fhir

    out = tmp_path_factory.mktemp("units") / "fhir"
    write_fhir(out=out, patients=PATIENTS, seed=SEED, start=START, end=END)
    results: dict[Key, Result] = {}
    for line in (out / "Observation.ndjson").read_bytes().splitlines():
        r = orjson.loads(line)
        results[r["id"], r["code"]["coding"][0]["code"]] = _fhir_result(r)
        for component in r.get("component", []):
            results[r["id"], component["code"]["coding"][0]["code"]] = _fhir_result(component)
    return results


def test_every_parquet_lab_and_vital_has_its_unit_and_a_plausible_value(parquet) -> None:
    assert _problems(parquet) == []


def test_every_fhir_lab_and_vital_has_its_unit_and_a_plausible_value(fhir) -> None:
    assert _problems(fhir) == []


def test_fhir_and_parquet_carry_the_same_results(parquet, fhir) -> None:
    assert fhir == parquet


def test_hba1c_results_are_percentages(parquet) -> None:
    units = Counter(unit for (_oid, code), (_v, unit, _a) in parquet.items() if code == "4548-4")
    assert set(units) == {"%"}, units


def test_the_table_covers_exactly_the_codes_the_generator_emits(parquet) -> None:
    emitted = {code for _oid, code in parquet}
    assert set(QUANTITIES) <= emitted
    assert emitted <= set(QUANTITIES) | set(CODED) | PANELS


def test_every_database_lab_and_vital_matches_parquet(db, parquet) -> None:
    from tandem.clinical.models import Observation
    from tandem.synth.database import write_population

    write_population(patients=PATIENTS, seed=SEED, start=START, end=END)
    rows = Observation.objects.filter(
        patient__home_site__code__startswith=f"synth-{SEED}-"
    ).values_list("source_id", "code", "value_num", "value_unit", "value_code")
    stored = {
        (oid, code): (value, unit or None, answer or None)
        for oid, code, value, unit, answer in rows
    }
    assert _problems(stored) == []
    assert stored == parquet
