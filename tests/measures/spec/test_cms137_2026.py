"""What changed in CMS137v14 (2026, SUD treatment initiation and engagement), on every engine,
and the age strata of both versions.

Each test builds a small patient whose result differs between the 2025 and the 2026 logic and
evaluates both versions over a 2026 period (the 2025 version pinned, with the 2025
expansions). Codes come from the published expansions in the shared folder.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tandem.measures import definitions, evaluate
from tandem.measures import valuesets as vs_module
from tests import shared
from tests.measures.conftest import make_tables

pytestmark = [shared.needs(shared.VALUESETS_2026), shared.needs(shared.VALUESETS)]

P2026 = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
CPT = "http://www.ama-assn.org/go/cpt"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ALICE = "alice"
OLD, NEW = "CMS137v13", "CMS137v14"
SHORT_ACTING = "1010600"  # buprenorphine (Substance Use Disorder Short Acting Medication)
LONG_ACTING = "1655032"  # (Substance Use Disorder Long Acting Medication)
PSYCHOTHERAPY = "90832"  # Psych Visit Psychotherapy


@pytest.fixture(scope="module")
def valuesets() -> dict[int, Any]:
    return {year: vs_module.load(path) for year, path in shared.VALUESETS_BY_YEAR.items()}


def populations(engine, valuesets, rows, version: str) -> tuple[int, int, int]:
    """Alice's (initial population, numerator 1, numerator 2) under one version."""
    found = definitions.evaluate(
        "CMS137",
        make_tables(**rows),
        P2026,
        version=version,
        engine=engine.name,
        connection=engine.connection,
        valuesets=valuesets[2026 if version == NEW else 2025],
    )
    groups = next((r["groups"] for r in found if r["id"] == ALICE), [{}, {}])
    pops = [g.get("populations", {}) for g in groups]
    return (
        pops[0].get("initial-population", 0),
        pops[0].get("numerator", 0),
        pops[1].get("numerator", 0),
    )


def ts(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour)


def episode(**kw: Any) -> dict[str, list[dict[str, Any]]]:
    """A 30-year-old with an office visit on 2 March 2026 at which an SUD diagnosis (an
    encounter diagnosis, confirmed) starts."""
    status = kw.pop("status", "finished")
    return {
        "patients": [{"patient_id": ALICE, "birth_date": dt.date(1996, 1, 1)}],
        "encounters": [
            {
                "encounter_id": "visit-1",
                "patient_id": ALICE,
                "status": status,
                "class_code": "AMB",
                "system": CPT,
                "code": "99213",
                "start": ts(3, 2, 9),
                "end": ts(3, 2, 11),
            }
        ],
        "conditions": [
            {
                "patient_id": ALICE,
                "system": ICD10,
                "code": "F10.10",
                "clinical_status": "active",
                "verification_status": kw.pop("verification_status", "confirmed"),
                "category": kw.pop("category", "encounter-diagnosis"),
                "onset": ts(3, 2, 10),
                "encounter_id": "visit-1",
            }
        ],
    }


def order(code: str, authored: dt.datetime, intent: str = "order") -> dict[str, Any]:
    return {
        "patient_id": ALICE,
        "status": "active",
        "intent": intent,
        "system": RXNORM,
        "code": code,
        "authored": authored,
    }


def psychotherapy(when: dt.datetime) -> dict[str, Any]:
    return {
        "patient_id": ALICE,
        "status": "completed",
        "system": CPT,
        "code": PSYCHOTHERAPY,
        "performed_start": when,
        "performed_end": when + dt.timedelta(hours=1),
    }


def test_both_versions_find_an_episode_at_an_encounter_diagnosis(engine, valuesets):
    rows = episode()
    assert populations(engine, valuesets, rows, OLD) == (1, 0, 0)
    assert populations(engine, valuesets, rows, NEW) == (1, 0, 0)


