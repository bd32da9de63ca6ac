"""The integrated chart (F4): results as clinicians read them, every section through the gate."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tests import builders as b

CPT = "http://www.ama-assn.org/go/cpt"
LONG_CPT = (
    "Interactive complexity (List separately in addition to the code for primary procedure), "
    "psychiatric services requiring communication factors"
)


def chart(client, user, patient) -> str:
    client.force_login(user)
    response = client.get(reverse("patient-summary", args=[patient.pk]))
    assert response.status_code == 200
    return response.text


def lazy(client, patient, name: str):
    return client.get(
        reverse("patient-section", args=[patient.pk, name]), headers={"HX-Request": "true"}
    )


def section(text: str, key: str) -> str:
    start = text.index(f'<section id="{key}"')
    return text[start : text.index("</section>", start)]


def days_ago(n: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=n)


def bp(team, systolic: float, diastolic: float, when: dt.datetime, panel: str) -> None:
    for code, value in (("8480-6", systolic), ("8462-4", diastolic)):
        b.observation(
            patient=team.pat,
            program=team.pc_program,
            code=code,
            display="",
            value_num=value,
            value_unit="mm[Hg]",
            category="vital-signs",
            effective_at=when,
            panel_code="85354-9",
            panel_id=panel,
        )


def a1c(team, value: float, days: int) -> None:
    b.observation(
        patient=team.pat, program=team.pc_program, value_num=value, effective_at=days_ago(days)
    )


def test_it_shows_blood_pressure_as_one_reading_with_a_flag(client, team):
    bp(team, 140, 88, days_ago(90), "bp-1")
    bp(team, 162, 102, days_ago(3), "bp-2")

    labs = section(chart(client, team.alice, team.pat), "labs")

    assert "162/102 mmHg" in labs
    assert "mm[Hg]" not in labs
    row = labs[labs.index("Blood pressure") :]
    assert re.search(r'data-testid="flag">H <span class="fw-normal">High</span>', row)
    assert "Blood pressure 140/88 → 162/102 mmHg over 2 readings" in labs
    assert "Systolic BP" not in labs and "Diastolic BP" not in labs


def test_it_flags_results_outside_the_reference_range_in_words(client, team):
    a1c(team, 8.4, 5)
    b.observation(
        patient=team.pat,
        program=team.pc_program,
        code="13457-7",
        display="Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
        value_num=82,
        value_unit="mg/dL",
    )

    labs = section(chart(client, team.alice, team.pat), "labs")

    assert "HbA1c" in labs and "8.4 %" in labs and "4–5.6 %" in labs
    assert labs.count('data-testid="flag"') == 1  # the LDL of 82 is in range
    assert "LDL cholesterol" in labs and "≤ 99 mg/dL" in labs


def test_it_shows_the_trend_of_repeated_results_in_words_and_svg(client, team):
    for days, value in ((400, 7.1), (300, 7.4), (200, 7.9), (100, 8.0), (5, 8.4)):
        a1c(team, value, days)

    labs = section(chart(client, team.alice, team.pat), "labs")

    assert "HbA1c 7.1 → 8.4 % over 5 results" in labs
    svg = re.search(r"<svg[^>]*>.*?</svg>", labs, re.S)
    assert svg and 'role="img"' in svg.group(0) and "style=" not in svg.group(0)
    assert "<title>HbA1c 7.1 → 8.4 % over 5 results</title>" in svg.group(0)


def test_units_are_written_for_people(client, team):
    b.observation(
        patient=team.pat,
        program=team.pc_program,
        code="39156-5",
        display="Body mass index (BMI) [Ratio]",
        value_num=31.2,
        value_unit="kg/m2",
        category="vital-signs",
    )

    labs = section(chart(client, team.alice, team.pat), "labs")

    assert "BMI" in labs and "31.2 kg/m²" in labs and "kg/m2" not in labs


def test_encounters_have_short_names_and_no_descriptor_is_cut_mid_word(client, team):
    office = (
        "Office or other outpatient visit for the evaluation and management of an established "
        "patient, which requires a medically appropriate history and/or examination"
    )
    b.encounter(
        patient=team.pat, program=team.pc_program, type_system=CPT, type_code="99213",
        type_display=office, setting="pc",
    )  # fmt: skip
    b.encounter(
        patient=team.pat, program=team.pc_program, type_system=CPT, type_code="90785",
        type_display=LONG_CPT, start=days_ago(40),
    )  # fmt: skip

    encounters = section(chart(client, team.alice, team.pat), "encounters")

    assert ">Office visit</span>" in encounters
    shown = re.findall(r'<span title="Interactive[^"]*">([^<]+)</span>', encounters)
    assert shown == ["Interactive complexity"]  # cut at its clause, never inside a word


def test_medications_show_the_last_fill_and_the_gap_in_supply(client, team):
    from tandem.meds.models import MedicationDispense

    order = b.medication_order(patient=team.pat, program=team.pc_program)
    MedicationDispense.objects.create(
        patient=team.pat, program=team.pc_program, order=order, code_system=order.code_system,
        code=order.code, display=order.display, days_supply=30, dispensed_at=days_ago(60),
    )  # fmt: skip

    meds = section(chart(client, team.alice, team.pat), "medications")

    assert "metformin 500 mg ER tablet" in meds
    assert "30 days" in meds and "Out of supply for 30 days" in meds


def test_the_supply_gap_counts_days_where_the_clinic_is(settings):
    """An evening fill in Chicago is already the next day in UTC: the supply runs from the
    clinic's day of the fill (it was one day short between 18:00 and midnight, local)."""
    from types import SimpleNamespace

    from tandem.registry import chart as c

    settings.TIME_ZONE = "America/Chicago"
    order = SimpleNamespace(pk=1, code_system="rxnorm", code="860975", display="metformin")
    fill = SimpleNamespace(
        pk=2,
        order_id=1,
        code_system="rxnorm",
        code="860975",
        days_supply=30,
        # 2026-10-05 19:35 in Chicago (CDT)
        dispensed_at=dt.datetime(2026, 10, 6, 0, 35, tzinfo=dt.UTC),
    )

    (line,), others = c.medications([order], [fill], today=dt.date(2026, 12, 4))

    assert line.supply_until == dt.date(2026, 11, 4)
    assert line.gap_days == 30 and others == []


