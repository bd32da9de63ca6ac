"""Task, AllergyIntolerance and AdverseEvent -> the tasks, allergies and adverse_events tables,
and Observation.value[x] -> observations.value_type."""

from __future__ import annotations

from datetime import datetime

import pyarrow.parquet as pq

from tandem.importers.fhir import load_fhir, write_parquet
from tandem.measures import schema
from tests.importers.fhir import builders as b
from tests.importers.fhir.builders import DROP


def load(tmp_path, *resources):
    result = load_fhir(b.ndjson(tmp_path / "data.ndjson", b.patient(), *resources))
    return {name: t.to_pylist() for name, t in result.tables.items()}


def test_a_task_gives_one_row_per_code_and_based_on_reference(tmp_path):
    task = b.task(
        code={"coding": [{"system": b.LOINC, "code": "11488-4"}, {"code": "local"}]},
        basedOn=[{"reference": "ServiceRequest/sr-1"}, {"reference": "urn:uuid:sr-2"}],
        focus={"reference": "ServiceRequest/sr-3"},
        reasonCode=b.concept(b.SNOMED, "371530004"),
        statusReason=b.concept(b.SNOMED, "183944003"),
        authoredOn="2025-03-01",
        encounter={"reference": "Encounter/enc-1"},
    )
    rows = load(tmp_path, task)["tasks"]
    assert sorted((r["code"], r["based_on_id"]) for r in rows) == [
        ("11488-4", "sr-1"),
        ("11488-4", "sr-2"),
        ("local", "sr-1"),
        ("local", "sr-2"),
    ]
    first = rows[0]
    assert first["task_id"] == "task-1" and first["patient_id"] == "alice"
    assert (first["status"], first["intent"]) == ("completed", "order")
    assert (first["reason_system"], first["reason_code"]) == (b.SNOMED, "371530004")
    assert first["status_reason_code"] == "183944003"
    assert first["focus_id"] == "sr-3" and first["encounter_id"] == "enc-1"
    assert first["authored"] == datetime(2025, 3, 1)
    assert first["execution_start"] == datetime(2025, 3, 1, 8)
    assert first["execution_end"] == datetime(2025, 3, 2, 23, 59, 59, 999999)


def test_a_task_without_based_on_or_execution_period_loads(tmp_path):
    rows = load(tmp_path, b.task(basedOn=DROP, executionPeriod=DROP))["tasks"]
    assert [(r["based_on_id"], r["execution_end"]) for r in rows] == [(None, None)]


def test_an_allergy_reads_status_type_category_and_onset(tmp_path):
    allergy = b.allergy_intolerance(
        verificationStatus=b.concept(
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed"
        ),
        type="allergy",
        category=["medication", "food"],
        recordedDate="2025-04-02T10:00:00+02:00",
        onsetPeriod={"start": "2025-04-01", "end": "2025-04-03"},
    )
    (row,) = load(tmp_path, allergy)["allergies"]
    assert row["allergy_id"] == "allergy-1" and row["patient_id"] == "alice"
    assert (row["system"], row["code"]) == (b.RXNORM, "83367")
    assert (row["clinical_status"], row["verification_status"]) == ("active", "confirmed")
    assert (row["type"], row["category"]) == ("allergy", "medication")
    assert row["onset_start"] == datetime(2025, 4, 1)
    assert row["onset_end"] == datetime(2025, 4, 3, 23, 59, 59, 999999)
    assert row["recorded"] == datetime(2025, 4, 2, 8)


def test_an_allergy_onset_date_time_is_a_point(tmp_path):
    allergy = b.allergy_intolerance(onsetPeriod=DROP, onsetDateTime="2025-04-01T10:00:00Z")
    (row,) = load(tmp_path, allergy)["allergies"]
    assert row["onset_start"] == row["onset_end"] == datetime(2025, 4, 1, 10)


def test_an_allergy_onset_age_is_the_year_of_that_age(tmp_path):
    """QICoreCommon toInterval(Age): [birth + age, birth + age + 1 year)."""
    allergy = b.allergy_intolerance(onsetPeriod=DROP, onsetAge={"value": 40, "unit": "a"})
    (row,) = load(tmp_path, allergy)["allergies"]  # alice was born 1980-02-29
    assert row["onset_start"] == datetime(2020, 2, 29)
    assert row["onset_end"] == datetime(2021, 2, 27, 23, 59, 59, 999999)


