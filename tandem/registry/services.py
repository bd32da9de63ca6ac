"""Writes about patients. Each records an audit event in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from django.db import transaction
from django.utils import timezone

from tandem.audit import services as audit
from tandem.consent import rules as consent_rules
from tandem.core.models import Sensitivity
from tandem.registry import rules
from tandem.registry.models import Patient, SavedFilter
from tandem.registry.population import queries as population


def link_patient_login(*, by: Any, patient: Patient, user: Any) -> Patient:
    """Let ``user`` sign in as this patient (portal access to their own record)."""
    patient.user = user
    patient.save(update_fields=["user"])
    audit.record(
        actor=by,
        entry=audit.Entry(
            "write:link_patient_login", "written", patient.pk, "demographics", "", f"user={user.pk}"
        ),
    )
    return patient


def rebuild_risk(*, as_of: dt.date, by: Any = None) -> dict[str, int]:
    """Score every living patient (F5) as of ``as_of`` and replace the stored scores.

    A few grouped queries read the components (``population.queries.risk_inputs``); the
    points and tier are ``registry.rules``; the rows are written in bulk in one transaction.
    A score is labelled ``mental-health`` when a behavioral-health record earned it points,
    else ``normal``. Returns the number of patients per tier.
    """
    inputs = population.risk_inputs(as_of=as_of)
    now = timezone.now()
    rows, tiers = [], dict.fromkeys(rules.TIER_LABELS, 0)
    for patient_id in population.living_patient_ids(as_of=as_of):
        values: dict[str, int | None] = {"months_without_pc": None}
        mh = False
        for key, by_patient in inputs.items():
            found = by_patient.get(patient_id)
            if found is not None:
                values[key] = found[0]
                mh = mh or bool(found[1])
        score, tier, components = rules.score(values)
        tiers[tier] += 1
        label = Sensitivity.MENTAL_HEALTH if mh else Sensitivity.NORMAL
        rows.append((patient_id, score, tier, orjson.dumps(components).decode(), as_of, now, label))
    with transaction.atomic():
        population.replace_risk_scores(rows)
        audit.record(
            actor=by,
            entry=audit.Entry(
                "write:rebuild_risk", "written", None, "risk", "operations",
                f"as_of={as_of.isoformat()} rows={len(rows)}",
            ),
        )  # fmt: skip
    return tiers


def rebuild_cohorts(
    *, as_of: dt.date, by: Any = None, members: dict[str, list[int]] | None = None
) -> dict[str, int]:
    """Evaluate every registry cohort as of ``as_of`` and replace its stored members.

    The cohorts are data in the measure language (``measures.definitions.cohorts``),
    evaluated by the measure engine over the operational database
    (``population.evaluate_cohorts``; ``members`` given: use those, for tests and callers
    that evaluated them already). Each cohort is replaced in one transaction; a patient who
    stays on a cohort keeps the day they joined (``since``). A membership takes the least
    protected label of the patient's records that put them on it (``consent.rules.
    label_cohort``). Returns the members per cohort.

    The cohort definitions are in the measure layer, above the registry: imported when the
    refresh runs, not when the registry loads.
    """
    from tandem.measures.definitions import cohorts as definitions

    if members is None:
        members = population.evaluate_cohorts(as_of=as_of)
    counts = {}
    for cohort, ids in members.items():
        kind, lists = definitions.get(cohort).evidence
        evidence = population.evidence_labels(kind=kind, lists=lists)
        with transaction.atomic():
            since = population.membership_since(cohort=cohort)
            population.replace_members(
                cohort=cohort,
                rows=[
                    (
                        cohort,
                        pk,
                        since.get(pk, as_of),
                        as_of,
                        consent_rules.label_cohort(cohort, evidence.get(pk, ())),
                    )
                    for pk in ids
                ],
            )
            audit.record(
                actor=by,
                entry=audit.Entry(
                    "write:rebuild_cohort", "written", None, "cohorts", "operations",
                    f"cohort={cohort} as_of={as_of.isoformat()} rows={len(ids)}",
                ),
            )  # fmt: skip
        counts[cohort] = len(ids)
    return counts


def request_primary_care(*, by: Any, patient: Any, found: Any, site: Any, open_tasks: list) -> Any:
    """The engagement panel's one action: a task for the primary-care team of ``site`` —
    "book a primary-care appointment" when a PCP is assigned, else "assign a PCP".

    ``found`` is the panel's :class:`registry.queries.Engagement`; ``open_tasks`` the patient's
    open tasks the requester may see. One open engagement task per patient: when there is one
    already (a double click, a colleague's request), it is returned and nothing is written
    (the queue row is locked first, so two requests at once write one task). The task is
    labelled ``normal`` and its words name no behavioral-health program or service
    (``registry.engagement``): it must reach primary care without disclosing Part 2 or
    mental-health treatment. Returns (task, created).
    """
    from tandem.registry import engagement
    from tandem.tasks import services as tasks
    from tandem.tasks.models import Queue

    queue = tasks.queue_for(site=site, kind=engagement.QUEUE_KIND)
    Queue.objects.select_for_update().filter(pk=queue.pk).first()
    existing = [t for t in open_tasks if t.source == engagement.TASK_SOURCE]
    if existing:
        return existing[0], False
    action = "request-appointment" if found.pcp is not None else "assign-pcp"
    overdue = [m.label for m in found.monitoring if m.state == "overdue"]
    task = tasks.create_task(
        by=by,
        patient=patient,
        title=engagement.TASK_TITLES[action],
        queue=queue,
        priority="high" if found.pcp is None or found.last_visit is None else "normal",
        due=timezone.localdate() + dt.timedelta(days=engagement.TASK_DUE_DAYS),
        source=engagement.TASK_SOURCE,
        source_ref=f"{action}:{patient.pk}",
        detail=engagement.task_detail(
            has_pcp=found.pcp is not None, last_visit=found.last_visit, overdue=overdue
        ),
        sensitivity=Sensitivity.NORMAL,
    )
    return task, True


def save_filter(*, by: Any, cohort: str, name: str, query: str) -> tuple[SavedFilter, bool]:
    """Save (or, under a name already used on this cohort, update) a user's filter; the
    caller validated ``query``. A second submission finds the first: ``(filter, created)``."""
    saved, created = SavedFilter.objects.update_or_create(
        user=by, cohort=cohort, name=name, defaults={"query": query}
    )
    audit.record(
        actor=by,
        entry=audit.Entry(
            "write:save_filter", "written", None, "", "", f"cohort={cohort} filter={saved.pk}"
        ),
    )
    return saved, created


def delete_filter(*, by: Any, saved: SavedFilter) -> None:
    """Delete one of the user's saved filters."""
    pk, cohort = saved.pk, saved.cohort
    saved.delete()
    audit.record(
        actor=by,
        entry=audit.Entry(
            "write:delete_filter", "written", None, "", "", f"cohort={cohort} filter={pk}"
        ),
    )
