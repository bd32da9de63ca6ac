"""Worklists and outreach as data: who is on each list, why, how it ranks, when an item closes
itself, the contact protocol, and the item state machine. Pure Python (no queries here: the
set-based membership queries are in ``outreach.queries``, one per ``criteria`` key).

Worklists (F3; documented for people in ``docs/worklists.md``):
- ``smi-disengaged`` — SMI and disengaged from primary care: no PCP assigned, or no finished
  primary-care visit in 12 months. Closes when both hold again.
- ``no-shows`` — a missed appointment in the last 14 days. Closes when a later appointment was
  kept, or a new one is booked for a future date.
- ``antipsychotic-monitoring`` — antipsychotic users without glucose/HbA1c, or without a lipid
  test, in 12 months. Closes when both were drawn in the 12 months.
- ``follow-up-7-day`` — an ED visit or a psychiatric discharge in the last 30 days without a
  follow-up visit since (time-critical: due within 7 days of discharge). Closes with the
  follow-up visit.
- ``consent-expiring`` — an active consent directive ending within 30 days and not renewed.
  Closes when each listed directive is renewed, revoked or has ended. Ranked by expiry.
- ``gap-<measure>`` — one per stored measure: the patients with an open care gap in the latest
  stored run (denominator, not numerator, not excluded or excepted; for an inverse measure such
  as CMS122 "HbA1c > 9%", the numerator). Closes when the latest run no longer shows the gap.

Records of a 42 CFR Part 2 program never put a patient on a list or close an item (the Part 2
program does its own outreach; a list built from its records would disclose them, as a risk
score moved by one would).

State machine (``TRANSITIONS``: action -> states it may start from, state it leads to):
``new`` → claimed → in-outreach → resolved | unable-to-reach. Plain data rather than a library
(django-fsm-2): five states and seven actions read better as a table, the guard that matters
(the protocol is exhausted) needs the attempts anyway, and the services lock the row themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tandem.measures import rules as gap_rules

# --- states and transitions ---------------------------------------------------------------

NEW, CLAIMED, IN_OUTREACH, RESOLVED, UNABLE = (
    "new",
    "claimed",
    "in-outreach",
    "resolved",
    "unable-to-reach",
)
STATES: tuple[tuple[str, str], ...] = (
    (NEW, "New"),
    (CLAIMED, "Claimed"),
    (IN_OUTREACH, "In outreach"),
    (RESOLVED, "Resolved"),
    (UNABLE, "Unable to reach"),
)
OPEN_STATES = frozenset({NEW, CLAIMED, IN_OUTREACH})
CLOSED_STATES = frozenset({RESOLVED, UNABLE})

TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    # action: (from states, to state; None keeps the state)
    "claim": (frozenset({NEW, CLAIMED, IN_OUTREACH}), None),  # new becomes claimed (below)
    "release": (frozenset({CLAIMED}), NEW),
    "log-attempt": (frozenset({NEW, CLAIMED, IN_OUTREACH}), IN_OUTREACH),
    "book-appointment": (frozenset({NEW, CLAIMED, IN_OUTREACH}), IN_OUTREACH),
    "resolve": (frozenset({NEW, CLAIMED, IN_OUTREACH}), RESOLVED),
    "auto-resolve": (frozenset({NEW, CLAIMED, IN_OUTREACH}), RESOLVED),
    "unable-to-reach": (frozenset({IN_OUTREACH}), UNABLE),
}


class TransitionRefused(ValueError):
    """This action is not allowed from the item's state (the message says what to do)."""


def next_state(action: str, state: str) -> str:
    """The state ``action`` leads to from ``state``; raise TransitionRefused if not allowed."""
    sources, target = TRANSITIONS[action]
    if state not in sources:
        label = dict(STATES)[state].lower()
        raise TransitionRefused(f"This item is {label}: it cannot be {ACTION_PAST[action]} now.")
    if action == "claim":
        return CLAIMED if state == NEW else state
    return target or state


ACTION_PAST = {
    "claim": "claimed",
    "release": "released",
    "log-attempt": "given a contact attempt",
    "book-appointment": "given an appointment",
    "resolve": "resolved",
    "auto-resolve": "resolved",
    "unable-to-reach": "marked unable to reach",
}

# --- contact attempts ---------------------------------------------------------------------

CHANNELS: tuple[tuple[str, str], ...] = (
    ("phone", "Phone"),
    ("text", "Text message"),
    ("letter", "Letter"),
    ("certified-letter", "Certified letter"),
    ("next-of-kin", "Next of kin or emergency contact"),
    ("home-visit", "Home visit"),
    ("accompanied-visit", "Accompanied visit"),
    ("transport", "Transport arranged"),
)
OUTCOMES: tuple[tuple[str, str], ...] = (
    ("reached", "Reached"),
    ("left-message", "Left message"),
    ("no-answer", "No answer"),
    ("wrong-number", "Wrong number"),
    ("declined", "Declined"),
    ("appointment-made", "Appointment made"),
)
# Outcomes where nobody was reached: only these count towards "unable to reach".
UNANSWERED = frozenset({"left-message", "no-answer", "wrong-number"})
NOTE_MAX = 1000


