"""Audit events as FHIR R4 AuditEvent resources, in the shape of IHE Basic Audit Log Patterns.

BALP (IHE ITI, https://profiles.ihe.net/ITI/BALP/) records a RESTful access with ``type`` =
``rest`` and ``subtype`` = the FHIR interaction (read, search-type, create, update, delete),
``action`` R/E/C/U/D, the user as the requesting agent, the server application as a second
agent, the observer as ``source``, and the patient as an entity with role 1 (Patient). Tandem
maps its own actions (pure data, :data:`ACTIONS`):

- ``read``, ``api-read`` and other reads → rest/read, action R;
- ``list``, ``search``, ``population-read`` → rest/search-type, action E (BALP's query);
- ``write:create_*`` / ``write:record_*`` → rest/create, C; ``write:delete_*`` → rest/delete,
  D; any other ``write:*`` → rest/update, U;
- actions naming an export → DICOM 110106 Export, action R;
- ``sign-in`` → DICOM 110114 User Authentication / 110122 Login, E; ``sign-out`` → 110123;
- anything else → DICOM 110100 Application Activity, E.

``outcome``: 0 (success) for shown and written, 4 (minor failure: shown with parts withheld)
for redacted, 8 (serious failure: refused) for denied. The purpose of use goes to the user
agent's ``purposeOfUse`` (v3-ActReason: TREAT, HPAYMT, HOPERAT, HRESCH, ETREAT, PATRQT). Each
data kind becomes an entity (type 2 System Object, role 4 Domain Resource, its name in
``entity.name``); the detail is kept as stored in an entity ``detail`` (no clinical content).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from typing import Any

from tandem.audit.models import AuditEvent

DCM = "http://dicom.nema.org/resources/ontology/DCM"
EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
INTERACTION = "http://hl7.org/fhir/restful-interaction"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
USERNAME_SYSTEM = "urn:tandem:username"
BALP = "https://profiles.ihe.net/ITI/BALP"

REST = {"system": EVENT_TYPE, "code": "rest", "display": "Restful Operation"}
READ = {"system": INTERACTION, "code": "read", "display": "read"}
SEARCH = {"system": INTERACTION, "code": "search-type", "display": "search type"}
CREATE = {"system": INTERACTION, "code": "create", "display": "create"}
UPDATE = {"system": INTERACTION, "code": "update", "display": "update"}
DELETE = {"system": INTERACTION, "code": "delete", "display": "delete"}
EXPORT = {"system": DCM, "code": "110106", "display": "Export"}
AUTHENTICATION = {"system": DCM, "code": "110114", "display": "User Authentication"}
LOGIN = {"system": DCM, "code": "110122", "display": "Login"}
LOGOUT = {"system": DCM, "code": "110123", "display": "Logout"}
APPLICATION_ACTIVITY = {"system": DCM, "code": "110100", "display": "Application Activity"}

OUTCOME = {"shown": "0", "written": "0", "redacted": "4", "denied": "8"}
PURPOSE_OF_USE = {
    "treatment": ("TREAT", "treatment"),
    "payment": ("HPAYMT", "healthcare payment"),
    "operations": ("HOPERAT", "healthcare operations"),
    "research": ("HRESCH", "healthcare research"),
    "emergency": ("ETREAT", "Emergency Treatment"),
    "patient-access": ("PATRQT", "patient requested"),
}
SEARCHES = frozenset({"list", "search", "population-read"})


def classify(action: str) -> tuple[dict[str, str], dict[str, str] | None, str, str]:
    """(type, subtype, action code, BALP profile) for a Tandem action."""
    if action.startswith("write:"):
        service = action.removeprefix("write:")
        if service.startswith(("create", "record", "add", "import")):
            return REST, CREATE, "C", "IHE.BasicAudit.Create"
        if service.startswith(("delete", "remove")):
            return REST, DELETE, "D", "IHE.BasicAudit.Delete"
        return REST, UPDATE, "U", "IHE.BasicAudit.Update"
    if "export" in action:
        return EXPORT, None, "R", "IHE.BasicAudit.Read"
    if action in SEARCHES or action.endswith("-search"):
        return REST, SEARCH, "E", "IHE.BasicAudit.Query"
    if action == "sign-in":
        return AUTHENTICATION, LOGIN, "E", "IHE.BasicAudit.SAMLaccessTokenUse.Minimal"
    if action == "sign-out":
        return AUTHENTICATION, LOGOUT, "E", "IHE.BasicAudit.SAMLaccessTokenUse.Minimal"
    if action in ("read", "api-read") or action.endswith("-read") or action.startswith("read"):
        return REST, READ, "R", "IHE.BasicAudit.Read"
    return APPLICATION_ACTIVITY, None, "E", "IHE.BasicAudit.Read"


def _recorded(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_fhir(event: AuditEvent) -> dict[str, Any]:
    """One audit event as an R4 AuditEvent (BALP shape)."""
    event_type, subtype, code, profile = classify(event.action)
    user_agent: dict[str, Any] = {
        "type": {
            "coding": [
                {"system": PARTICIPATION, "code": "IRCP", "display": "information recipient"}
            ]
        },
        "who": (
            {
                "identifier": {"system": USERNAME_SYSTEM, "value": event.actor_username},
                "display": event.actor_username,
            }
            if event.actor_id is not None
            else {"display": "Tandem (system)"}
        ),
        "requestor": True,
    }
    if event.purpose:
        reason, display = PURPOSE_OF_USE.get(event.purpose, (event.purpose, event.purpose))
        user_agent["purposeOfUse"] = [
            {"coding": [{"system": ACT_REASON, "code": reason, "display": display}]}
        ]
    app_agent = {
        "type": {"coding": [{"system": DCM, "code": "110150", "display": "Application"}]},
        "who": {"display": "Tandem"},
        "requestor": False,
    }
    entities: list[dict[str, Any]] = []
    if event.patient_id is not None:
        entities.append(
            {
                "what": {"reference": f"Patient/{event.patient_id}"},
                "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
                "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
            }
        )
    for kind in (k for k in event.categories.split(",") if k):
        entities.append(
            {
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
                "name": kind,
            }
        )
    if event.detail:
        entities.append(
            {
                "type": {"system": ENTITY_TYPE, "code": "4", "display": "Other"},
                "name": "tandem-audit-detail",
                "detail": [{"type": "detail", "valueString": event.detail}],
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(event.pk),
        "meta": {"profile": [f"{BALP}/StructureDefinition/{profile}"]},
        "type": event_type,
        "action": code,
        "recorded": _recorded(event.occurred_at),
        "outcome": OUTCOME.get(event.outcome, "8"),
        "outcomeDesc": event.get_outcome_display(),
        "agent": [user_agent, app_agent],
        "source": {
            "site": "Tandem",
            "observer": {"display": "Tandem"},
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
        "entity": entities,
    }
    if subtype is not None:
        resource["subtype"] = [subtype]
    if not entities:
        del resource["entity"]
    return resource


def bundle_chunks(events: Iterable[AuditEvent]) -> Iterator[str]:
    """A ``collection`` Bundle of AuditEvents as JSON text, streamed entry by entry."""
    head = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _recorded(dt.datetime.now(dt.UTC)),
    }
    yield json.dumps(head)[:-1] + ', "entry": ['
    first = True
    for event in events:
        entry = {"fullUrl": f"urn:tandem:audit-event:{event.pk}", "resource": to_fhir(event)}
        yield ("" if first else ",") + "\n" + json.dumps(entry)
        first = False
    yield "\n]}\n"
