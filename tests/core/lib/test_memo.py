"""Staff facts read once per request (``core.lib.memo``), and afresh outside one."""

from __future__ import annotations

from django.core.signals import request_finished, request_started

from tandem.core.lib import memo


def test_outside_a_request_every_call_computes():
    calls = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert [memo.remember("k", compute) for _ in range(3)] == [1, 2, 3]


def test_inside_a_request_a_fact_is_computed_once_and_forgotten_at_its_end(db):
    calls = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    request_started.send(sender=None)
    try:
        assert [memo.remember("k", compute) for _ in range(3)] == [1, 1, 1]
        assert memo.remember("other", compute) == 2
    finally:
        request_finished.send(sender=None)
    assert memo.remember("k", compute) == 3  # the request is over: read afresh
