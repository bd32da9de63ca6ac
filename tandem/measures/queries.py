"""The operational database as a measure source: the analytic tables of ``schema.py``.

Two ways, one SQL definition per table (``_selects``):
- :func:`create_views` makes temporary views with the contract's names on a database
  connection, so the SQLite and PostgreSQL engines run directly on the operational database;
- :func:`analytic_tables` reads the same SELECTs into Arrow tables for the DuckDB, in-memory
  and Spark engines.

Both are population-level reads of patient data for operations (quality measurement): they pass
``consent.gate.population_scope`` (which decides the sites the reader may measure) and write
one audit event. Psychotherapy notes are never extracted (no table carries notes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from django.db import connection as default_connection

from tandem.consent import gate
from tandem.measures import extract, schema

# Assessment instrument -> LOINC of its total score (so instrument totals are observations too).
INSTRUMENT_TOTALS = {
    "phq9": "44261-6",
    "phqa": "89204-2",
    "phq2": "55758-7",
    "gad7": "70274-6",
    "auditc": "75626-2",
    "dast10": "82667-7",
}
CLASS_CODES = {
    "ambulatory": "AMB",
    "emergency": "EMER",
    "inpatient-acute": "IMP",
    "inpatient-psychiatric": "IMP",
    "observation": "OBSENC",
    "telehealth": "VR",
    "home": "HH",
}
LOINC = schema.SYSTEMS["loinc"]
DISCHARGE = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
# Consult reports received from this day on are Tasks as QI-Core 6 (the 2026 eCQMs) models
# them: code "fulfill", the report's kind as reasonCode, the referral as focus and basedOn;
# before it as QI-Core 4.1.1 (2025): the report's kind as the code (as tandem.synth writes them).
TASK_MODEL_CHANGE = dt.date(2026, 1, 1)
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
# FHIR's name of a stored observation's value[x]: a number on a survey is an instrument score
# (``integer``), any other number a ``Quantity`` (labs, vitals); then a coded answer, then text.
VALUE_TYPE = """CASE WHEN o.value_num IS NOT NULL
                     THEN CASE WHEN o.category = 'survey' THEN 'integer' ELSE 'Quantity' END
                     WHEN o.value_code <> '' THEN 'CodeableConcept'
                     WHEN o.value_text <> '' THEN 'string' END"""


def _ts(vendor: str, column: str) -> str:
    """A stored (UTC) timestamp in the engines' form (SQLite: fixed-width text)."""
    if vendor == "sqlite":
        return f"CASE WHEN {column} IS NULL THEN NULL ELSE substr({column} || '.000000', 1, 26) END"
    return f"({column} AT TIME ZONE 'UTC')"


def _day_ts(vendor: str, column: str, *, end: bool = False) -> str:
    """A date column as a timestamp: midnight, or the day's last microsecond for period ends."""
    clock = "23:59:59.999999" if end else "00:00:00.000000"
    if vendor == "sqlite":
        return f"CASE WHEN {column} IS NULL THEN NULL ELSE {column} || ' {clock}' END"
    return f"CAST({column} AS TIMESTAMP) + INTERVAL '{clock}'"


def _null(vendor: str, kind: str) -> str:
    """A typed NULL: PostgreSQL types a bare NULL in a view as text."""
    if vendor == "sqlite":
        return "NULL"
    return {"ts": "CAST(NULL AS TIMESTAMP)", "float": "CAST(NULL AS DOUBLE PRECISION)",
            "bool": "CAST(NULL AS BOOLEAN)", "text": "CAST(NULL AS TEXT)"}[kind]  # fmt: skip


def _id(column: str) -> str:
    return f"CAST({column} AS TEXT)"


def _nz(column: str) -> str:
    """Empty strings (Django's blank default) as NULL."""
    return f"NULLIF({column}, '')"


def _case(column: str, mapping: dict[str, str]) -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items())
    return f"CASE {column} {whens} END"


