"""The care team's actions on an item: attempts, booking, escalation, and the demo seed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.outreach import services
from tandem.outreach.models import ContactAttempt, ItemEvent, WorklistItem
from tandem.tasks.models import Task
from tests.outreach import builders as ob


@pytest.fixture
def item(team):
    patient = ob.disengaged_smi(team)
    services.rebuild_worklists(as_of=timezone.localdate())
    return WorklistItem.objects.get(patient=patient, worklist="smi-disengaged")


def log(team, item, channel="phone", outcome="no-answer", minutes=1, nonce=""):
    return services.log_attempt(
        by=team.bob,
        item=item,
        channel=channel,
        outcome=outcome,
        attempted_at=timezone.now() - dt.timedelta(minutes=minutes),
        nonce=nonce,
    )


def test_an_attempt_moves_the_item_to_outreach_sets_its_owner_and_next_due(team, item):
    attempt, created = log(team, item)

    item.refresh_from_db()
    assert created and attempt.sensitivity == item.sensitivity == "mental-health"
    assert item.state == "in-outreach" and item.owner == team.bob
    assert item.next_due == timezone.localdate() + dt.timedelta(days=7)
    assert AuditEvent.objects.filter(
        action="write:log_contact_attempt", patient_id=item.patient_id
    ).exists()
    assert [e.action for e in ItemEvent.objects.filter(item=item)] == ["opened", "attempt"]


def test_the_same_nonce_writes_once(team, item):
    first, created = log(team, item, nonce="abc")
    again, created_again = log(team, item, nonce="abc")

    assert created and not created_again and again.pk == first.pk
    assert ContactAttempt.objects.count() == 1


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"attempted_at": timezone.now() + dt.timedelta(hours=1)}, "attempted_at"),
        ({"attempted_at": timezone.now() - dt.timedelta(days=60)}, "attempted_at"),
        ({"channel": "carrier-pigeon"}, "channel"),
        ({"outcome": "maybe"}, "outcome"),
    ],
)
def test_a_bad_attempt_is_refused_naming_its_field(team, item, kw, field):
    args = {"channel": "phone", "outcome": "no-answer", "attempted_at": timezone.now()} | kw

    with pytest.raises(services.OutreachError) as refused:
        services.log_attempt(by=team.bob, item=item, **args)

    assert refused.value.field == field
    assert ContactAttempt.objects.count() == 0


def test_an_exhausted_protocol_allows_unable_to_reach_and_escalates_to_supervisors(team, item):
    for i, (channel, outcome) in enumerate(
        [
            ("phone", "no-answer"),
            ("text", "no-answer"),
            ("letter", "left-message"),
            ("phone", "wrong-number"),
        ]
    ):
        log(team, item, channel, outcome, minutes=10 - i)

    item = services.mark_unable_to_reach(by=team.bob, item=item)

    assert item.state == "unable-to-reach" and item.resolved_reason.startswith("Unable to reach: ")
    task = Task.objects.get(pk=item.escalation_id)
    assert task.source == "worklist-item" and task.source_ref == f"worklist-item:{item.pk}"
    assert task.queue.kind == "supervisors" and task.queue.site == team.pc_site
    assert task.sensitivity == "mental-health"


def test_unable_to_reach_is_refused_before_the_protocol_is_exhausted(team, item):
    log(team, item)
    log(team, item, "text")

    with pytest.raises(services.OutreachError, match="not exhausted"):
        services.mark_unable_to_reach(by=team.bob, item=item)


def test_a_booked_visit_resolves_the_item_at_the_next_refresh_once_it_happened(team, item):
    start = timezone.now() + dt.timedelta(days=2)
    item = services.book_appointment(by=team.bob, item=item, start=start, site=team.pc_site)
    services.rebuild_worklists(as_of=timezone.localdate())
    item.refresh_from_db()
    assert item.state == "in-outreach"  # booked is not yet a visit

    appointment = item.appointment
    appointment.start = timezone.now() - dt.timedelta(hours=1)
    appointment.end = appointment.start + dt.timedelta(minutes=30)
    appointment.save()
    ob.fulfil(appointment)
    services.rebuild_worklists(as_of=timezone.localdate())

    item.refresh_from_db()
    assert item.state == "resolved"
    assert (
        item.resolved_reason == f"PC visit on {timezone.localdate(appointment.start)}; PCP assigned"
    )


def test_booking_refuses_a_past_time_and_a_site_that_is_not_primary_care(team, item):
    with pytest.raises(services.OutreachError) as past:
        services.book_appointment(by=team.bob, item=item, start=timezone.now(), site=team.pc_site)
    with pytest.raises(services.OutreachError) as site:
        services.book_appointment(
            by=team.bob, item=item, start=timezone.now() + dt.timedelta(days=1), site=team.cmhc
        )

    assert (past.value.field, site.value.field) == ("start", "site")


def test_a_closed_item_takes_no_more_attempts(team, item):
    services.resolve_item(by=team.bob, item=item, reason="Moved out of state")

    with pytest.raises(services.OutreachError, match="resolved"):
        log(team, item)


def test_the_demo_seed_leaves_items_in_every_state(team):
    for _ in range(8):
        ob.disengaged_smi(team)
    services.rebuild_worklists(as_of=timezone.localdate())

    services.seed_demo(personas={"care-manager": team.bob})

    states = set(WorklistItem.objects.values_list("state", flat=True))
    assert {"claimed", "in-outreach", "resolved", "unable-to-reach"} <= states
    assert ContactAttempt.objects.values("channel").distinct().count() >= 3
    assert Task.objects.filter(source="worklist-item").count() == 1
    assert WorklistItem.objects.exclude(appointment=None).count() == 1
