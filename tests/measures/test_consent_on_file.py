"""TANDEM-CONSENT on the operational database: the consent directives reach the analytic table,
`tandem measure run --store` and the daily refresh store the measure, and each stored result
carries the label of what it reveals (SUD: 42 CFR Part 2)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from tandem.consent.models import ConsentDirective, DirectiveRecipient
from tandem.measures import queries, run
from tandem.measures.models import MeasurePatientResult
from tests import builders as b

pytestmark = pytest.mark.django_db

PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
ONSET = dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)


def native() -> str:
    return "postgres" if connection.vendor == "postgresql" else "sqlite"


def directive(patient, *, categories, recipients, purposes=("treatment",), **kw):
    kw.setdefault("start", dt.date(2025, 1, 1))
    kw.setdefault("status", "active")
    labels = set(categories)
    label = "substance-use" if {"substance-use", "all"} & labels else sorted(labels)[0]
    made = ConsentDirective.objects.create(
        patient=patient,
        categories=list(categories),
        purposes=list(purposes),
        sensitivity=label,
        **kw,
    )
    for recipient in recipients:
        DirectiveRecipient.objects.create(directive=made, **recipient)
    return made


@pytest.fixture
def people(team):
    alice = team.practitioner(team.alice)
    bob = team.practitioner(team.bob)
    start = dt.date(2024, 1, 1)

    def measured(code, program):
        patient = b.patient(mrn_site=team.pc_site, home_site=team.pc_site)
        b.condition(patient=patient, code=code, program=program, onset=ONSET)
        b.care_team_member(patient=patient, practitioner=alice, role="pcp", start=start)
        b.care_team_member(
            patient=patient, practitioner=bob, role="care-manager", program=team.bh_program,
            start=start,
        )  # fmt: skip
        return patient

    shared_smi = measured("F20.9", team.bh_program)
    directive(
        shared_smi, categories=["mental-health"], recipients=[{"kind": "role", "role": "pcp"}]
    )
    unshared_smi = measured("F20.9", team.bh_program)
    sud = measured("F11.20", team.part2_program)
    directive(
        sud,
        categories=["all"],
        purposes=[],
        part2_tpo=True,
        recipients=[{"kind": "organization", "organization": team.pc_site.organization}],
    )
    revoked = measured("F11.20", team.part2_program)
    directive(
        revoked,
        categories=["substance-use"],
        recipients=[
            {"kind": "person", "practitioner": alice, "revoked_on": ONSET.replace(year=2025)}
        ],
    )
    return {"consented": shared_smi, "unshared": unshared_smi, "sud": sud, "revoked": revoked}


def test_the_analytic_table_has_a_row_per_category_purpose_and_recipient(people, team):
    tables = queries.analytic_tables(user=None)
    rows = tables["consent_directives"].to_pylist()
    sud = [r for r in rows if r["patient_id"] == str(people["sud"].pk)]
    # "all" is the four categories; a Part 2 TPO consent covers treatment, payment, operations
    assert {r["category"] for r in sud} == {
        "substance-use", "mental-health", "hiv", "reproductive-health",
    }  # fmt: skip
    assert {r["purpose"] for r in sud} == {"treatment", "payment", "operations"}
    assert {r["recipient_kind"] for r in sud} == {"organization"}
    assert {r["recipient_id"] for r in sud} == {str(team.pc_site.organization_id)}
    assert {r["sensitivity"] for r in sud} == {"substance-use"}
    [revoked] = [r for r in rows if r["patient_id"] == str(people["revoked"].pk)]
    assert revoked["recipient_revoked_date"] == dt.date(2025, 3, 1)
    sites = tables["sites"].to_pylist()
    assert {s["organization_id"] for s in sites} == {str(team.pc_site.organization_id)}


@pytest.mark.parametrize("engine", ["duckdb", "memory", "native"])
def test_measure_run_store_counts_and_labels_each_result(people, engine):
    engine = native() if engine == "native" else engine
    [outcome] = run.run_measures(
        by=None, keys=["TANDEM-CONSENT"], period=PERIOD, store=True, engine=engine
    )

    assert outcome.counts["group-1"]["denominator"] == 4
    assert outcome.counts["group-1"]["numerator"] == 2
    rows = {
        r.patient_id: r
        for r in MeasurePatientResult.objects.filter(run_id=outcome.run_id, group="group-1")
    }
    assert rows[people["consented"].pk].in_numerator
    assert not rows[people["unshared"].pk].in_numerator
    assert rows[people["sud"].pk].in_numerator
    assert not rows[people["revoked"].pk].in_numerator  # the PCP was revoked in March
    # SMI results are mental-health data; SUD results are Part 2 data
    assert rows[people["consented"].pk].sensitivity == "mental-health"
    assert rows[people["sud"].pk].sensitivity == "substance-use"
    assert rows[people["revoked"].pk].sensitivity == "substance-use"
    evidence = rows[people["sud"].pk].evidence["denominator"]
    assert evidence["substance_use_directive"] is not None


def test_the_daily_refresh_stores_it(people):
    from tandem.measures import jobs

    plan = {version.key for version, _ in jobs.refresh_plan(dt.date(2025, 12, 31))}
    assert "TANDEM-CONSENT" in plan
