"""What changed in CMS50v14 (2026, closing the referral loop), on every engine.

Each test builds a small patient whose result differs between the 2025 and the 2026 logic and
evaluates both versions over a 2026 period (the 2025 version pinned, with the 2025
expansions). Codes come from the published expansions in the shared folder.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tandem.measures import definitions
from tandem.measures import valuesets as vs_module
from tests import shared
from tests.measures.conftest import make_tables

pytestmark = [shared.needs(shared.VALUESETS_2026), shared.needs(shared.VALUESETS)]

P2026 = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
CPT = "http://www.ama-assn.org/go/cpt"
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
ALICE = "alice"
OLD, NEW = "CMS50v13", "CMS50v14"


@pytest.fixture(scope="module")
def valuesets() -> dict[int, Any]:
    return {year: vs_module.load(path) for year, path in shared.VALUESETS_BY_YEAR.items()}


def populations(engine, valuesets, rows: dict[str, list[dict[str, Any]]], version: str):
    """Alice's (initial population, numerator) under one version."""
    found = definitions.evaluate(
        "CMS50",
        make_tables(**rows),
        P2026,
        version=version,
        engine=engine.name,
        connection=engine.connection,
        valuesets=valuesets[2026 if version == NEW else 2025],
    )
    pops = next((r["groups"][0]["populations"] for r in found if r["id"] == ALICE), {})
    return pops.get("initial-population", 0), pops.get("numerator", 0)


def ts(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour)


def visit(code: str = "99213", **kw: Any) -> dict[str, Any]:
    start = kw.pop("start", ts(2, 2))
    return {
        "patient_id": ALICE,
        "status": "finished",
        "class_code": "AMB",
        "system": CPT,
        "code": code,
        "start": start,
        "end": start + dt.timedelta(minutes=30),
        **kw,
    }


def referral(rid: str = "ref-1", authored: dt.datetime | None = None, **kw: Any):
    return {
        "request_id": rid,
        "patient_id": ALICE,
        "status": "active",
        "intent": "order",
        "system": SCT,
        "code": "103696004",
        "authored": authored or ts(3, 1),
        **kw,
    }


def report_2026(**kw: Any) -> dict[str, Any]:
    """A completed Task coded ``fulfill``, reason "Consultant Report", based on ref-1."""
    end = kw.pop("execution_end", ts(4, 1))
    return {
        "task_id": kw.pop("task_id", "task-1"),
        "patient_id": ALICE,
        "status": "completed",
        "intent": "order",
        "system": TASK_CODE,
        "code": "fulfill",
        "reason_system": LOINC,
        "reason_code": "11488-4",
        "based_on_id": "ref-1",
        "execution_start": end - dt.timedelta(hours=1),
        "execution_end": end,
        **kw,
    }


def report_2025(**kw: Any) -> dict[str, Any]:
    """A completed Task coded in "Consultant Report" (LOINC 11488-4), based on ref-1."""
    return report_2026(system=LOINC, code="11488-4", reason_system=None, reason_code=None, **kw)


def patient() -> dict[str, Any]:
    return {"patient_id": ALICE, "birth_date": dt.date(1970, 1, 1)}


def test_a_report_in_2026_is_a_fulfill_task_with_the_consultant_report_reason(engine, valuesets):
    rows = {"patients": [patient()], "encounters": [visit()], "service_requests": [referral()]}
    old_style = {**rows, "tasks": [report_2025()]}
    new_style = {**rows, "tasks": [report_2026()]}
    assert populations(engine, valuesets, old_style, OLD) == (1, 1)
    assert populations(engine, valuesets, old_style, NEW) == (1, 0)
    assert populations(engine, valuesets, new_style, OLD) == (1, 0)
    assert populations(engine, valuesets, new_style, NEW) == (1, 1)


def test_a_fulfill_task_without_the_consultant_report_reason_does_not_close_the_loop(
    engine, valuesets
):
    rows = {
        "patients": [patient()],
        "encounters": [visit()],
        "service_requests": [referral()],
        "tasks": [report_2026(reason_code="34133-9")],  # a summary of episode note
    }
    assert populations(engine, valuesets, rows, NEW) == (1, 0)


