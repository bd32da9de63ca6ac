"""Test-only steps and jobs (dotted paths the runner imports), and a trivial task for the real
cluster. Steps follow the contract: ``step(*, as_of, progress) -> dict[str, int]``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from tandem.jobs import rules
from tandem.jobs.models import JobRun
from tandem.registry.models import Patient

CALLS: list[tuple[str, dt.date]] = []  # the steps called, in order, with their as_of
SEEN: list[str] = []  # what a step read back from the database while it ran


def first(*, as_of: dt.date, progress: Callable[[str], None]) -> dict[str, int]:
    CALLS.append(("first", as_of))
    progress("counting")
    progress("counted 3")
    return {"rows": 3}


def second(*, as_of: dt.date, progress: Callable[[str], None]) -> dict[str, int]:
    CALLS.append(("second", as_of))
    SEEN.append(JobRun.objects.get(status=rules.RUNNING).progress)
    return {"items": 2, "resolved": 1}


def leaky_failure(*, as_of: dt.date, progress: Callable[[str], None]) -> dict[str, int]:
    """Fails with patient data in the message: none of it may reach the history or the queue."""
    CALLS.append(("leaky_failure", as_of))
    patient = Patient.objects.order_by("pk").first()
    name = f"{patient.family_name}, {patient.given_name}" if patient else "Jones, Pat"
    raise ValueError(f"cannot score {name} born {getattr(patient, 'birth_date', '')}")


def never(*, as_of: dt.date, progress: Callable[[str], None]) -> dict[str, int]:
    CALLS.append(("never", as_of))
    return {}


def note(text: str) -> str:
    """A trivial task for the real cluster: its result is the text, saved by django-q2."""
    return f"noted {text}"


def job(*names: str) -> rules.Job:
    """A daily-refresh-shaped job made of the steps named (functions of this module)."""
    steps = tuple(
        rules.Step(name, name.replace("_", " ").title(), f"{__name__}.{name}") for name in names
    )
    return rules.Job("daily-refresh", "Daily refresh", steps)
