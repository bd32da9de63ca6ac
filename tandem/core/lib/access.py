"""The refusal every layer shares: raised by the consent gate, answered by the web edge.

It lives in the ground package so that code below the gate (``core.lib.http``'s
``refusals_as_404``) can catch it without importing ``tandem.consent``; the gate re-exports it
as ``tandem.consent.gate.AccessDenied``, where callers have always found it.
"""

from __future__ import annotations


class AccessDenied(Exception):
    """The reader has no relationship to the patient that allows this purpose."""