def test_assessments_show_the_score_band_and_its_trend(client, team):
    from tandem.screening.models import AssessmentResponse

    for days, score in ((120, 18), (60, 12), (2, 9)):
        AssessmentResponse.objects.create(
            patient=team.pat, program=team.pc_program, instrument="phq9", total_score=score,
            effective_at=days_ago(days),
        )  # fmt: skip

    scores = section(chart(client, team.alice, team.pat), "assessments")

    assert "PHQ-9" in scores and "(mild)" in scores
    assert "PHQ-9 18 → 9 over 3 results" in scores


def test_each_section_names_what_the_gate_withheld(client, team):
    b.observation(
        patient=team.pat, program=team.part2_program, code="2345-7", display="Glucose",
        value_num=180, value_unit="mg/dL",
    )  # fmt: skip
    b.condition(patient=team.pat, program=team.part2_program, code="F11.20", display="Opioid")

    text = chart(client, team.alice, team.pat)

    for key in ("labs", "problems"):
        assert "1 item withheld" in section(text, key)
    assert "Opioid" not in text and "180 mg/dL" not in text
    assert "Restricted record" in text


def store_result(team, measure: str, populations: dict, **kw):
    from tandem.measures.models import MeasurePatientResult, MeasureRun

    run = MeasureRun.objects.create(
        measure=measure, version=f"{measure}v1", period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 12, 31), engine="sqlite", started_at=timezone.now(),
        finished_at=timezone.now(), patients=1, summary=[],
    )  # fmt: skip
    kw.setdefault("sensitivity", "normal")
    return MeasurePatientResult.objects.create(
        run=run, patient=team.pat, group="group-1", populations=populations,
        in_initial_population=True, in_numerator=bool(populations.get("numerator")), **kw,
    )  # fmt: skip


def test_open_care_gaps_come_from_the_latest_stored_runs_with_their_evidence(client, team):
    gap = {"initial-population": 1, "denominator": 1, "numerator": 0}
    store_result(team, "SSD", {**gap, "numerator": 1})  # an older run: closed
    store_result(
        team, "SSD", gap, evidence={"denominator": {"last_glucose_test": None}},
        reasons={"denominator": ["schizophrenia", "antipsychotic"]},
    )  # fmt: skip
    store_result(team, "CMS165", {**gap, "numerator": 1})  # met: no gap
    store_result(team, "CMS122", {**gap, "numerator": 1})  # inverse: the numerator is the gap
    store_result(team, "SMD", gap, sensitivity="mental-health")
    client.force_login(team.alice)

    response = lazy(client, team.pat, "gaps")

    text = response.text
    assert response.status_code == 200 and "<html" not in text
    assert "Diabetes screening, schizophrenia or bipolar disorder" in text
    assert "Last glucose test" in text and "none found" in text
    assert "schizophrenia, antipsychotic" in text
    assert "Controlling high blood pressure" not in text
    assert "Diabetes: glycemic status" in text
    assert "1 item withheld" in text and "Diabetes monitoring" not in text
    assert AuditEvent.objects.filter(
        actor_id=team.alice.pk, detail__startswith="open care gaps"
    ).exists()


