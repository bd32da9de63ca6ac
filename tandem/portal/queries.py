"""The patient portal's reads: the signed-in patient's own record, through ``consent.gate``.

Every read names the purpose ``patient-access`` and the patient the gate finds for the user
(``gate.visible_patients``): a URL never names the patient. Psychotherapy notes are withheld by
the gate (their author only), and each page says so in plain words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils import timezone

from tandem.consent import gate
from tandem.consent.models import Purpose
from tandem.core.models import Practitioner
from tandem.portal import rules

PURPOSE = Purpose.PATIENT_ACCESS
RESULTS = 300  # results read for the latest of each test and its trend (as the chart)
VISITS = 10
NOTES = 10
UPCOMING = 10
ACCESS_LOG_LIMIT = 200
# Sentence for the one thing the gate always withholds from the patient (docs/portal.md).
PSYCHOTHERAPY_WORDS = (
    "Notes your therapist keeps about therapy sessions are not part of this record."
)


def own_patient(*, user: Any) -> Any | None:
    """The patient record of the signed-in user, or None (not a patient). Not audited: every
    page then reads through :func:`gate.read`, which is."""
    return gate.visible_patients(user=user, purpose=PURPOSE).order_by("pk").first()


def refuse(*, user: Any, detail: str, patient_id: int | None = None) -> None:
    """Audit a refused portal request (a non-patient, a forged id): outcome ``denied``."""
    gate.deny(user=user, patient_id=patient_id, purpose=PURPOSE, detail=f"portal: {detail}")


def _active_team(today: dt.date) -> gate.Request:
    return gate.Request(
        "care_team",
        where=Q(start__lte=today) & (Q(end__isnull=True) | Q(end__gte=today)),
        order_by=("role", "pk"),
        select_related=("practitioner", "program", "program__site"),
    )


def _upcoming(now: dt.datetime, limit: int = UPCOMING) -> gate.Request:
    return gate.Request(
        "appointments",
        where=Q(start__gte=now, status__in=["booked", "arrived"]),
        order_by=("start",),
        limit=limit,
        select_related=("site", "practitioner"),
    )


def _questionnaires() -> gate.Request:
    return gate.Request(
        "assessments",
        where=Q(instrument__in=sorted(rules.QUESTIONNAIRES)),
        order_by=("-effective_at",),
        limit=40,
    )


def last_done(assessments: Iterable[Any]) -> dict[str, dt.date]:
    """The day of the latest response to each portal questionnaire."""
    out: dict[str, dt.date] = {}
    for row in assessments:
        day = timezone.localdate(row.effective_at)
        if row.instrument not in out or day > out[row.instrument]:
            out[row.instrument] = day
    return out


def psychotherapy_withheld(disclosure: gate.Disclosure) -> bool:
    return any(r.label == "psychotherapy-note" for r in disclosure.redactions)


def overview(*, user: Any, patient_id: int) -> dict[str, Any]:
    """The portal's first page: the next appointment, questionnaires due, one audited read."""
    now, today = timezone.now(), timezone.localdate()
    disclosure = gate.read(
        user=user,
        patient_id=patient_id,
        purpose=PURPOSE,
        requests=[_upcoming(now, 1), _questionnaires()],
        detail="portal home",
    )
    return {
        "patient": disclosure.patient,
        "next_appointment": next(iter(disclosure.data["appointments"]), None),
        "due": rules.questionnaires_due(last_done(disclosure.data["assessments"]), today=today),
    }


def record(*, user: Any, patient_id: int) -> gate.Disclosure:
    """My record: problems, medicines, results, visits and visit notes (one audited read)."""
    return gate.read(
        user=user,
        patient_id=patient_id,
        purpose=PURPOSE,
        requests=[
            gate.Request(
                "conditions",
                where=Q(category="problem-list-item"),
                order_by=("clinical_status", "-onset"),
            ),
            gate.Request(
                "medication_orders",
                where=Q(status="active"),
                order_by=("-authored_at",),
                select_related=("prescriber",),
            ),
            gate.Request("medication_dispenses", order_by=("-dispensed_at",), limit=60),
            gate.Request(
                "observations",
                where=Q(category__in=["laboratory", "vital-signs"])
                & (Q(value_num__isnull=False) | ~Q(value_code="") | ~Q(value_text="")),
                order_by=("-effective_at",),
                limit=RESULTS,
            ),
            gate.Request(
                "encounters",
                where=Q(start__lte=timezone.now())
                & ~Q(status__in=["cancelled", "entered-in-error"]),
                order_by=("-start",),
                limit=VISITS,
                select_related=("site", "practitioner"),
            ),
            gate.Request(
                "notes", order_by=("-authored_at",), limit=NOTES, select_related=("author",)
            ),
        ],
        detail="portal record",
    )


