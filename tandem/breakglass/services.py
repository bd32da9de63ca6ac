"""Writes for break-the-glass: declare an emergency (a grant), review it.

Every call is audited: a declaration ``break-the-glass`` (``written`` with the grant; ``denied``
without a reason, for a non-practitioner, or when no patient matches exactly), a review
``break-the-glass-review`` (``written``; ``denied`` for anyone but a privacy officer). The reason
and the review note are stored on the grant, never in the audit trail's detail (they may carry
clinical content).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tandem.audit import services as audit
from tandem.breakglass import queries, rules
from tandem.breakglass.models import EmergencyAccess
from tandem.consent.models import Purpose
from tandem.core.lib.access import AccessDenied
from tandem.tasks import services as tasks
from tandem.tasks.models import Queue


class BreakGlassError(ValueError):
    """Bad input, naming the field (``reason``, ``patient``, ``note``, ``review``)."""

    def __init__(self, field: str, message: str, *, code: str = "invalid") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code


class NoMatch(Exception):
    """The look-up matched no single patient (audited)."""


class TooManyMisses(Exception):
    """Too many look-ups matched nobody in the last hour (audited)."""


def _deny(by: Any, patient_id: int | None, detail: str) -> None:
    audit.record(
        actor=by,
        entry=audit.Entry("break-the-glass", "denied", patient_id, "", Purpose.EMERGENCY, detail),
    )


def check_reason(*, by: Any, patient_id: int | None, reason: str | None) -> str:
    """The reason, stripped; refused (and audited as a denied declaration) when missing."""
    reason = (reason or "").strip()
    if not reason:
        _deny(by, patient_id, "no reason given")
        raise BreakGlassError("reason", "Give the reason for emergency access.")
    if len(reason) < rules.MIN_REASON_LENGTH:
        _deny(by, patient_id, "reason too short")
        raise BreakGlassError(
            "reason",
            f"Say why in at least {rules.MIN_REASON_LENGTH} characters: the privacy officer "
            "reviews it.",
        )
    if len(reason) > rules.MAX_REASON_LENGTH or "\x00" in reason:
        _deny(by, patient_id, "reason invalid")
        raise BreakGlassError("reason", f"At most {rules.MAX_REASON_LENGTH} characters.")
    return reason


def _check_declarer(by: Any, patient_id: int | None) -> None:
    if not queries.is_practitioner(by):
        _deny(by, patient_id, "not a practitioner")
        raise AccessDenied("only practitioners may declare emergency access")


def declare(*, by: Any, patient_id: int, reason: str) -> EmergencyAccess:
    """Grant ``by`` emergency access to one patient until now + TANDEM_BREAK_GLASS_MINUTES.

    Refused (audited) without a reason (``BreakGlassError`` on ``reason``), for anyone but an
    active practitioner, or for a patient that does not exist (``AccessDenied``: the same
    answer as a refusal). A reader who already has a treatment basis needs none
    (``BreakGlassError`` on ``patient``, code ``not-needed``). An active grant for the same
    patient is returned as it is: no second alert. Alerts the patient's care team (a task
    each) and the privacy office (a task in its queue).
    """
    _check_declarer(by, patient_id)
    reason = check_reason(by=by, patient_id=patient_id, reason=reason)
    _check_misses(by)
    if not queries.patient_exists(patient_id):
        _deny(by, None, f"{rules.MISS} (no patient with this id)")
        raise AccessDenied("no such patient")
    return _grant(by, patient_id, reason)


def _check_misses(by: Any) -> None:
    since = timezone.now() - dt.timedelta(hours=1)
    if queries.misses_since(by, since) >= rules.MAX_MISSES_PER_HOUR:
        _deny(by, None, "look-up refused: too many misses in an hour")
        raise TooManyMisses()


def declare_by_lookup(*, by: Any, lookup: queries.Lookup, reason: str) -> EmergencyAccess:
    """The page's path: check the reason first, then look the patient up exactly.

    Until a valid reason is given nothing is looked up, so a hit and a miss look the same. A
    miss is audited (``no exact match``) and, past ``MAX_MISSES_PER_HOUR`` in an hour, the
    look-up is refused altogether (``TooManyMisses``)."""
    _check_declarer(by, None)
    reason = check_reason(by=by, patient_id=None, reason=reason)
    _check_misses(by)
    patient_id = queries.find_exactly(lookup)
    if patient_id is None:
        how = "mrn" if lookup.mrn else "name and birth date"
        _deny(by, None, f"{rules.MISS} by {how}")
        raise NoMatch()
    return _grant(by, patient_id, reason)


def _grant(by: Any, patient_id: int, reason: str) -> EmergencyAccess:
    if queries.has_treatment_access(by, patient_id):
        raise BreakGlassError(
            "patient",
            "You already have access to this patient (care team or site role): no emergency "
            "access is needed.",
            code="not-needed",
        )
    existing = queries.active_grant(by, patient_id)
    if existing is not None:
        return existing
    with transaction.atomic():
        now = timezone.now()
        grant = EmergencyAccess.objects.create(
            user=by,
            patient_id=patient_id,
            reason=reason,
            declared_at=now,
            expires_at=now + dt.timedelta(minutes=settings.TANDEM_BREAK_GLASS_MINUTES),
        )
        audit.record(
            actor=by,
            entry=audit.Entry(
                "break-the-glass",
                "written",
                patient_id,
                "emergency-access",
                Purpose.EMERGENCY,
                f"grant={grant.pk} expires={grant.expires_at.isoformat(timespec='minutes')}",
            ),
        )
        _alert(by, grant)
    return grant


def privacy_queue() -> Queue:
    """The privacy office's queue (no site), its members the privacy officers of today."""
    queue, created = Queue.objects.get_or_create(
        key=rules.PRIVACY_QUEUE_KEY,
        defaults={
            "name": rules.PRIVACY_QUEUE_NAME,
            "kind": Queue.Kind.PRIVACY_OFFICE,
            "site": None,
        },
    )
    if created:
        audit.record(
            actor=None,
            entry=audit.Entry("write:create_queue", "written", detail=f"queue={queue.key}"),
        )
    tasks.set_members(by=None, queue=queue, users=list(queries.privacy_officers()))
    return queue


