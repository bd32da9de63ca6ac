"""TANDEM-CONSENT, consent on file: people with SMI or SUD whose behavioral-health and
primary-care providers are both on the care team, and whether an active directive lets the
PC provider see the BH data for treatment. Every case runs on the in-memory oracle, DuckDB,
SQLite and PostgreSQL (the same tables in, the same populations out)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tandem.measures import evaluate, schema
from tandem.measures.definitions import REGISTRY, consent
from tests.measures.hedis.builders import (
    NOT_IN_NUMERATOR,
    SCHIZOPHRENIA,
    VALUESETS,
    Chart,
    d,
    pops,
    tables,
)

IN_NUMERATOR = {"initial-population", "denominator", "numerator"}
ONLY_IP = {"initial-population"}
MEASURE = consent.tandem_consent()
ALCOHOL_USE_DISORDER = "F10.20"
PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))

# Alice is the PCP at Riverside (a primary-care site of organization "org-river"); Bob is a
# care manager at the Hillside CMHC; Charlie a psychiatrist.
SITES = [
    {"site_id": "riverside", "kind": "primary-care", "organization_id": "org-river"},
    {"site_id": "hillside", "kind": "cmhc", "organization_id": "org-hill"},
]
PRACTITIONERS = [
    {"practitioner_id": "alice", "discipline": "pcp", "site_id": "riverside"},
    {"practitioner_id": "bob", "discipline": "care-manager", "site_id": "hillside"},
    {"practitioner_id": "nina", "discipline": "nurse", "site_id": "riverside"},
    {"practitioner_id": "charlie", "discipline": "psychiatrist", "site_id": "hillside"},
]


@pytest.fixture(params=["memory", "duckdb", "sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> tuple[str, Any]:
    if request.param == "postgres":
        return "postgres", request.getfixturevalue("postgres_connection")
    return request.param, None


def patient(
    pid: str = "p1", *, dx: str = SCHIZOPHRENIA, bh: str = "bob", death: str | None = None
) -> Chart:
    chart = Chart(pid, covered=False, death=death).problem(dx).care_team("alice", role="pcp")
    return chart.care_team(bh, role="care-manager") if bh else chart


def directive(
    chart: Chart,
    *,
    category: str = "mental-health",
    kind: str = "person",
    recipient: str | None = "alice",
    role: str | None = None,
    start: str = "2025-01-01",
    end: str | None = None,
    status: str = "active",
    purpose: str = "treatment",
    revoked: str | None = None,
    label: str | None = None,
    directive_id: str | None = None,
) -> Chart:
    chart._add(
        "consent_directives",
        **({"directive_id": directive_id} if directive_id else {}),
        status=status,
        category=category,
        purpose=purpose,
        start_date=d(start),
        end_date=d(end) if end else None,
        recipient_kind=kind,
        recipient_id=recipient,
        recipient_role=role,
        recipient_revoked_date=d(revoked) if revoked else None,
        sensitivity=label or category,
    )
    return chart


def run(charts: list[Chart] | Chart, engine: tuple[str, Any], period=PERIOD):
    charts = [charts] if isinstance(charts, Chart) else charts
    data = tables(*charts)
    data["sites"] = schema.conform("sites", _table("sites", SITES))
    data["practitioners"] = schema.conform("practitioners", _table("practitioners", PRACTITIONERS))
    name, connection = engine
    return evaluate(MEASURE, data, VALUESETS, period=period, engine=name, connection=connection)


def _table(name: str, rows: list[dict[str, Any]]):
    import pyarrow as pa

    columns = [c for c, _ in schema.TABLES[name]]
    return pa.Table.from_pylist(
        [{c: r.get(c) for c in columns} for r in rows], schema=schema.arrow_schema(name)
    )


# --- who is measured ----------------------------------------------------------------------


def test_the_measure_is_registered_and_runs_in_its_one_version():
    info = REGISTRY["TANDEM-CONSENT"]
    assert info.latest.id == "TANDEM-CONSENTv1"
    assert info.latest.measure().id == "TANDEM-CONSENT"


def test_smi_with_both_providers_and_a_directive_naming_the_pcp_is_in_the_numerator(engine):
    result = run(directive(patient(), directive_id="dir-7", end="2026-06-30"), engine)
    assert pops(result) == IN_NUMERATOR
    evidence = result.patient("p1").evidence["group-1"]["denominator"]
    assert evidence["pcp_id"] == "alice"
    assert evidence["bh_provider_id"] == "bob"
    assert evidence["mental_health_directive"] == "dir-7"
    assert evidence["mental_health_expires"] == dt.date(2026, 6, 30)
    assert result.patient("p1").strata["condition"] == "smi"
    assert consent.patient_label(result.patient("p1")) == "mental-health"


def test_without_a_directive_the_patient_is_a_gap(engine):
    assert pops(run(patient(), engine)) == NOT_IN_NUMERATOR


def test_a_patient_without_a_bh_or_a_pc_provider_is_not_in_the_denominator(engine):
    no_bh = patient("no-bh", bh="")
    no_pc = Chart("no-pc", covered=False).problem(SCHIZOPHRENIA).care_team("bob", "care-manager")
    ended_pc = (
        Chart("ended", covered=False)
        .problem(SCHIZOPHRENIA)
        .care_team("alice", end="2025-06-30")
        .care_team("charlie", role="psychiatrist")
    )
    result = run([no_bh, no_pc, ended_pc], engine)
    for pid in ("no-bh", "no-pc", "ended"):
        assert pops(result, pid=pid) == ONLY_IP, pid


def test_a_bh_provider_is_a_bh_role_or_anyone_working_at_a_behavioral_health_site(engine):
    psychiatrist = patient("psy", bh="").care_team("charlie", role="psychiatrist")
    cm_cmhc = patient("cm")  # Bob: care manager at the CMHC
    nurse_pc = patient("nurse", bh="").care_team("nina", role="nurse")  # nurse in primary care
    result = run([psychiatrist, cm_cmhc, nurse_pc], engine)
    assert pops(result, pid="psy") == NOT_IN_NUMERATOR
    assert pops(result, pid="cm") == NOT_IN_NUMERATOR
    assert pops(result, pid="nurse") == ONLY_IP


def test_patients_without_smi_or_sud_or_who_died_are_not_measured(engine):
    depression_only = patient("dep", dx="F33.1")
    died = patient("dead", death="2025-10-01")
    result = run([depression_only, died], engine)
    assert pops(result, pid="dep") == set()
    assert pops(result, pid="dead") == set()


# --- which directives count ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "recipient", "role", "counts"),
    [
        ("person", "alice", None, True),
        ("person", "nina", None, False),  # another person at the same clinic
        ("site", "riverside", None, True),  # the PCP's site
        ("site", "hillside", None, False),
        ("organization", "org-river", None, True),  # the organization running that site
        ("organization", "org-hill", None, False),
        ("role", None, "pcp", True),
        ("role", None, "care-manager", False),
    ],
)
def test_the_recipient_must_be_the_pc_provider_their_site_organization_or_the_pcp_role(
    engine, kind, recipient, role, counts
):
    chart = directive(patient(), kind=kind, recipient=recipient, role=role)
    assert (pops(run(chart, engine)) == IN_NUMERATOR) is counts


@pytest.mark.parametrize(
    ("change", "counts"),
    [
        ({}, True),
        ({"start": "2025-12-31"}, True),  # starts on the measurement date
        ({"start": "2026-01-01"}, False),  # starts after it
        ({"end": "2025-12-31"}, True),  # ends on the measurement date: still in force
        ({"end": "2025-12-30"}, False),  # ended the day before
        ({"status": "draft"}, False),
        ({"status": "revoked"}, False),
        ({"status": "expired"}, False),
        ({"purpose": "operations"}, False),  # not for treatment
        ({"category": "hiv"}, False),  # not the BH data
        ({"revoked": "2025-12-31"}, False),  # the PCP was removed on the day
        ({"revoked": "2026-01-05"}, True),  # removed after the measurement date
    ],
)
def test_only_an_active_treatment_directive_in_force_on_the_measurement_date_counts(
    engine, change, counts
):
    chart = directive(patient(), **change)
    assert (pops(run(chart, engine)) == IN_NUMERATOR) is counts


def test_sud_needs_substance_use_data_shared_and_its_result_is_labelled_part2(engine):
    mh_only = directive(patient("mh", dx=ALCOHOL_USE_DISORDER), category="mental-health")
    su = directive(patient("su", dx=ALCOHOL_USE_DISORDER), category="substance-use")
    result = run([mh_only, su], engine)
    assert pops(result, pid="mh") == NOT_IN_NUMERATOR
    assert pops(result, pid="su") == IN_NUMERATOR
    assert result.patient("su").strata["condition"] == "sud"
    assert consent.patient_label(result.patient("su")) == "substance-use"
    assert consent.patient_label(result.patient("mh")) == "substance-use"


def test_smi_and_sud_need_both_categories_in_one_directive_or_two(engine):
    one = directive(patient("both").problem(ALCOHOL_USE_DISORDER), category="mental-health")
    two = patient("two").problem(ALCOHOL_USE_DISORDER)
    directive(two, category="mental-health", directive_id="d-a")
    directive(two, category="substance-use", directive_id="d-b")
    result = run([one, two], engine)
    assert pops(result, pid="both") == NOT_IN_NUMERATOR
    assert pops(result, pid="two") == IN_NUMERATOR
    assert result.patient("two").strata["condition"] == "smi+sud"


def test_an_smi_result_naming_a_substance_use_directive_is_labelled_part2(engine):
    """A directive sharing mental-health and substance-use data is labelled substance-use: the
    result that names it says there are Part 2 records, whatever the patient's condition."""
    chart = directive(patient(), category="mental-health", label="substance-use")
    result = run(chart, engine)
    assert pops(result) == IN_NUMERATOR
    assert consent.patient_label(result.patient("p1")) == "substance-use"


def test_the_period_end_is_the_measurement_date(engine):
    chart = directive(patient(), start="2025-01-01", end="2025-06-30")
    first_half = run(chart, engine, period=(dt.date(2025, 1, 1), dt.date(2025, 6, 30)))
    whole_year = run(chart, engine)
    assert pops(first_half) == IN_NUMERATOR
    assert pops(whole_year) == NOT_IN_NUMERATOR
