"""The audit trail is append-only and `tandem audit verify` detects tampering."""

from __future__ import annotations

import pytest
from django.db import connection

from tandem.audit import services
from tandem.audit.models import AuditEvent
from tandem.cli import main

pytestmark = pytest.mark.django_db


def write_events(n=5):
    for i in range(n):
        services.record(actor=None, entry=services.Entry("read", "shown", i + 1, "conditions"))
    return list(AuditEvent.objects.order_by("pk"))


def raw(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_an_untouched_chain_verifies():
    write_events()

    checked, problems = services.verify()

    assert (checked, problems) == (5, [])


def test_each_event_links_to_the_one_before():
    events = write_events(3)

    assert events[0].prev_hash == services.GENESIS
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]


def test_it_detects_an_edited_row():
    events = write_events()
    raw("UPDATE audit_auditevent SET outcome = %s WHERE id = %s", ["shown", events[2].pk])
    raw("UPDATE audit_auditevent SET patient_id = %s WHERE id = %s", [42, events[2].pk])

    _, problems = services.verify()

    assert [p.event_id for p in problems] == [events[2].pk]
    assert "edited" in problems[0].message


def test_it_detects_a_deleted_row():
    events = write_events()
    raw("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])

    _, problems = services.verify()

    assert events[2].pk in [p.event_id for p in problems]


def test_it_detects_rows_deleted_from_the_end():
    events = write_events()
    raw("DELETE FROM audit_auditevent WHERE id = %s", [events[-1].pk])

    _, problems = services.verify()

    assert problems and problems[0].event_id is None


def test_events_cannot_be_changed_through_the_orm():
    event = write_events(1)[0]
    event.outcome = "denied"

    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()


def test_the_command_reports_a_tampered_row(capsys):
    events = write_events()
    raw("UPDATE audit_auditevent SET actor_username = %s WHERE id = %s", ["mallory", events[3].pk])

    code = main(["audit", "verify"])

    out = capsys.readouterr().out
    assert code == 1
    assert f"TAMPERED event {events[3].pk}" in out


def test_the_command_reports_an_intact_chain(capsys):
    write_events(2)

    assert main(["audit", "verify"]) == 0
    assert "intact: 2 events" in capsys.readouterr().out
