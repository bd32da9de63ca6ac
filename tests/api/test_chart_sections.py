"""The chart's clinician-facing sections in the API: flagged labs, care gaps, engagement."""

from __future__ import annotations

import pytest

from tandem.audit.models import AuditEvent
from tests import builders as b
from tests.api.conftest import bearer, is_problem, token_for
from tests.registry.test_chart import store_result
from tests.registry.test_engagement import smi


def url(patient_id: int, section: str) -> str:
    return f"/api/patients/{patient_id}/{section}"


def test_labs_carry_the_short_name_unit_value_flag_and_range(client, team):
    b.observation(patient=team.pat, program=team.pc_program, value_num=8.4)
    b.observation(
        patient=team.pat, program=team.pc_program, code="8480-6", display="Systolic blood pressure",
        value_num=162, value_unit="mm[Hg]", category="vital-signs", panel_id="p1",
    )  # fmt: skip

    items = client.get(url(team.pat.pk, "labs"), headers=bearer(token_for(team.alice))).json()[
        "items"
    ]

    by_code = {i["code"]: i for i in items}
    a1c, systolic = by_code["4548-4"], by_code["8480-6"]
    assert (a1c["name"], a1c["value"], a1c["flag"], a1c["flag_text"]) == (
        "HbA1c",
        "8.4 %",
        "H",
        "High",
    )
    assert a1c["reference_range"] == "4–5.6 %"
    assert (systolic["name"], systolic["unit"], systolic["value"]) == (
        "Systolic BP",
        "mmHg",
        "162 mmHg",
    )
    assert systolic["panel_id"] == "p1" and systolic["flag"] == "H"


def test_gaps_list_the_open_gaps_with_evidence_and_withheld_notices(client, team):
    gap = {"initial-population": 1, "denominator": 1, "numerator": 0}
    store_result(team, "SSD", gap, evidence={"denominator": {"last_glucose_test": None}})
    store_result(team, "SMD", gap, sensitivity="mental-health")

    body = client.get(url(team.pat.pk, "gaps"), headers=bearer(token_for(team.alice))).json()

    assert [g["measure"] for g in body["items"]] == ["SSD"]
    assert body["items"][0]["evidence"] == {"denominator": {"last_glucose_test": None}}
    assert body["withheld"][0]["count"] == 1


def test_engagement_is_shown_to_a_behavioral_health_reader_on_an_smi_patient(client, team):
    smi(team)

    bh = client.get(url(team.pat.pk, "engagement"), headers=bearer(token_for(team.charlie)))
    pcp = client.get(url(team.pat.pk, "engagement"), headers=bearer(token_for(team.alice)))

    body = bh.json()
    assert body["shown"] is True and body["pcp"] == team.practitioner(team.alice).name
    assert [m["key"] for m in body["monitoring"]] == ["glycemic", "lipids", "bp", "bmi", "tobacco"]
    assert {m["state"] for m in body["monitoring"]} == {"overdue"}
    assert pcp.json()["shown"] is False and pcp.json()["monitoring"] == []


@pytest.mark.parametrize("section", ["gaps", "engagement"])
def test_the_outsider_gets_a_404_problem_and_an_audit_event(client, team, section):
    response = client.get(url(team.pat.pk, section), headers=bearer(token_for(team.olive)))

    is_problem(response, 404)
    assert AuditEvent.objects.filter(
        actor_id=team.olive.pk, patient_id=team.pat.pk, outcome="denied"
    ).exists()
