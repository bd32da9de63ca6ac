"""The demo: a synthetic population, one login per persona, and a day's work already there.

``set_up`` is what ``tandem demo`` runs: migrate; generate the population if the database holds
no patient; create the persona logins; then run the daily refresh (on the first start, or until
one has succeeded) and let each app seed its demo work (:func:`bring_to_life`), so worklists in
every state, contact attempts and tasks are there when the first page opens.

Persona logins are linked to synthetic practitioners that already carry a caseload, so each
persona sees what that role would see. Passwords are random, kept in
``TANDEM_VAR_DIR/demo-credentials.json`` (mode 0600) and printed at every start.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction

from tandem.audit import demo as audit_demo
from tandem.breakglass import demo as breakglass
from tandem.consent import demo as consent_demo
from tandem.core import queries, services
from tandem.core.models import Practitioner, Site
from tandem.jobs import services as jobs
from tandem.outreach import services as outreach
from tandem.registry import queries as registry_queries
from tandem.tasks import services as tasks
from tandem.workspace import queries as workspace_queries


@dataclass(frozen=True)
class Persona:
    key: str
    username: str
    title: str
    discipline: str | None = None  # link to the busiest synthetic practitioner of this kind
    site_kind: str | None = None


PERSONAS = [
    Persona("pcp", "pcp", "Primary care clinician (PCP)", "pcp", "primary-care"),
    Persona("care-manager", "caremanager", "Care manager (CMHC)", "care-manager", "cmhc"),
    Persona("bh-clinician", "bhclinician", "Behavioral health clinician", "social-worker", None),
    Persona("psychiatrist", "psychiatrist", "Psychiatrist (CMHC)", "psychiatrist", "cmhc"),
    Persona("leader", "leader", "Clinic / program leader (all sites)"),
    Persona("privacy", "privacy", "Privacy officer (audit log, disclosures; all sites)"),
    Persona("outsider", "outsider", "Outsider: staff with no relationship to any patient"),
    Persona("patient", "patient", "A patient (own record)"),
]


def _credentials_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


def _passwords() -> dict[str, str]:
    path = _credentials_file()
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for persona in PERSONAS:
        if persona.username not in stored:
            stored[persona.username] = secrets.token_urlsafe(9)
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored


def ensure_personas() -> list[tuple[Persona, str]]:
    """Create (or refresh) every persona login; return (persona, password) pairs."""
    passwords = _passwords()
    user_model = get_user_model()
    out = []
    care_manager = None
    for persona in PERSONAS:
        password = passwords[persona.username]
        user = user_model.objects.filter(username=persona.username).first()
        if user is None:
            user = services.create_user(
                by=None, username=persona.username, password=password, check_password=False
            )
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        if persona.discipline and not Practitioner.objects.filter(user=user).exists():
            practitioner = queries.busiest_practitioner(
                discipline=persona.discipline, site_kind=persona.site_kind
            )
            if practitioner is not None:
                services.link_practitioner(by=None, user=user, practitioner=practitioner)
        if persona.key == "care-manager":
            care_manager = Practitioner.objects.filter(user=user).first()
        if persona.key == "leader":
            for site in Site.objects.all():
                services.grant_site_role(by=None, user=user, site=site, role="leader")
        if persona.key == "privacy":
            if not user.email:  # the daily audit anchor digest is mailed to the privacy officer
                user.email = "privacy@tandem.example"
                user.save(update_fields=["email"])
            for site in Site.objects.all():
                services.grant_site_role(by=None, user=user, site=site, role="privacy-officer")
        if persona.key == "outsider" and not Practitioner.objects.filter(user=user).exists():
            Practitioner.objects.create(
                user=user, given_name="Olive", family_name="Outsider", discipline="nurse"
            )
        if persona.key == "patient" and care_manager is not None:
            registry_queries.link_demo_patient(user=user, practitioner=care_manager)
        out.append((persona, password))
    return out


def persona_users() -> dict[str, Any]:
    """The persona logins by persona key ("pcp", "care-manager", … "patient")."""
    by_username = {p.username: p.key for p in PERSONAS}
    users = get_user_model().objects.filter(username__in=by_username)
    return {by_username[user.get_username()]: user for user in users}


def set_up(*, patients: int, seed: int, say: Callable[[str], None]) -> list[tuple[Persona, str]]:
    """Everything ``tandem demo`` does before serving; returns the logins to print."""
    say("Preparing the database…")
    call_command("migrate", interactive=False, verbosity=0)
    generated = False
    if registry_queries.population_is_empty():
        from tandem.synth import database

        say(f"Generating a synthetic population of {patients} patients…")
        database.write_population(patients=patients, seed=seed, progress=True)
        generated = True
    with transaction.atomic():
        logins = ensure_personas()
    bring_to_life(
        personas=persona_users(),
        refresh=generated or not workspace_queries.daily_refresh_succeeded(),
        say=say,
    )
    return logins


# ---------------------------------------------------------------------------------------------
# The one place where the demo makes the pages alive. The daily refresh stores every measure's
# results and rebuilds cohorts, risk and worklists; then each app seeds its demo work (queues
# and tasks; worklist items in every state with contact attempts and an escalation). Later
# apps add their ``seed_demo(personas=…)`` call here, after the apps they build on.
# ---------------------------------------------------------------------------------------------
SEEDS: tuple[Callable[..., None], ...] = (
    tasks.seed_demo,
    outreach.seed_demo,
    breakglass.seed_demo,  # a reviewed and an unreviewed break-the-glass (F28)
    consent_demo.seed_demo,  # directives of every kind; the patient shares SUD data with the PCP
    audit_demo.seed_demo,  # the first audit anchor and its signed digest (F29)
)


def bring_to_life(*, personas: dict[str, Any], refresh: bool, say: Callable[[str], None]) -> None:
    """Run the daily refresh (when ``refresh``: on the first start, or until one has
    succeeded; afterwards the schedule keeps the data current), then every app's
    ``seed_demo`` in one transaction. Each seed is idempotent, so it runs at every start."""
    if refresh:
        say("Running the daily refresh (measures, cohorts, risk, worklists)…")
        run = jobs.run_daily_refresh(by=None, on_progress=_milestones(say))
        if run.status != "succeeded":
            why = run.error.splitlines()[0] if run.error else run.status
            say(f"The daily refresh failed ({why}); the leader's Jobs page has the details.")
    say("Seeding the day's work (tasks, worklist items, contact attempts)…")
    with transaction.atomic():
        for seed_demo in SEEDS:
            seed_demo(personas=personas)


def _milestones(say: Callable[[str], None]) -> Callable[[str, str, bool], None]:
    """A progress listener that prints each step's start and end only."""

    def hear(step: str, line: str, milestone: bool) -> None:
        if milestone:
            say(f"  {line}")

    return hear
