"""The portal's plain words and its questionnaire schedule (tandem/portal/rules.py)."""

from __future__ import annotations

import datetime as dt

from tandem.portal import rules


def access(**kw):
    values = {
        "who": "Alice Adams",
        "role": "primary care physician",
        "where": "Riverside Family Medicine",
        "action": "read",
        "outcome": "shown",
        "kinds": ("medication_orders", "medication_dispenses", "observations"),
        "purpose": "treatment",
        "when": dt.datetime(2026, 12, 3, 14, 5),
    }
    return rules.Access(**{**values, **kw})


def test_a_read_reads_as_a_plain_sentence():
    assert rules.access_sentence(access()) == (
        "Alice Adams, primary care physician at Riverside Family Medicine, looked at your "
        "medicines and test results on 3 December 2026 at 14:05, to treat you."
    )


def test_an_emergency_read_says_so():
    sentence = rules.access_sentence(access(purpose="emergency", kinds=("conditions",)))
    assert sentence.endswith(
        "looked at your health problems on 3 December 2026 at 14:05, in an emergency."
    )


def test_breaking_the_glass_and_its_review_are_named():
    declared = rules.access_sentence(access(action="break-the-glass", outcome="written"))
    assert "used emergency access to open your record on 3 December 2026 at 14:05" in declared
    refused = rules.access_sentence(access(action="break-the-glass", outcome="denied"))
    assert "asked for emergency access" in refused and "was not allowed" in refused
    review = rules.access_sentence(
        access(
            action="break-the-glass-review", who="Priya Privacy", role="privacy officer", where=""
        )
    )
    assert (
        review
        == "Priya Privacy, privacy officer, checked an emergency access to your record on 3 December 2026 at 14:05."
    )


def test_a_refused_attempt_says_nothing_was_shown():
    sentence = rules.access_sentence(
        access(outcome="denied", who="Olive Outsider", role="nurse", where="")
    )
    assert sentence == (
        "Olive Outsider, nurse, tried to look at your medicines and test results on "
        "3 December 2026 at 14:05, but was not allowed. Nothing was shown."
    )


def test_many_kinds_read_as_the_whole_record_and_none_as_the_record():
    many = ("conditions", "observations", "encounters", "notes", "appointments", "care_team")
    assert rules.kinds_phrase(many) == "your health record"
    assert rules.kinds_phrase(()) == "your record"
    assert rules.kinds_phrase(("identifiers", "contacts")) == "your contact and insurance details"


def test_a_questionnaire_is_due_when_none_in_the_last_twelve_months():
    today = dt.date(2026, 12, 3)
    due = rules.questionnaires_due(
        {"phq9": dt.date(2025, 12, 3), "gad7": dt.date(2025, 12, 4)}, today=today
    )
    assert [d.questionnaire.instrument for d in due] == ["phq9"]  # exactly 12 months: due
    assert [d.questionnaire.instrument for d in rules.questionnaires_due({}, today=today)] == [
        "phq9",
        "gad7",
    ]


def test_months_are_added_on_the_calendar():
    assert rules.add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert rules.add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert rules.add_months(dt.date(2026, 11, 30), 2) == dt.date(2027, 1, 30)


def test_every_questionnaire_item_is_a_loinc_code_of_the_instrument_list():
    from pathlib import Path

    codes = Path("tandem/terminology/codelists/instruments.csv").read_text()
    for q in rules.QUESTIONNAIRES.values():
        assert q.total_code in codes
        for item in q.questions:
            assert f",{item.code}," in codes
    assert len(rules.PHQ9.questions) == 9 and len(rules.GAD7.questions) == 7


def test_one_visit_reads_as_one_line_and_a_later_visit_as_another():
    t = dt.datetime(2026, 12, 3, 14, 5)
    newest_first = [
        access(kinds=("measure_results",), when=t + dt.timedelta(minutes=1)),
        access(kinds=("conditions", "observations"), when=t),
        access(action="list", kinds=("demographics",), when=t - dt.timedelta(minutes=1)),
        access(kinds=("notes",), when=t - dt.timedelta(hours=2)),
        access(kinds=("notes",), who="Bob Care", when=t - dt.timedelta(hours=2, minutes=1)),
        access(kinds=("notes",), outcome="denied", who="Bob Care", when=t - dt.timedelta(hours=3)),
    ]

    grouped = rules.group(newest_first)

    assert [(a.who, a.action, a.when, a.outcome) for a in grouped] == [
        ("Alice Adams", "read", t - dt.timedelta(minutes=1), "shown"),
        ("Alice Adams", "read", t - dt.timedelta(hours=2), "shown"),
        ("Bob Care", "read", t - dt.timedelta(hours=2, minutes=1), "shown"),
        ("Bob Care", "read", t - dt.timedelta(hours=3), "denied"),
    ]
    assert set(grouped[0].kinds) == {
        "measure_results",
        "conditions",
        "observations",
        "demographics",
    }


def test_an_emergency_declaration_is_never_merged_into_the_reads_around_it():
    t = dt.datetime(2026, 12, 3, 14, 5)
    lines = rules.group(
        [
            access(purpose="emergency", emergency=True, when=t + dt.timedelta(minutes=1)),
            access(
                action="break-the-glass",
                outcome="written",
                purpose="emergency",
                emergency=True,
                when=t,
            ),
        ]
    )
    assert [a.action for a in lines] == ["read", "break-the-glass"]


def test_preview_counts_read_as_plain_numbers_the_most_first():
    counts = {"observations": 1, "conditions": 2, "notes": 0, "no-such-kind": 3}
    assert rules.counted(counts) == ["2 health problems", "1 test result", "3 other records"]
