"""Every path that can show or export patient data, and how the leak test calls it.

Three tables, each checked against the live code so that a new path fails the test until it
has a probe here (or an explicit exemption with its reason):

- ``URL_PROBES``: every named URL pattern of ``django.urls.get_resolver()`` outside the API
  namespace (keys: ``namespace:name``, or the route for an unnamed pattern);
- ``API_PROBES``: every operation of the API's OpenAPI schema (keys: ``"GET /api/…"``);
- ``EXPORTERS``: every function under ``tandem/`` whose name says it writes an export
  (``EXPORTER_NAME`` below: csv, pdf, fhir, ndjson, export, letter, measure report, audit
  event); keys ``module:function``. An exporter reached through a URL names that URL.

A probe's ``url`` and ``data`` are built from the world and the generated case (reader,
patient number, label — the row of that label the path names — directives, grants).
``scope`` says whose rows the response may show: ``"patient"`` the case's patient only,
``"all"`` any patient (lists), ``"none"`` no patient data at all (every canary is a leak).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.consent.leak.world import COHORT_KEYS, World

ROOT = Path(__file__).resolve().parents[3]

# Sections of the chart page and the kinds each shows (registry.views.SECTIONS): a withheld row
# of one of these kinds must leave a notice on the chart.
CHART_KINDS = frozenset(
    {
        "identifiers",
        "coverage",
        "care_team",
        "conditions",
        "medication_orders",
        "observations",
        "encounters",
        "notes",
        "appointments",
        "tasks",
    }
)


@dataclass(frozen=True)
class Case:
    reader: str
    patient_no: int
    label: str  # the label of the row (task, item) a path names; never psychotherapy-note
    purpose: str  # for paths that take one (the gate); pages read for the reader's purpose
    directives: tuple[Any, ...] = ()
    grants: frozenset[Any] = frozenset()
    kinds: tuple[str, ...] = ()  # the kinds a gate-level case asks for


@dataclass(frozen=True)
class Probe:
    method: str
    url: Callable[[World, Case], str]
    data: Callable[[World, Case], dict[str, Any]] | None = None
    scope: str = "patient"  # "patient" | "all" | "none"
    notice_kinds: frozenset[str] = frozenset()  # withheld rows of these kinds need a notice
    htmx: bool = False
    # Readers the path is made for (drawn 3 times in 4; any reader otherwise): the portal's
    # patients, the audit viewer's privacy officer. Empty: any reader.
    readers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exempt:
    reason: str


Entry = Probe | Exempt


def _pid(w: World, c: Case) -> int:
    return w.patients[c.patient_no].pk


def _task(w: World, c: Case) -> int:
    return w.extra["tasks"][(c.patient_no, c.label)]


def _item(w: World, c: Case) -> int:
    return w.extra["items"][(c.patient_no, c.label)]


def get(path: str | Callable[[World, Case], str], scope: str = "patient", **kw: Any) -> Probe:
    """A GET probe (``readers``: who the page is made for, drawn more often)."""
    build = path if callable(path) else (lambda w, c, p=path: p)
    return Probe("GET", build, scope=scope, **kw)


def post(
    path: Callable[[World, Case], str],
    data: Callable[[World, Case], dict[str, Any]] | None = None,
    scope: str = "patient",
    readers: tuple[str, ...] = (),
) -> Probe:
    return Probe(
        "POST", path, data=data or (lambda w, c: {}), scope=scope, htmx=True, readers=readers
    )


def cohort_key(c: Case) -> str:
    """The cohort a cohort path lists: chosen by the case's label (every key gets drawn)."""
    return COHORT_KEYS[(c.patient_no + len(c.label)) % len(COHORT_KEYS)]


# Paths that list a cohort's members by name (``cohort_key``): a member the reader may not see
# must not be named.
COHORT_LISTS = frozenset({"cohort", "cohort-export", "GET /api/cohorts/{key}/members"})

NOWHERE = 2**31 - 1  # an id no row has: a case without directives asks for a missing one


