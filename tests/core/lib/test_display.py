"""tandem.core.lib.display: results as clinicians read them (pure functions, no database)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.core.lib import display as d
from tandem.terminology import codelists

OFFICE_99213 = (
    "Office or other outpatient visit for the evaluation and management of an established "
    "patient, which requires a medically appropriate history and/or examination and low level "
    "of medical decision making. When using total time on the date of the encounter for code "
    "selection, 20 minutes must be exceeded."
)


def test_it_names_common_codes_by_their_short_name():
    assert d.display_name(d.LOINC, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood") == "HbA1c"
    assert d.display_name(d.CPT, "99213", OFFICE_99213) == "Office visit"
    assert d.display_name(d.LOINC, "8480-6") == "Systolic BP"


def test_it_shortens_an_unknown_descriptor_at_a_clause():
    text = d.display_name(
        d.CPT, "99999", "Psychotherapy for crisis; first 60 minutes, with the patient and family"
    )
    assert text == "Psychotherapy for crisis"


def test_it_never_cuts_a_long_descriptor_mid_word():
    text = d.shorten(OFFICE_99213.replace(", which", " which"), limit=40)
    assert text.endswith("…") and len(text) <= 40
    assert OFFICE_99213.startswith(text[:-1])
    assert OFFICE_99213[len(text) - 1] in " ,"  # the cut falls between words


@given(st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=14), min_size=1, max_size=30))
def test_every_shortened_text_is_whole_words(words):
    text = " ".join(words)
    short = d.shorten(text, limit=30)
    kept = short.removesuffix("…").split()
    assert kept == words[: len(kept)]
    assert len(short) <= 30 or len(kept) == 1


def test_every_cpt_descriptor_in_the_code_lists_is_shown_short_and_whole():
    for key in codelists.names():
        for code in codelists.load(key).codes:
            name = d.display_name(code.system, code.code, code.display)
            assert len(name) <= d.DEFAULT_LIMIT or " " not in name
            words = name.removesuffix("…").split()
            assert " ".join(code.display.split()).startswith(" ".join(words)) or (
                (code.system, code.code) in d.SHORT_NAMES or code.system == d.RXNORM
            )


def test_it_writes_medications_as_prescribed():
    name = d.display_name(d.RXNORM, "860975", "metformin 500 MG Extended Release Oral Tablet")
    assert name == "metformin 500 mg ER tablet"


@pytest.mark.parametrize(
    ("ucum", "shown"),
    [
        ("mm[Hg]", "mmHg"),
        ("kg/m2", "kg/m²"),
        ("%", "%"),
        ("mg/dL", "mg/dL"),
        ("{beats}/min", "/min"),
        ("{score}", ""),
        ("ug/dL", "µg/dL"),
        ("m2", "m²"),
        ("[lb_av]", "lb"),
    ],
)
def test_it_writes_units_for_people(ucum, shown):
    assert d.unit(ucum) == shown


def test_it_shows_blood_pressure_as_one_reading():
    assert d.blood_pressure(162, 102) == "162/102 mmHg"
    assert d.blood_pressure(118.0, None) == "118/— mmHg"


def test_quantities_drop_a_trailing_zero_and_scores_have_no_unit():
    assert d.quantity(7.0, "%") == "7 %"
    assert d.quantity(31.25, "kg/m2") == "31.25 kg/m²"
    assert d.quantity(14, "{score}") == "14"


def test_it_flags_high_and_low_with_text():
    a1c = d.reference_range("4548-4", sex="female", age=50)
    assert d.flag(8.4, a1c) == d.Flag("H", "High")
    assert d.flag(5.2, a1c) == d.NORMAL
    assert d.flag(3.1, a1c) == d.Flag("L", "Low")
    assert a1c is not None and a1c.text("%") == "4–5.6 %"


def test_ranges_depend_on_sex_where_needed():
    female = d.reference_range("718-7", sex="female", age=40)
    male = d.reference_range("718-7", sex="male", age=40)
    assert female and male and female.low == 12.0 and male.low == 13.5
    assert d.flag(12.5, female) == d.NORMAL and d.flag(12.5, male).code == "L"


def test_adult_ranges_do_not_flag_children():
    assert d.reference_range("39156-5", sex="male", age=12) is None
    assert d.reference_range("4548-4", sex="male", age=12) is None
    assert d.flag(40.0, None) == d.NORMAL


def test_it_names_score_bands():
    assert d.score_band("phq9", 12) == "moderate"
    assert d.score_band("phq9", 22) == "severe"
    assert d.score_band("gad7", 3) == "minimal"
    assert d.score_band("unknown", 3) == ""


def test_it_writes_the_trend_in_words():
    assert d.trend_text("HbA1c", [7.1, 7.4, 7.9, 8.0, 8.4], "%") == (
        "HbA1c 7.1 → 8.4 % over 5 results"
    )
    assert d.trend_text("PHQ-9", [18, 9], "{score}") == "PHQ-9 18 → 9 over 2 results"
    assert (
        d.trend_text("LDL cholesterol", [131.0], "mg/dL") == "LDL cholesterol 131 mg/dL, 1 result"
    )


def test_the_sparkline_is_svg_with_attributes_only_and_a_text_alternative():
    svg = d.sparkline([7.1, 7.4, 8.4], label="HbA1c 7.1 → 8.4 % over 3 results")
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert "<title>HbA1c 7.1 → 8.4 % over 3 results</title>" in svg
    assert "style" not in svg
    points = re.search(r'points="([^"]+)"', svg)
    assert points and len(points.group(1).split()) == 3
    assert d.sparkline([7.1], label="one") == ""


def test_the_sparkline_escapes_its_label():
    assert "<b>" not in d.sparkline([1, 2], label="<b>x</b>")


def test_dates_are_unambiguous():
    assert d.short_date(dt.date(2026, 12, 2)) == "02-Dec-2026"
    assert d.short_date(None) == "—"
