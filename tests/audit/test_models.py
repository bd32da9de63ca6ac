"""Audit rows are append-only: the ORM refuses every way of changing them, and so does the database.

The chain head is the one row that changes, and only forward: to a newer event that exists.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from tandem.audit import services
from tandem.audit.models import AuditChainHead, AuditEvent
from tests.audit.tampering import raw, write_events

pytestmark = pytest.mark.django_db


def outcomes() -> set[str]:
    return set(AuditEvent.objects.values_list("outcome", flat=True))


def test_events_cannot_be_changed_through_a_model_instance():
    event = write_events(1)[0]
    event.outcome = "denied"

    with pytest.raises(RuntimeError, match="append-only"):
        event.save()
    with pytest.raises(RuntimeError, match="append-only"):
        event.delete()


def test_it_refuses_a_queryset_update_of_events():
    write_events(3)

    with pytest.raises(RuntimeError, match="append-only"):
        AuditEvent.objects.filter(patient_id=2).update(outcome="denied")

    assert outcomes() == {"shown"}


def test_it_refuses_a_queryset_delete_of_events():
    write_events(3)

    with pytest.raises(RuntimeError, match="append-only"):
        AuditEvent.objects.filter(patient_id=3).delete()
    with pytest.raises(RuntimeError, match="append-only"):
        AuditEvent.objects.all()._raw_delete(connection.alias)

    assert AuditEvent.objects.count() == 3


def test_it_refuses_a_bulk_update_or_an_upsert_over_events():
    events = write_events(2)
    for event in events:
        event.outcome = "denied"

    with pytest.raises(RuntimeError, match="append-only"):
        AuditEvent.objects.bulk_update(events, ["outcome"])
    with pytest.raises(RuntimeError, match="append-only"):
        AuditEvent.objects.bulk_create(
            events, update_conflicts=True, unique_fields=["hash"], update_fields=["outcome"]
        )

    assert outcomes() == {"shown"}


def test_the_chain_head_cannot_be_deleted_or_set_through_the_orm():
    write_events(3)
    head = AuditChainHead.objects.get()

    with pytest.raises(RuntimeError, match="append-only"):
        AuditChainHead.objects.update(count=0)
    with pytest.raises(RuntimeError, match="append-only"):
        AuditChainHead.objects.all().delete()
    with pytest.raises(RuntimeError, match="append-only"):
        head.delete()
    head.count = 0
    with pytest.raises(RuntimeError, match="append-only"):
        head.save()

    assert AuditChainHead.objects.get().count == 3


def refused_by_the_database(sql: str, params: list | None = None) -> str:
    """Run ``sql`` and return the database's refusal (the statement must fail)."""
    with pytest.raises(DatabaseError) as refusal, transaction.atomic():
        raw(sql, params)
    return str(refusal.value)


def test_the_database_refuses_to_edit_an_event():
    events = write_events(2)

    refusal = refused_by_the_database(
        "UPDATE audit_auditevent SET outcome = 'denied' WHERE id = %s", [events[0].pk]
    )

    assert "append-only" in refusal
    assert outcomes() == {"shown"}


def test_the_database_refuses_to_delete_events():
    write_events(2)

    assert "append-only" in refused_by_the_database("DELETE FROM audit_auditevent")
    assert AuditEvent.objects.count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_the_database_refuses_to_truncate_the_audit_tables():
    write_events(2)

    assert "append-only" in refused_by_the_database("TRUNCATE audit_auditevent")
    assert "append-only" in refused_by_the_database("TRUNCATE audit_auditchainhead")
    assert AuditEvent.objects.count() == 2


def test_the_database_refuses_to_delete_the_chain_head():
    write_events(2)

    assert "append-only" in refused_by_the_database("DELETE FROM audit_auditchainhead")
    assert AuditChainHead.objects.get().count == 2


def test_the_database_moves_the_chain_head_forward_only():
    events = write_events(3)
    back = "UPDATE audit_auditchainhead SET last_event_id = %s, last_hash = %s, count = %s"

    rewound = refused_by_the_database(back, [events[1].pk, events[1].hash, 2])
    nowhere = refused_by_the_database(back, [events[2].pk + 1, services.GENESIS, 4])

    assert "forward" in rewound and "forward" in nowhere
    assert AuditChainHead.objects.get().last_event_id == events[2].pk


def test_appending_still_moves_the_head_forward():
    write_events(2)

    write_events(1)

    head = AuditChainHead.objects.get()
    newest = AuditEvent.objects.latest("pk")
    assert (head.count, head.last_event_id, head.last_hash) == (3, newest.pk, newest.hash)


@pytest.mark.django_db(transaction=True)
def test_flushing_the_database_on_purpose_empties_the_trail_and_keeps_the_guard():
    write_events(2)

    call_command("flush", interactive=False, verbosity=0)  # as tests reset the database

    assert not AuditEvent.objects.exists()
    assert services.verify().intact  # a fresh chain: its head is back at the genesis
    write_events(1)
    assert "append-only" in refused_by_the_database("DELETE FROM audit_auditevent")
    assert "append-only" in refused_by_the_database("DELETE FROM audit_auditchainhead")
