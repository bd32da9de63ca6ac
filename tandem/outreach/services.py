"""Writes about worklists and outreach: the refresh, and the care team's actions on an item.

Every function is keyword-only with an explicit actor (``by``; ``None`` is the system), moves
an item only along ``rules.TRANSITIONS``, appends an :class:`ItemEvent` and records an audit
event, all in the caller's transaction (services never commit). A refused action raises
:class:`OutreachError` with the field it concerns and a message to show as it is.

The callers (views, API) read the item through the gate first (``outreach.queries``): a service
acts on an item its actor may see.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tandem.audit import services as audit
from tandem.consent import gate
from tandem.outreach import queries, rules
from tandem.outreach.criteria import queries as criteria
from tandem.outreach.models import ContactAttempt, ItemEvent, WorklistItem
from tandem.outreach.refresh import queries as refresh

SUPPRESS_DAYS = 90  # an item a person closed is not reopened for this long without a new event


class OutreachError(ValueError):
    """An action refused: ``field`` names the form field (or ``""``), ``message`` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _audit(by: Any, action: str, item: WorklistItem, detail: str = "") -> None:
    audit.record(
        actor=by,
        entry=audit.Entry(
            f"write:{action}",
            "written",
            item.patient_id,
            "worklist_items",
            "treatment",
            f"item={item.pk} list={item.worklist} {detail}".strip()[:400],
        ),
    )


def _event(item: WorklistItem, by: Any, action: str, before: str, detail: str = "") -> None:
    ItemEvent.objects.create(
        item=item,
        at=timezone.now(),
        by=by,
        action=action,
        from_state=before,
        to_state=item.state,
        detail=detail[:400],
    )


def _move(item: WorklistItem, action: str) -> tuple[WorklistItem, str]:
    """The item re-read under a row lock, and its state before; the new state set on it."""
    current = queries.locked_item(pk=item.pk)
    before = current.state
    try:
        current.state = rules.next_state(action, before)
    except rules.TransitionRefused as refused:
        raise OutreachError("", str(refused)) from None
    return current, before


# --- the refresh ----------------------------------------------------------------------------


def rebuild_worklists(*, as_of: dt.date, by: Any = None, progress: Any = None) -> dict[str, int]:
    """Open items for newly qualifying patients, keep open ones (their reasons brought up to
    date), resolve those whose condition cleared (with the reason), stamp risk. Idempotent."""
    gate.population_scope(user=by, purpose="operations", detail="worklist refresh")
    now = timezone.now()
    totals = {"opened": 0, "kept": 0, "resolved": 0, "worklists": 0}
    for worklist in criteria.current_worklists():
        counts = _rebuild_one(worklist, as_of, now)
        for name, value in counts.items():
            totals[name] += value
        totals["worklists"] += 1
        if progress is not None:
            progress(f"{worklist.key}: {counts['opened']} opened, {counts['resolved']} resolved")
    totals["risk_stamped"] = refresh.stamp_risk()
    audit.record(
        actor=by,
        entry=audit.Entry(
            "write:rebuild_worklists",
            "written",
            None,
            "worklist_items",
            "operations",
            " ".join(f"{k}={v}" for k, v in totals.items()) + f" as_of={as_of}",
        ),
    )
    return totals


def _rebuild_one(worklist: rules.Worklist, as_of: dt.date, now: dt.datetime) -> dict[str, int]:
    found = criteria.FIND[worklist.criteria](worklist, as_of)
    open_items = refresh.open_items(worklist.key)
    closed = _closing(worklist, as_of, found, open_items)
    refresh.resolve_many(closed=closed, at=now)
    ItemEvent.objects.bulk_create(
        [
            ItemEvent(
                item_id=pk,
                at=now,
                action="auto-resolved",
                to_state=rules.RESOLVED,
                from_state=open_items[pid].state,
                detail=reason[:400],
            )
            for pid, (pk, reason) in closed.items()
        ],
        batch_size=1000,
    )
    changed = [
        (open_items[pid].pk, finding)
        for pid, finding in found.items()
        if pid in open_items and pid not in closed and open_items[pid].reason != finding.reason
    ]
    refresh.update_findings(changed=changed)
    suppressed = refresh.closed_by_people_since(
        worklist.key, now - dt.timedelta(days=SUPPRESS_DAYS)
    )
    new = {
        pid: finding
        for pid, finding in found.items()
        if pid not in open_items
        and not (pid in suppressed and (finding.trigger or dt.date.min) <= suppressed[pid])
    }
    _open(worklist, new, as_of, now)
    return {"opened": len(new), "kept": len(open_items) - len(closed), "resolved": len(closed)}


