"""Audit events as FHIR AuditEvent in the IHE Basic Audit Log Patterns (BALP) shape."""

from __future__ import annotations

import pytest

from tandem.audit import fhir, services

pytestmark = pytest.mark.django_db


def as_fhir(actor, action, outcome="shown", patient_id=None, kinds="", purpose="", detail=""):
    event = services.record(
        actor=actor, entry=services.Entry(action, outcome, patient_id, kinds, purpose, detail)
    )
    return event, fhir.to_fhir(event)


def codes(resource):
    subtype = resource.get("subtype", [{}])[0].get("code")
    return resource["type"]["code"], subtype, resource["action"], resource["outcome"]


def test_a_patient_read_is_a_balp_rest_read_with_the_user_the_app_and_the_patient(team):
    event, resource = as_fhir(
        team.alice,
        "read",
        "shown",
        team.pat.pk,
        "conditions,medications",
        "treatment",
        "basis=care-team",
    )

    assert resource["resourceType"] == "AuditEvent" and resource["id"] == str(event.pk)
    assert codes(resource) == ("rest", "read", "R", "0")
    assert resource["type"]["system"] == fhir.EVENT_TYPE
    assert resource["meta"]["profile"][0].endswith("IHE.BasicAudit.Read")
    assert resource["recorded"].endswith("Z")
    user, app = resource["agent"]
    assert user["requestor"] is True and user["who"]["identifier"]["value"] == "alice"
    assert user["type"]["coding"][0]["code"] == "IRCP"
    assert user["purposeOfUse"][0]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
        "code": "TREAT",
        "display": "treatment",
    }
    assert app["requestor"] is False and app["who"]["display"] == "Tandem"
    assert resource["source"]["observer"]["display"] == "Tandem"
    patient, *data, detail = resource["entity"]
    assert patient["what"]["reference"] == f"Patient/{team.pat.pk}"
    assert patient["role"]["code"] == "1" and patient["type"]["code"] == "1"
    assert [d["name"] for d in data] == ["conditions", "medications"]
    assert {d["role"]["code"] for d in data} == {"4"}
    assert detail["detail"][0]["valueString"] == "basis=care-team"


@pytest.mark.parametrize(
    ("action", "outcome", "expected"),
    [
        ("list", "shown", ("rest", "search-type", "E", "0")),
        ("population-read", "denied", ("rest", "search-type", "E", "8")),
        ("read", "redacted", ("rest", "read", "R", "4")),
        ("write:create_task", "written", ("rest", "create", "C", "0")),
        ("write:record_directive", "written", ("rest", "create", "C", "0")),
        ("write:revoke_directive", "written", ("rest", "update", "U", "0")),
        ("write:delete_token", "written", ("rest", "delete", "D", "0")),
        ("sign-in", "written", ("110114", "110122", "E", "0")),
        ("sign-out", "written", ("110114", "110123", "E", "0")),
        ("audit-export", "shown", ("110106", None, "R", "0")),
        ("job-enqueue", "written", ("110100", None, "E", "0")),
    ],
)
def test_each_action_has_its_balp_type_action_and_outcome(team, action, outcome, expected):
    _, resource = as_fhir(team.bob, action, outcome)
    assert codes(resource) == expected


def test_purposes_of_use_are_v3_act_reasons(team):
    found = {
        purpose: as_fhir(team.bob, "read", "shown", team.pat.pk, "", purpose)[1]["agent"][0][
            "purposeOfUse"
        ][0]["coding"][0]["code"]
        for purpose in (
            "treatment",
            "payment",
            "operations",
            "research",
            "emergency",
            "patient-access",
        )
    }
    assert found == {
        "treatment": "TREAT",
        "payment": "HPAYMT",
        "operations": "HOPERAT",
        "research": "HRESCH",
        "emergency": "ETREAT",
        "patient-access": "PATRQT",
    }


def test_a_system_event_names_tandem_and_has_no_entity_when_it_names_nothing(db):
    _, resource = as_fhir(None, "job-enqueue", "written")
    assert resource["agent"][0]["who"] == {"display": "Tandem (system)"}
    assert "entity" not in resource and "purposeOfUse" not in resource["agent"][0]
