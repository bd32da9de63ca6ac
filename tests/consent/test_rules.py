"""The labelling rules, one story per rule."""

from __future__ import annotations

import pytest

from tandem.consent.rules import ICD10, LOINC, label_code, least_protected, site_label
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


# --- what naming a unit reveals (issue 9, item 1) -----------------------------------------

PART2 = ("sud", True)
MENTAL = ("behavioral-health", False)
PRIMARY = ("primary-care", False)


@pytest.mark.parametrize(
    ("kind", "programs", "label"),
    [
        ("sud-program", [PART2], "substance-use"),
        ("sud-program", [PART2, ("sud", False)], "substance-use"),
        ("primary-care", [PART2], "substance-use"),  # every program there is Part 2
        ("cmhc", [MENTAL, PART2], "mental-health"),  # a CMHC that also runs a Part 2 program
        ("cmhc", [], "mental-health"),
        ("primary-care", [PRIMARY, MENTAL], "normal"),  # integrated care: reveals nothing
        ("primary-care", [PRIMARY, PART2], "normal"),  # a Part 2 unit inside a clinic
        ("hospital", [("emergency", False), ("inpatient", False)], "normal"),
    ],
)
def test_a_site_reveals_what_its_kind_and_programs_say(kind, programs, label):
    assert site_label(kind=kind, programs=programs) == label


def test_a_practitioner_or_payer_reveals_only_what_all_of_their_units_share():
    assert least_protected(["substance-use", "substance-use"]) == "substance-use"
    assert least_protected(["substance-use", "mental-health"]) == "mental-health"
    assert least_protected(["substance-use", "normal"]) == "normal"
    assert least_protected([]) == "normal"


def test_a_row_without_a_program_is_labelled_by_its_site():
    assert label_code(system=ICD10, code="B20", unit="substance-use") == "substance-use"
    assert label_code(system=ICD10, code="B20", unit="mental-health") == "hiv"
    assert label_code(unit="mental-health") == "mental-health"
