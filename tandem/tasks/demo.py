"""Demo queues and tasks, so the task pages are alive on the demo's first start.

Queues for every demo site by kind (``QUEUE_KINDS``), with the persona logins as members where
their practitioner works (``PERSONA_QUEUE``); the leader is in every supervisors queue. Then,
for each clinical persona, tasks on patients that persona may see, in every status and
priority, some overdue, some due today, with history (claimed, reassigned, completed with an
outcome, cancelled with a reason) — all through the services, so each change is audited.
Seeding again changes nothing (the demo's tasks carry ``source_ref`` ``demo:…``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from tandem.core.models import Practitioner, Site
from tandem.tasks import queries, services
from tandem.tasks.models import Queue

QUEUE_KINDS: dict[str, tuple[str, ...]] = {
    "primary-care": ("primary-care", "care-management", "supervisors"),
    "co-located-bh": ("behavioral-health", "care-management", "supervisors"),
    "cmhc": ("behavioral-health", "care-management", "supervisors"),
    "sud-program": ("behavioral-health", "supervisors"),
}
PERSONA_QUEUE = {
    "pcp": "primary-care",
    "care-manager": "care-management",
    "bh-clinician": "behavioral-health",
    "psychiatrist": "behavioral-health",
}
# (title, priority, due in days from today, source, what happens to it)
SCRIPT: dict[str, list[tuple[str, str, int | None, str, str]]] = {
    "primary-care": [
        ("Review HbA1c result and call the patient", "high", -3, "alert", "open"),
        ("Order lipid panel (antipsychotic monitoring)", "normal", 5, "worklist-item", "claim"),
        ("Reconcile medications after hospital discharge", "urgent", 0, "alert", "open"),
        ("Refill request: metformin 500 mg", "normal", 2, "manual", "done"),
        ("Recheck blood pressure (162/102 at last visit)", "high", -1, "manual", "start"),
        ("Complete prior authorization for glucose strips", "low", 10, "manual", "cancel"),
        ("Primary-care appointment requested by BH clinician", "high", 3, "engagement", "queue"),
        ("Assign a PCP: SMI patient without one", "normal", -5, "engagement", "queue"),
        ("Annual physical overdue: schedule", "low", None, "worklist-item", "queue"),
    ],
    "care-management": [
        ("Follow up within 7 days of ED visit", "urgent", -2, "worklist-item", "claim"),
        ("Arrange transport to the PCP visit", "high", 1, "manual", "open"),
        ("Call about the missed appointment (no-show)", "normal", 0, "worklist-item", "start"),
        ("Help with Medicaid renewal paperwork", "low", 14, "manual", "done"),
        ("Confirm Thursday's appointment", "normal", -1, "manual", "reassign"),
        ("Huddle: discuss disengaged patients", "normal", 4, "huddle", "queue"),
        ("Outreach: no primary-care visit in 12 months", "high", -4, "worklist-item", "queue"),
        ("Referral received: care coordination", "normal", 6, "referral", "cancel"),
    ],
    "behavioral-health": [
        ("Coordinate with PCP about weight gain on olanzapine", "high", 2, "manual", "open"),
        ("Schedule psychiatric follow-up after discharge", "urgent", -1, "alert", "claim"),
        ("Review PHQ-9 score with the patient", "normal", 0, "alert", "start"),
        ("Send release of information to the PCP", "low", 7, "referral", "done"),
        ("Metabolic monitoring overdue: request labs", "normal", -6, "worklist-item", "queue"),
        ("Huddle follow-up: medication adherence", "normal", 3, "huddle", "queue"),
    ],
}
OUTCOMES = {
    "done": "Done: spoke with the patient and documented the plan.",
    "cancel": "Duplicate of another task.",
}


def _queues(personas: dict[str, Any]) -> dict[str, list[Queue]]:
    """Create the demo queues and members; return each persona's queues by persona key."""
    works_at = {
        key: set(Practitioner.objects.filter(user=user).values_list("sites__pk", flat=True))
        for key, user in personas.items()
        if key in PERSONA_QUEUE
    }
    theirs: dict[str, list[Queue]] = {key: [] for key in PERSONA_QUEUE}
    for site in Site.objects.filter(kind__in=QUEUE_KINDS).order_by("pk"):
        for kind in QUEUE_KINDS[site.kind]:
            queue = services.queue_for(site=site, kind=kind)
            members = [
                personas[key]
                for key, queue_kind in PERSONA_QUEUE.items()
                if queue_kind == kind and site.pk in works_at.get(key, ())
            ]
            if kind == "supervisors" and "leader" in personas:
                members.append(personas["leader"])
            services.set_members(by=None, queue=queue, users=members)
            for key in PERSONA_QUEUE:
                if personas.get(key) in members:
                    theirs[key].append(queue)
    return theirs


def _act(task: Any, fate: str, user: Any, home: Queue | None) -> None:
    if fate in ("claim", "start", "done", "cancel", "reassign") and task.queue_id:
        task = services.claim_task(by=user, task=task)
    if fate == "start" and task.status == "open":
        services.start_task(by=user, task=task)
    elif fate == "done":
        services.complete_task(by=user, task=task, outcome=OUTCOMES["done"])
    elif fate == "cancel":
        services.cancel_task(by=user, task=task, reason=OUTCOMES["cancel"])
    elif fate == "reassign" and home is not None:
        services.reassign_task(
            by=user, task=task, to_queue=home, note="Back to the team: I am out tomorrow."
        )


def _seed_persona(key: str, user: Any, queues: list[Queue]) -> int:
    kind = PERSONA_QUEUE[key]
    patients = queries.demo_patients(user=user, limit=len(SCRIPT[kind]))
    if not patients:
        return 0
    today = timezone.localdate()
    home = queues[0] if queues else None
    made = 0
    for i, (title, priority, due_in, source, fate) in enumerate(SCRIPT[kind]):
        in_queue = home is not None and fate in ("queue", "claim", "reassign")
        task = services.create_task(
            by=user if source == "manual" else None,
            patient=patients[i % len(patients)],
            title=title,
            queue=home if in_queue else None,
            owner=None if in_queue else user,
            due=None if due_in is None else today + dt.timedelta(days=due_in),
            priority=priority,
            source=source,
            source_ref=f"demo:{key}:{i}",
        )
        _act(task, fate, user, home)
        made += 1
    return made


def seed(*, personas: dict[str, Any]) -> None:
    """Queues with members, and each clinical persona's tasks (once), in one transaction."""
    with transaction.atomic():
        _seed(personas)


def _seed(personas: dict[str, Any]) -> None:
    queues = _queues(personas)
    if queries.demo_seeded():
        return
    for key in PERSONA_QUEUE:
        user = personas.get(key)
        if user is None:
            continue
        _seed_persona(key, user, queues[key])