def _directive(w: World, c: Case) -> int:
    """A directive the case wrote (``test_leak.write`` records their ids), else none."""
    found = w.extra.get("case", {}).get("directives", [])
    return found[c.patient_no % len(found)] if found else NOWHERE


def _recipient(w: World, c: Case) -> int:
    """A recipient of the directive ``_directive`` names, else none."""
    found = w.extra.get("case", {}).get("recipients", {}).get(_directive(w, c), [])
    return found[0] if found else NOWHERE


def consent_path(suffix: str = "") -> Callable[[World, Case], str]:
    return lambda w, c: f"/patients/{_pid(w, c)}/consents/{_directive(w, c)}/{suffix}"


def api_consent(suffix: str = "") -> Callable[[World, Case], str]:
    return lambda w, c: f"/api/patients/{_pid(w, c)}/consents/{_directive(w, c)}{suffix}"


def portal_directive(suffix: str = "") -> Callable[[World, Case], str]:
    return lambda w, c: f"/me/sharing/{_directive(w, c)}/{suffix}"


def _mrn(w: World, c: Case) -> str:
    from tandem.registry.models import PatientIdentifier

    return (
        PatientIdentifier.objects.filter(patient=w.patients[c.patient_no], kind="mrn")
        .values_list("value", flat=True)
        .first()
        or ""
    )


DIRECTIVE_BODY = {
    "categories": ["substance-use"],
    "purposes": ["treatment"],
    "recipients": [{"kind": "role", "role": "pcp"}],
    "start": "2026-01-01",
}


def patient_path(suffix: str = "") -> Callable[[World, Case], str]:
    return lambda w, c: f"/patients/{_pid(w, c)}/{suffix}"


def task_path(suffix: str = "") -> Callable[[World, Case], str]:
    return lambda w, c: f"/tasks/{_task(w, c)}/{suffix}"


def item_path(suffix: str = "") -> Callable[[World, Case], str]:
    return lambda w, c: f"/worklists/items/{_item(w, c)}/{suffix}"


def api_patient(suffix: str = "") -> Callable[[World, Case], str]:
    return lambda w, c: f"/api/patients/{_pid(w, c)}{suffix}"


NO_PATIENT_DATA = "no patient data"
PATIENTS = ("pat", "pia")
EMERGENCY_REASON = "Brought in unconscious; the leak test declares an emergency."
OFFICERS = ("priya",)
LEADERS = ("leo", "quinn")
QUEUE = ("alice", "pete")  # the members of the world's task queue (its tasks' holders)

