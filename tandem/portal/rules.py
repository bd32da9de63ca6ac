"""The patient portal's rules as data: plain words, questionnaires and when they are due.

Pure functions and tables (no database access). The portal speaks to patients, not to staff:
every word here aims at a reading level of about grade 6 ("medicines", not "medication
orders"; "to treat you", not "treatment purpose").

Choices the issue leaves open (docs/portal.md):
- **Questionnaires to complete.** Tandem has no model that assigns a questionnaire to a
  patient. The portal offers the two screening questionnaires every adult primary-care and
  behavioral-health patient is asked yearly: the PHQ-9 (depression) and the GAD-7 (anxiety).
  One is *due* when no response to it is on the patient's record in the last 12 months
  (:data:`DUE_EVERY_MONTHS`); the patient completes it in the portal and it is stored as an
  ``AssessmentResponse`` with ``completed_by="patient"`` and ``source="portal"``.
- **Care plan.** Tandem has no care-plan model. The portal's care plan is what Tandem already
  knows and the patient can act on: open care gaps from the latest stored measure results, in
  plain words (:data:`GAP_WORDS`), the questionnaires due, and the next appointments.
- **Access log.** Every view of the record by someone else, in plain words
  (:func:`access_sentence`), including emergency (break-the-glass) access and refused
  attempts; the patient's own visits to the portal are left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DUE_EVERY_MONTHS = 12


@dataclass(frozen=True)
class Question:
    code: str  # LOINC item code (tandem/terminology/codelists/instruments.csv)
    text: str


@dataclass(frozen=True)
class Questionnaire:
    instrument: str  # screening.AssessmentResponse.Instrument value
    title: str
    about: str
    stem: str
    questions: tuple[Question, ...]
    total_code: str
    crisis_item: str = ""  # an item whose answer above 0 means: reach out today


# The answer scale of the PHQ-9 and GAD-7 (Kroenke 2001, Spitzer 2006).
ANSWERS: tuple[tuple[int, str], ...] = (
    (0, "Not at all"),
    (1, "Several days"),
    (2, "More than half the days"),
    (3, "Nearly every day"),
)

PHQ9 = Questionnaire(
    instrument="phq9",
    title="Mood check (PHQ-9)",
    about="9 questions about your mood. It takes about 3 minutes.",
    stem="Over the last 2 weeks, how often have you been bothered by this?",
    questions=(
        Question("44250-9", "Little interest or pleasure in doing things"),
        Question("44255-8", "Feeling down, depressed, or hopeless"),
        Question("44259-0", "Trouble falling or staying asleep, or sleeping too much"),
        Question("44254-1", "Feeling tired or having little energy"),
        Question("44251-7", "Poor appetite or overeating"),
        Question(
            "44258-2",
            "Feeling bad about yourself, or that you are a failure or have let yourself or "
            "your family down",
        ),
        Question("44252-5", "Trouble focusing on things, such as reading or watching television"),
        Question(
            "44253-3",
            "Moving or speaking so slowly that other people could have noticed, or being so "
            "restless that you have been moving around a lot more than usual",
        ),
        Question("44260-8", "Thoughts that you would be better off dead, or of hurting yourself"),
    ),
    total_code="44261-6",
    crisis_item="44260-8",
)

GAD7 = Questionnaire(
    instrument="gad7",
    title="Worry check (GAD-7)",
    about="7 questions about worry and stress. It takes about 2 minutes.",
    stem="Over the last 2 weeks, how often have you been bothered by this?",
    questions=(
        Question("69725-0", "Feeling nervous, anxious, or on edge"),
        Question("68509-9", "Not being able to stop or control worrying"),
        Question("69733-4", "Worrying too much about different things"),
        Question("69734-2", "Trouble relaxing"),
        Question("69735-9", "Being so restless that it is hard to sit still"),
        Question("69689-8", "Becoming easily annoyed or irritable"),
        Question("69736-7", "Feeling afraid, as if something awful might happen"),
    ),
    total_code="70274-6",
)

QUESTIONNAIRES: dict[str, Questionnaire] = {q.instrument: q for q in (PHQ9, GAD7)}

CRISIS_LINE = (
    "If you are thinking about hurting yourself, call or text 988 now (Suicide and Crisis "
    "Lifeline), or call 911."
)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months (the last day of a shorter month)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Due:
    questionnaire: Questionnaire
    last_done: dt.date | None
    due_on: dt.date  # today when never done or overdue


def questionnaires_due(last_done: dict[str, dt.date], *, today: dt.date) -> list[Due]:
    """The questionnaires due today: never done, or last done ``DUE_EVERY_MONTHS`` or more
    months ago. ``last_done``: instrument -> the day of its latest response."""
    out = []
    for q in QUESTIONNAIRES.values():
        last = last_done.get(q.instrument)
        if last is None or add_months(last, DUE_EVERY_MONTHS) <= today:
            out.append(Due(q, last, today))
    return out


def next_due(last_done: dict[str, dt.date]) -> dict[str, dt.date]:
    """When each questionnaire done before falls due again."""
    return {k: add_months(v, DUE_EVERY_MONTHS) for k, v in last_done.items()}


def total(questionnaire: Questionnaire, answers: dict[str, int]) -> int:
    return sum(answers[q.code] for q in questionnaire.questions)


# --- plain words ------------------------------------------------------------------------------

CATEGORY_WORDS: dict[str, str] = {
    "substance-use": "Care for alcohol or drug use",
    "mental-health": "Mental health care",
    "hiv": "HIV tests and care",
    "reproductive-health": "Pregnancy, birth control and sexual health",
}
ALL_CATEGORIES = "all"
PURPOSE_WORDS: dict[str, str] = {
    "treatment": "To treat you",
    "payment": "To get paid for your care",
    "operations": "To run and improve the clinic",
    "research": "For research",
}
# How the access log says why someone looked (the purpose of the gate read).
PURPOSE_PHRASES: dict[str, str] = {
    "treatment": "to treat you",
    "payment": "to get paid for your care",
    "operations": "to run and improve the clinic",
    "research": "for research",
    "emergency": "in an emergency",
    "patient-access": "for you",
}
ROLE_WORDS: dict[str, str] = {
    "pcp": "primary care provider",
    "bh-clinician": "behavioral health clinician",
    "psychiatrist": "psychiatrist",
    "care-manager": "care manager",
    "nurse": "nurse",
    "peer-specialist": "peer specialist",
}
STATUS_WORDS: dict[str, str] = {
    "draft": "Not signed yet",
    "active": "Sharing now",
    "revoked": "Stopped",
    "expired": "Ended",
    "entered-in-error": "Removed (made by mistake)",
}

# Gate kinds -> the words a patient uses for them.
KIND_WORDS: dict[str, str] = {
    "conditions": "health problems",
    "medication_orders": "medicines",
    "medication_dispenses": "medicines",
    "observations": "test results",
    "encounters": "visits",
    "notes": "visit notes",
    "appointments": "appointments",
    "assessments": "questionnaires",
    "care_team": "care team",
    "identifiers": "contact and insurance details",
    "contacts": "contact and insurance details",
    "coverage": "contact and insurance details",
    "demographics": "name and contact details",
    "home_site": "contact and insurance details",
    "consents": "sharing choices",
    "measure_results": "care reminders",
    "tasks": "care team's to-do list",
    "cohorts": "health summaries",
    "risk": "health summaries",
    "worklist_items": "follow-up calls and letters",
    "contact_attempts": "follow-up calls and letters",
}
# Gate kinds counted (the "try my policy" preview): singular and plural.
COUNT_WORDS: dict[str, tuple[str, str]] = {
    "conditions": ("health problem", "health problems"),
    "medication_orders": ("medicine", "medicines"),
    "medication_dispenses": ("pharmacy fill", "pharmacy fills"),
    "observations": ("test result", "test results"),
    "encounters": ("visit", "visits"),
    "notes": ("visit note", "visit notes"),
    "appointments": ("appointment", "appointments"),
    "assessments": ("questionnaire", "questionnaires"),
    "care_team": ("care team member", "care team members"),
    "identifiers": ("record number", "record numbers"),
    "contacts": ("contact person", "contact people"),
    "coverage": ("insurance record", "insurance records"),
    "home_site": ("home clinic", "home clinics"),
    "consents": ("sharing choice", "sharing choices"),
    "measure_results": ("care reminder", "care reminders"),
    "tasks": ("to-do item", "to-do items"),
    "cohorts": ("health summary", "health summaries"),
    "risk": ("health summary", "health summaries"),
    "worklist_items": ("follow-up", "follow-ups"),
    "contact_attempts": ("follow-up call or letter", "follow-up calls and letters"),
    "procedures": ("procedure", "procedures"),
    "service_requests": ("referral or order", "referrals and orders"),
}


def counted(counts: dict[str, int]) -> list[str]:
    """["2 health problems", "1 test result"]: the most first, kinds without words left out
    (they are counted under ``other``)."""
    out: list[tuple[int, str]] = []
    other = 0
    for kind, n in counts.items():
        if not n:
            continue
        words = COUNT_WORDS.get(kind)
        if words is None:
            other += n
            continue
        out.append((n, f"{n} {words[0] if n == 1 else words[1]}"))
    out.sort(key=lambda pair: -pair[0])
    if other:
        out.append((other, f"{other} other record{'s' if other != 1 else ''}"))
    return [text for _, text in out]


WHOLE_RECORD_AFTER = 4  # more kinds than this: "your health record"

GAP_WORDS: dict[str, str] = {
    "CMS2": "Have a depression check, and a plan if it shows you need help.",
    "CMS159": "Check in about your depression to see if it is getting better.",
    "CMS128": "Keep taking your depression medicine as your provider planned.",
    "CMS165": "Work with your team to bring your blood pressure under 140/90.",
    "CMS122": "Get an HbA1c blood test for diabetes, and work to keep it under 9%.",
    "CMS138": "Talk with your team about tobacco use and help to quit.",
    "SSD": "Get a diabetes blood test (glucose or HbA1c), because of your medicine.",
    "SMD": "Get your diabetes checks: an HbA1c and a cholesterol (LDL) test.",
    "SMC": "Get a cholesterol (LDL) test for your heart.",
    "SAA": "Keep taking your medicine for schizophrenia every day.",
    "APM": "Get blood sugar and cholesterol tests, because of your medicine.",
    "FUH": "See your mental health team soon after your hospital stay.",
    "FUM": "See your mental health team soon after your emergency room visit.",
    "AMM": "Keep taking your depression medicine as your provider planned.",
    "DMS": "Fill out a mood check (PHQ-9) so your team can see how you are doing.",
    "DRR": "Fill out a mood check (PHQ-9) to see if your depression is getting better.",
    "TANDEM-PCENG": "Have a check-up with your primary care provider this year.",
    "TANDEM-METAB": "Get blood sugar and cholesterol tests, because of your medicine.",
    "TANDEM-BPSMI": "Work with your team to bring your blood pressure under 140/90.",
}


def join_words(words: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def kinds_phrase(kinds: Iterable[str]) -> str:
    """What was looked at, in the patient's words ("your medicines and test results")."""
    words: list[str] = []
    for kind in kinds:
        word = KIND_WORDS.get(kind.strip())
        if word and word not in words:
            words.append(word)
    if not words:
        return "your record"
    if len(words) > WHOLE_RECORD_AFTER:
        return "your health record"
    return "your " + join_words(words)


