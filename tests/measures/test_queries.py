"""The operational database as a measure source (views and Arrow extraction)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.consent import gate
from tandem.measures import queries, schema
from tests import builders as b

pytestmark = pytest.mark.django_db


@pytest.fixture
def population(team):
    pat = team.pat
    enc = b.encounter(
        patient=pat,
        site=team.pc_site,
        program=team.pc_program,
        type_system="http://www.ama-assn.org/go/cpt",
        type_code="99213",
        start=dt.datetime(2025, 3, 4, 15, 30, tzinfo=dt.UTC),
    )
    b.condition(patient=pat, code="F20.9", program=team.bh_program, encounter=enc, rank=1)
    b.observation(
        patient=pat,
        code="8480-6",
        value_num=128,
        panel_code="85354-9",
        panel_id="bp-1",
        category="vital-signs",
        effective_at=dt.datetime(2025, 3, 4, 15, 40, tzinfo=dt.UTC),
    )
    b.observation(
        patient=pat,
        code="8462-4",
        value_num=82,
        panel_code="85354-9",
        panel_id="bp-1",
        category="vital-signs",
        effective_at=dt.datetime(2025, 3, 4, 15, 40, tzinfo=dt.UTC),
    )
    b.medication_order(patient=pat, start=dt.date(2025, 3, 4), end=dt.date(2025, 6, 1))
    from tandem.screening.models import AssessmentResponse

    AssessmentResponse.objects.create(
        patient=pat,
        instrument="phq9",
        total_score=14,
        effective_at=timezone.now(),
        answers={"44260-8": 1},
    )
    return team


def test_it_extracts_every_contract_table(population):
    tables = queries.analytic_tables(user=None)

    for name in schema.TABLES:
        assert tables[name].schema == schema.arrow_schema(name), name
    pat = str(population.pat.pk)
    assert tables["patients"].column("patient_id").to_pylist() == [pat]
    assert tables["patients"].column("pcp_id").to_pylist() == [
        str(population.practitioner(population.alice).pk)
    ]


def test_timestamps_are_naive_utc_and_date_ends_cover_the_day(population):
    tables = queries.analytic_tables(user=None)

    [start] = tables["encounters"].column("start").to_pylist()
    assert start == dt.datetime(2025, 3, 4, 15, 30)
    [end] = tables["medication_requests"].column("period_end").to_pylist()
    assert end == dt.datetime(2025, 6, 1, 23, 59, 59, 999999)


def test_blood_pressure_components_share_the_panels_id(population):
    obs = queries.analytic_tables(user=None)["observations"].to_pylist()

    bp = [o for o in obs if "85354-9" in (o["panel_code"], o["code"])]
    assert {o["observation_id"] for o in bp} == {"bp-1"}
    assert sorted((o["code"], o["panel_code"]) for o in bp) == [
        ("8462-4", "85354-9"),
        ("8480-6", "85354-9"),
        ("85354-9", None),
    ]


def test_assessment_totals_appear_as_observations(population):
    obs = queries.analytic_tables(user=None)["observations"].to_pylist()

    [phq9] = [o for o in obs if o["code"] == "44261-6"]
    assert phq9["value_num"] == 14


def test_views_give_the_same_rows_as_the_extraction(population):
    names = queries.create_views(user=None, connection=connection, prefix="a_")
    with connection.cursor() as cursor:
        cursor.execute("SELECT encounter_id, code, start FROM a_encounters")
        rows = cursor.fetchall()

    assert "encounters" in names
    assert [(r[0], r[1]) for r in rows] == [
        (str(e), "99213")
        for e in queries.analytic_tables(user=None)["encounters"].column("encounter_id").to_pylist()
    ]


def test_a_leader_measures_only_their_sites(population):
    elsewhere = b.site(code="elsewhere")
    b.patient(mrn_site=elsewhere)

    tables = queries.analytic_tables(user=population.leo)

    assert tables["patients"].column("patient_id").to_pylist() == [str(population.pat.pk)]


def test_clinicians_cannot_read_whole_populations(population):
    with pytest.raises(gate.AccessDenied):
        queries.analytic_tables(user=population.alice)

    assert AuditEvent.objects.filter(action="population-read", outcome="denied").exists()


def test_a_stored_panel_row_is_not_duplicated(population):
    b.observation(
        patient=population.pat,
        code="85354-9",
        value_num=None,
        panel_id="bp-1",
        category="vital-signs",
    )

    obs = queries.analytic_tables(user=None)["observations"].to_pylist()

    assert [o["code"] for o in obs if o["code"] == "85354-9"] == ["85354-9"]
