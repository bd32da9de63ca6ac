"""Population reads of the registry: risk inputs, cohort members, and the derived tables the
daily refresh maintains.

Risk inputs (:func:`risk_inputs`) are a population read for operations: the refresh runs as
the system, ``gate.population_scope`` audits it once. Each component is one grouped query
over its table, whatever the number of patients. The score never counts a row labelled
``substance-use`` (a Part 2 record: a number it moved would disclose it to a reader without
consent, 42 CFR 2.13(c)), nor ``hiv``/``reproductive-health``/``psychotherapy-note`` rows;
it counts ``mental-health`` rows and says so (``mh``), and the score is labelled by them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import connection
from django.db.models import Case, Count, IntegerField, Max, Q, QuerySet, Value, When
from django.utils import timezone

from tandem.clinical.models import Condition, Encounter
from tandem.consent import gate
from tandem.consent.models import Purpose
from tandem.core.models import Sensitivity
from tandem.meds.models import MedicationDispense, MedicationOrder
from tandem.registry import rules
from tandem.registry.models import CohortMembership, Patient, RiskScore
from tandem.scheduling.models import Appointment
from tandem.terminology import codelists

COUNTED = [Sensitivity.NORMAL, Sensitivity.MENTAL_HEALTH]
NOT_HAPPENED = ["cancelled", "entered-in-error"]
INPATIENT = [Encounter.Class.INPATIENT_ACUTE, Encounter.Class.INPATIENT_PSYCHIATRIC]
PC_VISIT_STATUSES = ["finished", "arrived", "in-progress"]

_MH = Max(
    Case(
        When(sensitivity=Sensitivity.MENTAL_HEALTH, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
)


def _moment(day: dt.date) -> dt.datetime:
    """Midnight starting ``day`` in the site's time zone (windows are local days)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _window(as_of: dt.date, days: int) -> tuple[dt.datetime, dt.datetime]:
    """[first moment, moment after) of the ``days`` local days ending on ``as_of``."""
    return _moment(as_of - dt.timedelta(days=days - 1)), _moment(as_of + dt.timedelta(days=1))


def living_patient_ids(*, as_of: dt.date) -> list[int]:
    """Patients alive on ``as_of`` (the refresh scores them; system use)."""
    alive = Q(deceased_date__isnull=True) | Q(deceased_date__gt=as_of)
    return list(Patient.objects.filter(alive).order_by("pk").values_list("pk", flat=True))


def _counts(rows: QuerySet) -> dict[int, tuple[int, int]]:
    """``{patient_id: (count, any mental-health row)}`` of a filtered table."""
    grouped = rows.values("patient_id").annotate(n=Count("pk"), mh=_MH).order_by()
    return {r["patient_id"]: (r["n"], r["mh"]) for r in grouped}


def _encounters(*where: Q, **kw: Any) -> QuerySet:
    return Encounter.objects.filter(*where, sensitivity__in=COUNTED, **kw).exclude(
        status__in=NOT_HAPPENED
    )


def _chronic(as_of: dt.date, lo: dt.datetime) -> dict[int, tuple[int, int]]:
    """Chronic condition lists per patient, one grouped query per list (prevalence overlaps
    the 12-month window, as the cohorts' diagnoses do)."""
    found: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    hi = _moment(as_of + dt.timedelta(days=1))
    for key in rules.CHRONIC_CONDITION_LISTS:
        match = _coded([(c.system, c.code) for c in codelists.load(key).codes])
        rows = (
            Condition.objects.filter(match, sensitivity__in=COUNTED)
            .exclude(verification_status__in=["refuted", "entered-in-error"])
            .filter(Q(abatement__isnull=True) | Q(abatement__gte=lo))
            .filter(Q(onset__isnull=True) | Q(onset__lt=hi))
        )
        for patient_id, (_, mh) in _counts(rows).items():
            found[patient_id][0] += 1
            found[patient_id][1] |= mh
    return {pk: (n, mh) for pk, (n, mh) in found.items()}


def _months_without_pc(as_of: dt.date) -> dict[int, tuple[int, int]]:
    """Whole months from each patient's last primary-care visit to ``as_of`` (visits recorded
    as ``normal`` only: a visit that moved the score would otherwise disclose its label)."""
    last = (
        Encounter.objects.filter(
            setting=Encounter.Setting.PRIMARY_CARE,
            status__in=PC_VISIT_STATUSES,
            sensitivity=Sensitivity.NORMAL,
            start__lt=_moment(as_of + dt.timedelta(days=1)),
        )
        .values("patient_id")
        .annotate(last=Max("start"))
        .order_by()
    )
    out = {}
    for row in last:
        day = timezone.localtime(row["last"]).date()
        months = (as_of.year - day.year) * 12 + as_of.month - day.month
        out[row["patient_id"]] = (months - (as_of.day < day.day), 0)
    return out


def risk_inputs(*, as_of: dt.date) -> dict[str, dict[int, tuple[int, int]]]:
    """Per component key, ``{patient_id: (value, mental-health row counted)}``; patients
    without a row for a component have value 0 (``months_without_pc``: never seen).

    A population read for operations by the system (the daily refresh), audited once.
    """
    gate.population_scope(user=None, purpose=Purpose.OPERATIONS, detail="risk score inputs")
    lo, hi = _window(as_of, rules.WINDOW_DAYS)
    recent = _moment(as_of - dt.timedelta(days=rules.RECENT_DISCHARGE_DAYS - 1))
    in_window = Q(start__gte=lo, start__lt=hi)
    return {
        "ed_visits": _counts(_encounters(in_window, encounter_class=Encounter.Class.EMERGENCY)),
        "psych_admissions": _counts(
            _encounters(in_window, encounter_class=Encounter.Class.INPATIENT_PSYCHIATRIC)
        ),
        "no_shows": _counts(
            Appointment.objects.filter(
                in_window, status=Appointment.Status.NO_SHOW, sensitivity__in=COUNTED
            )
        ),
        "chronic_conditions": _chronic(as_of, lo),
        "months_without_pc": _months_without_pc(as_of),
        "recent_discharge": {
            pk: (1, mh)
            for pk, (_, mh) in _counts(
                _encounters(Q(end__gte=recent, end__lt=hi), encounter_class__in=INPATIENT)
            ).items()
        },
    }