def test_in_2026_the_diagnosis_must_be_an_encounter_diagnosis(engine, valuesets):
    rows = episode(category="problem-list-item")
    assert populations(engine, valuesets, rows, OLD) == (1, 0, 0)
    assert populations(engine, valuesets, rows, NEW) == (0, 0, 0)


def test_in_2026_the_diagnosis_must_be_verified(engine, valuesets):
    for status in ("refuted", "entered-in-error"):
        rows = episode(verification_status=status)
        assert populations(engine, valuesets, rows, OLD) == (1, 0, 0)
        assert populations(engine, valuesets, rows, NEW) == (0, 0, 0)
    unknown = episode(verification_status=None)
    assert populations(engine, valuesets, unknown, NEW) == (1, 0, 0)


def test_in_2026_only_a_finished_encounter_is_performed(engine, valuesets):
    rows = episode(status="arrived")
    assert populations(engine, valuesets, rows, OLD) == (1, 0, 0)
    assert populations(engine, valuesets, rows, NEW) == (0, 0, 0)


def test_in_2026_any_order_intent_counts_for_a_medication(engine, valuesets):
    rows = {**episode(), "medication_requests": [order(SHORT_ACTING, ts(3, 9), "original-order")]}
    assert populations(engine, valuesets, rows, OLD) == (1, 0, 0)
    assert populations(engine, valuesets, rows, NEW) == (1, 1, 0)
    history = {**episode(), "medication_requests": [order(LONG_ACTING, ts(2, 1), "filler-order")]}
    assert populations(engine, valuesets, history, OLD) == (1, 0, 0)
    assert populations(engine, valuesets, history, NEW) == (0, 0, 0)


def test_engagement_by_long_acting_medication_or_two_more_treatments(engine, valuesets):
    """Initiation on day 3 after the episode; engagement after it, within 34 days."""
    start = {**episode(), "procedures": [psychotherapy(ts(3, 5))]}
    assert populations(engine, valuesets, start, NEW) == (1, 1, 0)
    long_acting = {**start, "medication_requests": [order(LONG_ACTING, ts(4, 8))]}  # day 34
    assert populations(engine, valuesets, long_acting, NEW) == (1, 1, 1)
    too_late = {**start, "medication_requests": [order(LONG_ACTING, ts(4, 9))]}  # day 35
    assert populations(engine, valuesets, too_late, NEW) == (1, 1, 0)
    one_more = {**start, "procedures": [psychotherapy(ts(3, 5)), psychotherapy(ts(3, 20))]}
    assert populations(engine, valuesets, one_more, NEW) == (1, 1, 0)
    two_more = {
        **one_more,
        "medication_requests": [order(SHORT_ACTING, ts(3, 20, 12))],
    }
    assert populations(engine, valuesets, two_more, NEW) == (1, 1, 1)
    assert populations(engine, valuesets, two_more, OLD) == (1, 1, 1)


@pytest.mark.parametrize(
    ("birth", "stratum"),
    [
        (dt.date(2013, 1, 1), "13-17"),
        (dt.date(2008, 1, 2), "13-17"),
        (dt.date(2008, 1, 1), "18-64"),
        (dt.date(1961, 1, 2), "18-64"),
        (dt.date(1961, 1, 1), "65+"),
    ],
)
def test_patients_are_stratified_by_age_at_the_start_of_the_period(
    engine, valuesets, birth, stratum
):
    rows = episode()
    rows["patients"] = [{"patient_id": ALICE, "birth_date": birth}]
    for version in (OLD, NEW):
        measure = definitions.find_version(version).measure()
        result = evaluate(
            measure,
            make_tables(**rows),
            valuesets[2026 if version == NEW else 2025],
            period=P2026,
            engine=engine.name,
            connection=engine.connection,
        )
        assert result.patient(ALICE).strata == {"age": stratum}
        summary = [s for s in result.summary if s.stratifier == "age"]
        assert {(s.group, s.stratum) for s in summary} == {
            ("group-1", stratum),
            ("group-2", stratum),
        }