def _selects(vendor: str, patients: str) -> dict[str, str]:
    """SELECT per analytic table; ``patients`` is a subquery of patient ids in scope.

    An encounter's diagnoses (conditions that name it) are its ``Encounter.diagnosis``; its
    principal diagnosis (rank 1) is also its reason (``reasonReference``), as the generator
    writes it.

    Consult reports received for referrals (``clinical.ReferralReport``) are the ``tasks``: a
    completed Task based on the referral, executed when the report was received and filed
    (coded by ``TASK_MODEL_CHANGE``).
    Allergies and adverse events have no operational table yet (empty typed SELECTs). A
    procedure not done was recorded when its row says it was "performed" (the model has no
    other time), which is what ``recorded`` (ProcedureNotDone) carries; orders name no
    Medication resource and no validity period.

    Observations: a blood-pressure panel is stored as component rows sharing ``panel_id``
    (plus, when the writer kept it, the panel's own row); the analytic table always gets exactly
    one panel row (code 85354-9) per panel, as the FHIR loader makes.
    Assessment totals become observations with the instrument's total-score LOINC.

    The panel-row test reads stored panel rows only (``h.panel_id <> ''``, implied by the
    join): without it PostgreSQL hashed every observation for the anti-join, and as nearly all
    share the empty ``panel_id`` they fall in one hash bucket that cannot be split into
    batches, so a backend grew to 6.4 GB at 100,000 patients (issue 10).
    """
    ts = lambda c: _ts(vendor, c)  # noqa: E731
    new = f"{ts('r.received_at')} >= '{TASK_MODEL_CHANGE.isoformat()}'"
    totals = _case("a.instrument", INSTRUMENT_TOTALS)
    scoped = f"IN ({patients})"
    return {
        "patients": f"""
            SELECT {_id("p.id")} AS patient_id, p.birth_date, p.sex,
                   {_nz("p.gender_identity")} AS gender_identity, {_nz("p.race")} AS race,
                   {_nz("p.ethnicity")} AS ethnicity,
                   CASE WHEN p.deceased_date IS NULL THEN 0 ELSE 1 END = 1 AS deceased,
                   p.deceased_date AS death_date, {_id("p.home_site_id")} AS site_id,
                   (SELECT {_id("c.practitioner_id")} FROM core_careteammember c
                     WHERE c.patient_id = p.id AND c.role = 'pcp'
                       AND (c."end" IS NULL OR c."end" >= CURRENT_DATE)
                     ORDER BY c.start DESC, c.id DESC LIMIT 1) AS pcp_id,
                   (SELECT o.name FROM registry_coverage cv
                      JOIN core_organization o ON o.id = cv.payer_id
                     WHERE cv.patient_id = p.id ORDER BY cv.start DESC, cv.id DESC LIMIT 1) AS payer
              FROM registry_patient p WHERE p.id {scoped}""",
        "encounters": f"""
            SELECT {_id("e.id")} AS encounter_id, {_id("e.patient_id")} AS patient_id, e.status,
                   {_case("e.encounter_class", CLASS_CODES)} AS class_code, e.setting,
                   {_nz("e.type_system")} AS system, {_nz("e.type_code")} AS code,
                   {ts("e.start")} AS start, {ts('e."end"')} AS "end",
                   {_id("e.site_id")} AS site_id, {_id("e.practitioner_id")} AS practitioner_id,
                   CASE WHEN e.discharge_disposition = '' THEN NULL ELSE '{DISCHARGE}' END
                     AS discharge_disposition_system,
                   {_nz("e.discharge_disposition")} AS discharge_disposition
              FROM clinical_encounter e WHERE e.patient_id {scoped}""",
        "conditions": f"""
            SELECT {_id("c.id")} AS condition_id, {_id("c.patient_id")} AS patient_id,
                   c.code_system AS system, c.code, c.clinical_status, c.verification_status,
                   c.category, {ts("c.onset")} AS onset, {ts("c.abatement")} AS abatement,
                   {ts("c.recorded_at")} AS recorded, {_id("c.encounter_id")} AS encounter_id,
                   c.rank
              FROM clinical_condition c WHERE c.patient_id {scoped}""",
        "observations": f"""
            SELECT COALESCE({_nz("o.panel_id")}, {_id("o.id")}) AS observation_id,
                   {_id("o.patient_id")} AS patient_id, o.status, o.category,
                   o.code_system AS system, o.code,
                   CASE WHEN o.panel_code = '' THEN NULL ELSE '{LOINC}' END AS panel_system,
                   {_nz("o.panel_code")} AS panel_code,
                   {ts("o.effective_at")} AS effective_start, {_null(vendor, "ts")} AS effective_end,
                   {ts("o.issued")} AS issued, o.value_num, {_nz("o.value_unit")} AS value_unit,
                   {_nz("o.value_code_system")} AS value_system,
                   {_nz("o.value_code")} AS value_code, {_null(vendor, "bool")} AS value_bool,
                   {VALUE_TYPE} AS value_type,
                   {_nz("o.reason_system")} AS reason_system,
                   {_nz("o.reason_code")} AS reason_code,
                   {_id("o.encounter_id")} AS encounter_id
              FROM clinical_observation o WHERE o.patient_id {scoped}
            UNION ALL
            SELECT o.panel_id, {_id("o.patient_id")}, MIN(o.status), MIN(o.category),
                   '{LOINC}', o.panel_code, NULL, NULL, {ts("MIN(o.effective_at)")}, NULL,
                   {ts("MIN(o.issued)")}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                   {_id("MIN(o.encounter_id)")}
              FROM clinical_observation o
             WHERE o.patient_id {scoped} AND o.panel_id <> '' AND o.panel_code <> ''
               AND NOT EXISTS (SELECT 1 FROM clinical_observation h
                                WHERE h.panel_id = o.panel_id AND h.panel_id <> ''
                                  AND h.panel_code = '' AND h.code = o.panel_code)
             GROUP BY o.panel_id, o.patient_id, o.panel_code
            UNION ALL
            SELECT 'assessment-' || {_id("a.id")}, {_id("a.patient_id")}, 'final', 'survey',
                   '{LOINC}', {totals}, NULL, NULL, {ts("a.effective_at")}, NULL,
                   {ts("a.effective_at")}, a.total_score, '{{score}}', NULL, NULL, NULL,
                   'integer', NULL, NULL, {_id("a.encounter_id")}
              FROM screening_assessmentresponse a
             WHERE a.patient_id {scoped} AND a.total_score IS NOT NULL AND {totals} IS NOT NULL""",
        "medication_requests": f"""
            SELECT {_id("m.id")} AS request_id, {_id("m.patient_id")} AS patient_id, m.status,
                   m.intent, m.do_not_perform, {_null(vendor, "text")} AS category,
                   m.code_system AS system, m.code,
                   {ts("m.authored_at")} AS authored,
                   {_day_ts(vendor, "m.start")} AS period_start,
                   {_day_ts(vendor, 'm."end"', end=True)} AS period_end,
                   m.days_supply, m.quantity, m.refills, m.dose_quantity, m.frequency_per_day,
                   {_nz("m.reason_system")} AS reason_system, {_nz("m.reason_code")} AS reason_code,
                   {_id("m.prescriber_id")} AS prescriber_id,
                   {_id("m.encounter_id")} AS encounter_id,
                   {_null(vendor, "ts")} AS validity_start, {_null(vendor, "ts")} AS validity_end,
                   {_null(vendor, "text")} AS medication_ref
              FROM meds_medicationorder m WHERE m.patient_id {scoped}""",
        "medication_dispenses": f"""
            SELECT {_id("d.id")} AS dispense_id, {_id("d.patient_id")} AS patient_id, d.status,
                   d.code_system AS system, d.code, {_null(vendor, "ts")} AS when_prepared,
                   {ts("d.dispensed_at")} AS when_handed_over, d.days_supply, d.quantity,
                   {_null(vendor, "float")} AS dose_quantity,
                   {_null(vendor, "float")} AS frequency_per_day,
                   {_id("d.prescriber_id")} AS prescriber_id, {_id("d.order_id")} AS request_id,
                   {_null(vendor, "text")} AS medication_ref
              FROM meds_medicationdispense d WHERE d.patient_id {scoped}""",
        "procedures": f"""
            SELECT {_id("x.id")} AS procedure_id, {_id("x.patient_id")} AS patient_id, x.status,
                   {_null(vendor, "text")} AS category, x.code_system AS system, x.code,
                   {ts("x.performed_start")} AS performed_start,
                   {ts("x.performed_end")} AS performed_end,
                   {_nz("x.reason_system")} AS reason_system, {_nz("x.reason_code")} AS reason_code,
                   {_id("x.encounter_id")} AS encounter_id,
                   CASE WHEN x.status = 'not-done' THEN {ts("x.performed_start")} END AS recorded
              FROM clinical_procedure x WHERE x.patient_id {scoped}""",
        "service_requests": f"""
            SELECT {_id("s.id")} AS request_id, {_id("s.patient_id")} AS patient_id, s.status,
                   s.intent, s.do_not_perform, s.category, s.code_system AS system, s.code,
                   {ts("s.authored_at")} AS authored,
                   {_nz("s.reason_system")} AS reason_system, {_nz("s.reason_code")} AS reason_code,
                   {_id("s.encounter_id")} AS encounter_id
              FROM clinical_servicerequest s WHERE s.patient_id {scoped}""",
        "tasks": f"""
            SELECT {_id("r.id")} AS task_id, {_id("r.patient_id")} AS patient_id, r.status,
                   'order' AS intent,
                   CASE WHEN {new} THEN '{TASK_CODE}' ELSE r.code_system END AS system,
                   CASE WHEN {new} THEN 'fulfill' ELSE r.code END AS code,
                   CASE WHEN {new} THEN r.code_system END AS reason_system,
                   CASE WHEN {new} THEN r.code END AS reason_code,
                   {_null(vendor, "text")} AS status_reason_system,
                   {_null(vendor, "text")} AS status_reason_code,
                   {_id("r.referral_id")} AS based_on_id,
                   CASE WHEN {new} THEN {_id("r.referral_id")} END AS focus_id,
                   {ts("r.received_at")} AS authored, {ts("r.received_at")} AS execution_start,
                   {ts("COALESCE(r.filed_at, r.received_at)")} AS execution_end,
                   {_null(vendor, "text")} AS encounter_id
              FROM clinical_referralreport r WHERE r.patient_id {scoped}""",
        "encounter_reasons": f"""
            SELECT {_id("c.encounter_id")} AS encounter_id, {_id("c.patient_id")} AS patient_id,
                   'diagnosis' AS kind, {_null(vendor, "text")} AS system,
                   {_null(vendor, "text")} AS code, {_id("c.id")} AS condition_id, c.rank
              FROM clinical_condition c
             WHERE c.patient_id {scoped} AND c.encounter_id IS NOT NULL
            UNION ALL
            SELECT {_id("c.encounter_id")}, {_id("c.patient_id")}, 'reason-reference', NULL,
                   NULL, {_id("c.id")}, NULL
              FROM clinical_condition c
             WHERE c.patient_id {scoped} AND c.encounter_id IS NOT NULL AND c.rank = 1""",
        "assessments": f"""
            SELECT {_id("a.id")} AS assessment_id, {_id("a.patient_id")} AS patient_id,
                   a.instrument, '{LOINC}' AS system, {totals} AS code,
                   a.total_score, {ts("a.effective_at")} AS effective,
                   {_id("a.answers")} AS items_json
              FROM screening_assessmentresponse a WHERE a.patient_id {scoped}""",
        "coverage": f"""
            SELECT {_id("cv.id")} AS coverage_id, {_id("cv.patient_id")} AS patient_id,
                   'active' AS status, o.name AS payer,
                   COALESCE({_nz("cv.plan")}, cv.kind) AS plan,
                   {_nz("cv.member_id")} AS member_id, cv.start AS start_date,
                   cv."end" AS end_date
              FROM registry_coverage cv JOIN core_organization o ON o.id = cv.payer_id
             WHERE cv.patient_id {scoped}""",
        "care_team": f"""
            SELECT {_id("c.id")} AS membership_id, {_id("c.patient_id")} AS patient_id,
                   {_id("c.practitioner_id")} AS practitioner_id, c.role,
                   c.start AS start_date, c."end" AS end_date
              FROM core_careteammember c WHERE c.patient_id {scoped}""",
        "consent_directives": _consent_select(vendor, scoped),
        "practitioners": f"""
            SELECT {_id("p.id")} AS practitioner_id, p.discipline, p.npi,
                   (SELECT {_id("ps.site_id")} FROM core_practitioner_sites ps
                     WHERE ps.practitioner_id = p.id ORDER BY ps.id LIMIT 1) AS site_id
              FROM core_practitioner p""",
        "sites": f"""
            SELECT {_id("s.id")} AS site_id, s.name, s.kind,
                   s.integration_go_live AS integration_go_live,
                   {_id("s.organization_id")} AS organization_id
              FROM core_site s""",
    }


