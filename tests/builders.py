"""Builders: one small function per model, with keyword overrides and sensible defaults.

Every builder writes through the ORM (the real database), never a mock.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from tandem.core.lib.npi import npi_check_digit
from tandem.core.models import (
    CareTeamMember,
    Organization,
    Practitioner,
    Program,
    Site,
    SiteRole,
)

_seq = itertools.count(1)
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _n() -> int:
    return next(_seq)


def npi() -> str:
    body = f"1{_n():08d}"
    return body + str(npi_check_digit(body))


def organization(**kw: Any) -> Organization:
    kw.setdefault("name", f"Organization {_n()}")
    return Organization.objects.create(**kw)


def site(**kw: Any) -> Site:
    n = _n()
    kw.setdefault("organization", kw.get("organization") or organization())
    kw.setdefault("code", f"site-{n}")
    kw.setdefault("name", f"Site {n}")
    kw.setdefault("kind", Site.Kind.PRIMARY_CARE)
    return Site.objects.create(**kw)


def program(**kw: Any) -> Program:
    kw.setdefault("site", kw.get("site") or site())
    kw.setdefault("name", f"Program {_n()}")
    kw.setdefault("kind", Program.Kind.PRIMARY_CARE)
    return Program.objects.create(**kw)


def user(username: str | None = None, password: str = "correct horse battery", **kw: Any) -> Any:
    username = username or f"user{_n()}"
    return get_user_model().objects.create_user(username, kw.pop("email", ""), password, **kw)


def practitioner(
    *, sites: list[Site] = (), programs: list[Program] = (), **kw: Any
) -> Practitioner:  # type: ignore[assignment]
    kw.setdefault("given_name", "Pat")
    kw.setdefault("family_name", f"Clinician{_n()}")
    kw.setdefault("discipline", Practitioner.Discipline.PCP)
    kw.setdefault("npi", npi())
    p = Practitioner.objects.create(**kw)
    p.sites.set(sites)
    p.programs.set(programs)
    return p


def patient(**kw: Any) -> Any:
    from tandem.registry.models import Patient, PatientIdentifier

    mrn_site = kw.pop("mrn_site", None)
    kw.setdefault("given_name", "Jordan")
    kw.setdefault("family_name", f"Doe{_n()}")
    kw.setdefault("birth_date", dt.date(1980, 5, 17))
    kw.setdefault("sex", "female")
    p = Patient.objects.create(**kw)
    if mrn_site is not None:
        PatientIdentifier.objects.create(
            patient=p,
            kind="mrn",
            system=f"urn:tandem:mrn:{mrn_site.code}",
            value=f"M{p.pk:07d}",
            site=mrn_site,
        )
    return p


def care_team_member(**kw: Any) -> CareTeamMember:
    kw.setdefault("role", CareTeamMember.Role.PCP)
    kw.setdefault("start", timezone.localdate() - dt.timedelta(days=365))
    return CareTeamMember.objects.create(**kw)


def site_role(**kw: Any) -> SiteRole:
    return SiteRole.objects.create(**kw)


def condition(**kw: Any) -> Any:
    from tandem.clinical.models import Condition

    kw.setdefault("code_system", ICD10)
    kw.setdefault("code", "E11.9")
    kw.setdefault("display", "Type 2 diabetes mellitus without complications")
    kw.setdefault("category", "problem-list-item")
    kw.setdefault("onset", timezone.now() - dt.timedelta(days=400))
    return Condition.objects.create(**kw)


def encounter(**kw: Any) -> Any:
    from tandem.clinical.models import Encounter

    kw.setdefault("encounter_class", "ambulatory")
    kw.setdefault("start", timezone.now() - dt.timedelta(days=30))
    return Encounter.objects.create(**kw)


def note(**kw: Any) -> Any:
    from tandem.clinical.models import ClinicalNote

    kw.setdefault("note_type", "progress")
    kw.setdefault("title", "Visit note")
    kw.setdefault("text", "Seen today.")
    kw.setdefault("authored_at", timezone.now())
    return ClinicalNote.objects.create(**kw)


def observation(**kw: Any) -> Any:
    from tandem.clinical.models import Observation

    kw.setdefault("code_system", LOINC)
    kw.setdefault("code", "4548-4")
    kw.setdefault("display", "Hemoglobin A1c")
    kw.setdefault("value_num", 7.1)
    kw.setdefault("value_unit", "%")
    kw.setdefault("effective_at", timezone.now() - dt.timedelta(days=10))
    return Observation.objects.create(**kw)


def medication_order(**kw: Any) -> Any:
    from tandem.meds.models import MedicationOrder

    kw.setdefault("code_system", RXNORM)
    kw.setdefault("code", "860975")
    kw.setdefault("display", "metformin 500 MG Extended Release Oral Tablet")
    kw.setdefault("authored_at", timezone.now() - dt.timedelta(days=20))
    return MedicationOrder.objects.create(**kw)


def consent(**kw: Any) -> Any:
    """An active directive, written straight to the tables (no service, no audit).

    Takes the new shape (``categories``, ``purposes``, ``recipients`` as dicts of
    ``DirectiveRecipient`` fields) or the old single one (``category``, ``purpose``,
    ``recipient_kind``/``recipient_practitioner``/``recipient_organization``/``recipient_site``
    /``recipient_role``), which becomes a one-category, one-purpose, one-recipient directive.
    """
    from tandem.consent.models import ConsentDirective, DirectiveRecipient

    categories = kw.pop("categories", None) or [kw.pop("category")]
    kw.pop("category", None)
    purposes = kw.pop("purposes", None) or [kw.pop("purpose", "treatment")]
    kw.pop("purpose", None)
    recipients = kw.pop("recipients", None)
    if recipients is None:
        kind = kw.pop("recipient_kind", "person")
        recipients = [
            {
                "kind": kind,
                "practitioner": kw.pop("recipient_practitioner", None),
                "organization": kw.pop("recipient_organization", None),
                "site": kw.pop("recipient_site", None),
                "role": kw.pop("recipient_role", ""),
            }
        ]
    kw.setdefault("start", timezone.localdate() - dt.timedelta(days=1))
    kw.setdefault("status", "active")
    directive = ConsentDirective.objects.create(categories=categories, purposes=purposes, **kw)
    for r in recipients:
        DirectiveRecipient.objects.create(directive=directive, **r)
    return directive


def emergency_access(*, user: Any, patient: Any, minutes: int = 60, **kw: Any) -> Any:
    """An active break-the-glass grant (F28), written directly: no alerts (see
    ``tandem.breakglass.services.declare`` for the whole declaration)."""
    from tandem.breakglass.models import EmergencyAccess

    now = timezone.now()
    kw.setdefault("reason", "Emergency: needed the record to treat the patient now.")
    kw.setdefault("declared_at", now - dt.timedelta(minutes=1))
    kw.setdefault("expires_at", kw["declared_at"] + dt.timedelta(minutes=minutes))
    return EmergencyAccess.objects.create(user=user, patient=patient, **kw)
