"""The demo's outreach work, seeded after the daily refresh (``services.seed_demo``).

The care manager persona gets items in every state on the lists they can see: claimed items,
items in outreach with attempts over several channels, one with a primary-care appointment
booked, resolved items with their reasons, and one marked unable to reach (its protocol
exhausted) with the escalation task in the supervisors' queue. Everything goes through the
services, as a person would do it (audited). Runs once: a care manager who already owns items
is left alone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from tandem.outreach import queries, services

UNANSWERED = [
    ("phone", "no-answer"),
    ("text", "no-answer"),
    ("letter", "left-message"),
    ("next-of-kin", "wrong-number"),
]


def _new_items(user: Any, key: str, n: int) -> list[Any]:
    page = queries.worklist_page(
        user=user,
        purpose="treatment",
        key=key,
        filters=queries.Filters(state="new", sort="rank"),
        page_size=n,
        detail="demo seed",
    )
    return list(page.object_list)


def _attempts(user: Any, item: Any, specs: list[tuple[str, str]]) -> None:
    now = timezone.now()
    for i, (channel, outcome) in enumerate(specs):
        at = max(item.opened_at, now - dt.timedelta(minutes=5 * (len(specs) - i)))
        services.log_attempt(
            by=user,
            item=item,
            channel=channel,
            outcome=outcome,
            attempted_at=at,
            note="Demo: " + outcome.replace("-", " "),
        )


def seed(*, personas: dict[str, Any]) -> None:
    user = personas.get("care-manager")
    if user is None or queries.owned_by(user=user):
        return
    smi = _new_items(user, "smi-disengaged", 8)
    others = [
        i
        for key in ("no-shows", "antipsychotic-monitoring", "follow-up-7-day")
        for i in _new_items(user, key, 3)
    ]
    plan = smi + others
    if not plan:
        return
    steps = [_claim, _claim, _outreach, _outreach, _book, _resolve, _unable, _claim]
    for step, item in zip(steps, smi, strict=False):
        step(user, item)
    for i, item in enumerate(others):
        (_claim, _outreach, _resolve)[i % 3](user, item)


def _claim(user: Any, item: Any) -> None:
    services.claim_item(by=user, item=item)


def _outreach(user: Any, item: Any) -> None:
    services.claim_item(by=user, item=item)
    _attempts(user, item, UNANSWERED[:2] + [("phone", "left-message")])


def _book(user: Any, item: Any) -> None:
    _attempts(user, item, [("phone", "no-answer")])
    site = queries.suggested_pc_site(patient_id=item.patient_id, home_site=None)
    if site is None:
        sites = queries.pc_sites()
        site = sites[0] if sites else None
    if site is not None:
        start = (timezone.localtime() + dt.timedelta(days=5)).replace(hour=10, minute=0)
        services.book_appointment(by=user, item=item, start=start, site=site, channel="phone")


def _resolve(user: Any, item: Any) -> None:
    services.claim_item(by=user, item=item)
    _attempts(user, item, [("phone", "reached")])
    services.resolve_item(
        by=user,
        item=item,
        reason="Reached by phone: sees a primary-care clinician at another clinic; records requested",
    )


def _unable(user: Any, item: Any) -> None:
    services.claim_item(by=user, item=item)
    _attempts(user, item, UNANSWERED)
    services.mark_unable_to_reach(by=user, item=item, note="No working phone; no shelter contact.")