def _closing(
    worklist: rules.Worklist,
    as_of: dt.date,
    found: dict[int, criteria.Finding],
    open_items: dict[int, refresh.OpenItem],
) -> dict[int, tuple[int, str]]:
    """Open items the data closed: patient -> (item id, reason).

    A standing condition closes when the patient is off the list. An event (a no-show, a
    discharge) closes only with its closing data, which is looked for on every open item and
    on every newly found patient (who is then not listed: a no-show already followed by a kept
    appointment needs no outreach); ``found`` loses those patients.
    """
    unlisted = {pid: item.trigger for pid, item in open_items.items() if pid not in found}
    reasons = criteria.deceased(unlisted)
    if worklist.standing:
        rest = {pid: t for pid, t in unlisted.items() if pid not in reasons}
    else:
        rest = {
            pid: found[pid].trigger if pid in found else item.trigger
            for pid, item in open_items.items()
            if pid not in reasons
        }
        rest.update({pid: f.trigger for pid, f in found.items() if pid not in open_items})
    if rest:
        reasons.update(criteria.CLOSE[worklist.criteria](worklist, as_of, rest))
    if worklist.standing:  # off the list means the condition cleared
        for pid in rest:
            reasons.setdefault(pid, f"No longer meets the list's criteria on {as_of}")
    for pid in [p for p in reasons if p not in open_items]:
        del found[pid]
        del reasons[pid]
    return {pid: (open_items[pid].pk, reason) for pid, reason in reasons.items()}


def _open(
    worklist: rules.Worklist, new: dict[int, criteria.Finding], as_of: dt.date, now: dt.datetime
) -> None:
    items = [
        WorklistItem(
            worklist=worklist.key,
            patient_id=pid,
            site_id=finding.site_id,
            state=rules.NEW,
            reason=finding.reason[:400],
            evidence=finding.evidence,
            trigger_date=finding.trigger,
            time_critical=worklist.time_critical,
            due=finding.due,
            next_due=min(d for d in (as_of, finding.due) if d is not None),
            opened_at=now,
            sensitivity=rules.most_protective([worklist.label, *finding.labels]),
        )
        for pid, finding in sorted(new.items())
    ]
    for start in range(0, len(items), 1000):
        batch = items[start : start + 1000]
        WorklistItem.objects.bulk_create(batch)
        if not all(item.pk for item in batch):  # a backend that returns no ids
            ids = refresh.open_item_ids(worklist.key, [i.patient_id for i in batch])
            for item in batch:
                item.pk = ids[item.patient_id]
        ItemEvent.objects.bulk_create(
            [
                ItemEvent(
                    item_id=i.pk, at=now, action="opened", to_state=rules.NEW, detail=i.reason
                )
                for i in batch
            ]
        )


# --- the care team's actions ----------------------------------------------------------------


def claim_item(*, by: Any, item: WorklistItem) -> WorklistItem:
    """Take the item as its owner (from anyone: a colleague's item can be taken over)."""
    item, before = _move(item, "claim")
    previous = item.owner_id
    item.owner = by
    item.save(update_fields=["state", "owner", "updated_at"])
    detail = f"from user={previous}" if previous and previous != by.pk else ""
    _event(item, by, "claimed", before, detail)
    _audit(by, "claim_item", item, detail)
    return item