def test_an_adverse_event_reads_its_times(tmp_path):
    event = b.adverse_event(
        date="2025-05-01",
        detected="2025-05-02T09:00:00Z",
        category=[b.concept("http://terminology.hl7.org/CodeSystem/adverse-event-category", "x")],
        encounter={"reference": "Encounter/enc-1"},
    )
    (row,) = load(tmp_path, event)["adverse_events"]
    assert row["adverse_event_id"] == "ae-1" and row["patient_id"] == "alice"
    assert (row["actuality"], row["category"]) == ("actual", "x")
    assert (row["system"], row["code"]) == (b.RXNORM, "83367")
    assert row["occurred"] == datetime(2025, 5, 1)
    assert row["detected"] == datetime(2025, 5, 2, 9)
    assert row["recorded"] == datetime(2025, 5, 6, 10)
    assert row["encounter_id"] == "enc-1"


def test_observation_value_type_is_the_fhir_type_of_value_x(tmp_path):
    observations = [
        b.observation(id="q"),
        b.observation(id="i", valueQuantity=DROP, valueInteger=12),
        b.observation(id="c", valueQuantity=DROP, valueCodeableConcept=b.concept(b.SNOMED, "1")),
        b.observation(id="s", valueQuantity=DROP, valueString="text"),
        b.observation(id="d", valueQuantity=DROP, valueDateTime="2025-01-01"),
        b.observation(id="r", valueQuantity=DROP, valueRatio={}),
        b.observation(id="none", valueQuantity=DROP, effectiveDateTime=DROP),
        b.observation(
            id="bp",
            valueQuantity=DROP,
            component=[
                {"code": b.concept(b.LOINC, "8480-6"), "valueQuantity": {"value": 120}},
                {"code": b.concept(b.LOINC, "8462-4"), "valueBoolean": True},
            ],
        ),
    ]
    rows = load(tmp_path, *observations)["observations"]
    got = {(r["observation_id"], r["code"]): r["value_type"] for r in rows}
    assert got == {
        ("q", "4548-4"): "Quantity",
        ("i", "4548-4"): "integer",
        ("c", "4548-4"): "CodeableConcept",
        ("s", "4548-4"): "string",
        ("d", "4548-4"): "dateTime",
        ("r", "4548-4"): "Ratio",
        ("none", "4548-4"): None,
        ("bp", "4548-4"): None,
        ("bp", "8480-6"): "Quantity",
        ("bp", "8462-4"): "boolean",
    }


def test_write_parquet_gives_the_new_tables_and_allergy_ages(tmp_path):
    path = b.ndjson(
        tmp_path / "data.ndjson",
        b.patient(),
        b.task(),
        b.adverse_event(),
        b.allergy_intolerance(onsetPeriod=DROP, onsetAge={"value": 40, "unit": "a"}),
    )
    write_parquet(path, tmp_path / "out")
    for name in ("tasks", "allergies", "adverse_events"):
        table = pq.read_table(tmp_path / "out" / f"{name}.parquet")
        assert table.schema.equals(schema.arrow_schema(name))
        assert table.num_rows == 1
    allergies = pq.read_table(tmp_path / "out" / "allergies.parquet").to_pylist()
    assert allergies[0]["onset_start"] == datetime(2020, 2, 29)
    assert not list((tmp_path / "out").glob("*.partial.parquet"))


def test_medication_request_keeps_dosage_bounds_and_validity_period_apart(tmp_path):
    """CumulativeMedicationDuration starts a request at the bounds start, else authoredOn,
    else the validity start: the tables must say which is which."""
    bounded = b.medication_request(
        id="bounded",
        dosageInstruction=[
            {"timing": {"repeat": {"boundsPeriod": {"start": "2025-02-04", "end": "2025-05-04"}}}}
        ],
    )
    valid_only = b.medication_request(id="valid-only", authoredOn="2025-02-01")
    rows = load(tmp_path, bounded, valid_only)["medication_requests"]
    got = {
        r["request_id"]: (
            r["period_start"],
            r["period_end"],
            r["validity_start"],
            r["validity_end"],
        )
        for r in rows
    }
    eod = (23, 59, 59, 999999)
    assert got == {
        "bounded": (
            datetime(2025, 2, 4),
            datetime(2025, 5, 4, *eod),
            datetime(2025, 2, 3),
            datetime(2025, 8, 3, *eod),
        ),
        "valid-only": (None, None, datetime(2025, 2, 3), datetime(2025, 8, 3, *eod)),
    }