CONSENT_CATEGORIES = ("substance-use", "mental-health", "hiv", "reproductive-health")
CONSENT_PURPOSES = ("treatment", "payment", "operations", "research")
TPO = ("treatment", "payment", "operations")


def _values(column: str, values: tuple[str, ...]) -> str:
    return " UNION ALL ".join(f"SELECT '{v}' AS {column}" for v in values)


def _consent_select(vendor: str, scoped: str) -> str:
    """Consent directives, one row per directive x category x purpose x recipient.

    ``categories`` and ``purposes`` are JSON lists: a category is covered when the list holds
    it or ``all``; a purpose when the list holds it, or the directive is a single Part 2
    consent for treatment, payment and operations (``part2_tpo``). A recipient's revocation
    is its day in UTC."""
    text = lambda c: c if vendor == "sqlite" else f"CAST({c} AS TEXT)"  # noqa: E731
    holds = lambda c, v: f"{text(c)} LIKE '%\"' || {v} || '\"%'"  # noqa: E731
    revoked = (
        "substr(r.revoked_on, 1, 10)"
        if vendor == "sqlite"
        else "CAST(r.revoked_on AT TIME ZONE 'UTC' AS DATE)"
    )
    tpo = ", ".join(f"'{p}'" for p in TPO)
    return f"""
            SELECT {_id("d.id")} AS directive_id, {_id("d.patient_id")} AS patient_id, d.status,
                   cat.category, pur.purpose, d.start AS start_date, d."end" AS end_date,
                   r.kind AS recipient_kind,
                   {_id("COALESCE(r.practitioner_id, r.organization_id, r.site_id)")}
                     AS recipient_id,
                   {_nz("r.role")} AS recipient_role, {revoked} AS recipient_revoked_date,
                   d.sensitivity
              FROM consent_consentdirective d
              JOIN consent_directiverecipient r ON r.directive_id = d.id
              JOIN ({_values("category", CONSENT_CATEGORIES)}) cat
                ON ({holds("d.categories", "cat.category")} OR {holds("d.categories", "'all'")})
              JOIN ({_values("purpose", CONSENT_PURPOSES)}) pur
                ON ({holds("d.purposes", "pur.purpose")}
                    OR (d.part2_tpo AND pur.purpose IN ({tpo})))
             WHERE d.patient_id {scoped}"""