def long_date(moment: dt.datetime | dt.date) -> str:
    """ "3 December 2026" (no leading zero), the way people write it."""
    return f"{moment.day} {moment:%B %Y}"


@dataclass(frozen=True)
class Access:
    """One access to the record, as the access log's sentence needs it."""

    who: str  # "Alice Adams", or "Someone" when the actor is not a known person
    role: str  # "primary care clinician", or ""
    where: str  # "Riverside Family Medicine", or ""
    action: str  # the audit action ("read", "list", "export", "break-the-glass"…)
    outcome: str  # shown | redacted | denied | written
    kinds: tuple[str, ...]
    purpose: str
    when: dt.datetime  # local time
    emergency: bool = False  # break-the-glass (the audit trail's reading)


GROUP_MINUTES = 10  # one visit: the same person's accesses within this time read as one line


def _verb(action: str) -> str:
    if action.startswith(("break-the-glass", "audit-", "consent-")):
        return action
    if action.startswith("write"):
        return "write"
    if action.startswith(("export", "fhir")):
        return "export"
    return "look"  # read, list, and the chart's partial reads


def group(accesses: Sequence[Access], *, minutes: int = GROUP_MINUTES) -> list[Access]:
    """One line per visit: consecutive accesses (newest first) by the same person, in the same
    capacity, for the same purpose, with the same outcome and the same kind of action, within
    ``minutes`` of the visit's latest, become one access at the visit's first moment with
    every kind looked at. A chart view (the page and its lazily loaded sections) is one line,
    not five."""
    out: list[Access] = []
    latest: dt.datetime | None = None
    for a in accesses:
        if out:
            last = out[-1]
            same = (
                (last.who, last.role, last.where, last.purpose, last.emergency)
                == (a.who, a.role, a.where, a.purpose, a.emergency)
                and (last.outcome == "denied") == (a.outcome == "denied")
                and _verb(last.action) == _verb(a.action)
                and not last.action.startswith(("break-the-glass", "audit-", "consent-"))
                and latest is not None
                and latest - a.when <= dt.timedelta(minutes=minutes)
            )
            if same:
                kinds = tuple(dict.fromkeys((*a.kinds, *last.kinds)))
                action = "read" if "read" in (a.action, last.action) else a.action
                out[-1] = Access(
                    last.who, last.role, last.where, action, last.outcome, kinds,
                    last.purpose, a.when, last.emergency,
                )  # fmt: skip
                continue
        out.append(a)
        latest = a.when
    return out