def test_encounter_reasons_list_reason_codes_condition_references_and_diagnoses(tmp_path):
    encounter = b.encounter(
        reasonCode=[b.concept(b.SNOMED, "35489007"), {"text": "no coding"}],
        reasonReference=[
            {"reference": "Condition/cond-1"},
            {"reference": "Observation/obs-1"},
            {"display": "by display only"},
        ],
        diagnosis=[
            {"condition": {"reference": "Condition/cond-1"}, "rank": 1},
            {"condition": {"reference": "Condition/cond-2"}},
        ],
    )
    other = b.encounter(id="enc-2", diagnosis=[{"condition": {"reference": "Condition/cond-1"}}])
    rows = load(tmp_path, encounter, other)["encounter_reasons"]
    got = sorted(
        (r["encounter_id"], r["kind"], r["code"], r["condition_id"], r["rank"]) for r in rows
    )
    assert got == [
        ("enc-1", "diagnosis", None, "cond-1", 1),
        ("enc-1", "diagnosis", None, "cond-2", None),
        ("enc-1", "reason-code", "35489007", None, None),
        ("enc-1", "reason-reference", None, "cond-1", None),
        ("enc-2", "diagnosis", None, "cond-1", None),
    ]
    assert {r["patient_id"] for r in rows} == {"alice"}


def test_a_procedure_keeps_when_it_was_recorded_from_either_extension(tmp_path):
    qicore = "http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-recorded"
    usqc = "http://fhir.org/guides/astp/us-quality-core/StructureDefinition/"
    procedures = [
        b.procedure(id="a", extension=[{"url": qicore, "valueDateTime": "2025-02-03T09:00:00Z"}]),
        b.procedure(
            id="b",
            extension=[{"url": usqc + "us-quality-core-recorded", "valueDateTime": "2025-02-04"}],
        ),
        b.procedure(id="c"),
    ]
    rows = load(tmp_path, *procedures)["procedures"]
    assert {r["procedure_id"]: r["recorded"] for r in rows} == {
        "a": datetime(2025, 2, 3, 9),
        "b": datetime(2025, 2, 4),
        "c": None,
    }


def test_a_service_not_requested_keeps_its_do_not_perform_reason(tmp_path):
    url = "http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-doNotPerformReason"
    refused = b.service_request(
        id="refused",
        doNotPerform=True,
        extension=[{"url": url, "valueCodeableConcept": b.concept(b.SNOMED, "183944003")}],
    )
    reasoned = b.service_request(
        id="reasoned",
        reasonCode=[b.concept(b.SNOMED, "1")],
        extension=[{"url": url, "valueCodeableConcept": b.concept(b.SNOMED, "183944003")}],
    )
    rows = load(tmp_path, refused, reasoned)["service_requests"]
    assert {r["request_id"]: (r["do_not_perform"], r["reason_code"]) for r in rows} == {
        "refused": (True, "183944003"),
        "reasoned": (False, "1"),
    }


def test_medication_ref_names_the_medication_a_reference_points_to(tmp_path):
    contained = b.medication_request(
        id="contained",
        medicationCodeableConcept=DROP,
        medicationReference={"reference": "#m"},
        contained=[{"resourceType": "Medication", "id": "m", "code": b.concept(b.RXNORM, "7")}],
    )
    separate = b.medication_dispense(
        medicationCodeableConcept=DROP, medicationReference={"reference": "Medication/med-1"}
    )
    coded = b.medication_administration()
    result = load(tmp_path, b.medication(), contained, separate, coded)
    (rx,) = result["medication_requests"]
    assert (rx["medication_ref"], rx["code"]) == ("m", "7")
    (disp,) = result["medication_dispenses"]
    assert (disp["medication_ref"], disp["code"]) == ("med-1", "1094833")
    (adm,) = result["medication_administrations"]
    assert (adm["medication_ref"], adm["code"]) == (None, "314154")
