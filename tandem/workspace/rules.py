"""The shell as data: the navigation each role sees and the panels of each role's home page.

Role keys are those of :func:`tandem.core.queries.role_of` (``pcp``, ``care-manager``,
``bh-clinician``, ``psychiatrist``, ``leader``, ``privacy-officer``, ``patient``, ``staff``). Navigation entries
name pages by URL name: an entry whose page does not exist (its URL name does not resolve) is
left out, so an app can be absent without breaking the shell. An outsider works in one of these
roles; the pages, not the navigation, make sure they see no patient.
"""

from __future__ import annotations

from dataclasses import dataclass

CLINICIANS = frozenset({"pcp", "care-manager", "bh-clinician", "psychiatrist"})
PRIVACY_OFFICER = frozenset({"privacy-officer"})  # audit data, no charts
STAFF = CLINICIANS | {"leader", "staff"} | PRIVACY_OFFICER  # everyone who works here
PATIENTS = frozenset({"patient"})
EVERYONE = STAFF | PATIENTS


@dataclass(frozen=True)
class NavEntry:
    """One link of the top navigation.

    ``section`` names the pages under this entry: on them the entry is marked as the current
    section (``aria-current="true"``); on its own page it is the current page
    (``aria-current="page"``).
    """

    url_name: str
    label: str
    roles: frozenset[str]
    section: frozenset[str] = frozenset()


NAV: tuple[NavEntry, ...] = (
    NavEntry("home", "Home", STAFF),
    # A patient sees the portal (tandem.portal, /me/), never the staff pages.
    NavEntry(
        "portal-home",
        "My health",
        PATIENTS,
        frozenset(
            {
                "portal-record",
                "portal-team",
                "portal-questionnaires",
                "portal-questionnaire",
                "portal-care-plan",
            }
        ),
    ),
    NavEntry(
        "portal-sharing", "Sharing", PATIENTS, frozenset({"portal-sharing-new", "portal-directive"})
    ),
    NavEntry("portal-access", "Who looked", PATIENTS),
    NavEntry(
        "worklists", "Worklists", CLINICIANS | {"leader"}, frozenset({"worklist", "worklist-item"})
    ),
    NavEntry("tasks", "Tasks", STAFF, frozenset({"task-queue", "task-detail"})),
    NavEntry("cohorts", "Cohorts", CLINICIANS | {"leader"}, frozenset({"cohort"})),
    NavEntry(
        "patient-search",
        "Find a patient",
        STAFF - PRIVACY_OFFICER,
        frozenset({"patient-summary", "emergency-access"}),
    ),
    NavEntry("jobs", "Jobs", frozenset({"leader"}), frozenset({"job-detail"})),
    NavEntry("audit-log", "Audit log", PRIVACY_OFFICER),
    NavEntry(
        "audit-disclosures-index", "Disclosures", PRIVACY_OFFICER, frozenset({"audit-disclosures"})
    ),
    NavEntry(
        "emergency-access-reviews",
        "Emergency access reviews",
        PRIVACY_OFFICER,
        frozenset({"emergency-access-review"}),
    ),
    NavEntry("api-tokens", "API tokens", STAFF),
)


def entries_for(role_key: str) -> list[NavEntry]:
    """The navigation entries a role sees, in order (before checking their pages exist)."""
    return [entry for entry in NAV if role_key in entry.roles]


def current(entry: NavEntry, url_name: str | None) -> str | None:
    """The ``aria-current`` value of ``entry`` on the page named ``url_name``, or None."""
    if url_name == entry.url_name:
        return "page"
    if url_name in entry.section:
        return "true"
    return None


@dataclass(frozen=True)
class Home:
    """A role's home page: its heading, a line under it, and its panels in order.

    Panels (``tandem.workspace.queries.PANELS``): ``tasks`` (my tasks and my queues),
    ``worklists`` (the worklists with their open items), ``caseload`` (my patients),
    ``sites`` (counts per site), ``own-record`` (a patient's own record).
    """

    heading: str
    lede: str
    panels: tuple[str, ...]


CLINICAL_LEDE = "Your tasks, the worklists you work and the patients on your care teams."

HOMES: dict[str, Home] = {
    "care-manager": Home("My work", CLINICAL_LEDE, ("worklists", "tasks", "caseload")),
    "pcp": Home("My work", CLINICAL_LEDE, ("tasks", "worklists", "caseload")),
    "bh-clinician": Home("My work", CLINICAL_LEDE, ("tasks", "worklists", "caseload")),
    "psychiatrist": Home("My work", CLINICAL_LEDE, ("tasks", "worklists", "caseload")),
    "leader": Home(
        "Sites overview",
        "Counts only; open a patient's record through search (operations purpose, audited).",
        ("sites", "tasks", "worklists"),
    ),
    "privacy-officer": Home(
        "Privacy and audit",
        "Alerts for you (break-the-glass, daily audit anchors); the audit log and the "
        "accounting of disclosures are in the navigation. No charts: audit data only.",
        ("tasks",),
    ),
    "patient": Home("Welcome", "Your own health record.", ("own-record",)),
    "staff": Home(
        "My work", "Your tasks and the patients on your care teams.", ("tasks", "caseload")
    ),
}


def home_for(role_key: str) -> Home:
    return HOMES.get(role_key, HOMES["staff"])