def _empty_select(vendor: str, table: str) -> str:
    """A typed, empty SELECT for a contract table the operational store does not hold yet."""
    sqlite = vendor == "sqlite"
    names = {
        "string": "TEXT",
        "date32[day]": "DATE",
        "timestamp[us]": "TEXT" if sqlite else "TIMESTAMP",
        "double": "REAL" if sqlite else "DOUBLE PRECISION",
        "int32": "INTEGER",
        "bool": "INTEGER" if sqlite else "BOOLEAN",
    }
    columns = ", ".join(
        f'CAST(NULL AS {names[str(typ)]}) AS "{name}"' for name, typ in schema.TABLES[table]
    )
    return f"SELECT {columns} WHERE 1 = 0"


def _all_selects(vendor: str, site_ids: list[int] | None) -> dict[str, str]:
    selects = _selects(vendor, _scope_sql(site_ids))
    return {t: selects.get(t) or _empty_select(vendor, t) for t in schema.TABLES}


def _scope_sql(site_ids: list[int] | None) -> str:
    if site_ids is None:
        return "SELECT id FROM registry_patient"
    listed = ",".join(str(int(s)) for s in site_ids) or "NULL"
    return (
        f"SELECT id FROM registry_patient WHERE home_site_id IN ({listed}) UNION "
        f"SELECT patient_id FROM registry_patientidentifier WHERE kind = 'mrn' "
        f"AND site_id IN ({listed})"
    )


