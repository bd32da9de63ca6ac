"""The loader refuses FHIR input that cannot mean anything, and says where (issue 9, item 6).

Every refusal is an :class:`InvalidInput` (a ``UsageError``: one line, exit status 2 at the
command line) naming file and line, the resource and the element:
``data.ndjson:2: Observation/obs-1: code is required``. ``skip_invalid`` reports each invalid
resource and loads the rest. Nothing is loaded, and nothing written, when a load is refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from tandem.core.lib.cli import UsageError
from tandem.importers.fhir import InvalidInput, load_fhir, write_parquet
from tandem.importers.fhir.datetimes import timestamp
from tests import shared

from . import builders as b
from .builders import DROP

DECKS = shared.DECKS
INTERNALS = re.compile(r"Error\b|object has no attribute|Traceback|unhashable|NoneType|\bdict\b")


def refusal(path: Path, **kwargs) -> str:
    """The one-line message with which loading ``path`` is refused."""
    with pytest.raises(InvalidInput) as caught:
        load_fhir(path, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    assert not INTERNALS.search(message), message
    return message


def load_one(tmp_path: Path, res) -> str:
    """Refusal of one resource on line 2 of an NDJSON file (after a valid patient)."""
    path = b.ndjson(tmp_path / "data.ndjson", b.patient(), res)
    return refusal(path)


# --- the cases of the issue: tracebacks before --------------------------------------------


@pytest.mark.parametrize("value", [["Patient"], {"type": "Patient"}], ids=["array", "object"])
def test_it_refuses_a_resource_type_that_is_not_a_string(tmp_path, value):
    message = load_one(tmp_path, {"resourceType": value, "id": "p1"})
    assert re.search(r"data\.ndjson:2: resourceType must be .*, not an? (array|object)", message)


def test_it_refuses_a_patient_whose_id_is_a_number(tmp_path):
    message = load_one(tmp_path, b.patient(id=5))
    assert message.endswith("data.ndjson:2: Patient: id must be a string, not a number")


def test_it_refuses_a_gender_that_is_an_array(tmp_path):
    message = load_one(tmp_path, b.patient(id="bob", gender=["male"]))
    assert "data.ndjson:2: Patient/bob: gender must be a string, not an array" in message


def test_it_refuses_a_bundle_whose_entry_is_a_number(tmp_path):
    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": 5}))
    assert refusal(path).endswith("bundle.json: Bundle entry must be an array, not a number")


def test_it_refuses_a_bundle_entry_whose_full_url_is_a_number(tmp_path):
    path = b.bundle(tmp_path / "bundle.json", b.patient(id=DROP), fullUrl=5)
    assert refusal(path).endswith("bundle.json entry 0: fullUrl must be a string, not a number")


def test_it_never_shows_python_internals_for_an_entry_that_is_not_an_object(tmp_path):
    path = tmp_path / "bundle.json"
    doc = {"resourceType": "Bundle", "type": "collection", "entry": ["Patient/1", {}]}
    path.write_bytes(orjson.dumps(doc))
    assert refusal(path).endswith("bundle.json entry 0: must be an object, not a string")


# --- the cases of the issue: accepted silently before -------------------------------------

CANNOT_MEAN_ANYTHING = {
    "observation-without-code": (b.observation(code=DROP), "Observation/obs-1: code is required"),
    "observation-without-effective-time": (
        b.observation(effectiveDateTime=DROP),
        "Observation/obs-1: effective[x] is required for an Observation with a value",
    ),
    "encounter-without-period": (b.encounter(period=DROP), "Encounter/enc-1: period is required"),
    "encounter-with-period-2024": (
        b.encounter(period="2024"),
        "Encounter/enc-1: period must be an object (Period), not a string",
    ),
    "encounter-ending-before-it-starts": (
        b.encounter(period={"start": "2025-02-03T10:00:00Z", "end": "2025-02-03T09:00:00Z"}),
        "Encounter/enc-1: period.end is before period.start",
    ),
    "condition-without-code": (b.condition(code=DROP), "Condition/cond-1: code is required"),
    "procedure-without-code": (b.procedure(code=DROP), "Procedure/proc-1: code is required"),
    "medication-request-without-medication": (
        b.medication_request(medicationCodeableConcept=DROP),
        "MedicationRequest/rx-1: medication[x] is required",
    ),
    "birth-date-that-is-a-number": (
        b.patient(id="bob", birthDate=1967),
        "Patient/bob: birthDate must be a date or dateTime string, not a number",
    ),
    "name-that-is-a-string": (
        b.patient(id="bob", name="Bob"),
        "Patient/bob: name must be an array, not a string",
    ),
    "reference-without-a-type": (
        b.observation(subject={"reference": "p1"}),
        "Observation/obs-1: subject.reference 'p1' is not a reference",
    ),
}


@pytest.mark.parametrize("case", CANNOT_MEAN_ANYTHING, ids=list(CANNOT_MEAN_ANYTHING))
def test_it_refuses_a_resource_that_cannot_mean_anything(tmp_path, case):
    resource, expected = CANNOT_MEAN_ANYTHING[case]
    message = load_one(tmp_path, resource)
    assert f"data.ndjson:2: {expected}" in message


def test_it_refuses_an_empty_ndjson_file(tmp_path):
    (tmp_path / "empty.ndjson").write_bytes(b"")
    with pytest.raises(UsageError, match=r"empty\.ndjson: no FHIR resources \(the file is empty\)"):
        load_fhir(tmp_path / "empty.ndjson")


def test_it_refuses_an_empty_json_file(tmp_path):
    (tmp_path / "empty.json").write_bytes(b"\n")
    assert refusal(tmp_path / "empty.json").startswith(f"{tmp_path}/empty.json: empty file")


def test_it_refuses_an_empty_directory(tmp_path):
    with pytest.raises(UsageError, match=r"no FHIR files \(\*\.json, \*\.ndjson, \*\.jsonl\)"):
        load_fhir(tmp_path)


def test_it_refuses_a_directory_without_fhir_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UsageError, match=rf"^{tmp_path}: no FHIR files"):
        load_fhir(tmp_path)


def test_it_refuses_input_with_nothing_tandem_loads(tmp_path):
    path = b.ndjson(tmp_path / "immunizations.ndjson", {"resourceType": "Immunization", "id": "i1"})
    with pytest.raises(
        UsageError, match=r"no resource of a type Tandem loads \(skipped 1 Immunization\)"
    ):
        load_fhir(path)


# --- more of the same kind ----------------------------------------------------------------

MORE = {
    "subject-that-is-a-group": (
        b.condition(subject={"reference": "Group/g1"}),
        "Condition/cond-1: subject must reference Patient, not Group",
    ),
    "status-outside-its-required-binding": (
        b.encounter(status="done"),
        "Encounter/enc-1: status 'done' is not one of",
    ),
    "observation-without-status": (
        b.observation(status=DROP),
        "Observation/obs-1: status is required",
    ),
    "impossible-date": (
        b.observation(effectiveDateTime="2025-02-30"),
        "Observation/obs-1: effectiveDateTime '2025-02-30' is not a FHIR date or dateTime",
    ),
    "coding-that-is-a-string": (
        b.observation(code={"coding": ["4548-4"]}),
        "Observation/obs-1: code.coding[0] must be an object (Coding), not a string",
    ),
    "quantity-given-as-a-string": (
        b.observation(valueQuantity={"value": "7.1"}),
        "Observation/obs-1: valueQuantity.value must be a number, not a string",
    ),
    "component-without-code": (
        b.observation(component=[{"code": b.concept(b.LOINC, "8480-6")}, {"valueInteger": 1}]),
        "Observation/obs-1: component[1].code is required",
    ),
    "do-not-perform-as-a-string": (
        b.medication_request(doNotPerform="false"),
        "MedicationRequest/rx-1: doNotPerform must be true or false, not a string",
    ),
    "refills-beyond-32-bits": (
        b.medication_request(
            dispenseRequest={"numberOfRepeatsAllowed": 2**40},
        ),
        "MedicationRequest/rx-1: dispenseRequest.numberOfRepeatsAllowed 1099511627776 is out",
    ),
    "dosage-every-zero-days": (
        b.medication_request(
            dosageInstruction=[{"timing": {"repeat": {"frequency": 1, "period": 0}}}]
        ),
        "dosageInstruction[0].timing.repeat.period must be greater than 0",
    ),
    "medication-reference-to-nothing": (
        b.medication_request(
            medicationCodeableConcept=DROP, medicationReference={"reference": "Medication/m9"}
        ),
        "MedicationRequest/rx-1: medicationReference 'Medication/m9' names no Medication",
    ),
    "administration-without-time": (
        b.medication_administration(effectiveDateTime=DROP),
        "MedicationAdministration/adm-1: effective[x] is required",
    ),
    "completed-dispense-without-time": (
        b.medication_dispense(whenHandedOver=DROP),
        "MedicationDispense/disp-1: whenHandedOver is required when status is completed",
    ),
    "completed-procedure-without-time": (
        b.procedure(performedDateTime=DROP),
        "Procedure/proc-1: performed[x] is required when status is completed",
    ),
    "service-request-without-code": (
        b.service_request(code=DROP),
        "ServiceRequest/sr-1: code is required",
    ),
    "device-request-without-code": (
        b.device_request(codeCodeableConcept=DROP),
        "DeviceRequest/dev-1: code[x] is required",
    ),
    "coverage-without-payor": (b.coverage(payor=DROP), "Coverage/cov-1: payor is required"),
    "claim-diagnosis-without-sequence": (
        b.claim(diagnosis=[{"diagnosisCodeableConcept": b.concept(b.ICD10, "I10")}]),
        "Claim/claim-1: diagnosis[0].sequence is required",
    ),
    "encounter-diagnosis-rank-zero": (
        b.encounter(diagnosis=[{"condition": {"reference": "Condition/c"}, "rank": 0}]),
        "Encounter/enc-1: diagnosis[0].rank 0 is out of range",
    ),
    "age-beyond-a-lifetime": (
        b.condition(onsetDateTime=DROP, onsetAge={"value": 1e6, "unit": "a"}),
        "Condition/cond-1: onsetAge.value 1000000.0 is not an age (0 to 150 years)",
    ),
    "days-supply-beyond-32-bits": (
        b.medication_dispense(daysSupply={"value": 1e308, "code": "d"}),
        "MedicationDispense/disp-1: daysSupply.value 1e+308 is out of range",
    ),
    "organization-name-that-is-a-number": (
        b.organization(name=7),
        "Organization/org-1: name must be a string, not a number",
    ),
    "medication-code-that-is-an-array": (
        b.medication(code=[]),
        "Medication/med-1: code must be an object (CodeableConcept), not an array",
    ),
    "task-without-intent": (b.task(intent=DROP), "Task/task-1: intent is required"),
    "task-status-outside-its-required-binding": (
        b.task(status="done"),
        "Task/task-1: status 'done' is not one of",
    ),
    "task-without-its-patient": (b.task(**{"for": DROP}), "Task/task-1: for is required"),
    "task-without-code": (b.task(code=DROP), "Task/task-1: code is required"),
    "task-based-on-that-is-not-a-reference": (
        b.task(basedOn=[{"reference": "sr-1"}]),
        "Task/task-1: basedOn[0].reference 'sr-1' is not a reference",
    ),
    "task-execution-ending-before-it-starts": (
        b.task(executionPeriod={"start": "2025-03-02", "end": "2025-03-01"}),
        "Task/task-1: executionPeriod.end is before executionPeriod.start",
    ),
    "allergy-without-patient": (
        b.allergy_intolerance(patient=DROP),
        "AllergyIntolerance/allergy-1: patient is required",
    ),
    "allergy-without-code": (
        b.allergy_intolerance(code=DROP),
        "AllergyIntolerance/allergy-1: code is required",
    ),
    "allergy-category-outside-its-binding": (
        b.allergy_intolerance(category=["drug"]),
        "AllergyIntolerance/allergy-1: category[0] 'drug' is not one of",
    ),
    "allergy-onset-that-is-not-a-date": (
        b.allergy_intolerance(onsetPeriod=DROP, onsetDateTime="last spring"),
        "AllergyIntolerance/allergy-1: onsetDateTime 'last spring' is not a FHIR date",
    ),
    "adverse-event-without-actuality": (
        b.adverse_event(actuality=DROP),
        "AdverseEvent/ae-1: actuality is required",
    ),
    "adverse-event-actuality-outside-its-binding": (
        b.adverse_event(actuality="likely"),
        "AdverseEvent/ae-1: actuality 'likely' is not one of actual, potential",
    ),
    "adverse-event-without-event": (
        b.adverse_event(event=DROP),
        "AdverseEvent/ae-1: event is required",
    ),
    "adverse-event-date-that-is-a-number": (
        b.adverse_event(date=2025),
        "AdverseEvent/ae-1: date must be a date or dateTime string, not a number",
    ),
}


@pytest.mark.parametrize("case", MORE, ids=list(MORE))
def test_it_refuses_a_wrong_type_or_a_missing_element(tmp_path, case):
    resource, expected = MORE[case]
    assert expected in load_one(tmp_path, resource)


def test_every_builder_resource_loads(tmp_path):
    """The valid resources the cases above start from load (so a refusal is the change's)."""
    for builders in (b.EVERY_TYPE, b.RICH):
        path = b.ndjson(tmp_path / "all.ndjson", *(build() for build in builders))
        result = load_fhir(path)
        assert result.resources == len(builders) and not result.invalid


def test_it_keeps_what_the_public_decks_legitimately_lack(tmp_path):
    """R4 allows these, and the CMS decks have them: they load."""
    path = b.ndjson(
        tmp_path / "deck-like.ndjson",
        b.patient(),
        b.observation(id="no-value", effectiveDateTime=DROP, valueQuantity=DROP, issued=DROP),
        b.observation(id="not-done", status="cancelled", effectiveDateTime=DROP),
        b.encounter(period={"start": "2025-02-03T09:00:00Z"}),
        b.procedure(status="not-done", performedDateTime=DROP),
        b.condition(onsetDateTime=DROP, recordedDate=DROP),
        b.medication_request(medicationCodeableConcept=DROP, medicationReference={"display": "x"}),
        b.observation(id="txn", subject={"reference": "urn:uuid:alice"}),
    )
    assert load_fhir(path).resources == 8


def test_an_onset_age_past_the_year_9999_leaves_the_onset_unknown(tmp_path):
    path = b.ndjson(
        tmp_path / "d.ndjson",
        b.patient(birthDate="9999-06-01"),
        b.condition(onsetDateTime=DROP, onsetAge={"value": 5, "unit": "a"}),
    )
    assert load_fhir(path).tables["conditions"].column("onset").to_pylist() == [None]


@shared.needs(DECKS)
def test_every_resource_of_every_public_deck_still_loads():
    for resolve in (True, False):
        result = load_fhir(DECKS, skip_invalid=True, resolve_medication_references=resolve)
        assert result.invalid == [], result.invalid[:3]
        assert result.resources > 3000


# --- where: file, line, resource, element -------------------------------------------------


def test_it_names_file_line_resource_and_element(tmp_path):
    path = b.ndjson(
        tmp_path / "Observation.ndjson", b.patient(), b.observation(id="abc", code=DROP)
    )
    assert refusal(path) == f"{path}:2: Observation/abc: code is required"


def test_it_finds_the_line_of_a_bundle_entry(tmp_path):
    path = b.bundle(tmp_path / "bundle.json", b.patient(), b.observation(id="abc", code=DROP))
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if '"abc"' in t)
    assert refusal(path).startswith(f"{path}:{line} entry 1: Observation/abc: code is required")


