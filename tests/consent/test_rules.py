"""The labelling rules, one story per rule."""

from __future__ import annotations

import pytest

from tandem.consent.rules import ICD10, LOINC, label_code
from tests import builders as b


def test_psychotherapy_notes_are_labelled_first():
    assert label_code(psychotherapy_note=True, program_is_part2=True) == "psychotherapy-note"


def test_everything_a_part2_program_records_is_substance_use():
    assert label_code(system=LOINC, code="4548-4", program_kind="sud", program_is_part2=True) == (
        "substance-use"
    )


def test_a_sud_program_outside_part2_is_mental_health():
    assert label_code(system=ICD10, code="F10.20", program_kind="sud") == "mental-health"


@pytest.mark.parametrize("code", ["B20", "Z21"])
def test_hiv_codes_are_labelled_hiv_in_any_program(code):
    assert label_code(system=ICD10, code=code, program_kind="primary-care") == "hiv"


@pytest.mark.parametrize("code", ["O09.90", "Z33.1", "Z30.011"])
def test_pregnancy_and_contraception_are_reproductive_health(code):
    assert label_code(system=ICD10, code=code) == "reproductive-health"


def test_rows_from_behavioral_health_programs_are_mental_health():
    assert label_code(system=ICD10, code="E11.9", program_kind="behavioral-health") == (
        "mental-health"
    )


def test_primary_care_rows_are_normal():
    assert label_code(system=ICD10, code="F32.1", program_kind="primary-care") == "normal"


@pytest.mark.django_db
def test_a_row_is_labelled_when_it_is_saved():
    program = b.program(kind="sud", is_part2=True)
    condition = b.condition(patient=b.patient(), code="F11.20", program=program)

    condition.refresh_from_db()
    assert condition.sensitivity == "substance-use"


@pytest.mark.django_db
def test_the_database_refuses_an_unknown_label():
    from django.db import IntegrityError, transaction

    patient = b.patient()
    with pytest.raises(IntegrityError), transaction.atomic():
        b.condition(patient=patient, sensitivity="secret")