def create_views(*, user: Any, connection: Any = None, prefix: str = "") -> list[str]:
    """Create temporary views named like the analytic tables; return the table names."""
    conn = connection or default_connection
    scope = gate.population_scope(user=user, purpose="operations", detail="measure views")
    selects = _all_selects(conn.vendor, scope)
    with conn.cursor() as cursor:
        for table, select in selects.items():
            cursor.execute(f"DROP VIEW IF EXISTS {prefix}{table}")
            cursor.execute(f"CREATE TEMP VIEW {prefix}{table} AS {select}")
    return list(selects)


def analytic_tables(*, user: Any, connection: Any = None) -> dict[str, pa.Table]:
    """Read the analytic tables out of the operational database into Arrow (streamed in
    batches of ``extract.BATCH_ROWS`` rows: no list of Python rows per table)."""
    conn = connection or default_connection
    scope = gate.population_scope(user=user, purpose="operations", detail="measure extract")
    return {
        table: extract.to_table(table, extract.batches(conn, table, select))
        for table, select in _all_selects(conn.vendor, scope).items()
    }


def extract_batches(*, user: Any, table: str, connection: Any = None) -> Iterator[pa.RecordBatch]:
    """One analytic table as a stream of Arrow batches (``extract.batches``), gate checked."""
    conn = connection or default_connection
    scope = gate.population_scope(user=user, purpose="operations", detail=f"measure {table}")
    yield from extract.batches(conn, table, _all_selects(conn.vendor, scope)[table])


