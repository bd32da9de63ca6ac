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
# ``executemany``) stored for these populations — the same on SQLite and PostgreSQL.
# seed 5: 300 patients in one chunk; seed 6: 300 patients in chunks of 120.
BEFORE = {
    5: {
        "clinical_clinicalnote": (431, "1816664ba5d80ee5"),
        "clinical_condition": (3506, "88c102eecf3cd618"),
        "clinical_encounter": (3131, "cce8a23fce8f0906"),
        "clinical_observation": (7813, "f54e93570254ff75"),
        "clinical_procedure": (121, "0fd971c0666b1389"),
        "clinical_servicerequest": (691, "807d7e54a678b6c0"),
        "consent_consentdirective": (6, "e2841a3486ac8539"),  # issue 12: directives reshaped
        "core_careteammember": (363, "71081719667c3a41"),
        "meds_medicationdispense": (2290, "989f8e3b514b045a"),
        "meds_medicationorder": (137, "be6e42bf0193715c"),
        "registry_coverage": (301, "8fa3370aad5ea8d8"),
        "registry_patient": (300, "dba99c85a499a391"),
        "registry_patientcontact": (168, "d4ffac8183f813a5"),
        "registry_patientidentifier": (683, "8a64a9c09134e295"),
        "scheduling_appointment": (3545, "a5dffdaeb0a918ef"),
        "screening_assessmentresponse": (578, "224bfb3d11dfce4a"),
    },
    6: {
        "clinical_clinicalnote": (358, "9f9a17d1a3df4f8a"),
        "clinical_condition": (3214, "c778e6df4aaf692d"),
        "clinical_encounter": (2865, "92f5156b8a72ec1e"),
        "clinical_observation": (7876, "81f7a8032820711b"),
        "clinical_procedure": (115, "2a15c33189727202"),
        "clinical_servicerequest": (649, "95d73a7a0f2eeaad"),
        "consent_consentdirective": (3, "2560e49607a334cb"),  # issue 12: directives reshaped
        "core_careteammember": (327, "7eea4a00ba2ef6bf"),
        "meds_medicationdispense": (1818, "81aaeee15dff0bfb"),
        "meds_medicationorder": (124, "e15795eb1c3c940d"),
        "registry_coverage": (305, "69cf881a517cad10"),
        "registry_patient": (300, "960038567bf6efd3"),
        "registry_patientcontact": (188, "b23cfb1d8287f38b"),
        "registry_patientidentifier": (641, "3c4ccc662f0d78b2"),
        "scheduling_appointment": (3321, "1640563c25c0e668"),
        "screening_assessmentresponse": (608, "9b038e9a2e82cd30"),
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
        assert chunk.tables.keys() <= {"claims", "medication_administrations", "device_requests"}
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