@dataclass(frozen=True)
class Protocol:
    """How hard to try before an item may be marked "unable to reach".

    At least ``min_attempts`` unanswered attempts over at least ``min_channels`` channels, all
    within ``window_days`` (counted back from the latest attempt); the next attempt is due
    ``cadence_days`` after the last one.
    """

    min_attempts: int = 4
    min_channels: int = 3
    window_days: int = 30
    cadence_days: int = 7

    def describe(self) -> str:
        return (
            f"at least {self.min_attempts} attempts over at least {self.min_channels} channels "
            f"within {self.window_days} days"
        )


DEFAULT_PROTOCOL = Protocol()


@dataclass(frozen=True)
class Attempt:
    """What the protocol needs of one contact attempt."""

    channel: str
    outcome: str
    on: dt.date


@dataclass(frozen=True)
class ProtocolStatus:
    attempts: int  # all attempts on the item
    counted: int  # unanswered attempts inside the window
    channels: tuple[str, ...]  # channels of the counted attempts
    exhausted: bool
    next_due: dt.date | None
    protocol: Protocol

    @property
    def attempts_left(self) -> int:
        return max(0, self.protocol.min_attempts - self.counted)

    @property
    def channels_left(self) -> int:
        return max(0, self.protocol.min_channels - len(self.channels))


def evaluate(
    protocol: Protocol, attempts: Sequence[Attempt], *, opened: dt.date, due: dt.date | None
) -> ProtocolStatus:
    """Where an item stands against its protocol (pure: attempts in any order)."""
    if not attempts:
        first_due = min(d for d in (opened, due) if d is not None)
        return ProtocolStatus(0, 0, (), False, first_due, protocol)
    latest = max(a.on for a in attempts)
    since = latest - dt.timedelta(days=protocol.window_days)
    counted = [a for a in attempts if a.outcome in UNANSWERED and a.on > since]
    channels = tuple(sorted({a.channel for a in counted}))
    exhausted = len(counted) >= protocol.min_attempts and len(channels) >= protocol.min_channels
    next_due = None if exhausted else latest + dt.timedelta(days=protocol.cadence_days)
    if next_due is not None and due is not None:
        next_due = min(next_due, max(due, latest + dt.timedelta(days=1)))
    return ProtocolStatus(len(attempts), len(counted), channels, exhausted, next_due, protocol)


# --- worklists ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Worklist:
    """One worklist. ``criteria`` names its membership query in ``outreach.queries``."""

    key: str
    title: str
    who: str  # who is on it
    why: str  # what the reason on each item says
    closes_when: str  # the data that resolves an item by itself
    criteria: str
    label: str = "normal"  # the least an item on this list reveals (sensitivity label)
    time_critical: bool = False
    protocol: Protocol = DEFAULT_PROTOCOL
    measure: str = ""  # for care-gap lists: the measure key
    # A standing condition (off the list = cleared) rather than an event (a no-show, a
    # discharge: an item stays open until its closing data arrives, even once the event has
    # aged out of the look-back).
    standing: bool = True
    parameters: dict[str, int] = field(default_factory=dict)
    # The "rank" order: by risk score (default), or by the nearest deadline (``due``) first.
    rank_by_due: bool = False