def analytic_database(*, user: Any, duckdb: Any, connection: Any = None) -> dict[str, int]:
    """Stream every analytic table into the DuckDB connection ``duckdb`` (tables named as in
    the contract); returns the rows per table. One gate check and audit event for the lot."""
    conn = connection or default_connection
    scope = gate.population_scope(user=user, purpose="operations", detail="measure extract")
    return {
        table: extract.write_duckdb(duckdb, table, extract.batches(conn, table, select))
        for table, select in _all_selects(conn.vendor, scope).items()
    }


@dataclass(frozen=True)
class Gap:
    """One open care gap: the measure and group, the run that found it, and why."""

    measure: str
    title: str
    group: str
    version: str
    period_end: dt.date
    evidence: dict[str, Any]
    reasons: dict[str, Any]
    sensitivity: str


@dataclass
class Gaps:
    items: list[Gap]
    withheld: list[gate.Redaction]


def latest_run_ids() -> dict[str, int]:
    """The latest stored run of each measure (by when it finished): measure -> run id."""
    from django.db.models import OuterRef, Subquery

    from tandem.measures.models import MeasureRun

    newest = MeasureRun.objects.filter(measure=OuterRef("measure")).order_by("-finished_at", "-pk")
    runs = MeasureRun.objects.filter(pk=Subquery(newest.values("pk")[:1]))
    return dict(runs.values_list("measure", "pk"))


def open_gaps(*, user: Any, patient_id: int, purpose: str = "treatment") -> Gaps:
    """The patient's open care gaps in the latest stored run of each measure, with the
    evidence and reasons the engine stored, through the gate (raises AccessDenied; audited).
    Results the reader may not see (a behavioral-health measure's label) come back as
    withheld counts."""
    from django.db.models import Q

    from tandem.measures import rules
    from tandem.measures.definitions import REGISTRY

    runs = {pk: m for m, pk in latest_run_ids().items() if m not in rules.NOT_GAPS}
    disclosure = gate.read(
        user=user,
        patient_id=patient_id,
        purpose=purpose,
        requests=[
            gate.Request(
                "measure_results",
                where=Q(run_id__in=sorted(runs), in_initial_population=True),
                order_by=("run__measure", "group"),
                select_related=("run",),
            )
        ],
        detail="open care gaps",
    )
    items = []
    for row in disclosure.data["measure_results"]:
        measure = row.run.measure
        if not rules.is_gap(row.populations, inverse=measure in rules.INVERSE_MEASURES):
            continue
        info = REGISTRY.get(measure)
        items.append(
            Gap(
                measure=measure,
                title=info.title if info else measure,
                group=row.group,
                version=row.run.version,
                period_end=row.run.period_end,
                evidence=row.evidence,
                reasons=row.reasons,
                sensitivity=row.sensitivity,
            )
        )
    return Gaps(items, disclosure.withheld("measure_results"))