def team(*, user: Any, patient_id: int) -> gate.Disclosure:
    """My care team (all of it: the patient sees their Part 2 programs) and upcoming visits."""
    return gate.read(
        user=user,
        patient_id=patient_id,
        purpose=PURPOSE,
        requests=[_active_team(timezone.localdate()), _upcoming(timezone.now())],
        detail="portal care team",
    )


def questionnaires(*, user: Any, patient_id: int) -> dict[str, Any]:
    """The questionnaires due, and when the others are due again (one audited read)."""
    today = timezone.localdate()
    disclosure = gate.read(
        user=user,
        patient_id=patient_id,
        purpose=PURPOSE,
        requests=[_questionnaires()],
        detail="portal questionnaires",
    )
    done = last_done(disclosure.data["assessments"])
    due = rules.questionnaires_due(done, today=today)
    due_keys = {d.questionnaire.instrument for d in due}
    later = [
        (rules.QUESTIONNAIRES[k], done[k], when)
        for k, when in sorted(rules.next_due(done).items())
        if k not in due_keys and k in rules.QUESTIONNAIRES
    ]
    return {"due": due, "later": later}


@dataclass
class CarePlan:
    goals: list[dict[str, Any]]
    withheld: int
    due: list[rules.Due]
    appointments: list[Any]


def care_plan(*, user: Any, patient_id: int) -> CarePlan:
    """Open care gaps in plain words, questionnaires due, upcoming appointments (two audited
    reads: the measures app's own, and one for the rest)."""
    from tandem.measures import queries as measure_queries

    gaps = measure_queries.open_gaps(user=user, patient_id=patient_id, purpose=PURPOSE)
    disclosure = gate.read(
        user=user,
        patient_id=patient_id,
        purpose=PURPOSE,
        requests=[_upcoming(timezone.now()), _questionnaires()],
        detail="portal care plan",
    )
    goals, seen = [], set()
    for gap in gaps.items:
        words = rules.GAP_WORDS.get(gap.measure, gap.title)
        if words in seen:
            continue
        seen.add(words)
        goals.append({"words": words, "measure": gap.measure, "period_end": gap.period_end})
    return CarePlan(
        goals=goals,
        withheld=sum(r.count for r in gaps.withheld),
        due=rules.questionnaires_due(
            last_done(disclosure.data["assessments"]), today=timezone.localdate()
        ),
        appointments=disclosure.data["appointments"],
    )


# --- sharing choices ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One recipient the patient may pick: ``value`` is ``kind:id`` (or ``role:pcp``)."""

    value: str
    label: str
    kind: str


@dataclass
class Choices:
    people: list[Choice] = field(default_factory=list)
    roles: list[Choice] = field(default_factory=list)
    sites: list[Choice] = field(default_factory=list)
    organizations: list[Choice] = field(default_factory=list)

    def all(self) -> list[Choice]:
        return [*self.people, *self.roles, *self.sites, *self.organizations]