def test_it_counts_every_problem_of_a_refused_load(tmp_path):
    path = b.ndjson(
        tmp_path / "data.ndjson",
        b.observation(code=DROP),
        b.patient(),
        b.encounter(period=DROP),
        "not a resource",
    )
    with pytest.raises(InvalidInput) as caught:
        load_fhir(path)
    assert caught.value.count == 3
    assert str(caught.value).endswith("code is required (and 2 more invalid)")
    assert [p.split(": ")[0] for p in caught.value.problems] == [
        f"{path}:1",
        f"{path}:3",
        f"{path}:4",
    ]


# --- skip_invalid ------------------------------------------------------------------------


def test_skip_invalid_reports_each_invalid_resource_and_loads_the_rest(tmp_path):
    path = b.ndjson(
        tmp_path / "data.ndjson",
        b.patient(),
        b.observation(id="bad", code=DROP),
        b.observation(id="good"),
        b.encounter(period="2024"),
    )
    result = load_fhir(path, skip_invalid=True)
    assert result.invalid == [
        f"{path}:2: Observation/bad: code is required",
        f"{path}:4: Encounter/enc-1: period must be an object (Period), not a string",
    ]
    assert result.invalid_count == 2
    assert result.tables["observations"].column("observation_id").to_pylist() == ["good"]
    assert result.tables["encounters"].num_rows == 0
    assert result.summary() == "2 resources loaded; 2 invalid skipped"