def open_gap_results(*, user: Any, purpose: str, measure: str | None = None) -> Any:
    """Population-level: the stored results that are open care gaps (``rules.is_gap``) in the
    latest run of each measure (or of ``measure``), among those whose label ``user`` may see
    on a list (``gate.listable``). A queryset for a subquery (registry cohort filters): the
    caller lists the patients and audits the listing.
    """
    from django.db.models import Q

    from tandem.measures import rules
    from tandem.measures.models import MeasurePatientResult

    runs = {m: pk for m, pk in latest_run_ids().items() if m not in rules.NOT_GAPS}
    if measure is not None:
        runs = {m: pk for m, pk in runs.items() if m == measure}
    denominator = Q(populations__denominator=1) | (
        ~Q(populations__has_key="denominator") & Q(in_initial_population=True)
    )
    excluded = Q(pk__in=[])
    for code in ("denominator-exclusion", "denominator-exception"):  # a missing key is 0
        excluded |= Q(populations__has_key=code) & Q(**{f"populations__{code}": 1})
    inverse = [pk for m, pk in runs.items() if m in rules.INVERSE_MEASURES]
    missed = Q(in_numerator=False) & ~Q(run_id__in=inverse) | Q(
        in_numerator=True, run_id__in=inverse
    )
    return (
        MeasurePatientResult.objects.filter(
            gate.listable(user=user, purpose=purpose, model=MeasurePatientResult)
        )
        .filter(denominator, missed, run_id__in=sorted(runs.values()))
        .exclude(excluded)
    )


def export_aggregates(
    *, user: Any, run_ids: list[int], detail: str
) -> dict[int, dict[str, dict[str, Any]]]:
    """Counts per run, group and population, broken down by sex, race, ethnicity, payer and
    stratum, from the stored patient-level results of the patients ``user`` may measure.

    A population read for operations (``gate.population_scope``: a leader or quality role;
    audited once); only counts leave. The payer is the patient's coverage overlapping the
    run's period that started last. Streamed (``iterator``): memory does not grow with the
    population.
    """
    from django.db.models import OuterRef, Q, Subquery

    from tandem.measures import qrda
    from tandem.measures.models import MeasurePatientResult
    from tandem.registry.models import Coverage, PatientIdentifier

    scope = gate.population_scope(user=user, purpose="operations", detail=detail)
    rows = MeasurePatientResult.objects.filter(run_id__in=run_ids, in_initial_population=True)
    if scope is not None:
        mrn = PatientIdentifier.objects.filter(kind="mrn", site_id__in=scope).values("patient_id")
        rows = rows.filter(Q(patient__home_site_id__in=scope) | Q(patient_id__in=mrn))
    payer = (
        Coverage.objects.filter(
            patient_id=OuterRef("patient_id"), start__lte=OuterRef("run__period_end")
        )
        .filter(Q(end__isnull=True) | Q(end__gte=OuterRef("run__period_start")))
        .order_by("-start", "-pk")
        .values("kind")[:1]
    )
    columns = ("run_id", "group", "populations", "strata", "patient__sex", "patient__race",
               "patient__ethnicity", "payer")  # fmt: skip
    out: dict[int, dict[str, dict[str, Any]]] = {}
    query = rows.annotate(payer=Subquery(payer)).values_list(*columns)
    for run_id, group, populations, strata, sex, race, ethnicity, kind in query.iterator(2000):
        tallies = out.setdefault(run_id, {}).setdefault(group, {})
        for code, n in populations.items():
            if int(n):
                tally = tallies.setdefault(code, qrda.Tally())
                tally.add(int(n), sex=sex, race=race, ethnicity=ethnicity, payer=kind,
                          strata=strata or {})  # fmt: skip
    return out
