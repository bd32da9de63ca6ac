"""The daily audit anchor: the chain's head recorded outside the database, every day.

:func:`record_anchor` (the task the django-q2 schedule runs daily at ``TANDEM_AUDIT_ANCHOR_AT``)

1. verifies the whole chain against every anchor already in ``TANDEM_AUDIT_ANCHOR_FILE``;
2. when intact, appends today's anchor (time, head hash, event count) to that file — opened in
   append mode (``O_APPEND``), so earlier lines are never rewritten; when broken, appends
   nothing (an anchor of a tampered chain would bless it);
3. signs a digest of the outcome with HMAC-SHA256 (key ``TANDEM_AUDIT_ANCHOR_KEY``, by default
   derived from the secret key, see :func:`anchor_key`) and sends it to every privacy officer:
   a task they own (source "alert") and, when they have an e-mail address, a mail through
   Django's mail backend;
4. audits what it did (action ``audit-anchor``).

A consistent rewrite of the whole table (every hash and the head recomputed) passes the chain
check but not the anchors: the event at an anchored position no longer has the anchored hash.
A privacy officer holding the signed digests can show what the head was, even if the file is
lost too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from tandem.audit import anchors, services
from tandem.audit.anchors import Anchor, AnchorError
from tandem.core.lib import schedules

SCHEDULE_NAME = "tandem: daily audit anchor"
KEY_LABEL = b"tandem-audit-anchor"


def anchor_file() -> Path:
    return Path(settings.TANDEM_AUDIT_ANCHOR_FILE)


def anchor_key() -> bytes:
    """``TANDEM_AUDIT_ANCHOR_KEY``, or HMAC-SHA256(SECRET_KEY, "tandem-audit-anchor") in hex."""
    configured = getattr(settings, "TANDEM_AUDIT_ANCHOR_KEY", None)
    if configured:
        return str(configured).encode()
    return hmac.new(settings.SECRET_KEY.encode(), KEY_LABEL, hashlib.sha256).hexdigest().encode()


def sign(message: str, key: bytes | None = None) -> str:
    return hmac.new(key or anchor_key(), message.encode(), hashlib.sha256).hexdigest()


def signature_holds(message: str, signature: str, key: bytes | None = None) -> bool:
    return hmac.compare_digest(sign(message, key), signature.strip().lower())


@dataclass(frozen=True)
class Digest:
    """What the daily job found, as signed and sent to the privacy officers."""

    recorded_at: str
    intact: bool
    count: int
    head: str
    anchors_checked: int
    problems: tuple[str, ...]
    appended: bool
    file: str

    def message(self) -> str:
        """The signed text: stable, one fact a line."""
        lines = [
            "Tandem audit anchor",
            f"recorded: {self.recorded_at}",
            f"chain: {'intact' if self.intact else 'BROKEN'}",
            f"events: {self.count}",
            f"head: {self.head}",
            f"anchors checked: {self.anchors_checked}",
            f"anchor appended to: {self.file if self.appended else '(nothing appended)'}",
        ]
        lines += [f"problem: {p}" for p in self.problems[:20]]
        return "\n".join(lines)

    @property
    def signature(self) -> str:
        return sign(self.message())

    def signed(self) -> str:
        return f"{self.message()}\nhmac-sha256: {self.signature}\n"


def chain_status(path: Path | None = None) -> tuple[services.Verification, str]:
    """Verify the chain against the anchors in the anchor file; also say what was read.

    Returns (verification, note); a missing file means no anchors yet, an unreadable one is a
    problem of its own (reported, never raised)."""
    path = path or anchor_file()
    expect: list[Anchor] = []
    note = f"{path} (no anchors yet)"
    if path.exists():
        try:
            expect = anchors.read_file(path)
            note = f"{path} ({len(expect)} anchor(s))"
        except AnchorError as exc:
            result = services.verify()
            problem = services.Problem(None, f"the anchor file cannot be read: {exc}")
            return (
                services.Verification(result.checked, result.head, [*result.problems, problem]),
                str(path),
            )
    return services.verify(expect=expect), note


def record_anchor(*, path: Path | None = None) -> Digest:
    """Verify, append the anchor when intact, send the signed digest, audit. Returns it."""
    path = path or anchor_file()
    result, _ = chain_status(path)
    appended = False
    if result.intact:
        anchor = result.anchor()
        path.parent.mkdir(parents=True, exist_ok=True)
        anchors.append(path, anchor)  # opened "ab+": O_APPEND, earlier lines never rewritten
        appended = True
        recorded_at = anchor.recorded_at
    else:
        recorded_at = anchors.now()
    digest = Digest(
        recorded_at=recorded_at,
        intact=result.intact,
        count=result.checked,
        head=result.head,
        anchors_checked=result.anchors,
        problems=tuple(
            (f"event {p.event_id}: " if p.event_id is not None else "") + p.message
            for p in result.problems
        ),
        appended=appended,
        file=str(path),
    )
    _send(digest)
    services.record(
        actor=None,
        entry=services.Entry(
            "audit-anchor",
            "written" if digest.intact else "denied",
            None,
            "",
            "operations",
            f"count={digest.count} head={digest.head} intact={int(digest.intact)} "
            f"appended={int(appended)} signature={digest.signature[:16]}",
        ),
    )
    return digest


def _send(digest: Digest) -> None:
    from tandem.core.queries import privacy_officers
    from tandem.tasks import services as tasks

    status = "intact" if digest.intact else "BROKEN"
    title = f"Audit anchor {digest.recorded_at[:10]}: chain {status}, {digest.count} events"
    body = digest.signed()
    for officer in privacy_officers():
        with transaction.atomic():
            tasks.create_task(
                by=None,
                title=title,
                owner=officer,
                source="alert",
                source_ref=f"audit-anchor:{digest.recorded_at}",
                priority="normal" if digest.intact else "urgent",
                detail=body,
                sensitivity="normal",
            )
        if officer.email:
            send_mail(
                subject=f"[Tandem] {title}",
                message=body,
                from_email=None,
                recipient_list=[officer.email],
                fail_silently=True,
            )


def scheduled_anchor() -> str:
    """The schedule's task."""
    digest = record_anchor()
    return f"audit chain {'intact' if digest.intact else 'BROKEN'}: {digest.count} events"


def next_run(now: dt.datetime | None = None) -> dt.datetime:
    return schedules.next_at(settings.TANDEM_AUDIT_ANCHOR_AT, now)


def ensure_schedule() -> Any:
    """The daily anchor schedule, created once and moved when ``TANDEM_AUDIT_ANCHOR_AT`` changed."""
    return schedules.ensure_daily(
        name=SCHEDULE_NAME,
        func="tandem.audit.jobs.scheduled_anchor",
        at=settings.TANDEM_AUDIT_ANCHOR_AT,
    )