RISK_COLUMNS = ("patient_id", "score", "tier", "components", "as_of", "computed_at", "sensitivity")


def replace_risk_scores(rows: list[tuple[Any, ...]], *, batch_size: int = 5000) -> None:
    """Replace every stored score with ``rows`` (tuples in ``RISK_COLUMNS`` order, the
    components as JSON text); the caller's transaction makes it atomic. PostgreSQL: one
    ``COPY … FROM STDIN`` (an ORM bulk insert of 100,000 scores took over a minute);
    elsewhere ``executemany`` in batches."""
    RiskScore.objects.all().delete()
    _write(RiskScore._meta.db_table, RISK_COLUMNS, rows, batch_size)


def _write(table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]], batch: int) -> None:
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    name = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {name} ({quoted}) FROM STDIN") as copy:
                for start in range(0, len(rows), batch):
                    copy.write("".join(_copy_line(r) for r in rows[start : start + batch]))
            return
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {name} ({quoted}) VALUES ({marks})"  # noqa: S608
        for start in range(0, len(rows), batch):
            cursor.executemany(sql, [_db_values(r) for r in rows[start : start + batch]])


_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy_line(row: tuple[Any, ...]) -> str:
    """One row in COPY's text format (no value is NULL)."""
    return "\t".join(_db_text(v).translate(_ESCAPES) for v in row) + "\n"


def _db_text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def _db_values(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Values as the ORM would send them (a datetime in the backend's form, a date in ISO)."""
    out: list[Any] = []
    for value in row:
        if isinstance(value, dt.datetime):
            value = connection.ops.adapt_datetimefield_value(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        out.append(value)
    return tuple(out)


def _coded(system_codes: list[tuple[str, str]]) -> Q:
    by_system: dict[str, list[str]] = defaultdict(list)
    for system, code in system_codes:
        by_system[system].append(code)
    match = Q(pk__in=[])
    for system, codes in by_system.items():
        match |= Q(code_system=system, code__in=sorted(codes))
    return match


def evidence_labels(*, kind: str, lists: tuple[str, ...]) -> dict[int, set[str]]:
    """``{patient_id: labels}`` of each patient's records in these code lists (``kind``
    "conditions": diagnoses not refuted; "medications": orders and fills), one grouped
    query per table: what a cohort membership's label is chosen from."""
    codes = [(c.system, c.code) for key in lists for c in codelists.load(key).codes]
    if not codes:
        return {}
    match = _coded(codes)
    tables: list[QuerySet[Any]]
    if kind == "conditions":
        tables = [
            Condition.objects.filter(match).exclude(
                verification_status__in=["refuted", "entered-in-error"]
            )
        ]
    else:
        tables = [MedicationOrder.objects.filter(match), MedicationDispense.objects.filter(match)]
    found: dict[int, set[str]] = defaultdict(set)
    for rows in tables:
        for patient_id, label in rows.values_list("patient_id", "sensitivity").distinct():
            found[patient_id].add(label)
    return found


def membership_since(*, cohort: str) -> dict[int, dt.date]:
    """``{patient_id: since}`` of a cohort's stored members (system use, by the refresh)."""
    rows = CohortMembership.objects.filter(cohort=cohort).values_list("patient_id", "since")
    return dict(rows)


MEMBER_COLUMNS = ("cohort", "patient_id", "since", "as_of", "sensitivity")


def replace_members(*, cohort: str, rows: list[tuple[Any, ...]], batch_size: int = 5000) -> None:
    """Replace a cohort's members with ``rows`` (tuples in ``MEMBER_COLUMNS`` order); the
    caller's transaction makes it atomic. Written as the risk scores are (COPY on PostgreSQL)."""
    CohortMembership.objects.filter(cohort=cohort).delete()
    _write(CohortMembership._meta.db_table, MEMBER_COLUMNS, rows, batch_size)


def evaluate_cohorts(*, as_of: dt.date, engine: str = "duckdb") -> dict[str, list[int]]:
    """Every cohort's members as of ``as_of``, evaluated by the measure engine on the
    operational database: DuckDB by default, over the analytic tables the cohorts read (only
    those: patients, conditions, claims and the medication tables, streamed out of the
    database), or ``sqlite``/``postgres`` in the database itself (``measures.run``). A
    population read for operations by the system, audited by the extract.

    The measure layer sits above the registry: it is imported here, when the refresh runs,
    not when the registry loads.
    """
    from tandem.measures import extract, run
    from tandem.measures import queries as measure_queries
    from tandem.measures.definitions import cohorts
    from tandem.measures.lang_walk import tables_used

    if engine != "duckdb":
        with run.measure_source(engine, user=None) as source:
            return cohorts.evaluate_members(
                None,
                as_of,
                engine=engine,
                connection=source.get("connection"),
                table_prefix=source.get("table_prefix", ""),
            )
    needed = tables_used(list(cohorts.cohort_measure().outputs().values())) | {"patients"}
    tables = {
        name: extract.to_table(name, measure_queries.extract_batches(user=None, table=name))
        for name in sorted(needed)
    }
    return cohorts.evaluate_members(tables, as_of, engine=engine)
