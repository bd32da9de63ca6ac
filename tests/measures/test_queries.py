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


def test_observations_name_the_fhir_type_of_their_value(population):
    b.observation(
        patient=population.pat, code="72166-2", category="survey", value_num=None, value_code="x"
    )
    obs = queries.analytic_tables(user=None)["observations"].to_pylist()

    types = {o["code"]: o["value_type"] for o in obs}
    assert types["8480-6"] == "Quantity"  # a vital
    assert types["44261-6"] == "integer"  # an instrument total
    assert types["72166-2"] == "CodeableConcept"
    assert types["85354-9"] is None  # the panel row has no value


def test_a_received_consult_report_is_a_task_based_on_its_referral(population):
    from tandem.clinical.models import ReferralReport, ServiceRequest

    pat, program = population.pat, population.pc_program
    referral = ServiceRequest.objects.create(
        patient=pat,
        program=program,
        code_system="http://snomed.info/sct",
        code="308471005",
        authored_at=dt.datetime(2025, 2, 1, 14, 0, tzinfo=dt.UTC),
    )
    ReferralReport.objects.create(
        patient=pat,
        program=program,
        referral=referral,
        code_system="http://loinc.org",
        code="11488-4",
        received_at=dt.datetime(2025, 3, 10, 13, 0, tzinfo=dt.UTC),
        filed_at=dt.datetime(2025, 3, 10, 13, 15, tzinfo=dt.UTC),
    )

    [task] = queries.analytic_tables(user=None)["tasks"].to_pylist()

    assert task["based_on_id"] == str(referral.pk)
    assert (task["status"], task["intent"], task["code"]) == ("completed", "order", "11488-4")
    assert task["patient_id"] == str(pat.pk)
    assert task["execution_start"] == dt.datetime(2025, 3, 10, 13, 0)
    assert task["execution_end"] == dt.datetime(2025, 3, 10, 13, 15)


def test_allergies_and_adverse_events_have_no_operational_rows_yet(population):
    tables = queries.analytic_tables(user=None)

    assert tables["allergies"].num_rows == 0 and tables["adverse_events"].num_rows == 0


def test_an_encounters_principal_diagnosis_is_its_diagnosis_and_its_reason(population):
    [condition] = [
        c for c in queries.analytic_tables(user=None)["conditions"].to_pylist() if c["encounter_id"]
    ]

    reasons = queries.analytic_tables(user=None)["encounter_reasons"].to_pylist()

    assert sorted((r["kind"], r["condition_id"], r["rank"]) for r in reasons) == [
        ("diagnosis", condition["condition_id"], 1),
        ("reason-reference", condition["condition_id"], None),
    ]
    assert {r["encounter_id"] for r in reasons} == {condition["encounter_id"]}


def test_a_report_received_from_2026_is_a_fulfill_task_for_its_referral(population):
    from tandem.clinical.models import ReferralReport, ServiceRequest

    pat, program = population.pat, population.pc_program
    referral = ServiceRequest.objects.create(
        patient=pat,
        program=program,
        code_system="http://snomed.info/sct",
        code="306278007",
        authored_at=dt.datetime(2026, 2, 1, 14, 0, tzinfo=dt.UTC),
    )
    ReferralReport.objects.create(
        patient=pat,
        program=program,
        referral=referral,
        code_system="http://loinc.org",
        code="11488-4",
        received_at=dt.datetime(2026, 3, 10, 13, 0, tzinfo=dt.UTC),
    )

    [task] = queries.analytic_tables(user=None)["tasks"].to_pylist()

    assert (task["code"], task["reason_code"]) == ("fulfill", "11488-4")
    assert task["focus_id"] == task["based_on_id"] == str(referral.pk)
    assert task["execution_end"] == task["execution_start"]  # no filing time: received