URL_PROBES: dict[str, Entry] = {
    "login": Exempt(f"{NO_PATIENT_DATA}: the sign-in form (probing it would sign the reader out)"),
    "logout": Exempt(f"{NO_PATIENT_DATA}: signs the reader out"),
    "home": get("/", scope="all"),
    "patient-search": get(
        lambda w, c: f"/patients/?q={w.patients[c.patient_no].family_name}", "all"
    ),
    "patient-summary": get(patient_path(), notice_kinds=CHART_KINDS),
    "patient-sections": get(patient_path("sections/")),
    "patient-section": get(
        lambda w, c: (
            f"/patients/{_pid(w, c)}/sections/"
            + ("gaps", "outreach", "engagement")[c.patient_no % 3]
            + "/"
        )
    ),
    "patient-engagement-request": post(patient_path("engagement/request/")),
    "cohorts": get("/cohorts/", scope="all"),
    "cohort": get(lambda w, c: f"/cohorts/{cohort_key(c)}/", "all"),
    "cohort-export": get(lambda w, c: f"/cohorts/{cohort_key(c)}/export.csv", "all"),
    "cohort-save-filter": post(
        lambda w, c: "/cohorts/smi/filters/", lambda w, c: {"name": "x", "query": ""}, "all"
    ),
    "cohort-delete-filter": post(lambda w, c: "/cohorts/smi/filters/1/delete/", scope="all"),
    "api-tokens": get("/tokens/", scope="none"),
    "api-token-revoke": post(lambda w, c: "/tokens/1/revoke/", scope="none"),
    "tasks": get("/tasks/", scope="all"),
    "task-home-panel": get("/tasks/home-panel/", scope="all"),
    "task-queue": get(lambda w, c: f"/tasks/queues/{w.extra['queue'].key}/", scope="all"),
    "task-detail": get(task_path(), readers=QUEUE),
    "task-claim": post(task_path("claim/"), readers=QUEUE),
    "task-start": post(task_path("start/"), readers=QUEUE),
    "task-reassign": post(task_path("reassign/"), readers=QUEUE),
    "task-complete": post(task_path("complete/"), lambda w, c: {"outcome": "done"}, readers=QUEUE),
    "task-cancel": post(task_path("cancel/"), readers=QUEUE),
    "worklists": get("/worklists/", scope="all"),
    "worklist-letters": post(
        lambda w, c: "/worklists/letters/", lambda w, c: {"items": [_item(w, c)]}
    ),
    "worklist-item": get(item_path()),
    "worklist-item-claim": post(item_path("claim/")),
    "worklist-item-release": post(item_path("release/")),
    "worklist-item-attempt": post(item_path("attempts/")),
    "worklist-item-book": post(item_path("appointment/")),
    "worklist-item-resolve": post(item_path("resolve/")),
    "worklist-item-unable": post(item_path("unable-to-reach/")),
    "worklist-item-letter": get(item_path("letter.pdf")),
    "worklist": get(
        lambda w, c: (
            "/worklists/"
            + ("smi-disengaged", "no-shows", "antipsychotic-monitoring", "follow-up-7-day")[
                c.patient_no
            ]
            + "/"
        ),
        "all",
    ),
    "jobs": get("/jobs/", scope="none", readers=LEADERS),
    "jobs-run-now": Exempt(f"{NO_PATIENT_DATA}: queues the daily refresh (a leaders' button)"),
    "job-detail": get("/jobs/1/", scope="none", readers=LEADERS),
    "job-row": get("/jobs/1/row/", scope="none", readers=LEADERS),
    "job-retry": Exempt(f"{NO_PATIENT_DATA}: re-queues a failed job run"),
    # Consent directives (F26), staff side.
    "consent-directives": get(patient_path("consents/")),
    "consent-new": get(patient_path("consents/new/")),
    "consent-preview": post(
        patient_path("consents/preview/"),
        lambda w, c: {"categories": ["all"], "purposes": ["treatment"], "recipient_kind": "role"},
    ),
    "consent-directive": get(consent_path()),
    "consent-history": get(consent_path("history/")),
    "consent-preview-draft": get(consent_path("preview/")),
    "consent-signed-form": get(consent_path("signed-form.pdf")),
    "consent-sign": post(consent_path("sign/")),
    "consent-revoke": post(consent_path("revoke/"), lambda w, c: {"reason": "leak test"}),
    "consent-revoke-recipient": post(
        lambda w, c: (
            f"/patients/{_pid(w, c)}/consents/{_directive(w, c)}/recipients/"
            f"{_recipient(w, c)}/revoke/"
        ),
        lambda w, c: {"reason": "leak test"},
    ),
    # Break-the-glass (F28): the declaration lands on the chart by a redirect (not followed:
    # the oracle knows the case's grants, not the one the probe declares).
    "emergency-access": Probe(
        "POST",
        lambda w, c: "/emergency-access/",
        data=lambda w, c: {"mrn": _mrn(w, c), "reason": EMERGENCY_REASON, "acknowledge": "on"},
    ),
    "emergency-access-reviews": get("/emergency-access/reviews/", scope="none", readers=OFFICERS),
    "emergency-access-review": get("/emergency-access/reviews/1/", scope="none", readers=OFFICERS),
    # The privacy officer's audit viewer (F29): events carry no clinical content.
    "audit-log": get("/audit/", scope="none", readers=OFFICERS),
    "audit-export": get(
        lambda w, c: f"/audit/export/{('csv', 'fhir')[c.patient_no % 2]}/",
        "none",
        readers=OFFICERS,
    ),
    "audit-disclosures-index": get("/audit/disclosures/", scope="none", readers=OFFICERS),
    "audit-disclosures": get(
        lambda w, c: f"/audit/disclosures/{_pid(w, c)}/", scope="none", readers=OFFICERS
    ),
    # The patient portal (F30): the signed-in patient's own record; a forged id reveals nothing.
    "portal-home": get("/me/", "all", readers=PATIENTS),
    "portal-record": get("/me/record/", "all", readers=PATIENTS),
    "portal-team": get("/me/care-team/", "all", readers=PATIENTS),
    "portal-care-plan": get("/me/care-plan/", "all", readers=PATIENTS),
    "portal-access": get("/me/access/", "all", readers=PATIENTS),
    "portal-questionnaires": get("/me/questionnaires/", "all", readers=PATIENTS),
    "portal-questionnaire": get(
        lambda w, c: f"/me/questionnaires/{('phq9', 'gad7', 'auditc')[c.patient_no - 1]}/",
        "all",
        readers=PATIENTS,
    ),
    "portal-sharing": get("/me/sharing/", "all", readers=PATIENTS),
    "portal-sharing-new": get("/me/sharing/new/", "all", readers=PATIENTS),
    "portal-directive": get(portal_directive(), "all", readers=PATIENTS),
    "portal-directive-sign": post(
        portal_directive("sign/"),
        lambda w, c: {"signer_name": "Pat Leakone", "relationship": "self"},
        "all",
        PATIENTS,
    ),
    "portal-directive-revoke": post(
        portal_directive("stop/"), lambda w, c: {"reason": "x"}, "all", PATIENTS
    ),
    "portal-recipient-revoke": post(
        lambda w, c: f"/me/sharing/{_directive(w, c)}/recipients/{_recipient(w, c)}/stop/",
        lambda w, c: {"reason": "x"},
        "all",
        PATIENTS,
    ),
    # Sign-in and account pages (F39): no patient data; called signed in (a canary there is
    # a leak too).
    "account": get("/account/", scope="none"),
    "password-change": get("/account/password/", scope="none"),
    "recovery-codes": get("/account/recovery-codes/", scope="none"),
    "second-factor-setup": get("/account/two-factor/", scope="none"),
    "login-code": get("/login/code/", scope="none"),
    "login-setup": get("/login/setup/", scope="none"),
    "oidc-start": Exempt(f"{NO_PATIENT_DATA}: redirects to the OpenID Connect provider"),
    "oidc-callback": Exempt(
        f"{NO_PATIENT_DATA}: completes a sign-in at the provider's redirect (signs the reader in "
        "again or refuses)"
    ),
    # The API namespace's own pages (its operations are in API_PROBES).
    "api:openapi-json": get("/api/openapi.json", scope="none"),
    "api:openapi-view": get("/api/docs", scope="none"),
    "api:api-root": get("/api/", scope="none"),
    "^api(/|$)": get("/api/nothing-here", scope="none"),
}