CONSENT_ACTIONS: dict[str, str] = {
    "consent-record": "recorded a sharing choice for you",
    "consent-sign": "added your signature to a sharing choice",
    "consent-revoke": "stopped one of your sharing choices",
    "consent-revoke-recipient": "stopped sharing with someone, in one of your sharing choices",
    "consent-preview": "checked what a sharing choice would show",
    "consent-import": "added a sharing choice from another system",
    "consent-export": "copied your sharing choices out of Tandem",
}


def access_sentence(a: Access) -> str:
    """The access log's plain sentence:

    "Alice Adams, primary care clinician at Riverside Family Medicine, looked at your
    medicines and test results on 3 December 2026 at 14:05, to treat you."
    """
    who = a.who
    if a.role and a.where:
        who += f", {a.role} at {a.where},"
    elif a.role or a.where:
        who += f", {a.role or a.where},"
    when = f"on {long_date(a.when)} at {a.when:%H:%M}"
    why = PURPOSE_PHRASES.get(a.purpose, "")
    what = kinds_phrase(a.kinds)
    if a.action == "break-the-glass":
        if a.outcome == "denied":
            return f"{who} asked for emergency access to your record {when}, but was not allowed."
        return (
            f"{who} used emergency access to open your record {when}. A privacy officer checks "
            "every emergency access."
        )
    if a.action == "break-the-glass-review":
        return f"{who} checked an emergency access to your record {when}."
    if a.action.startswith("audit-"):
        return f"{who} looked at the list of who looked at your record {when}."
    if a.outcome == "denied":
        return f"{who} tried to look at {what} {when}, but was not allowed. Nothing was shown."
    if a.action in CONSENT_ACTIONS:
        return f"{who} {CONSENT_ACTIONS[a.action]} {when}."
    if a.action == "list":
        verb = f"saw your name in a list {when}"
    elif a.action.startswith(("export", "fhir")):
        verb = f"copied {what} out of Tandem {when}"
    elif a.action.startswith("write"):
        verb = f"added to or changed {what} {when}"
    else:
        verb = f"looked at {what} {when}"
    return f"{who} {verb}, {why}." if why else f"{who} {verb}."
