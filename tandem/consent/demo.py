"""Demo consent directives (F26): one of every kind, alive on the first start.

The demo patient persona has shared substance-use records with the PCP persona (an active
directive, typed signature): the PCP's chart of that patient shows them, and revoking it in the
portal makes the PCP's next view show the notice instead. So that the flow is real, the PCP
persona is put on the demo patient's care team (as pcp) and the patient is given one Part 2
encounter and diagnosis when they have none. The patient also has a draft (unsigned) and an
expired directive; neither grants anything, so the one revocation is what the PCP notices.

The other kinds are recorded by the PCP persona for patients on their caseload: a Part 2 consent
for treatment, payment and operations to the organization (scanned PDF signed by a guardian), a
site recipient, a care-team role recipient with category ``all``, a multi-party directive with
one recipient revoked, a revoked one and one for research. Idempotent: nothing is added once
a persona has recorded a directive.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from tandem.clinical.models import Condition, Encounter
from tandem.consent import queries, rules
from tandem.consent import services as s
from tandem.core.models import CareTeamMember

# A one-page PDF: the "scanned" signed form of the demo.
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def _ensure_part2_record(patient_id: int) -> None:
    if queries.has_part2_records(patient_id):
        return
    program = queries.part2_program()
    if program is None:
        return
    start = timezone.now() - dt.timedelta(days=60)
    encounter = Encounter.objects.create(
        patient_id=patient_id,
        program=program,
        site=program.site,
        encounter_class="ambulatory",
        setting="bh",
        start=start,
        end=start + dt.timedelta(hours=1),
        type_display="Outpatient SUD treatment visit",
        source="demo",
    )
    Condition.objects.create(
        patient_id=patient_id,
        program=program,
        encounter=encounter,
        code_system=rules.ICD10,
        code="F11.20",
        display="Opioid dependence, uncomplicated",
        category="problem-list-item",  # on the chart's problem list: the flow's visible change
        onset=start,
        recorded_at=start,
        source="demo",
    )


def seed_demo(*, personas: dict[str, Any]) -> None:
    patient_user, pcp_user = personas.get("patient"), personas.get("pcp")
    if patient_user is None or pcp_user is None:
        return
    if queries.demo_seeded([patient_user.pk, pcp_user.pk]):
        return
    patient_id = queries.demo_patient_of(patient_user)
    pcp = queries.practitioner_of(pcp_user)
    if patient_id is None or pcp is None:
        return
    today = rules.directive_today()
    if not queries.on_care_team(patient_id, pcp, "pcp"):
        CareTeamMember.objects.create(
            patient_id=patient_id,
            practitioner=pcp,
            role="pcp",
            start=today - dt.timedelta(days=400),
        )
    _ensure_part2_record(patient_id)
    to_pcp = [s.RecipientSpec("person", practitioner_id=pcp.pk)]
    by_patient = s.Signature("Demo Patient", today - dt.timedelta(days=20), "self")

    def own(**kw: Any) -> Any:
        return s.record_directive(by=patient_user, patient=patient_id, **kw)

    # The demo patient: shares substance-use records with the PCP (the portal flow revokes it)
    own(
        categories=["substance-use"],
        purposes=["treatment"],
        recipients=to_pcp,
        start=today - dt.timedelta(days=20),
        signature=by_patient,
        activate=True,
    )
    own(categories=["mental-health"], purposes=["treatment"], recipients=to_pcp, start=today)
    own(
        categories=["hiv"],
        purposes=["treatment"],
        recipients=[s.RecipientSpec("role", role="pcp")],
        start=today - dt.timedelta(days=400),
        end=today - dt.timedelta(days=35),
        signature=s.Signature("Demo Patient", today - dt.timedelta(days=400), "self"),
        activate=True,
    )
    s.expire_directives(today=today)

    # Other patients on the PCP's caseload: every other kind
    others = queries.caseload_ids(pcp, exclude=[patient_id], limit=6)
    if len(others) < 6:
        return
    org_id = pcp.sites.values_list("organization_id", flat=True).first()
    site_id = pcp.sites.values_list("pk", flat=True).first()
    typed = s.Signature("Signed in clinic", today - dt.timedelta(days=5), "self")

    def staff(patient: int, **kw: Any) -> Any:
        kw.setdefault("start", today - dt.timedelta(days=5))
        kw.setdefault("signature", typed)
        kw.setdefault("activate", True)
        return s.record_directive(by=pcp_user, patient=patient, **kw)

    if org_id is not None:
        staff(
            others[0],
            categories=["substance-use"],
            purposes=[],
            part2_tpo=True,
            recipients=[s.RecipientSpec("organization", organization_id=org_id)],
            end=today + dt.timedelta(days=20),  # on the expiring-within-30-days worklist
            signature=s.Signature(
                "Parent or guardian",
                today - dt.timedelta(days=5),
                "guardian",
                pdf=DEMO_PDF,
                filename="signed-consent.pdf",
            ),
        )
    if site_id is not None:
        staff(
            others[1],
            categories=["mental-health", "hiv"],
            purposes=["treatment"],
            recipients=[s.RecipientSpec("site", site_id=site_id)],
        )
    staff(
        others[2],
        categories=["all"],
        purposes=["treatment", "payment"],
        recipients=[s.RecipientSpec("role", role="care-manager")],
    )
    multi = staff(
        others[3],
        categories=["substance-use", "mental-health"],
        purposes=["treatment"],
        recipients=[
            s.RecipientSpec("person", practitioner_id=pcp.pk),
            s.RecipientSpec("role", role="psychiatrist"),
        ],
    )
    leaving = multi.recipients.filter(kind="role").values_list("pk", flat=True).first()
    if leaving is not None:
        s.revoke_recipient(
            by=pcp_user, directive=multi, recipient_id=leaving, reason="Patient's request"
        )
    revoked = staff(
        others[4],
        categories=["reproductive-health"],
        purposes=["treatment"],
        recipients=[s.RecipientSpec("person", practitioner_id=pcp.pk)],
    )
    s.revoke_directive(by=pcp_user, directive=revoked, reason="Patient withdrew consent")
    staff(
        others[5],
        categories=["mental-health"],
        purposes=["research"],
        recipients=[s.RecipientSpec("organization", organization_id=org_id)]
        if org_id is not None
        else [s.RecipientSpec("role", role="pcp")],
        end=today + dt.timedelta(days=365),
    )