API_PROBES: dict[str, Entry] = {
    "GET /api/me": get("/api/me", scope="none"),
    "GET /api/tokens": get("/api/tokens", scope="none"),
    "POST /api/tokens": Exempt(f"{NO_PATIENT_DATA}: creates a token (answers its secret)"),
    "DELETE /api/tokens/{token_id}": Exempt(f"{NO_PATIENT_DATA}: revokes a token"),
    "GET /api/patients": get(
        lambda w, c: f"/api/patients?name={w.patients[c.patient_no].family_name}", "all"
    ),
    "GET /api/patients/{patient_id}": get(api_patient()),
    **{
        f"GET /api/patients/{{patient_id}}/{section}": get(api_patient(f"/{section}"))
        for section in (
            "care-team",
            "problems",
            "medications",
            "dispenses",
            "encounters",
            "labs",
            "assessments",
            "notes",
            "appointments",
            "gaps",
            "engagement",
        )
    },
    "GET /api/cohorts": get("/api/cohorts", scope="all"),
    "GET /api/cohorts/{key}/members": get(
        lambda w, c: f"/api/cohorts/{cohort_key(c)}/members",
        "all",
    ),
    "GET /api/tasks": get("/api/tasks", scope="all"),
    "POST /api/tasks": Probe(
        "POST",
        lambda w, c: "/api/tasks",
        data=lambda w, c: {"patient_id": _pid(w, c), "title": "x", "queue": w.extra["queue"].key},
        scope="patient",
    ),
    "GET /api/tasks/{task_id}": get(lambda w, c: f"/api/tasks/{_task(w, c)}", readers=QUEUE),
    "POST /api/tasks/{task_id}/claim": Probe(
        "POST", lambda w, c: f"/api/tasks/{_task(w, c)}/claim", data=lambda w, c: {}
    ),
    "POST /api/tasks/{task_id}/complete": Probe(
        "POST",
        lambda w, c: f"/api/tasks/{_task(w, c)}/complete",
        data=lambda w, c: {"outcome": "done"},
    ),
    "GET /api/worklists": get("/api/worklists", scope="all"),
    "GET /api/patients/{patient_id}/consents": get(api_patient("/consents")),
    "GET /api/patients/{patient_id}/consents/{directive_id}": get(api_consent()),
    "GET /api/patients/{patient_id}/consents/{directive_id}/fhir": get(api_consent("/fhir")),
    "POST /api/patients/{patient_id}/consents": Probe(
        "POST", api_patient("/consents"), data=lambda w, c: DIRECTIVE_BODY
    ),
    "POST /api/patients/{patient_id}/consents/fhir": Probe(
        "POST",
        api_patient("/consents/fhir"),
        data=lambda w, c: {
            "resourceType": "Consent",
            "status": "active",
            "patient": {"reference": f"Patient/{_pid(w, c)}"},
            "provision": {
                "type": "permit",
                "period": {"start": "2026-01-01"},
                "actor": [
                    {
                        "role": {"coding": [{"code": "IRCP"}]},
                        "reference": {"reference": "PractitionerRole/pcp"},
                    }
                ],
            },
        },
    ),
    "POST /api/patients/{patient_id}/consents/preview": Probe(
        "POST", api_patient("/consents/preview"), data=lambda w, c: DIRECTIVE_BODY
    ),
    "POST /api/patients/{patient_id}/consents/{directive_id}/sign": Probe(
        "POST",
        api_consent("/sign"),
        data=lambda w, c: {"signer_name": "Pat", "signed_on": "2026-01-02", "relationship": "self"},
    ),
    "POST /api/patients/{patient_id}/consents/{directive_id}/revoke": Probe(
        "POST", api_consent("/revoke"), data=lambda w, c: {"reason": "leak test"}
    ),
    "POST /api/patients/{patient_id}/consents/{directive_id}/recipients/{recipient_id}/revoke": (
        Probe(
            "POST",
            lambda w, c: (
                f"/api/patients/{_pid(w, c)}/consents/{_directive(w, c)}/recipients/"
                f"{_recipient(w, c)}/revoke"
            ),
            data=lambda w, c: {"reason": "leak test"},
        )
    ),
    "GET /api/emergency-access": get("/api/emergency-access", scope="none"),
    "GET /api/emergency-access/{grant_id}": get("/api/emergency-access/1", scope="none"),
    "POST /api/emergency-access": Probe(
        "POST",
        lambda w, c: "/api/emergency-access",
        data=lambda w, c: {"patient_id": _pid(w, c), "reason": EMERGENCY_REASON},
    ),
    "POST /api/emergency-access/{grant_id}/review": Probe(
        "POST",
        lambda w, c: "/api/emergency-access/1/review",
        data=lambda w, c: {"justified": True, "note": "leak test"},
        scope="none",
    ),
    "GET /api/worklists/items/{item_id}": get(lambda w, c: f"/api/worklists/items/{_item(w, c)}"),
    "GET /api/worklists/items/{item_id}/attempts": get(
        lambda w, c: f"/api/worklists/items/{_item(w, c)}/attempts"
    ),
    "POST /api/worklists/items/{item_id}/attempts": Probe(
        "POST",
        lambda w, c: f"/api/worklists/items/{_item(w, c)}/attempts",
        data=lambda w, c: {"channel": "phone", "outcome": "no-answer", "note": "x"},
    ),
    "POST /api/worklists/items/{item_id}/claim": Probe(
        "POST", lambda w, c: f"/api/worklists/items/{_item(w, c)}/claim", data=lambda w, c: {}
    ),
    "GET /api/worklists/{key}/items": get(
        lambda w, c: (
            "/api/worklists/"
            + ("smi-disengaged", "no-shows", "antipsychotic-monitoring", "follow-up-7-day")[
                c.patient_no
            ]
            + "/items"
        ),
        "all",
    ),
}

