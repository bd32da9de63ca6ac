"""Who is on each worklist and which open items the data has closed: the refresh's reads.

Set-based: each worklist's membership is a handful of queries over the whole population (no
query per patient), returning a :class:`Finding` per patient; each closing check takes the open
items' patients at once. The refresh is a system read (``by=None``): ``outreach.services``
audits it once through ``gate.population_scope`` before calling these.

Rows recorded by a 42 CFR Part 2 program (label ``substance-use``) and psychotherapy notes are
never read here (``USABLE``): they neither put a patient on a list nor close an item.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from tandem.clinical.models import Encounter, Observation
from tandem.core.models import CareTeamMember
from tandem.measures.models import MeasurePatientResult, MeasureRun
from tandem.outreach import rules
from tandem.registry.models import CohortMembership, Patient
from tandem.scheduling.models import Appointment
from tandem.terminology import codelists

USABLE = Q(sensitivity__in=["normal", "mental-health", "hiv", "reproductive-health"])
PC_VISIT = Q(setting="pc", status="finished")
FOLLOW_UP_CLASSES = ("ambulatory", "telehealth", "home")
CHUNK = 2000


@dataclass
class Finding:
    """Why one patient is on a list: the reason, the evidence, and the item's label."""

    reason: str
    evidence: dict[str, Any]
    label: str = "normal"
    trigger: dt.date | None = None
    due: dt.date | None = None
    site_id: int | None = None
    labels: list[str] = field(default_factory=list)


