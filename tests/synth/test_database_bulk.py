"""The bulk writer (COPY on PostgreSQL, executemany on SQLite) stores what the row-by-row
writer stored (issue 10, performance: `synth --format db` of 100,000 patients)."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from tandem.synth import database, database_clinical
from tandem.synth.database import write_population
from tests.synth.conftest import END, START
from tests.synth.digest import population_digest

pytestmark = pytest.mark.django_db

# ``population_digest`` of what the writer before issue 10 (ORM ``bulk_create`` and batched
# ``executemany``) stored for these populations — the same on SQLite and PostgreSQL. Issue 11
# changed the population (data for the process eCQMs): the digests were taken again, on both
# databases, from the bulk writer, which these tests had shown equal to the row writer.
# seed 5: 300 patients in one chunk; seed 6: 300 patients in chunks of 120.
BEFORE = {
    5: {
        "clinical_clinicalnote": (530, "2a466673e242662a"),
        "clinical_condition": (3822, "525ae8b68190cbea"),
        "clinical_encounter": (3446, "d0051ff716b4a5eb"),
        "clinical_observation": (8224, "3ec194362320696c"),
        "clinical_procedure": (3149, "bfdee52606af5020"),
        "clinical_referralreport": (72, "ab34267193e3d54d"),
        "clinical_servicerequest": (857, "d5fe3c2fd9fd92fb"),
        "consent_consentdirective": (12, "b9548db9224b2fb0"),  # issue 12: directives reshaped
        "core_careteammember": (370, "54292baa5d337b23"),
        "meds_medicationdispense": (2654, "6b2f83a7283cbe64"),
        "meds_medicationorder": (458, "3e6e89230126e775"),
        "registry_coverage": (307, "9ae9d2bcc7ef2e07"),
        "registry_patient": (300, "687c65c6f1ec4e2e"),
        "registry_patientcontact": (181, "d257c4e17e81cbcd"),
        "registry_patientidentifier": (687, "9eb173997df49e91"),
        "scheduling_appointment": (3992, "1ca8b4d6a68787b4"),
        "screening_assessmentresponse": (718, "c3939e249e8db075"),
    },
    6: {
        "clinical_clinicalnote": (323, "808f16f06e818f41"),
        "clinical_condition": (3250, "a8fe90b01d7e1d7a"),
        "clinical_encounter": (2897, "d70015ae13bbdc69"),
        "clinical_observation": (8184, "3dd790f15f8a1ca5"),
        "clinical_procedure": (2735, "22220c82137ef5cf"),
        "clinical_referralreport": (78, "37da33369f6cbec5"),
        "clinical_servicerequest": (806, "536cfb789e89cbff"),
        "consent_consentdirective": (5, "f1ee9032128f0013"),  # issue 12: directives reshaped
        "core_careteammember": (340, "15019f5437805e5c"),
        "meds_medicationdispense": (2265, "9e84798095979007"),
        "meds_medicationorder": (396, "9cdcf62e276eb07d"),
        "registry_coverage": (293, "48f7e8a47f54e662"),
        "registry_patient": (300, "d0300e126351fed8"),
        "registry_patientcontact": (184, "80d737ec72ae46f2"),
        "registry_patientidentifier": (662, "647c9a5c865e5c63"),
        "scheduling_appointment": (3362, "6ba69e2bfa552264"),
        "screening_assessmentresponse": (663, "ca982d1034980367"),
    },
}


def digest(seed: int) -> dict[str, tuple[int, str]]:
    return {k: tuple(v) for k, v in population_digest(seed).items()}  # type: ignore[misc]


def test_it_stores_the_rows_and_labels_the_row_writer_stored() -> None:
    write_population(patients=300, seed=5, start=START, end=END)

    assert digest(5) == BEFORE[5]


def test_it_stores_the_same_rows_across_chunks_and_slices(monkeypatch) -> None:
    monkeypatch.setattr(database_clinical, "BATCH", 500)  # many slices per table

    write_population(patients=300, seed=6, start=START, end=END, chunk_size=120)

    assert digest(6) == BEFORE[6]


def test_it_holds_one_chunk_at_a_time(monkeypatch) -> None:
    seen: list[tuple[int, int]] = []
    write_chunk = database._write_chunk

    def watched(chunk, world, sink):
        patients = chunk.tables["patients"].num_rows
        refs = {
            pid
            for t in chunk.tables.values()
            if "patient_id" in t.column_names
            for pid in t.column("patient_id").to_pylist()
        }
        seen.append((patients, len(refs)))
        counts = write_chunk(chunk, world, sink)
        # tables the database does not store (encounter reasons: its conditions say them)
        left = {"claims", "medication_administrations", "device_requests", "encounter_reasons"}
        assert chunk.tables.keys() <= left
        return counts

    monkeypatch.setattr(database, "_write_chunk", watched)
    write_population(patients=250, seed=8, start=START, end=END, chunk_size=100)

    assert seen == [(100, 100), (100, 100), (50, 50)]


@pytest.mark.django_db(transaction=True)
def test_a_load_with_a_dangling_reference_fails_whole(monkeypatch) -> None:
    """Foreign keys are checked for every row (re-added validated on PostgreSQL, at commit on
    SQLite): one encounter id that names nothing and no row of the load stays."""
    from django.db import IntegrityError

    from tandem.audit.models import AuditEvent
    from tandem.clinical.models import Condition, Encounter
    from tandem.core.models import Site
    from tandem.registry.models import Patient

    real = database_clinical._enc

    def dangling(s, k):
        return pc.add(real(s, k), 10**9)  # NULL stays NULL

    monkeypatch.setattr(database_clinical, "_enc", dangling)
    with pytest.raises(IntegrityError):
        write_population(patients=60, seed=9, start=START, end=END)

    assert not Patient.objects.exists() and not Site.objects.exists()
    assert not Encounter.objects.exists() and not Condition.objects.exists()
    assert not AuditEvent.objects.filter(action="write:synth_population").exists()
