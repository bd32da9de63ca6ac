"""Jobs as data: each job is a named pipeline of steps, run in order.

A step is a function in an app's ``jobs.py``::

    def step(*, as_of: datetime.date, progress: Callable[[str], None]) -> dict[str, int]

``as_of`` is the day the job is for; ``progress`` takes one short line saying where the step is
(no patient data: counts, measure ids, cohort keys); the result is counts to show in the
history (``{"patients": 5000, "stored": 16}``). A step raises to fail: the run stops there, the
step is marked failed with an error that names the exception's type and where it was raised
(never its message, which could carry patient data — unless it is a
:class:`~tandem.core.lib.cli.UsageError`, whose one-line messages Tandem writes itself).

``atomic`` steps run in one transaction (all or nothing; on SQLite the write lock is held for the
whole step). A step that is not atomic commits its own units of work (the measures step: one
measure at a time) so that a long step neither holds the write lock throughout nor hides its
progress until it ends.

To add a step to the daily refresh, or a new job, add a :class:`Step` here: see
``docs/architecture.md`` (Background jobs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class StepFunction(Protocol):
    def __call__(self, *, as_of: dt.date, progress: Callable[[str], None]) -> dict[str, int]: ...


@dataclass(frozen=True)
class Step:
    key: str  # short, stable: shown in the history and used in tests
    label: str  # what a leader reads
    function: str  # dotted path, imported when the step runs
    atomic: bool = True


@dataclass(frozen=True)
class Job:
    name: str  # stable key, stored on each run
    title: str
    steps: tuple[Step, ...]


DAILY_REFRESH = Job(
    "daily-refresh",
    "Daily refresh",
    (
        # Each measure's results are committed on their own (run_measures(commit_each=True)).
        Step("measures", "Measures stored", "tandem.measures.jobs.store_all", atomic=False),
        # The registry evaluates outside a transaction, then replaces each cohort, and all the
        # scores, in a transaction of its own.
        Step("cohorts", "Cohorts rebuilt", "tandem.registry.jobs.rebuild_cohorts", atomic=False),
        Step("risk", "Risk scores rebuilt", "tandem.registry.jobs.rebuild_risk", atomic=False),
        # Directives past their end date are marked expired before the worklists read them.
        Step("consents", "Consent directives expired", "tandem.consent.jobs.expire_directives"),
        # Worklists write item by item: one transaction for the step keeps them consistent.
        Step("worklists", "Worklists rebuilt", "tandem.outreach.jobs.rebuild_worklists"),
    ),
)

JOBS: dict[str, Job] = {job.name: job for job in (DAILY_REFRESH,)}

# Run states. A run is *active* while queued, running or waiting for its next attempt; at most
# one run of a job is active at a time (a database constraint: see JobRun).
QUEUED, RUNNING, RETRYING, SUCCEEDED, FAILED = (
    "queued",
    "running",
    "retrying",
    "succeeded",
    "failed",
)
ACTIVE = (QUEUED, RUNNING, RETRYING)

# Step states.
PENDING, SKIPPED = "pending", "skipped"

PROGRESS_EVERY = 1.0  # seconds: progress lines are written at most this often (plus each step)
LOG_LINES = 120  # progress lines kept per step (the last ones)

# Where a run comes from.
TRIGGERS = {
    "user": "Run now",
    "retry": "Retry",
    "schedule": "Schedule",
    "system": "Command line or demo",
}