def test_skip_invalid_does_not_link_a_skipped_encounter_to_its_diagnoses(tmp_path):
    path = b.ndjson(
        tmp_path / "data.ndjson",
        b.patient(),
        b.condition(),
        b.encounter(type="not an array"),  # invalid, after its diagnosis was read
    )
    result = load_fhir(path, skip_invalid=True)
    assert result.invalid_count == 1
    assert result.tables["conditions"].column("encounter_id").to_pylist() == [None]


def test_skip_invalid_with_nothing_valid_is_refused(tmp_path):
    path = b.ndjson(tmp_path / "data.ndjson", b.observation(code=DROP))
    with pytest.raises(UsageError, match=r"data\.ndjson: no valid FHIR resource \(1 invalid\)"):
        load_fhir(path, skip_invalid=True)


def test_skip_invalid_keeps_the_first_thousand_messages_and_counts_all(tmp_path):
    path = b.ndjson(tmp_path / "data.ndjson", b.patient(), *([b.observation(code=DROP)] * 1005))
    result = load_fhir(path, skip_invalid=True)
    assert len(result.invalid) == 1000 and result.invalid_count == 1005


# --- a refused load writes nothing --------------------------------------------------------


def test_a_refused_parquet_load_writes_nothing(tmp_path):
    path = b.ndjson(tmp_path / "data.ndjson", *[b.patient(id=f"p{i}") for i in range(30)], "x")
    out = tmp_path / "out"
    with pytest.raises(InvalidInput):
        write_parquet(path, out, batch_rows=2)  # batches were written before the bad line
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.ndjson"]


def test_a_refused_parquet_load_leaves_an_existing_folder_as_it_was(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "patients.parquet").write_bytes(b"earlier")
    with pytest.raises(InvalidInput):
        write_parquet(b.ndjson(tmp_path / "d.ndjson", b.patient(), b.patient(id=5)), out)
    assert [p.name for p in out.iterdir()] == ["patients.parquet"]
    assert (out / "patients.parquet").read_bytes() == b"earlier"


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["2025-13", "2025-02-30", "yesterday", "2025-1-05", "", "20x5"])
def test_a_date_that_is_not_a_date_is_refused(text):
    from tandem.importers.fhir.errors import InvalidElement

    with pytest.raises(InvalidElement, match="is not a FHIR date or dateTime"):
        timestamp(text, "when")
