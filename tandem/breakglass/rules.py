"""Break-the-glass rules as data (F28)."""

from __future__ import annotations

MIN_REASON_LENGTH = 20  # a sentence, not "x": the privacy officer reviews it
MAX_REASON_LENGTH = 2000
MAX_NOTE_LENGTH = 2000
# Declarations that matched no patient, per reader per hour, before the page stops looking
# patients up (the look-up must not become an enumeration oracle; every miss is audited).
MAX_MISSES_PER_HOUR = 3
MISS = "no exact match"  # the audit detail of a declaration that found no patient
PRIVACY_QUEUE_KEY = "privacy-office"
PRIVACY_QUEUE_NAME = "Privacy office"
WARNING = (
    "Emergency access lets you read this patient's record, including mental health and "
    "substance use records, without a care-team relationship or their consent, for a limited "
    "time. Use it only when the patient needs care now and the record matters to that care. "
    "The patient's care team and the privacy office are told at once, every page you open is "
    "recorded, and a privacy officer reviews whether it was justified."
)


def alert_title(*, patient_name: str, user_name: str) -> str:
    """The alert's title: who and whom, no clinical content (not the reason)."""
    return f"Emergency access to {patient_name} by {user_name}: please review"[:200]