def recipient_choices(*, user: Any, patient_id: int) -> Choices:
    """Whom the patient may share with: their own care team's people, roles, the sites and
    organizations those people work for (one audited read of the care team)."""
    disclosure = gate.read(
        user=user,
        patient_id=patient_id,
        purpose=PURPOSE,
        requests=[_active_team(timezone.localdate())],
        detail="portal sharing choices",
    )
    members = disclosure.data["care_team"]
    practitioner_ids = sorted({m.practitioner_id for m in members})
    practitioners = list(
        Practitioner.objects.filter(pk__in=practitioner_ids).prefetch_related("sites__organization")
    )
    choices = Choices()
    for m in members:
        value = f"person:{m.practitioner_id}"
        if all(c.value != value for c in choices.people):
            role = rules.ROLE_WORDS.get(m.role, m.role)
            choices.people.append(Choice(value, f"{m.practitioner.name}, your {role}", "person"))
        value = f"role:{m.role}"
        if all(c.value != value for c in choices.roles):
            role = rules.ROLE_WORDS.get(m.role, m.role)
            choices.roles.append(Choice(value, f"Anyone who is your {role}", "role"))
    sites: dict[int, Any] = {}
    for m in members:
        if m.program_id and m.program.site_id:
            sites[m.program.site_id] = m.program.site
    for p in practitioners:
        for site in p.sites.all():
            sites.setdefault(site.pk, site)
    orgs: dict[int, str] = {}
    for site in sorted(sites.values(), key=lambda s: s.name):
        choices.sites.append(Choice(f"site:{site.pk}", f"Everyone at {site.name}", "site"))
        orgs[site.organization_id] = site.organization.name
    for pk, name in sorted(orgs.items(), key=lambda o: o[1]):
        choices.organizations.append(
            Choice(f"organization:{pk}", f"Everyone who works for {name}", "organization")
        )
    return choices


def directives(*, user: Any, patient_id: int) -> list[Any]:
    """The patient's directives, newest first, each with its ``recipient_list`` (one audited
    read through ``consent.queries.directives_for``)."""
    from tandem.consent import queries as consent_queries

    found = consent_queries.directives_for(
        user=user, patient_id=patient_id, purpose=PURPOSE, detail="portal sharing"
    )
    rows = sorted(found.data["consents"], key=lambda d: (d.recorded_at, d.pk), reverse=True)
    return consent_queries.with_details(rows)


def directive(*, user: Any, patient_id: int, directive_id: int) -> Any | None:
    """One of the patient's own directives, or None (a forged id: audited as denied)."""
    for row in directives(user=user, patient_id=patient_id):
        if row.pk == directive_id:
            return row
    refuse(user=user, detail=f"directive={directive_id} is not the patient's")
    return None


# --- who looked at my record --------------------------------------------------------------------


@dataclass(frozen=True)
class LogLine:
    sentence: str
    when: dt.datetime
    outcome: str
    emergency: bool


def _role_and_place(who_role: str) -> tuple[str, str]:
    """("primary care physician", "Riverside Family Medicine") from the audit trail's
    "Primary care physician, Riverside Family Medicine" (the first of several site roles)."""
    first = who_role.split(";")[0].strip()
    if first in ("", "the system itself"):
        return "", ""
    role, _, place = first.partition(", ")
    if role == "Staff":
        role = "staff member"
    return role[:1].lower() + role[1:], place


def access_log(*, user: Any, patient_id: int) -> list[LogLine]:
    """Who looked at the patient's record, newest first, in plain sentences (docs/portal.md):
    every event about the record by anyone but the patient (``tandem.audit.queries.
    access_log``): reads, lists, exports, changes, emergency access and refused attempts.
    Reading the log is itself audited (kind ``access-log``)."""
    from tandem.audit import queries as audit_queries
    from tandem.audit import services as audit

    found = audit_queries.access_log(patient_id=patient_id)[:ACCESS_LOG_LIMIT]
    audit.record(
        actor=user,
        entry=audit.Entry(
            "read", "shown", patient_id, "access-log", PURPOSE, f"portal access log n={len(found)}"
        ),
    )
    accesses = []
    for a in found:
        role, place = _role_and_place(a.who_role)
        accesses.append(
            rules.Access(
                who=a.who,
                role=role,
                where=place,
                action=a.action,
                outcome=a.outcome,
                kinds=tuple(a.kinds),
                purpose=a.purpose,
                when=timezone.localtime(a.when),
                emergency=a.emergency,
            )
        )
    lines = [
        LogLine(rules.access_sentence(a), a.when, a.outcome, a.emergency)
        for a in rules.group(accesses)
    ]
    return lines


def preview(
    *,
    user: Any,
    patient_id: int,
    categories: list[str],
    purposes: list[str],
    recipients: list[Any],
    start: dt.date,
    end: dt.date | None,
) -> list[Any]:
    """ "Try my policy": what each recipient would see and not see with this choice added,
    nothing saved (``tandem.consent.queries.preview``, audited there)."""
    from tandem.consent import queries as consent_queries

    return list(
        consent_queries.preview(
            user=user,
            patient_id=patient_id,
            categories=categories,
            purposes=purposes,
            recipients=recipients,
            start=start,
            end=end,
        )
    )
