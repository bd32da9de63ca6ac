"""Demo break-the-glass: one grant reviewed as justified, one awaiting review.

The behavioral health clinician persona broke the glass for a patient outside their care
team and opened the chart; the privacy officer persona (``privacy``) reviewed it as justified.
The PCP persona did the same for another patient, not yet reviewed. Both through the services
(audited, alerts raised); they last ``TANDEM_BREAK_GLASS_MINUTES`` from the demo's first start
and stay in the history. Seeding again changes nothing (a persona with a grant is skipped).
"""

from __future__ import annotations

from typing import Any

from tandem.breakglass import queries, services

SCRIPT = [
    (
        "bh-clinician",
        "Patient arrived in crisis at the drop-in center; need current medications and recent "
        "hospital discharges before the crisis assessment.",
        "Crisis visit confirmed in the drop-in log; the medication check was needed.",
    ),
    (
        "pcp",
        "Covering the walk-in clinic: patient with chest pain, no primary-care record here; "
        "need medications and problems.",
        None,  # awaiting review
    ),
]


def seed_demo(*, personas: dict[str, Any]) -> None:
    officer = personas.get("privacy") or queries.privacy_officers().first()
    used: list[int] = []
    for key, reason, review_note in SCRIPT:
        user = personas.get(key)
        if user is None or not queries.is_practitioner(user):
            continue
        existing = queries.demo_grants(user).first()
        if existing is not None:
            used.append(existing.patient_id)
            continue
        patient_id = queries.demo_patient_outside_team(user, exclude=used)
        if patient_id is None:
            continue
        used.append(patient_id)
        grant = services.declare(by=user, patient_id=patient_id, reason=reason)
        queries.demo_chart_read(user, patient_id)
        if review_note is not None and officer is not None:
            services.review(by=officer, grant=grant, justified=True, note=review_note)