def release_item(*, by: Any, item: WorklistItem) -> WorklistItem:
    """Give a claimed item back to the list (no attempt made yet)."""
    item, before = _move(item, "release")
    item.owner = None
    item.save(update_fields=["state", "owner", "updated_at"])
    _event(item, by, "released", before)
    _audit(by, "release_item", item)
    return item


def _check_attempt(
    item: WorklistItem, channel: str, outcome: str, note: str, at: dt.datetime
) -> None:
    if channel not in dict(rules.CHANNELS):
        raise OutreachError("channel", "Choose one of the listed channels.")
    if outcome not in dict(rules.OUTCOMES):
        raise OutreachError("outcome", "Choose one of the listed outcomes.")
    if len(note) > rules.NOTE_MAX:
        raise OutreachError("note", f"Keep the note under {rules.NOTE_MAX} characters.")
    if at > timezone.now():
        raise OutreachError("attempted_at", "The attempt cannot be in the future.")
    if timezone.localdate(at) < timezone.localdate(item.opened_at):
        opened = rules.day(timezone.localtime(item.opened_at))
        raise OutreachError(
            "attempted_at", f"The attempt cannot be before the item opened ({opened})."
        )


def log_attempt(
    *,
    by: Any,
    item: WorklistItem,
    channel: str,
    outcome: str,
    attempted_at: dt.datetime,
    note: str = "",
    nonce: str = "",
) -> tuple[ContactAttempt, bool]:
    """Record a contact attempt; the item moves to in-outreach (and to ``by`` if unowned).

    Idempotent by ``nonce``: a second submission with the same one returns the first attempt
    and ``False`` (nothing written). Raises OutreachError naming the field on bad input.
    """
    note = (note or "").strip()
    if nonce:
        existing = queries.attempt_by_nonce(nonce=nonce)
        if existing is not None:
            return existing, False
    _check_attempt(item, channel, outcome, note, attempted_at)
    item, before = _move(item, "log-attempt")
    try:
        with transaction.atomic():  # a double click racing this one: the nonce is unique
            attempt = ContactAttempt.objects.create(
                item=item,
                patient_id=item.patient_id,
                channel=channel,
                outcome=outcome,
                note=note,
                attempted_at=attempted_at,
                by=by,
                nonce=nonce[:64],
                sensitivity=item.sensitivity,
            )
    except IntegrityError:
        existing = queries.attempt_by_nonce(nonce=nonce)
        if existing is None:
            raise
        return existing, False
    _after_attempt(item, by, before, attempt)
    return attempt, True


def _after_attempt(item: WorklistItem, by: Any, before: str, attempt: ContactAttempt) -> None:
    if item.owner_id is None:
        item.owner = by
    status = queries.protocol_status(item=item)
    item.next_due = status.next_due
    item.save(update_fields=["state", "owner", "next_due", "updated_at"])
    detail = f"{attempt.get_channel_display()}: {attempt.get_outcome_display()}"
    _event(item, by, "attempt", before, detail)
    _audit(by, "log_contact_attempt", item, f"attempt={attempt.pk} channel={attempt.channel}")