# Functions whose names say they write an export. Each is reached through a probed URL (named
# here), or exempt with its reason.
EXPORTER_NAME = re.compile(
    r"^def ((?:\w*_)?(?:csv|pdf|fhir|ndjson|export|letters?|measure_report|audit_?event)s?"
    r"(?:_\w*)?)\(",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class Via:
    """An exporter reached through probed paths (URL names or API operation keys)."""

    paths: tuple[str, ...]


EXPORTERS: dict[str, Via | Exempt] = {
    "tandem.registry.cohorts.views:export": Via(("cohort-export",)),
    "tandem.registry.cohorts.views:_csv_lines": Via(("cohort-export",)),
    "tandem.registry.cohorts.queries:export": Via(("cohort-export",)),
    "tandem.outreach.views:letter": Via(("worklist-item-letter",)),
    "tandem.outreach.views:batch_letters": Via(("worklist-letters",)),
    "tandem.outreach.views:_pdf": Via(("worklist-item-letter", "worklist-letters")),
    "tandem.outreach.queries:letter_items": Via(("worklist-letters",)),
    "tandem.outreach.letters:letter_for": Via(("worklist-item-letter", "worklist-letters")),
    "tandem.registry.cohorts.queries:export_carries_part2": Via(("cohort-export",)),
    "tandem.consent.redisclosure:csv_comment": Via(("cohort-export",)),
    "tandem.consent.redisclosure:label_fhir": Via(
        ("GET /api/patients/{patient_id}/consents/{directive_id}/fhir",)
    ),
    "tandem.consent.api:_fhir_response": Via(
        ("GET /api/patients/{patient_id}/consents/{directive_id}/fhir",)
    ),
    "tandem.consent.api:get_directive_fhir": Via(
        ("GET /api/patients/{patient_id}/consents/{directive_id}/fhir",)
    ),
    "tandem.consent.fhir:to_fhir": Via(
        ("GET /api/patients/{patient_id}/consents/{directive_id}/fhir",)
    ),
    "tandem.consent.fhir:from_fhir": Exempt("imports a FHIR Consent (writes into Tandem)"),
    # imports (writes into Tandem); its answer, the directive recorded, is probed here
    "tandem.consent.api:import_directive_fhir": Via(
        ("POST /api/patients/{patient_id}/consents/fhir",)
    ),
    "tandem.consent.services:_store_pdf": Via(("consent-signed-form",)),
    "tandem.audit.views:audit_export": Via(("audit-export",)),
    "tandem.audit.exports:csv_chunks": Via(("audit-export",)),
    "tandem.audit.fhir:to_fhir": Via(("audit-export",)),
    "tandem.audit.cli:cmd_audit_export": Exempt(
        "`tandem audit export` at the console writes the same exports module as the audit-export"
        " page (probed); audit events carry no clinical content"
    ),
    "tandem.measures.cli:_csv": Exempt(
        "`tandem measure evaluate` at the console: the system, no reader (gate.population_scope"
        " audits it as a population read of all sites); no row text, only ids and populations"
    ),
    "tandem.measures.cli:_measure_report": Exempt(
        "`tandem measure evaluate --format measure-report` at the console, as above"
    ),
    "tandem.measures.cli:_load_fhir": Exempt("reads FHIR files in (an import, not an export)"),
    "tandem.measures.cli_export:cmd_export": Exempt(
        "`tandem measure export` at the console (no page or API): QRDA III holds aggregates only;"
        " its read is queries.export_aggregates, below"
    ),
    "tandem.measures.cli_export:measure_reports": Exempt(
        "`tandem measure export --format measurereport` at the console: summary MeasureReports of"
        " stored runs (counts per population and stratum), no patient"
    ),
    "tandem.measures.queries:export_aggregates": Exempt(
        "counts only, through gate.population_scope and audited as a population read; the"
        " reader's sites bound it (tests/measures/test_qrda3.py: Leo's sites, Olive sees none)"
    ),
    "tandem.importers.fhir.load:load_fhir": Exempt("an importer: writes into Tandem"),
    "tandem.synth.fhir:write_fhir": Exempt(
        "writes the synthetic population it generates (no stored patient is read)"
    ),
}


def exporters_in_code() -> set[str]:
    """``module:function`` of every exporter-named function under ``tandem/``."""
    found = set()
    for path in sorted((ROOT / "tandem").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        for match in EXPORTER_NAME.finditer(path.read_text()):
            found.add(f"{module}:{match.group(1)}")
    return found


def _walk(patterns: list[Any], namespace: str | None, prefix: str) -> list[tuple[str, str]]:
    from django.urls import URLPattern, URLResolver

    found = []
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace
            inner = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            found += _walk(p.url_patterns, inner, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            route = prefix + str(p.pattern)
            name = p.name and (f"{namespace}:{p.name}" if namespace else p.name)
            found.append((name or route, route))
    return found


def registered_urls() -> dict[str, str]:
    """Every URL pattern (key -> route) except the admin's and the API operations'."""
    from django.urls import get_resolver

    urls = {}
    for key, route in _walk(get_resolver().url_patterns, None, ""):
        if key.startswith("admin:") or route.startswith("admin/"):
            continue  # ADMIN_EXEMPTION
        if key.startswith("api:") and key not in URL_PROBES:
            continue  # an operation: API_PROBES, from the OpenAPI schema
        urls[key] = route
    return urls


ADMIN_EXEMPTION = (
    "Django admin: only is_staff users sign in there; no reader in the rules is staff, and "
    "the readers' sessions are refused (a redirect to the admin's sign-in)"
)


def api_operations() -> set[str]:
    from tandem.api import api

    schema = api.get_openapi_schema()
    return {
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }


@dataclass
class Catalogue:
    """The probes of every path, in a stable order (Hypothesis draws an index)."""

    names: list[str] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    weights: list[int] = field(default_factory=list)


# How often a case draws a path, by scope: a path that shows no patient data is still called
# (a canary there is a leak too) but less often than the paths that show patient data.
WEIGHTS = {"patient": 4, "all": 3, "none": 1}


def quotas(cat: Catalogue, total: int) -> dict[str, int]:
    """Each path's share of ``total`` cases, by weight (at least one case each)."""
    weight = sum(cat.weights)
    return {
        name: max(1, -(-total * w // weight))
        for name, w in zip(cat.names, cat.weights, strict=True)
    }


def catalogue() -> Catalogue:
    cat = Catalogue()
    for table in (URL_PROBES, API_PROBES):
        for name, entry in sorted(table.items()):
            if isinstance(entry, Probe):
                cat.names.append(name)
                cat.probes.append(entry)
                cat.weights.append(WEIGHTS[entry.scope])
    return cat
