"""Writing a small population into the operational database (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest

from tandem.clinical.models import (
    ClinicalNote,
    Condition,
    Encounter,
    Observation,
    Procedure,
    ServiceRequest,
)
from tandem.consent.models import ConsentDirective
from tandem.core.lib.npi import is_valid_npi
from tandem.core.models import CareTeamMember, Practitioner, Program, Sensitivity, Site
from tandem.meds.models import MedicationDispense, MedicationOrder
from tandem.registry.models import Coverage, Patient, PatientIdentifier
from tandem.scheduling.models import Appointment
from tandem.screening.models import AssessmentResponse
from tandem.synth.database import DatabaseNotEmpty, PopulationExists, write_population
from tests.synth.conftest import END, START

CLINICAL = [
    Encounter,
    Condition,
    Observation,
    Procedure,
    ServiceRequest,
    ClinicalNote,
    MedicationOrder,
    MedicationDispense,
    Appointment,
    AssessmentResponse,
]


SEED = 77
MINE = {"patient__home_site__code__startswith": f"synth-{SEED}-"}  # rows of this population only


@pytest.fixture
def report(db):
    return write_population(patients=400, seed=SEED, start=START, end=END)


def mine(model):
    return model.objects.filter(**MINE)


def test_it_writes_the_counts_it_reports(report) -> None:
    assert (
        Patient.objects.filter(home_site__code__startswith=f"synth-{SEED}-").count()
        == report.rows["patients"]
        == 400
    )
    assert mine(Encounter).count() == report.rows["encounters"]
    assert mine(Observation).count() == report.rows["observations"]
    assert mine(MedicationDispense).count() == report.rows["medication_dispenses"]
    assert mine(Appointment).count() == report.rows["appointments"]
    assert mine(ClinicalNote).count() == report.rows["notes"]
    assert mine(CareTeamMember).count() == report.rows["care_team"]
    assert mine(Coverage).count() == report.rows["coverage"]


def test_every_clinical_row_carries_a_known_label(report) -> None:
    for model in CLINICAL:
        assert mine(model).exists(), model.__name__
        labels = set(mine(model).values_list("sensitivity", flat=True).distinct())
        assert labels and labels <= set(Sensitivity.values), model.__name__


def test_part2_program_rows_are_labelled_substance_use(report) -> None:
    part2 = Program.objects.get(is_part2=True, site__code__startswith=f"synth-{SEED}-")
    for model in (
        Encounter,
        Condition,
        MedicationOrder,
        MedicationDispense,
        ClinicalNote,
        Appointment,
    ):
        rows = model.objects.filter(program=part2)
        assert rows.exists(), model.__name__
        assert set(rows.values_list("sensitivity", flat=True)) == {Sensitivity.SUBSTANCE_USE}
    outside = mine(Encounter).exclude(program=part2)
    assert not outside.filter(sensitivity=Sensitivity.SUBSTANCE_USE).exists()


def test_psychotherapy_notes_are_labelled_and_written_by_bh_clinicians(report) -> None:
    notes = mine(ClinicalNote).filter(note_type="psychotherapy")
    assert notes.exists()
    assert set(notes.values_list("sensitivity", flat=True)) == {Sensitivity.PSYCHOTHERAPY_NOTE}
    disciplines = set(notes.values_list("author__discipline", flat=True))
    assert disciplines <= {"social-worker", "psychologist"}


def test_bh_program_rows_are_mental_health_and_primary_care_rows_normal(report) -> None:
    bh = mine(Encounter).filter(program__kind__in=["behavioral-health", "psychiatry"])
    assert set(bh.values_list("sensitivity", flat=True)) == {Sensitivity.MENTAL_HEALTH}
    pc = mine(Encounter).filter(program__kind="primary-care")
    assert set(pc.values_list("sensitivity", flat=True)) == {Sensitivity.NORMAL}


def test_the_care_system_is_plausible(report) -> None:
    sites = Site.objects.filter(code__startswith=f"synth-{SEED}-")
    kinds = set(sites.values_list("kind", flat=True))
    assert {"primary-care", "cmhc", "sud-program", "hospital"} <= kinds
    assert Program.objects.filter(site__in=sites, is_part2=True, kind="sud").count() == 1
    npis = Practitioner.objects.filter(sites__in=sites).values_list("npi", flat=True)
    assert npis and all(is_valid_npi(n) for n in npis)
    roles = set(mine(CareTeamMember).values_list("role", flat=True))
    assert {"pcp", "bh-clinician", "psychiatrist", "care-manager"} <= roles
    assert mine(Appointment).filter(status="noshow").exists()
    assert mine(Encounter).filter(encounter_class="inpatient-psychiatric").exists()
    assert not mine(PatientIdentifier).filter(kind="mrn", site__isnull=True).exists()
    assert mine(PatientIdentifier).filter(kind="medicaid").exists()


def test_some_patients_consent_to_share_part2_records_with_their_pcp(report) -> None:
    consents = mine(ConsentDirective).filter(
        sensitivity="substance-use", recipients__kind="person", status="active"
    )
    assert consents.exists()
    for c in consents:
        assert c.categories == ["substance-use"]
        (recipient,) = c.recipients.all()
        assert CareTeamMember.objects.filter(
            patient=c.patient, practitioner=recipient.practitioner, role="pcp"
        ).exists()


def test_it_refuses_to_write_the_same_seed_twice(report) -> None:
    with pytest.raises(PopulationExists):
        write_population(patients=10, seed=SEED, start=START, end=END)


def test_datetimes_round_trip_in_utc(report) -> None:
    enc = mine(Encounter).order_by("pk").first()
    assert enc.start.tzinfo is not None
    assert START.isoformat() <= enc.start.date().isoformat() <= END.isoformat()
    assert Encounter.objects.filter(start__gte=enc.start, start__lte=enc.start, pk=enc.pk).exists()


@pytest.mark.django_db
def test_the_population_write_is_audited():
    from tandem.audit.models import AuditEvent
    from tandem.synth.database import write_population

    write_population(patients=20, seed=4242)

    event = AuditEvent.objects.get(action="write:synth_population")
    assert event.outcome == "written" and "patients=20" in event.detail


def test_it_refuses_a_populated_database_unless_asked_to_append(report) -> None:
    with pytest.raises(DatabaseNotEmpty) as refused:
        write_population(patients=10, seed=SEED + 1, start=START, end=END)
    assert refused.value.patients == 400
    assert not Site.objects.filter(code__startswith=f"synth-{SEED + 1}-").exists()

    write_population(patients=10, seed=SEED + 1, start=START, end=END, append=True)
    assert Patient.objects.filter(home_site__code__startswith=f"synth-{SEED + 1}-").count() == 10


def test_a_write_that_fails_midway_leaves_nothing_behind(db, monkeypatch) -> None:
    from django.db import DatabaseError

    from tandem.audit.models import AuditEvent
    from tandem.synth import database_clinical

    written = database_clinical.write

    def write_then_lose_the_connection(*args, **kwargs):
        written(*args, **kwargs)
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(database_clinical, "write", write_then_lose_the_connection)
    with pytest.raises(DatabaseError):
        write_population(patients=50, seed=SEED, start=START, end=END)
    assert not Patient.objects.exists()
    assert not Site.objects.filter(code__startswith=f"synth-{SEED}-").exists()
    assert not Encounter.objects.exists() and not CareTeamMember.objects.exists()
    assert not AuditEvent.objects.filter(action="write:synth_population").exists()


def test_it_writes_a_period_of_one_day(db) -> None:
    day = dt.date(2025, 1, 1)
    report = write_population(patients=40, seed=SEED, start=day, end=day + dt.timedelta(1))
    assert report.rows["patients"] == 40
    assert Patient.objects.filter(home_site__code__startswith=f"synth-{SEED}-").count() == 40
