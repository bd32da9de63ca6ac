"""The primary-care engagement panel (F4): rules as data and the small functions that apply them.

Shown on a behavioral-health user's view of a patient with serious mental illness (SMI):
people with SMI die 10–25 years earlier, mostly of cardiometabolic disease, and behavioral-health
visits are often their only regular contact with care. The panel names the assigned PCP (or
none), the last primary-care visit, the physical-health monitoring due, the open care gaps, and
one action that creates a task for the primary-care team (``registry.services``).

Who is a *behavioral-health user*: an active practitioner whose discipline is behavioral
(psychologist, social worker, psychiatrist: ``Practitioner.BEHAVIORAL_DISCIPLINES``) or who
belongs to a behavioral-health, psychiatry or SUD program (``Program.BEHAVIORAL_KINDS``) — so a
care manager in a CMHC program counts, a PCP or a primary-care nurse does not.

Who *has SMI*: a member of the registry's ``smi`` cohort (rebuilt by the daily refresh), or a
patient whose problem list, as the reader sees it, holds a code of the ``smi-diagnoses`` code
list (schizophrenia, schizoaffective, other psychotic and bipolar disorders, major depression
with psychotic features) — so a diagnosis recorded today shows before the next refresh.

Monitoring: each item is due ``INTERVAL_MONTHS`` after its last result (ADA/APA consensus on
antipsychotic monitoring and USPSTF adult screening: glucose or HbA1c, lipids, blood pressure,
BMI and tobacco use at least yearly for people with SMI); "due soon" ``DUE_SOON_DAYS`` before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from tandem.core.lib import display as d
from tandem.terminology import codelists

INTERVAL_MONTHS = 12
DUE_SOON_DAYS = 30
SMI_COHORT = "smi"
SMI_CODELIST = "smi-diagnoses"
TASK_SOURCE = "engagement"
TASK_DUE_DAYS = 14  # primary care is asked to act within two weeks
QUEUE_KIND = "primary-care"
# The task's words: nothing about behavioral health, the program or the requester's service,
# so the primary-care queue learns no more than "this patient needs primary care".
TASK_TITLES = {
    "request-appointment": "Book a primary-care appointment",
    "assign-pcp": "Assign a primary care provider",
}


@dataclass(frozen=True)
class Monitor:
    key: str
    label: str
    codelists: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()  # LOINC codes beside the code lists


MONITORING: tuple[Monitor, ...] = (
    Monitor("glycemic", "HbA1c or glucose", ("hba1c", "glucose")),
    Monitor("lipids", "Lipids", ("ldl-cholesterol", "total-cholesterol"), ("2085-9", "2571-8")),
    Monitor("bp", "Blood pressure", ("blood-pressure",)),
    Monitor("bmi", "BMI", (), ("39156-5",)),
    Monitor("tobacco", "Tobacco use", ("smoking-status",)),
)


@cache
def monitor_codes() -> dict[str, str]:
    """LOINC code -> monitor key, for every code any monitor counts."""
    out: dict[str, str] = {}
    for monitor in MONITORING:
        for key in monitor.codelists:
            for entry in codelists.load(key).codes:
                if entry.system == d.LOINC:
                    out[entry.code] = monitor.key
        for loinc in monitor.codes:
            out[loinc] = monitor.key
    return out


@cache
def smi_codes() -> frozenset[str]:
    return frozenset(c.code for c in codelists.load(SMI_CODELIST).codes)


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # unreachable


@dataclass(frozen=True)
class Due:
    """One monitoring item: its last result, when it is next due, and the state in words."""

    key: str
    label: str
    last: dt.date | None
    due: dt.date | None
    state: str  # "overdue", "due-soon" or "up-to-date"

    @property
    def state_text(self) -> str:
        if self.last is None:
            return "Overdue: none on record"
        return {
            "overdue": "Overdue",
            "due-soon": "Due soon",
            "up-to-date": "Up to date",
        }[self.state]


def monitoring_due(last_dates: dict[str, dt.date], *, today: dt.date) -> list[Due]:
    """Each monitor with its last result date (``last_dates`` by monitor key) and its state."""
    out = []
    for monitor in MONITORING:
        last = last_dates.get(monitor.key)
        due = add_months(last, INTERVAL_MONTHS) if last else None
        if due is None or due < today:
            state = "overdue"
        elif (due - today).days <= DUE_SOON_DAYS:
            state = "due-soon"
        else:
            state = "up-to-date"
        out.append(Due(monitor.key, monitor.label, last, due, state))
    return out


def task_detail(*, has_pcp: bool, last_visit: dt.date | None, overdue: list[str]) -> str:
    """The task's detail: facts primary care needs, nothing about behavioral health."""
    visit = (
        f"last primary-care visit {d.short_date(last_visit)}"
        if last_visit
        else ("no primary-care visit on record")
    )
    parts = [visit if has_pcp else "no primary care provider assigned; " + visit]
    if overdue:
        parts.append("monitoring overdue: " + ", ".join(overdue))
    return ("Requested by the care team: " + "; ".join(parts) + ".")[:1000]