def book_appointment(
    *,
    by: Any,
    item: WorklistItem,
    start: dt.datetime,
    site: Any,
    channel: str = "phone",
    note: str = "",
    nonce: str = "",
) -> WorklistItem:
    """Book a primary-care appointment for the item's patient (with the PCP if one is
    assigned and works at ``site``) and log the attempt that made it ("appointment made").

    The item moves to in-outreach and stays open: the next refresh resolves it when the visit
    happened (for the SMI list: a finished primary-care encounter, with a PCP assigned).
    """
    from tandem.scheduling import services as scheduling

    if nonce and queries.attempt_by_nonce(nonce=nonce) is not None:
        return queries.locked_item(pk=item.pk)  # the same form sent twice
    if start <= timezone.now():
        raise OutreachError("start", "Book the appointment for a time in the future.")
    if site is None or site.kind != "primary-care":
        raise OutreachError("site", "Choose a primary-care site.")
    pcp = queries.pcp_at(patient_id=item.patient_id, site=site)
    appointment = scheduling.book_appointment(
        by=by,
        patient_id=item.patient_id,
        start=start,
        site=site,
        practitioner=pcp,
        service_type="primary-care",
    )
    when = timezone.localtime(start).strftime("%Y-%m-%d %H:%M")
    text = f"Primary-care appointment booked for {when} at {site.name}. {note}".strip()
    attempt, _ = log_attempt(
        by=by,
        item=item,
        channel=channel,
        outcome="appointment-made",
        attempted_at=timezone.now(),
        note=text,
        nonce=nonce,
    )
    item = queries.locked_item(pk=item.pk)
    item.appointment = appointment
    item.next_due = timezone.localdate(start) + dt.timedelta(days=1)
    item.save(update_fields=["appointment", "next_due", "updated_at"])
    _event(item, by, "appointment-booked", item.state, f"for {when}")
    _audit(by, "book_appointment", item, f"appointment={appointment.pk}")
    return item


def resolve_item(*, by: Any, item: WorklistItem, reason: str) -> WorklistItem:
    """Close the item by hand with a reason (the patient was reached and the gap closed…)."""
    reason = (reason or "").strip()
    if not reason:
        raise OutreachError("reason", "Say why the item is resolved.")
    if len(reason) > 400:
        raise OutreachError("reason", "Keep the reason under 400 characters.")
    item, before = _move(item, "resolve")
    item.resolved_at, item.resolved_reason, item.resolved_by = timezone.now(), reason, by
    item.next_due = None
    item.save(
        update_fields=[
            "state",
            "resolved_at",
            "resolved_reason",
            "resolved_by",
            "next_due",
            "updated_at",
        ]
    )
    _event(item, by, "resolved", before, reason)
    _audit(by, "resolve_item", item)
    return item


def mark_unable_to_reach(*, by: Any, item: WorklistItem, note: str = "") -> WorklistItem:
    """Close the item as unable to reach — only once the protocol is exhausted — and escalate:
    a task for the supervisors of the item's site (``tasks.services.supervisor_queue``)."""
    from tandem.tasks import services as tasks

    status = queries.protocol_status(item=item)
    if not status.exhausted:
        raise OutreachError(
            "",
            f"The protocol is not exhausted yet ({status.protocol.describe()}): "
            f"{status.attempts_left} more attempt(s), {status.channels_left} more channel(s).",
        )
    item, before = _move(item, "unable-to-reach")
    reason = (
        "Unable to reach: " + ", ".join(status.channels) + (f". {note.strip()}" if note else "")
    )
    task = tasks.create_task(
        by=by,
        patient=item.patient,
        title="Outreach exhausted: unable to reach patient",
        queue=tasks.supervisor_queue(site=item.site),
        due=timezone.localdate() + dt.timedelta(days=3),
        priority="high",
        source="worklist-item",
        source_ref=f"worklist-item:{item.pk}",
        detail=f"{item.reason}. {status.counted} attempts over {len(status.channels)} channels.",
        sensitivity=item.sensitivity,
    )
    item.resolved_at, item.resolved_reason, item.resolved_by = timezone.now(), reason[:400], by
    item.escalation, item.next_due = task, None
    item.save(
        update_fields=[
            "state",
            "resolved_at",
            "resolved_reason",
            "resolved_by",
            "escalation",
            "next_due",
            "updated_at",
        ]
    )
    _event(item, by, "unable-to-reach", before, f"escalated: task {task.pk}")
    _audit(by, "mark_unable_to_reach", item, f"task={task.pk}")
    return item


def seed_demo(*, personas: dict[str, Any]) -> None:
    """Items in every state, so the pages are alive on first start (``outreach.demo``)."""
    from tandem.outreach import demo

    demo.seed(personas=personas)