def _alert(by: Any, grant: EmergencyAccess) -> None:
    patient = queries.patient_for_alert(grant.patient_id)
    title = rules.alert_title(
        patient_name=f"{patient.given_name} {patient.family_name}",
        user_name=queries.person_name(by),
    )
    ref = f"breakglass:{grant.pk}"
    for member in queries.care_team_users(grant.patient_id):
        if member.pk == by.pk:
            continue
        tasks.create_task(
            by=by,
            patient=patient,
            title=title,
            owner=member,
            priority="high",
            source="alert",
            source_ref=ref,
            detail="Emergency access (break-the-glass) was declared for your patient. "
            "The privacy office reviews it; tell them if you know why.",
        )
    tasks.create_task(
        by=None,
        title=title,
        queue=privacy_queue(),
        priority="high",
        source="alert",
        source_ref=ref,
        detail=f"Review it under Emergency access reviews (grant {grant.pk}).",
        sensitivity="normal",
    )


def review(*, by: Any, grant: EmergencyAccess, justified: bool, note: str) -> EmergencyAccess:
    """A privacy officer marks a grant justified or not, with a note (required when not).

    Anyone else is refused (``AccessDenied``, audited). A grant is reviewed once
    (``BreakGlassError`` code ``reviewed``); nobody reviews their own."""
    if not queries.is_privacy_officer(by):
        audit.record(
            actor=by,
            entry=audit.Entry(
                "break-the-glass-review",
                "denied",
                grant.patient_id,
                "",
                queries.REVIEW_PURPOSE,
                f"review grant={grant.pk} not a privacy officer",
            ),
        )
        raise AccessDenied("emergency access reviews are for privacy officers")
    note = (note or "").strip()
    if len(note) > rules.MAX_NOTE_LENGTH or "\x00" in note:
        raise BreakGlassError("note", f"At most {rules.MAX_NOTE_LENGTH} characters.")
    if not justified and not note:
        raise BreakGlassError("note", "Say why the access was not justified.")
    if grant.user_id == by.pk:
        raise BreakGlassError("review", "Nobody reviews their own emergency access.")
    with transaction.atomic():
        locked = queries.locked_grant(grant.pk)
        assert locked is not None
        if locked.reviewed:
            raise BreakGlassError(
                "review", "This emergency access has already been reviewed.", code="reviewed"
            )
        locked.review_status = (
            EmergencyAccess.Review.JUSTIFIED if justified else EmergencyAccess.Review.NOT_JUSTIFIED
        )
        locked.reviewer = by
        locked.review_note = note
        locked.reviewed_at = timezone.now()
        locked.save(update_fields=["review_status", "reviewer", "review_note", "reviewed_at"])
        audit.record(
            actor=by,
            entry=audit.Entry(
                "break-the-glass-review",
                "written",
                locked.patient_id,
                "emergency-access",
                queries.REVIEW_PURPOSE,
                f"review grant={locked.pk} {locked.review_status}",
            ),
        )
        outcome = f"Reviewed: {locked.get_review_status_display().lower()}."
        for task in queries.open_privacy_tasks(locked):
            tasks.complete_task(by=None, task=task, outcome=outcome)
    return locked
