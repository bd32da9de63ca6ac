"""The FHIR loader: every resource type the CMS decks use, Bundles, NDJSON, bad input."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import orjson
import pytest

from tandem.core.lib.cli import UsageError
from tandem.importers.fhir import load_fhir
from tandem.importers.fhir.datetimes import timestamp
from tandem.importers.fhir.reader import read
from tandem.measures import schema
from tests import shared

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def alice():
    return load_fhir([DATA / "patient-alice.json", DATA / "bundle-alice.json"])


def rows(result, table, **match):
    return [r for r in result.tables[table].to_pylist() if all(r[k] == v for k, v in match.items())]


def test_every_table_conforms_to_the_contract(alice):
    assert set(alice.tables) == set(schema.TABLES)
    for name, table in alice.tables.items():
        assert table.schema == schema.arrow_schema(name)


def test_patient_maps_omb_race_ethnicity_and_death_in_utc(alice):
    (p,) = rows(alice, "patients")
    assert p["race"] == "2106-3" and p["ethnicity"] == "2186-5"
    assert p["birth_date"] == date(1980, 2, 29)
    assert p["deceased"] is True
    assert p["death_date"] == date(2025, 3, 2)  # 22:30 at -05:00 is the next day in UTC


def test_encounter_explodes_type_codings_and_ends_a_date_only_period_at_end_of_day(alice):
    encs = rows(alice, "encounters", encounter_id="enc-1")
    assert {(e["system"], e["code"]) for e in encs} == {
        ("http://www.ama-assn.org/go/cpt", "99213"),
        ("http://snomed.info/sct", "185463005"),
    }
    e = encs[0]
    assert e["class_code"] == "AMB" and e["patient_id"] == "alice"
    assert e["start"] == datetime(2025, 2, 3, 9)
    assert e["end"] == datetime(2025, 2, 3, 23, 59, 59, 999999)
    assert e["discharge_disposition"] == "428361000124107"
    assert e["site_id"] == "org-1" and e["practitioner_id"] == "pr-1"


def test_encounter_diagnosis_sets_encounter_and_rank_on_the_condition(alice):
    (c,) = rows(alice, "conditions")
    assert c["encounter_id"] == "enc-1" and c["rank"] == 1
    assert c["category"] == "problem-list-item"
    assert (c["clinical_status"], c["verification_status"]) == ("active", "confirmed")
    assert c["onset"] == datetime(2024, 12, 1)
    assert c["abatement"] == datetime(2025, 6, 30)
    assert c["recorded"] == datetime(2024, 12, 2, 9)


def test_observation_components_become_rows_with_the_panel_code(alice):
    bp = rows(alice, "observations", observation_id="bp-1")
    assert len(bp) == 3
    systolic = next(r for r in bp if r["code"] == "8480-6")
    assert systolic["panel_code"] == "85354-9" and systolic["value_num"] == 128
    assert systolic["encounter_id"] == "enc-1" and systolic["category"] == "vital-signs"
    (panel,) = [r for r in bp if r["code"] == "85354-9"]
    assert panel["panel_code"] is None and panel["value_num"] is None


def test_observation_values_effective_and_not_done_reason(alice):
    (nd,) = rows(alice, "observations", observation_id="screen-not-done")
    assert nd["status"] == "cancelled" and nd["reason_code"] == "720834000"
    assert nd["issued"] == datetime(2025, 2, 3, 9, 30)
    (phq,) = rows(alice, "observations", observation_id="phq9")
    assert phq["value_num"] == 14.0
    assert phq["effective_end"] == datetime(2025, 2, 4, 23, 59, 59, 999999)
    (pos,) = rows(alice, "observations", observation_id="screen-pos")
    assert pos["value_code"] == "428181000124104"
    assert pos["effective_start"] == pos["effective_end"] == datetime(2025, 2, 3, 9, 20)
    (h,) = rows(alice, "observations", observation_id="housing")
    assert h["value_bool"] is False and h["effective_start"] == datetime(2025, 2, 1)


def test_medication_request_resolves_a_later_medication_and_reads_dosage(alice):
    (rx,) = rows(alice, "medication_requests", request_id="rx-ref")
    assert rx["code"] == "1094833"
    assert rx["days_supply"] == 30 and rx["quantity"] == 60 and rx["refills"] == 2
    assert rx["dose_quantity"] == 1 and rx["frequency_per_day"] == 2
    assert rx["period_start"] == datetime(2025, 2, 4)
    assert rx["reason_code"] == "F32.1" and rx["prescriber_id"] == "pr-1"
    assert rx["do_not_perform"] is False


def test_medication_request_reads_a_contained_medication(alice):
    (rx,) = rows(alice, "medication_requests", request_id="rx-contained")
    assert rx["code"] == "310385" and rx["do_not_perform"] is True
    assert rx["authored"] == datetime(2025, 3, 1, 13)


def test_dispense_administration_service_request_procedure_device(alice):
    (d,) = rows(alice, "medication_dispenses")
    assert d["days_supply"] == 30 and d["request_id"] == "rx-ref"
    assert d["when_handed_over"] == datetime(2025, 2, 5, 12)
    (a,) = rows(alice, "medication_administrations")
    assert a["effective_end"] == datetime(2025, 2, 5, 12, 5)
    (sr,) = rows(alice, "service_requests")
    assert sr["code"] == "306226009" and sr["category"] == "3457005"
    (pr,) = rows(alice, "procedures")
    assert pr["status"] == "not-done" and pr["reason_code"] == "183932001"
    (dv,) = rows(alice, "device_requests")
    assert dv["do_not_perform"] is True and dv["code"] == "58938008"


def test_coverage_claim_practitioner_and_organization(alice):
    (cov,) = rows(alice, "coverage")
    assert cov["payer"] == "payer-1" and cov["plan"] == "GOLD" and cov["end_date"] is None
    claims = rows(alice, "claims")
    assert [(c["sequence"], c["code"]) for c in claims] == [(1, "F32.1"), (2, "I10")]
    assert claims[0]["encounter_id"] == "enc-1"
    assert rows(alice, "practitioners")[0]["npi"] == "1234567893"
    assert rows(alice, "sites")[0]["name"] == "Riverside Clinic"


def test_it_reports_resource_types_it_skips(alice):
    assert alice.skipped == {"Immunization": 1}
    assert "skipped 1 Immunization" in alice.summary()


def test_ndjson_and_directories_are_read(tmp_path):
    result = load_fhir(DATA / "more.ndjson")
    assert rows(result, "patients")[0]["deceased"] is False
    (enc,) = rows(result, "encounters")
    assert enc["start"] == datetime(2025, 4, 1, 8)  # +02:00 -> UTC
    (a1c,) = rows(result, "observations")
    assert a1c["patient_id"] == "bob" and a1c["value_num"] == 9.5
    (cond,) = rows(result, "conditions")  # onsetAge / abatementAge from the birth date
    assert cond["onset"] == datetime(2010, 7, 15)
    assert cond["abatement"] == datetime(2021, 7, 14, 23, 59, 59, 999999)
    whole = load_fhir(DATA, skip_invalid=True)
    assert whole.tables["patients"].num_rows == 3  # alice, bob, carol


def test_reader_names_the_bundle_entry():
    wheres = [w for _, w in read(DATA / "bundle-alice.json")]
    assert wheres[0].endswith("bundle-alice.json entry 0")


def test_malformed_ndjson_names_file_and_line():
    with pytest.raises(UsageError, match=r"broken\.ndjson:2: not valid JSON") as exc:
        load_fhir(DATA / "bad" / "broken.ndjson")
    assert "\n" not in str(exc.value)


def test_malformed_json_file_names_file_and_line():
    with pytest.raises(UsageError, match=r"not-json\.json:2: not valid JSON"):
        load_fhir(DATA / "bad" / "not-json.json")


def test_resource_missing_a_required_element_is_refused():
    with pytest.raises(
        UsageError, match=r"encounter-no-subject\.json: Encounter/enc-x: subject is required"
    ):
        load_fhir(DATA / "bad" / "encounter-no-subject.json")


def test_skip_invalid_reports_and_loads_the_rest():
    result = load_fhir(DATA / "bad", skip_invalid=True)
    assert len(result.invalid) == 4
    assert any("broken.ndjson:2: not valid JSON" in line for line in result.invalid)
    assert any("broken.ndjson:3: Observation/o: code is required" in x for x in result.invalid)
    assert any(
        "encounter-no-subject.json: Encounter/enc-x: subject is" in x for x in result.invalid
    )
    assert rows(result, "patients")[0]["patient_id"] == "carol"


def test_small_batches_give_the_same_tables():
    a = load_fhir(DATA / "bundle-alice.json").tables
    b = load_fhir(DATA / "bundle-alice.json", batch_rows=2).tables
    for name in a:
        assert a[name].equals(b[name]), name


def test_missing_path_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        load_fhir(tmp_path / "nope")


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2025", False, datetime(2025, 1, 1)),
        ("2025", True, datetime(2025, 12, 31, 23, 59, 59, 999999)),
        ("2024-02", True, datetime(2024, 2, 29, 23, 59, 59, 999999)),
        ("2025-03-01T00:30:00+01:00", False, datetime(2025, 2, 28, 23, 30)),
        ("2025-03-01T10:00:00.123Z", False, datetime(2025, 3, 1, 10, 0, 0, 123000)),
    ],
)
def test_timestamps_are_naive_utc(text, end, expected):
    assert timestamp(text, end=end) == expected


@shared.needs(shared.DECKS)
def test_it_loads_every_case_of_the_public_decks_without_error():
    result = load_fhir(shared.DECKS / "PCSDepressionScreenAndFollowUpFHIR")
    assert result.tables["patients"].num_rows == 34
    assert not result.invalid
    assert set(result.skipped) <= {"MeasureReport"}


def test_a_transaction_bundle_entry_without_id_takes_its_urn_uuid(tmp_path):
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:7f3c",
                "resource": {"resourceType": "Patient", "birthDate": "2000-01-01"},
            },
            {
                "fullUrl": "urn:uuid:e1",
                "resource": {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {"code": "AMB"},
                    "subject": {"reference": "urn:uuid:7f3c"},
                    "period": {"start": "2025-01-02"},
                },
            },
        ],
    }
    (tmp_path / "b.json").write_bytes(orjson.dumps(bundle))
    result = load_fhir(tmp_path / "b.json")
    assert rows(result, "encounters")[0]["patient_id"] == "7f3c"
    assert rows(result, "patients")[0]["patient_id"] == "7f3c"


def test_write_parquet_streams_the_same_tables(tmp_path):
    import pyarrow.parquet as pq

    from tandem.importers.fhir import write_parquet

    sources = [DATA / "patient-alice.json", DATA / "bundle-alice.json", DATA / "more.ndjson"]
    result = write_parquet(sources, tmp_path, batch_rows=2)
    expected = load_fhir(sources).tables
    assert result.resources == 24 and result.tables == {}
    for name, table in expected.items():
        written = pq.read_table(tmp_path / f"{name}.parquet")
        assert written.schema == table.schema, name
        assert written.to_pylist() == table.to_pylist(), name
    assert not (tmp_path / "conditions.partial.parquet").exists()
