"""The demo: a synthetic population and one login per persona.

Persona logins are linked to synthetic practitioners that already carry a caseload, so each
persona sees what that role would see. Passwords are random, kept in
``TANDEM_VAR_DIR/demo-credentials.json`` (mode 0600) and printed at every start.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from tandem.core import queries, services
from tandem.core.models import Practitioner, Site


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
    from tandem.registry import queries as registry_queries

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
        if persona.key == "outsider" and not Practitioner.objects.filter(user=user).exists():
            Practitioner.objects.create(
                user=user, given_name="Olive", family_name="Outsider", discipline="nurse"
            )
        if persona.key == "patient" and care_manager is not None:
            registry_queries.link_demo_patient(user=user, practitioner=care_manager)
        out.append((persona, password))
    return out