def test_the_patients_tasks_show_on_the_chart(client, team):
    from tandem.tasks import services as tasks

    queue = tasks.queue_for(site=team.pc_site, kind="primary-care")
    tasks.create_task(by=team.alice, patient=team.pat, title="Call about labs", queue=queue)

    text = section(chart(client, team.alice, team.pat), "tasks")

    assert "Call about labs" in text and "Open" in text


def test_the_page_loads_its_lazy_sections_in_one_request_swapped_out_of_band(client, team):
    b.condition(patient=team.pat, program=team.bh_program, code="F20.9", display="Schizophrenia")
    page = chart(client, team.charlie, team.pat)
    url = reverse("patient-sections", args=[team.pat.pk]) + "?engagement=1"
    assert f'hx-get="{url}" hx-trigger="load" hx-swap="none"' in page

    text = client.get(url, headers={"HX-Request": "true"}).text

    for key in ("gaps", "outreach", "engagement"):
        assert re.search(rf'<section id="{key}"[^>]*hx-swap-oob="true"', text), key


def test_the_patients_worklist_items_show_in_the_outreach_section(client, team):
    from tests.outreach import builders as ob

    ob.item(patient=team.pat)  # disengaged from primary care: labelled mental-health
    client.force_login(team.bob)

    bob = lazy(client, team.pat, "outreach").text
    client.force_login(team.alice)
    alice = lazy(client, team.pat, "outreach").text

    assert "No primary-care visit on record" in bob and "New" in bob
    assert "No primary-care visit on record" not in alice and "1 item withheld" in alice


def test_an_unknown_lazy_section_is_a_404(client, team):
    client.force_login(team.alice)
    assert lazy(client, team.pat, "no-such-section").status_code == 404


@pytest.mark.parametrize("name", ["gaps", "outreach", "engagement"])
def test_the_outsider_gets_a_404_for_every_section_and_it_is_audited(client, team, name):
    client.force_login(team.olive)

    response = lazy(client, team.pat, name)

    assert response.status_code == 404 and "Jones" not in response.text
    assert AuditEvent.objects.filter(
        actor_id=team.olive.pk, patient_id=team.pat.pk, outcome="denied"
    ).exists()


def rich_chart(team, n: int) -> None:
    """``n`` rows of every kind the chart shows."""
    from tandem.meds.models import MedicationDispense
    from tandem.screening.models import AssessmentResponse

    for i in range(n):
        a1c(team, 7 + i / 10, 10 + i)
        bp(team, 130 + i, 80 + i, days_ago(20 + i), f"p{i}")
        order = b.medication_order(patient=team.pat, program=team.pc_program, code=f"9{i}")
        MedicationDispense.objects.create(
            patient=team.pat, program=team.pc_program, order=order, code_system=order.code_system,
            code=order.code, days_supply=30, dispensed_at=days_ago(i),
        )  # fmt: skip
        b.condition(patient=team.pat, program=team.pc_program, code=f"E11.{i}")
        b.encounter(patient=team.pat, program=team.pc_program, site=team.pc_site)
        b.note(patient=team.pat, program=team.pc_program, author=team.practitioner(team.alice))
        AssessmentResponse.objects.create(
            patient=team.pat, program=team.pc_program, instrument="phq9", total_score=i,
            effective_at=days_ago(i),
        )  # fmt: skip


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("name", [None, "all", "gaps", "outreach", "engagement"])
def test_the_chart_reads_in_a_number_of_queries_that_does_not_grow_with_the_record(
    client, team, name
):
    client.force_login(team.charlie)
    if name is None:
        url = reverse("patient-summary", args=[team.pat.pk])
    elif name == "all":  # what the page loads after itself: every lazy section at once
        url = reverse("patient-sections", args=[team.pat.pk]) + "?engagement=1"
    else:
        url = reverse("patient-section", args=[team.pat.pk, name])
    b.condition(patient=team.pat, program=team.bh_program, code="F20.9", display="Schizophrenia")
    rich_chart(team, 1)
    few = queries_for(client, url)
    rich_chart(team, 12)

    many = queries_for(client, url)

    assert many == few
    assert many <= (90 if name == "all" else 60)  # "all": four gate reads in one response