WORKLISTS: tuple[Worklist, ...] = (
    Worklist(
        key="smi-disengaged",
        title="SMI and disengaged from primary care",
        who="Patients on the SMI cohort (schizophrenia, schizoaffective, bipolar, other "
        "psychotic disorders) with no PCP assigned, or no finished primary-care visit in the "
        "last 12 months.",
        why="No PCP assigned and/or the date of the last primary-care visit.",
        closes_when="A PCP is assigned and a primary-care visit was finished in the last 12 "
        "months (reason: the visit's date).",
        criteria="smi-disengaged",
        label="mental-health",  # being on the SMI list reveals a mental-health relationship
        parameters={"lookback_days": 365},
    ),
    Worklist(
        key="no-shows",
        title="Missed appointments (no-shows) in the last 14 days",
        who="Patients with an appointment marked no-show in the last 14 days.",
        why="The date and place of each no-show.",
        closes_when="A later appointment was kept (arrived or fulfilled), or a new one is booked "
        "for a future date.",
        criteria="no-shows",
        standing=False,
        protocol=Protocol(cadence_days=3),
        parameters={"lookback_days": 14},
    ),
    Worklist(
        key="antipsychotic-monitoring",
        title="Antipsychotic users without metabolic monitoring",
        who="Patients on the antipsychotic-users cohort without a glucose or HbA1c test, or "
        "without a lipid test (LDL or total cholesterol), in the last 12 months.",
        why="Which test is missing and when it was last drawn.",
        closes_when="Both a glucose/HbA1c and a lipid test were drawn in the last 12 months "
        "(reason: the tests and their dates).",
        criteria="antipsychotic-monitoring",
        label="mental-health",
        parameters={"lookback_days": 365},
    ),
    Worklist(
        key="follow-up-7-day",
        title="ED visit or psychiatric discharge without follow-up in 7 days",
        who="Patients with an emergency-department visit or a discharge from psychiatric "
        "inpatient care in the last 30 days and no outpatient, telehealth or home visit since.",
        why="The discharge, its date and the follow-up deadline (7 days after).",
        closes_when="A follow-up visit (ambulatory, telehealth or home, finished) after the "
        "discharge.",
        criteria="follow-up-7-day",
        standing=False,
        time_critical=True,
        protocol=Protocol(min_attempts=3, min_channels=2, window_days=7, cadence_days=1),
        parameters={"lookback_days": 30, "follow_up_days": 7},
    ),
    Worklist(
        key="consent-expiring",
        title="Consent directives expiring within 30 days",
        who="Patients with an active consent directive whose end date falls within the next "
        "30 days (today included) and that no newer active directive renews.",
        why="The directive that ends first: its end date, categories and recipients (all "
        "expiring directives in the evidence).",
        closes_when="Every listed directive was renewed (a newer active directive covering the "
        "same categories, purposes and recipients, lasting longer), revoked, or has ended.",
        criteria="consent-expiring",
        parameters={"within_days": 30},
        rank_by_due=True,
    ),
)
BUILT_IN = {w.key: w for w in WORKLISTS}
GAP_PREFIX = "gap-"
# When a stored result is a gap is the measures' rule, shared with the chart (measures.rules).
INVERSE_MEASURES = gap_rules.INVERSE_MEASURES
NOT_GAPS = gap_rules.NOT_GAPS
is_gap = gap_rules.is_gap


def gap_worklist(measure: str, title: str, label: str = "normal") -> Worklist:
    """The care-gap worklist of one stored measure."""
    inverse = measure in INVERSE_MEASURES
    return Worklist(
        key=GAP_PREFIX + measure.lower(),
        title=f"Care gap: {title} ({measure})",
        who=(
            f"Patients in the numerator of the latest stored {measure} run (an inverse measure: "
            "the numerator is the gap)."
            if inverse
            else f"Patients in the denominator of the latest stored {measure} run, not in its "
            "numerator, not excluded and not excepted."
        ),
        why="The measure, its group and the evidence stored with the result.",
        closes_when=f"A later stored {measure} run no longer shows the gap.",
        criteria="care-gap",
        label=label,
        measure=measure,
    )


# --- labels -------------------------------------------------------------------------------

# How much a label protects, for the label of an item built from several rows.
PROTECTION = ("normal", "reproductive-health", "hiv", "mental-health", "substance-use")


def most_protective(labels: Iterable[str]) -> str:
    """The most protected of the labels (unknown labels count as the most protected)."""
    return max(
        labels, key=lambda lab: PROTECTION.index(lab) if lab in PROTECTION else 99, default="normal"
    )


EVIDENCE_LABELS = {
    "pcp_assigned": "PCP assigned",
    "last_pc_visit": "Last primary-care visit",
    "no_shows": "No-shows",
    "last_glucose_or_hba1c": "Last glucose or HbA1c",
    "last_lipid": "Last lipid test",
    "event": "Event",
    "date": "Date",
    "follow_up_due": "Follow-up due by",
    "measure": "Measure",
    "version": "Measure version",
    "run": "Stored run",
    "groups": "Evidence by group",
    "directives": "Expiring directives",
}


def evidence_rows(evidence: dict[str, object]) -> list[tuple[str, str]]:
    """The evidence as (label, text) for people: yes/no, "none", lists joined."""

    def text(value: object) -> str:
        if value is None:
            return "none"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return "; ".join(text(v) for v in value) or "none"
        if isinstance(value, dict):
            if set(value) <= {"date", "site"}:
                return (
                    f"{value.get('date', '')} ({value['site']})"
                    if value.get("site")
                    else str(value.get("date", ""))
                )
            return "; ".join(f"{k}: {text(v)}" for k, v in value.items()) or "none"
        return str(value)

    return [
        (EVIDENCE_LABELS.get(k, k.replace("_", " ").capitalize()), text(v))
        for k, v in evidence.items()
    ]


def day(value: dt.date | dt.datetime | None) -> str:
    """A date as the reasons write it (ISO: 2026-11-20)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):  # aware: the local day (TIME_ZONE), as pages show it
        from django.utils import timezone

        value = timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return value.isoformat()
