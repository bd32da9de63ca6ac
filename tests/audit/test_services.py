"""The audit trail is a hash chain, and `services.verify` detects tampering with it.

Tampering here goes around the database's guard (``tamper`` lifts it first, as a table owner
can): the chain is what catches it.
"""

from __future__ import annotations

import pytest

from tandem.audit import anchors, services
from tandem.audit.anchors import Anchor
from tests.audit.tampering import move_head_to, rewrite_every_event, tamper, write_events

pytestmark = pytest.mark.django_db


def test_an_untouched_chain_verifies():
    events = write_events()

    result = services.verify()

    assert (result.checked, result.problems, result.head) == (5, [], events[-1].hash)


def test_an_empty_chain_verifies_with_the_genesis_head():
    result = services.verify()

    assert (result.checked, result.problems, result.head) == (0, [], services.GENESIS)


def test_each_event_links_to_the_one_before():
    events = write_events(3)

    assert events[0].prev_hash == services.GENESIS
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]


def test_it_detects_an_edited_row():
    events = write_events()
    tamper("UPDATE audit_auditevent SET patient_id = %s WHERE id = %s", [42, events[2].pk])

    problems = services.verify().problems

    assert [p.event_id for p in problems] == [events[2].pk]
    assert "edited" in problems[0].message


def test_it_detects_a_deleted_row():
    events = write_events()
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])

    problems = services.verify().problems

    assert events[2].pk in [p.event_id for p in problems]


def test_it_detects_rows_deleted_from_the_end():
    events = write_events()
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[-1].pk])

    problems = services.verify().problems

    assert problems and problems[0].event_id is None


def test_it_detects_a_missing_chain_head_even_with_no_events_left():
    write_events(2)
    tamper("DELETE FROM audit_auditevent")
    tamper("DELETE FROM audit_auditchainhead")

    problems = services.verify().problems

    assert [p.message for p in problems] == [
        "chain head is missing: the audit tables were emptied or tampered with"
    ]


def test_an_anchor_holds_while_the_chain_grows():
    events = write_events(3)
    anchor = Anchor(events[1].hash, 2)
    write_events(2)

    result = services.verify(expect=[anchor])

    assert (result.problems, result.anchors) == ([], 1)


def test_an_anchor_catches_a_chain_cut_below_it_with_the_head_moved_back():
    events = write_events(4)
    anchor = Anchor(events[-1].hash, 4)
    tamper("DELETE FROM audit_auditevent WHERE id > %s", [events[1].pk])
    move_head_to(events[1], 2)

    problems = services.verify(expect=[anchor]).problems

    assert len(problems) == 1
    assert "holds 2 events but the anchor given with --expect says it held 4" in problems[0].message


def test_an_anchor_catches_a_consistently_rewritten_chain():
    events = write_events(3)
    anchor = Anchor(events[2].hash, 3)
    new_head = rewrite_every_event("mallory")

    result = services.verify(expect=[anchor])

    assert result.head == new_head
    assert [p.event_id for p in result.problems] == [events[2].pk]
    assert "rewritten" in result.problems[0].message


def test_the_verification_offers_its_head_as_the_next_anchor():
    events = write_events(2)

    anchor = services.verify().anchor()

    assert (anchor.hash, anchor.count) == (events[-1].hash, 2)
    assert anchors.parse_expect(f"{anchor.hash}:{anchor.count}") == Anchor(anchor.hash, 2)
