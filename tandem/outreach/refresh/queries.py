"""The refresh's reads and bulk writes of worklist items (``outreach.services`` drives them).

The open items of a list, the items people closed recently, the ids of new items, and the
set-based writes that follow those reads: resolve many items, refresh the reasons of many, copy
the risk scores onto every open item in one UPDATE.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from tandem.outreach import rules
from tandem.outreach.criteria.queries import CHUNK, Finding
from tandem.outreach.models import WorklistItem

# --- the items the refresh works on ---------------------------------------------------------


@dataclass(frozen=True)
class OpenItem:
    pk: int
    state: str
    reason: str
    trigger: dt.date | None


def open_items(key: str) -> dict[int, OpenItem]:
    """The open items of one worklist, by patient id."""
    rows = WorklistItem.objects.filter(worklist=key, state__in=sorted(rules.OPEN_STATES))
    return {
        pid: OpenItem(pk, state, reason, trigger)
        for pk, pid, state, reason, trigger in rows.values_list(
            "pk", "patient_id", "state", "reason", "trigger_date"
        ).iterator(chunk_size=CHUNK)
    }


def closed_by_people_since(key: str, since: dt.datetime) -> dict[int, dt.date]:
    """Patients whose item on this list a person closed since ``since`` (no reopening yet)."""
    rows = WorklistItem.objects.filter(
        worklist=key,
        state__in=sorted(rules.CLOSED_STATES),
        resolved_by__isnull=False,
        resolved_at__gte=since,
    ).values_list("patient_id", "resolved_at")
    closed: dict[int, dt.date] = {}
    for pid, at in rows:
        if at is not None:
            closed[pid] = max(closed.get(pid, at.date()), at.date())
    return closed


def open_item_ids(key: str, pids: Iterable[int]) -> dict[int, int]:
    """Patient id -> open item id for these patients (after creating new items)."""
    ids = list(pids)
    found: dict[int, int] = {}
    for i in range(0, len(ids), CHUNK):
        rows = WorklistItem.objects.filter(
            worklist=key, state__in=sorted(rules.OPEN_STATES), patient_id__in=ids[i : i + CHUNK]
        )
        found.update(dict(rows.values_list("patient_id", "pk")))
    return found


def stamp_risk() -> int:
    """Copy each open item's patient's risk score, tier and label onto it (one UPDATE)."""
    from tandem.registry.models import RiskScore

    score = RiskScore.objects.filter(patient_id=OuterRef("patient_id"))
    return WorklistItem.objects.filter(state__in=sorted(rules.OPEN_STATES)).update(
        risk=Coalesce(Subquery(score.values("score")[:1]), 0),
        risk_tier=Coalesce(Subquery(score.values("tier")[:1]), Value("")),
        risk_sensitivity=Coalesce(Subquery(score.values("sensitivity")[:1]), Value("normal")),
    )


# --- the refresh's set-based writes (beside the reads they follow) ------------------------------


def resolve_many(*, closed: dict[int, tuple[int, str]], at: dt.datetime) -> None:
    """Resolve open items (patient -> (item id, reason)) as the refresh, in bulk."""
    items = [
        WorklistItem(
            pk=pk,
            state=rules.RESOLVED,
            resolved_at=at,
            resolved_reason=reason[:400],
            next_due=None,
        )
        for pk, reason in closed.values()
    ]
    WorklistItem.objects.bulk_update(
        items, ["state", "resolved_at", "resolved_reason", "next_due"], batch_size=500
    )


def update_findings(*, changed: list[tuple[int, Finding]]) -> None:
    """Refresh the reason and evidence of open items whose finding changed."""
    items = [
        WorklistItem(
            pk=pk,
            reason=f.reason[:400],
            evidence=f.evidence,
            trigger_date=f.trigger,
            due=f.due,
        )
        for pk, f in changed
    ]
    WorklistItem.objects.bulk_update(
        items, ["reason", "evidence", "trigger_date", "due"], batch_size=500
    )
