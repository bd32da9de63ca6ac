"""The processes of care the process eCQMs read (issue 11): each record sits where the
measure looks for it, carries a code of the measure's value set in both years, and says what
its visit says (a BMI follow-up names the weight finding measured at that visit)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tandem.synth.vocab import EXTRA_LISTS
from tests import shared

# codes the measures name directly (``code "..." from SNOMEDCT``), not through a value set
DIRECT = {"428191000124101", "225337009", "fulfill"}


@pytest.fixture(scope="module")
def db(small_parquet: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for f in small_parquet.glob("*.parquet"):
        con.execute(f"CREATE VIEW {f.stem} AS SELECT * FROM read_parquet('{f}')")
    return con


def rows(db: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return db.execute(sql).fetchall()


def test_every_consult_report_answers_an_earlier_referral_of_its_patient(db) -> None:
    found = rows(
        db,
        """SELECT t.status, t.intent, t.code, s.category, t.patient_id = s.patient_id,
                  date_diff('day', s.authored, t.execution_start) AS days,
                  t.execution_end > t.execution_start
             FROM tasks t LEFT JOIN service_requests s ON s.request_id = t.based_on_id""",
    )

    assert found
    assert {r[:5] for r in found} == {("completed", "order", "11488-4", "referral", True)}
    assert all(7 <= r[5] <= 61 and r[6] for r in found)


def test_some_referrals_get_no_report(db) -> None:
    [(referrals, answered)] = rows(
        db,
        """SELECT count(*), count(DISTINCT t.based_on_id) FROM service_requests s
             LEFT JOIN tasks t ON t.based_on_id = s.request_id WHERE s.category = 'referral'""",
    )

    assert 0.4 < answered / referrals < 0.65


def test_medications_are_documented_within_their_visit(db) -> None:
    found = rows(
        db,
        """SELECT p.performed_start >= e.start AND p.performed_end <= e."end", e.code
             FROM procedures p JOIN encounters e USING (encounter_id)
            WHERE p.code = '428191000124101'""",
    )
    [(unlinked,)] = rows(
        db,
        "SELECT count(*) FROM procedures WHERE code = '428191000124101' AND encounter_id IS NULL",
    )

    assert found and unlinked == 0
    assert all(inside for inside, _ in found)
    assert not {code for _, code in found} & {"99484", "H0004", "H0005", "H0001"}


def test_a_bmi_follow_up_names_the_weight_finding_of_its_visit(db) -> None:
    found = rows(
        db,
        """SELECT p.reason_code, o.value_num FROM procedures p
             JOIN observations o ON o.encounter_id = p.encounter_id AND o.code = '39156-5'
            WHERE p.reason_code IN ('E66.3', 'E66.9', 'R63.6')""",
    )

    assert {reason for reason, _ in found} >= {"E66.3", "E66.9"}
    for reason, bmi in found:
        expected = "R63.6" if bmi < 18.5 else "E66.3" if bmi < 30 else "E66.9"
        assert reason == expected, (reason, bmi)


def test_suicide_risk_assessments_are_at_mdd_visits_of_the_young(db) -> None:
    found = rows(
        db,
        """SELECT c.code, date_diff('year', pt.birth_date, DATE '2025-12-31')
             FROM procedures p
             JOIN conditions c ON c.encounter_id = p.encounter_id AND c.rank = 1
             JOIN patients pt ON pt.patient_id = p.patient_id
            WHERE p.code = '225337009'""",
    )

    assert found
    assert all(code.startswith(("F32", "F33")) and age <= 19 for code, age in found)


def test_sud_counselling_happens_at_sud_treatment_visits(db) -> None:
    found = rows(
        db,
        """SELECT DISTINCT substr(c.code, 1, 3) FROM procedures p
             JOIN conditions c ON c.encounter_id = p.encounter_id AND c.rank = 1
            WHERE p.code IN ('313071005', '60112009', '24165007')""",
    )

    assert found and {r[0] for r in found} <= {"F10", "F11", "F12", "F13", "F14", "F15"}


def test_new_sud_episodes_start_at_a_pc_or_ed_visit(db) -> None:
    """Some SUD diagnoses are first made during the period, at an office or ED visit."""
    found = rows(
        db,
        """SELECT DISTINCT e.code FROM conditions c
             JOIN encounters e USING (encounter_id)
            WHERE c.code LIKE 'F1%' AND c.code NOT LIKE 'F17%'
              AND e.code IN ('99212', '99213', '99214', '99281', '99282', '99283', '99284',
                             '99285')""",
    )

    assert {r[0] for r in found} & {"99213", "99214"}


def test_value_types_follow_the_value(db) -> None:
    found = rows(
        db,
        """SELECT DISTINCT value_type, category = 'survey', value_num IS NOT NULL,
                  value_code IS NOT NULL FROM observations""",
    )

    assert set(found) == {
        ("Quantity", False, True, False),
        ("integer", True, True, False),
        ("CodeableConcept", True, False, True),
        (None, False, False, False),  # the blood pressure panel row
    }


def _codes(folder: Path) -> set[tuple[str, str]]:
    out = set()
    for f in folder.glob("*.json"):
        vs = json.loads(f.read_text())
        for c in (vs.get("expansion") or {}).get("contains", []) or []:
            out.add((c["system"], c["code"]))
    return out


@shared.needs(shared.VALUESETS_2026)
@shared.needs(shared.VALUESETS)
def test_every_added_code_is_in_a_value_set_of_both_years() -> None:
    years = {year: _codes(folder) for year, folder in shared.VALUESETS_BY_YEAR.items()}
    added = {(s, c) for codes in EXTRA_LISTS.values() for s, c, _ in codes if c not in DIRECT}

    for year, codes in years.items():
        assert added - codes == set(), year


@pytest.mark.django_db
def test_the_database_keeps_the_kind_of_report_and_cms50_2026_counts_it() -> None:
    """Regression (2026-12-04): the demo database stored the 2026-form Task code ("fulfill") as
    the report's kind, so the db select read "fulfill" as its reason and CMS50v14's numerator
    was 0 on the demo."""
    import datetime as dt

    from tandem.clinical.models import ReferralReport
    from tandem.measures import run
    from tandem.synth.database import write_population

    write_population(patients=400, seed=5, start=dt.date(2024, 1, 1), end=dt.date(2026, 12, 31))
    kinds = set(ReferralReport.objects.values_list("code_system", "code"))
    assert kinds == {("http://loinc.org", "11488-4")}
    assert ReferralReport.objects.filter(received_at__year=2026).exists()

    [outcome] = run.run_measures(
        by=None, keys=["CMS50"], period=(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    )
    assert outcome.version == "CMS50v14" and not outcome.skipped, outcome
    assert outcome.counts["group-1"]["numerator"] > 0