def _at(day: dt.date) -> dt.datetime:
    """The first moment of ``day`` in local time: filters compare timestamps with it, which
    uses the (patient, time) indexes; a ``__date`` lookup casts every row (SQLite in Python)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _end(day: dt.date) -> dt.datetime:
    """The first moment after ``day`` (an exclusive upper bound)."""
    return _at(day + dt.timedelta(days=1))


def _start(as_of: dt.date, days: int) -> dt.date:
    return as_of - dt.timedelta(days=days)


def _living(pids: Any) -> Any:
    return Patient.objects.filter(pk__in=pids, deceased_date__isnull=True)


def _pairs(*keys: str) -> tuple[list[str], list[str]]:
    codes = [c for key in keys for c in codelists.load(key).codes]
    return sorted({c.system for c in codes}), sorted({c.code for c in codes})


def _active_pcp(as_of: dt.date) -> Any:
    return CareTeamMember.objects.filter(
        Q(end__isnull=True) | Q(end__gte=as_of), role="pcp", start__lte=as_of
    )


def _pc_visits(as_of: dt.date) -> Any:
    return Encounter.objects.filter(USABLE, PC_VISIT, start__lt=_end(as_of))


# --- smi-disengaged -------------------------------------------------------------------------


def smi_engagement(as_of: dt.date, pids: Any) -> list[tuple[int, bool, Any, int | None, str]]:
    """(patient, has an active PCP, last finished PC visit, home site, its label)."""
    last_pc = _pc_visits(as_of).filter(patient=OuterRef("pk")).order_by("-start").values("start")
    pcp = _active_pcp(as_of).filter(patient=OuterRef("pk"))
    return list(
        _living(pids)
        .annotate(has_pcp=Exists(pcp), last_pc=Subquery(last_pc[:1]))
        .values_list("pk", "has_pcp", "last_pc", "home_site_id", "home_site_sensitivity")
    )


def find_smi_disengaged(worklist: rules.Worklist, as_of: dt.date) -> dict[int, Finding]:
    since = _start(as_of, worklist.parameters["lookback_days"])
    smi = CohortMembership.objects.filter(cohort="smi").values("patient_id")
    found = {}
    for pid, has_pcp, last_pc, site_id, site_label in smi_engagement(as_of, smi):
        visited = last_pc is not None and timezone.localdate(last_pc) >= since
        if has_pcp and visited:
            continue
        parts = [] if has_pcp else ["No PCP assigned"]
        if not visited:
            parts.append(
                f"no primary-care visit since {rules.day(last_pc)}"
                if last_pc
                else "no primary-care visit on record"
            )
        elif not has_pcp:
            parts.append(f"last primary-care visit {rules.day(last_pc)}")
        reason = "; ".join(parts)
        found[pid] = Finding(
            reason=reason[0].upper() + reason[1:],
            evidence={"pcp_assigned": has_pcp, "last_pc_visit": rules.day(last_pc) or None},
            site_id=site_id,
            labels=[site_label],
        )
    return found


def close_smi_disengaged(
    worklist: rules.Worklist, as_of: dt.date, items: dict[int, dt.date | None]
) -> dict[int, str]:
    since = _start(as_of, worklist.parameters["lookback_days"])
    closed = {}
    for pid, has_pcp, last_pc, _, _ in smi_engagement(as_of, list(items)):
        if has_pcp and last_pc is not None and timezone.localdate(last_pc) >= since:
            closed[pid] = f"PC visit on {rules.day(last_pc)}; PCP assigned"
    return closed


# --- no-shows -------------------------------------------------------------------------------


def find_no_shows(worklist: rules.Worklist, as_of: dt.date) -> dict[int, Finding]:
    since = _start(as_of, worklist.parameters["lookback_days"])
    rows = (
        Appointment.objects.filter(
            USABLE, status="noshow", start__gte=_at(since), start__lt=_end(as_of)
        )
        .filter(patient__deceased_date__isnull=True)
        .order_by("patient_id", "start")
        .values_list(
            "patient_id",
            "start",
            "sensitivity",
            "site__name",
            "patient__home_site_id",
            "patient__home_site_sensitivity",
        )
    )
    found: dict[int, Finding] = {}
    for pid, start, label, site_name, home_id, home_label in rows:
        finding = found.setdefault(
            pid, Finding("", {"no_shows": []}, site_id=home_id, labels=[home_label])
        )
        finding.evidence["no_shows"].append({"date": rules.day(start), "site": site_name or ""})
        finding.labels.append(label)
        finding.trigger = timezone.localdate(start)
    for finding in found.values():
        shows = finding.evidence["no_shows"]
        where = f" ({shows[-1]['site']})" if shows[-1]["site"] else ""
        more = f"; {len(shows)} in 14 days" if len(shows) > 1 else ""
        finding.reason = f"Missed appointment on {shows[-1]['date']}{where}{more}"
    return found


def close_no_shows(
    worklist: rules.Worklist, as_of: dt.date, items: dict[int, dt.date | None]
) -> dict[int, str]:
    earliest = min((d for d in items.values() if d), default=as_of)
    rows = (
        Appointment.objects.filter(USABLE, patient_id__in=list(items), start__gte=_end(earliest))
        .filter(Q(status__in=["arrived", "fulfilled"], start__lt=_end(as_of)) | Q(status="booked"))
        .filter(Q(status="booked", start__gte=_at(as_of)) | ~Q(status="booked"))
        .order_by("start")
        .values_list("patient_id", "start", "status")
    )
    closed: dict[int, str] = {}
    for pid, start, status in rows:
        trigger = items.get(pid)
        if pid in closed or (trigger and timezone.localdate(start) <= trigger):
            continue
        closed[pid] = (
            f"Rebooked for {rules.day(start)}"
            if status == "booked"
            else f"Kept appointment on {rules.day(start)}"
        )
    return closed


# --- antipsychotic-monitoring ---------------------------------------------------------------

GLYCEMIC = ("hba1c", "glucose")
LIPIDS = ("ldl-cholesterol", "total-cholesterol")
TEST_NAMES = {"hba1c": "HbA1c", "glucose": "glucose", "ldl-cholesterol": "LDL"}
TEST_NAMES["total-cholesterol"] = "cholesterol"


def _test_name(code: str | None) -> str:
    for key, name in TEST_NAMES.items():
        if code in codelists.load(key).code_values():
            return name
    return "test"


def monitoring(as_of: dt.date, pids: Any, since: dt.date) -> list[tuple[Any, ...]]:
    """(patient, last glycemic test date and code, last lipid test date and code, site, label)."""

    def last(keys: tuple[str, ...], column: str) -> Subquery:
        systems, codes = _pairs(*keys)
        tests = Observation.objects.filter(
            USABLE,
            patient=OuterRef("pk"),
            code_system__in=systems,
            code__in=codes,
            effective_at__gte=_at(since),
            effective_at__lt=_end(as_of),
        ).exclude(status__in=["cancelled", "entered-in-error"])
        return Subquery(tests.order_by("-effective_at").values(column)[:1])

    return list(
        _living(pids)
        .annotate(
            glyc_at=last(GLYCEMIC, "effective_at"),
            glyc_code=last(GLYCEMIC, "code"),
            lipid_at=last(LIPIDS, "effective_at"),
            lipid_code=last(LIPIDS, "code"),
        )
        .values_list(
            "pk",
            "glyc_at",
            "glyc_code",
            "lipid_at",
            "lipid_code",
            "home_site_id",
            "home_site_sensitivity",
        )
    )


def find_antipsychotic_monitoring(worklist: rules.Worklist, as_of: dt.date) -> dict[int, Finding]:
    since = _start(as_of, worklist.parameters["lookback_days"])
    users = CohortMembership.objects.filter(cohort="antipsychotic").values("patient_id")
    found = {}
    for pid, glyc_at, glyc_code, lipid_at, lipid_code, site_id, site_label in monitoring(
        as_of, users, since
    ):
        if glyc_at and lipid_at:
            continue
        missing = [name for name, at in (("glucose/HbA1c", glyc_at), ("lipid", lipid_at)) if not at]
        reason = "No " + " or ".join(missing) + " test in 12 months"
        done = [(name, at) for name, at in (("glycemic", glyc_at), ("lipid", lipid_at)) if at]
        if done:
            code = glyc_code if done[0][0] == "glycemic" else lipid_code
            reason += f"; {_test_name(code)} drawn {rules.day(done[0][1])}"
        found[pid] = Finding(
            reason=reason,
            evidence={
                "last_glucose_or_hba1c": rules.day(glyc_at) or None,
                "last_lipid": rules.day(lipid_at) or None,
            },
            site_id=site_id,
            labels=[site_label],
        )
    return found


def close_antipsychotic_monitoring(
    worklist: rules.Worklist, as_of: dt.date, items: dict[int, dt.date | None]
) -> dict[int, str]:
    since = _start(as_of, worklist.parameters["lookback_days"])
    closed = {}
    for pid, glyc_at, glyc_code, lipid_at, lipid_code, _, _ in monitoring(
        as_of, list(items), since
    ):
        if glyc_at and lipid_at:
            closed[pid] = (
                f"{_test_name(glyc_code)} drawn {rules.day(glyc_at)}; "
                f"{_test_name(lipid_code)} drawn {rules.day(lipid_at)}"
            )
    return closed


# --- follow-up-7-day ------------------------------------------------------------------------


def _discharge_day() -> Any:
    return Coalesce("end", "start")


def find_follow_up(worklist: rules.Worklist, as_of: dt.date) -> dict[int, Finding]:
    since = _start(as_of, worklist.parameters["lookback_days"])
    window = worklist.parameters["follow_up_days"]
    discharges = (
        Encounter.objects.filter(
            USABLE,
            encounter_class__in=["emergency", "inpatient-psychiatric"],
            status="finished",
            patient__deceased_date__isnull=True,
        )
        .annotate(out=_discharge_day())
        .filter(out__gte=_at(since), out__lt=_end(as_of))
    )
    follow_up = Encounter.objects.filter(
        USABLE,
        patient=OuterRef("patient_id"),
        encounter_class__in=FOLLOW_UP_CLASSES,
        status="finished",
        start__gt=OuterRef("out"),
    )
    rows = (
        discharges.annotate(followed=Exists(follow_up))
        .order_by("patient_id", "out")
        .values_list(
            "patient_id",
            "out",
            "encounter_class",
            "sensitivity",
            "followed",
            "patient__home_site_id",
            "patient__home_site_sensitivity",
        )
    )
    latest: dict[int, tuple[Any, ...]] = {}
    for row in rows:
        latest[row[0]] = row  # ordered by discharge: the last one wins
    found = {}
    for pid, out, klass, label, followed, site_id, site_label in latest.values():
        if followed:
            continue
        psychiatric = klass == "inpatient-psychiatric"
        what = "Psychiatric discharge" if psychiatric else "ED visit"
        due = timezone.localdate(out) + dt.timedelta(days=window)
        found[pid] = Finding(
            reason=f"{what} on {rules.day(out)}; no follow-up visit yet (due by {rules.day(due)})",
            evidence={"event": what, "date": rules.day(out), "follow_up_due": rules.day(due)},
            trigger=timezone.localdate(out),
            due=due,
            site_id=site_id,
            labels=[label, site_label] + (["mental-health"] if psychiatric else []),
        )
    return found


def close_follow_up(
    worklist: rules.Worklist, as_of: dt.date, items: dict[int, dt.date | None]
) -> dict[int, str]:
    earliest = min((d for d in items.values() if d), default=as_of)
    rows = (
        Encounter.objects.filter(
            USABLE,
            patient_id__in=list(items),
            encounter_class__in=FOLLOW_UP_CLASSES,
            status="finished",
            start__gte=_at(earliest),
            start__lt=_end(as_of),
        )
        .order_by("start")
        .values_list("patient_id", "start")
    )
    closed: dict[int, str] = {}
    for pid, start in rows:
        trigger = items.get(pid)
        if pid not in closed and (trigger is None or timezone.localdate(start) >= trigger):
            closed[pid] = f"Follow-up visit on {rules.day(start)}"
    return closed


# --- care gaps ------------------------------------------------------------------------------


def current_worklists() -> list[rules.Worklist]:
    """The built-in worklists and one care-gap list per measure with a stored run."""
    from tandem.measures import definitions

    lists = list(rules.WORKLISTS)
    # The measures with a stored run, by name only: the runs' summaries are not needed here.
    measures = MeasureRun.objects.order_by().values_list("measure", flat=True).distinct()
    for measure in sorted(measures):
        if measure in rules.NOT_GAPS:
            continue
        try:
            title = definitions.get(measure).title
        except Exception:  # a run of a measure no longer defined: name it by its key
            title = measure
        lists.append(rules.gap_worklist(measure, title))
    return lists


def worklist(key: str) -> rules.Worklist | None:
    """One worklist by key (a care-gap list only while its measure has a stored run)."""
    if key in rules.BUILT_IN:
        return rules.BUILT_IN[key]
    return next((w for w in current_worklists() if w.key == key), None)


def latest_runs() -> dict[str, MeasureRun]:
    """The latest stored run of each measure (by when it finished)."""
    latest = MeasureRun.objects.values("measure").annotate(last=Max("finished_at"))
    runs: dict[str, MeasureRun] = {}
    for run in MeasureRun.objects.filter(finished_at__in=[row["last"] for row in latest]).order_by(
        "finished_at", "pk"
    ):
        runs[run.measure] = run
    return runs


def _gap_rows(run: MeasureRun, inverse: bool) -> Iterable[tuple[Any, ...]]:
    return (
        MeasurePatientResult.objects.filter(
            USABLE, run=run, in_initial_population=True, in_numerator=inverse
        )
        .filter(patient__deceased_date__isnull=True)
        .order_by("patient_id", "group")
        .values_list(
            "patient_id",
            "group",
            "populations",
            "evidence",
            "sensitivity",
            "patient__home_site_id",
            "patient__home_site_sensitivity",
        )
        .iterator(chunk_size=CHUNK)
    )


def find_care_gap(worklist: rules.Worklist, as_of: dt.date) -> dict[int, Finding]:
    run = latest_runs().get(worklist.measure)
    if run is None:
        return {}
    inverse = worklist.measure in rules.INVERSE_MEASURES
    found: dict[int, Finding] = {}
    for pid, group, populations, evidence, label, site_id, site_label in _gap_rows(run, inverse):
        if not rules.is_gap(populations, inverse=inverse):
            continue
        finding = found.setdefault(
            pid,
            Finding(
                reason=f"Open care gap in {run.version} (run of {rules.day(run.finished_at)})",
                evidence={"measure": run.measure, "version": run.version, "run": run.pk},
                site_id=site_id,
                labels=[site_label],
            ),
        )
        finding.evidence.setdefault("groups", {})[group] = evidence
        finding.labels.append(label)
    return found


def close_care_gap(
    worklist: rules.Worklist, as_of: dt.date, items: dict[int, dt.date | None]
) -> dict[int, str]:
    run = latest_runs().get(worklist.measure)
    if run is None:
        return {}
    inverse = worklist.measure in rules.INVERSE_MEASURES
    still = set()
    for pid, _, populations, *_ in _gap_rows(run, inverse):
        if pid in items and rules.is_gap(populations, inverse=inverse):
            still.add(pid)
    where = f"in the {run.version} run of {rules.day(run.finished_at)}"
    return {pid: f"Gap closed {where}" for pid in items if pid not in still}


# --- consent-expiring -----------------------------------------------------------------------
#
# One item per patient (the list's constraint): the evidence lists every expiring directive,
# the reason names the one that ends first. A directive is *renewed* by a newer active
# directive of the same patient that covers at least its categories and purposes and names at
# least its (unrevoked) recipients, and lasts longer (no end, or a later one). Directives are
# the patient's own consent, not a Part 2 program's records: the list reads them whatever their
# label, and each item carries the label of its directives (a substance-use directive makes a
# substance-use item, seen only by those who may see the directive).

CONSENT_CATEGORY_NAMES = {
    "substance-use": "substance use",
    "mental-health": "mental health",
    "hiv": "HIV",
    "reproductive-health": "reproductive health",
}


def _directive_models() -> tuple[Any, Any]:
    from tandem.consent.models import ConsentDirective, DirectiveRecipient

    return ConsentDirective, DirectiveRecipient


def _recipient_key(r: Any) -> tuple[Any, ...]:
    return (r.kind, r.practitioner_id, r.organization_id, r.site_id, r.role or "")


def _renews(newer: Any, old: Any, recipients: dict[int, set[tuple[Any, ...]]]) -> bool:
    purposes = set(newer.purposes or ())
    if newer.part2_tpo:
        purposes |= {"treatment", "payment", "operations"}
    old_purposes = set(old.purposes or ()) | (
        {"treatment", "payment", "operations"} if old.part2_tpo else set()
    )
    return (
        newer.pk != old.pk
        and (newer.recorded_at, newer.pk) > (old.recorded_at, old.pk)
        and (newer.end is None or (old.end is not None and newer.end > old.end))
        and old.covered_categories() <= newer.covered_categories()
        and old_purposes <= purposes
        and recipients.get(old.pk, set()) <= recipients.get(newer.pk, set())
    )


def _active_directives(pids: Iterable[int]) -> tuple[dict[int, list[Any]], dict[int, Any]]:
    """Active directives of these patients (by patient) and their unrevoked recipients."""
    directive_model, recipient_model = _directive_models()
    ids = sorted(set(pids))
    by_patient: dict[int, list[Any]] = {}
    recipients: dict[int, Any] = {}
    for i in range(0, len(ids), CHUNK):
        rows = directive_model.objects.filter(
            patient_id__in=ids[i : i + CHUNK], status="active"
        ).order_by("patient_id", "pk")
        for row in rows:
            by_patient.setdefault(row.patient_id, []).append(row)
        names = recipient_model.objects.filter(
            directive__in=rows, revoked_on__isnull=True
        ).select_related("practitioner", "organization", "site")
        for r in names:
            recipients.setdefault(r.directive_id, []).append(r)
    return by_patient, recipients


def _not_renewed(
    directives: list[Any], recipients: dict[int, Any], as_of: dt.date, until: dt.date
) -> list[Any]:
    keys = {pk: {_recipient_key(r) for r in rs} for pk, rs in recipients.items()}
    expiring = [d for d in directives if d.end is not None and as_of <= d.end <= until]
    return [d for d in expiring if not any(_renews(n, d, keys) for n in directives)]


def _describe_directive(d: Any, recipients: dict[int, Any]) -> dict[str, Any]:
    return {
        "directive": d.pk,
        "ends": rules.day(d.end),
        "categories": [CONSENT_CATEGORY_NAMES.get(c, c) for c in sorted(d.covered_categories())],
        "recipients": [r.describe() for r in recipients.get(d.pk, [])],
    }


def find_consent_expiring(worklist: rules.Worklist, as_of: dt.date) -> dict[int, Finding]:
    directive_model, _ = _directive_models()
    until = as_of + dt.timedelta(days=worklist.parameters["within_days"])
    pids = (
        directive_model.objects.filter(status="active", end__gte=as_of, end__lte=until)
        .filter(patient__deceased_date__isnull=True)
        .values_list("patient_id", flat=True)
        .distinct()
    )
    by_patient, recipients = _active_directives(pids)
    homes = dict(
        (pk, (site, label))
        for pk, site, label in Patient.objects.filter(pk__in=list(by_patient)).values_list(
            "pk", "home_site_id", "home_site_sensitivity"
        )
    )
    found: dict[int, Finding] = {}
    for pid, directives in by_patient.items():
        expiring = sorted(
            _not_renewed(directives, recipients, as_of, until), key=lambda d: (d.end, d.pk)
        )
        if not expiring:
            continue
        first = _describe_directive(expiring[0], recipients)
        to = "; to " + ", ".join(first["recipients"]) if first["recipients"] else ""
        more = f"; {len(expiring)} directives expiring" if len(expiring) > 1 else ""
        site_id, site_label = homes.get(pid, (None, "normal"))
        found[pid] = Finding(
            reason=f"Consent directive ends on {first['ends']} "
            f"({', '.join(first['categories'])}{to}){more}",
            evidence={"directives": [_describe_directive(d, recipients) for d in expiring]},
            due=expiring[0].end,
            site_id=site_id,
            labels=[site_label, *(d.sensitivity for d in expiring)],
        )
    return found


def close_consent_expiring(
    worklist: rules.Worklist, as_of: dt.date, items: dict[int, dt.date | None]
) -> dict[int, str]:
    """Open items no longer listed: say why their first directive left (renewed, revoked or
    ended); the list is standing, so any other item closes with the generic reason."""
    directive_model, _ = _directive_models()
    from tandem.outreach.models import WorklistItem

    listed = WorklistItem.objects.filter(
        worklist=worklist.key, patient_id__in=list(items), state__in=sorted(rules.OPEN_STATES)
    ).values_list("patient_id", "evidence")
    firsts = {
        pid: [e.get("directive") for e in (evidence or {}).get("directives", [])]
        for pid, evidence in listed
    }
    by_patient, recipients = _active_directives(items)
    keys = {pk: {_recipient_key(r) for r in rs} for pk, rs in recipients.items()}
    named = directive_model.objects.in_bulk([i for ids in firsts.values() for i in ids if i])
    closed: dict[int, str] = {}
    for pid in items:
        reasons = []
        for directive_id in firsts.get(pid, []):
            old = named.get(directive_id)
            if old is None:
                continue
            renewal = next((n for n in by_patient.get(pid, []) if _renews(n, old, keys)), None)
            if renewal is not None:
                until = f" until {rules.day(renewal.end)}" if renewal.end else ""
                reasons.append(f"Directive {old.pk} renewed by directive {renewal.pk}{until}")
            elif old.status == "revoked":
                reasons.append(f"Directive {old.pk} revoked")
            elif old.end is not None and old.end < as_of:
                reasons.append(f"Directive {old.pk} ended on {rules.day(old.end)} without renewal")
        if reasons:
            closed[pid] = "; ".join(reasons)
    return closed


FIND: dict[str, Callable[[rules.Worklist, dt.date], dict[int, Finding]]] = {
    "smi-disengaged": find_smi_disengaged,
    "no-shows": find_no_shows,
    "antipsychotic-monitoring": find_antipsychotic_monitoring,
    "follow-up-7-day": find_follow_up,
    "care-gap": find_care_gap,
    "consent-expiring": find_consent_expiring,
}
CLOSE: dict[str, Callable[[rules.Worklist, dt.date, dict[int, dt.date | None]], dict[int, str]]] = {
    "smi-disengaged": close_smi_disengaged,
    "no-shows": close_no_shows,
    "antipsychotic-monitoring": close_antipsychotic_monitoring,
    "follow-up-7-day": close_follow_up,
    "care-gap": close_care_gap,
    "consent-expiring": close_consent_expiring,
}


def deceased(pids: Iterable[int]) -> dict[int, str]:
    """Patients among ``pids`` who died: their items close with the date."""
    rows = Patient.objects.filter(pk__in=list(pids), deceased_date__isnull=False)
    return {
        pid: f"Patient died on {rules.day(day)}"
        for pid, day in rows.values_list("pk", "deceased_date")
    }