def test_a_task_may_name_the_referral_as_its_focus_in_2026(engine, valuesets):
    rows = {
        "patients": [patient()],
        "encounters": [visit()],
        "service_requests": [referral()],
        "tasks": [report_2026(based_on_id=None, focus_id="ref-1")],
    }
    assert populations(engine, valuesets, rows, NEW) == (1, 1)
    focus_2025 = {**rows, "tasks": [report_2025(based_on_id=None, focus_id="ref-1")]}
    assert populations(engine, valuesets, focus_2025, OLD) == (1, 0)


def test_assessments_count_as_procedures_in_2026_and_as_encounters_in_2025(engine, valuesets):
    """96136 (psychological testing) and Behavioral/Neuropsych Assessment (96116)."""
    for code in ("96136", "96116"):
        as_encounter = {
            "patients": [patient()],
            "encounters": [visit(code)],
            "service_requests": [referral()],
        }
        as_procedure = {
            "patients": [patient()],
            "procedures": [
                {
                    "patient_id": ALICE,
                    "status": "completed",
                    "system": CPT,
                    "code": code,
                    "performed_start": ts(2, 2),
                    "performed_end": ts(2, 2, 11),
                }
            ],
            "service_requests": [referral()],
        }
        assert populations(engine, valuesets, as_encounter, OLD) == (1, 0)
        assert populations(engine, valuesets, as_encounter, NEW) == (0, 0)
        assert populations(engine, valuesets, as_procedure, OLD) == (0, 0)
        assert populations(engine, valuesets, as_procedure, NEW) == (1, 0)


def test_a_procedure_not_completed_or_outside_the_period_does_not_qualify(engine, valuesets):
    def procedure(**kw: Any) -> dict[str, Any]:
        return {
            "patient_id": ALICE,
            "status": kw.pop("status", "completed"),
            "system": CPT,
            "code": "90839",
            "performed_start": kw.pop("start", ts(2, 2)),
            "performed_end": kw.pop("end", ts(2, 2, 11)),
        }

    for proc in (
        procedure(status="in-progress"),
        procedure(start=dt.datetime(2025, 12, 31, 23), end=ts(1, 1, 1)),
        procedure(end=None),
    ):
        rows = {"patients": [patient()], "procedures": [proc], "service_requests": [referral()]}
        assert populations(engine, valuesets, rows, NEW) == (0, 0)


def test_the_first_referral_is_the_earliest_by_day_then_by_time(engine, valuesets):
    """2026 sorts referrals by the date of authoredOn; on a tie Tandem takes the earliest
    time (then the smallest id): the report must answer that one."""
    rows = {
        "patients": [patient()],
        "encounters": [visit()],
        "service_requests": [
            referral("ref-b", authored=ts(3, 1, 8)),
            referral("ref-a", authored=ts(3, 1, 9)),
        ],
        "tasks": [report_2026(based_on_id="ref-a")],
    }
    assert populations(engine, valuesets, rows, NEW) == (1, 0)
    rows["tasks"] = [report_2026(based_on_id="ref-b")]
    assert populations(engine, valuesets, rows, NEW) == (1, 1)


def test_referral_window_and_report_timing_are_unchanged(engine, valuesets):
    """Referral authored by 31 October; report ending after it and within the period."""
    base = {"patients": [patient()], "encounters": [visit()]}
    late = {**base, "service_requests": [referral(authored=ts(11, 1, 0))]}
    assert populations(engine, valuesets, late, NEW) == (0, 0)
    on_time = {**base, "service_requests": [referral(authored=ts(10, 31, 23))]}
    early_report = {**on_time, "tasks": [report_2026(execution_end=ts(10, 31, 22))]}
    assert populations(engine, valuesets, early_report, NEW) == (1, 0)
    next_year = {**on_time, "tasks": [report_2026(execution_end=dt.datetime(2027, 1, 1, 1))]}
    assert populations(engine, valuesets, next_year, NEW) == (1, 0)
    in_time = {**on_time, "tasks": [report_2026(execution_end=ts(11, 2))]}
    assert populations(engine, valuesets, in_time, NEW) == (1, 1)
