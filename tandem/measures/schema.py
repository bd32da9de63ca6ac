"""The analytic tables: the one shape every measure source is turned into.

The operational database (``tandem.measures.sources.db``), the Parquet files written by
``tandem synth`` and a directory of FHIR R4 resources (``tandem.importers.fhir``) are all
loaded into these tables; every engine (in-memory, DuckDB, SQLite, PostgreSQL, Spark) reads
only these. Changing a column here is a contract change: update the writers, the loaders and
``docs/measures/tables.md`` in the same commit.

Conventions
- Ids are strings (FHIR ids are strings; database keys are rendered with ``str``).
- ``*_date`` columns are calendar dates; every other time column is a timestamp in UTC
  without zone (FHIR offsets are normalised to UTC on load; a date-only FHIR value becomes
  midnight, and a period end given as a date becomes the last microsecond of that day).
- Codes are ``system`` (the FHIR URI, see ``SYSTEMS``) + ``code``. A resource with several
  codings yields one row per coding, all with the same id: engines count distinct ids.
- Observation components (blood pressure) are extra rows with the same ``observation_id``,
  the component code in ``system``/``code`` and the panel's code in ``panel_system``/``panel_code``.
- A "not done" resource (QI-Core ObservationNotDone, ProcedureNotDone, MedicationNotRequested)
  keeps its status (``cancelled``, ``not-done``, or ``do_not_perform`` true) and the reason in
  ``reason_system``/``reason_code``.
"""

from __future__ import annotations

import pyarrow as pa

SYSTEMS = {
    "icd10cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "snomed": "http://snomed.info/sct",
    "loinc": "http://loinc.org",
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "ndc": "http://hl7.org/fhir/sid/ndc",
    "cpt": "http://www.ama-assn.org/go/cpt",
    "hcpcs": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "actcode": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    "tandem": "https://tandem.health/CodeSystem/local",
}

S = pa.string()
D = pa.date32()
T = pa.timestamp("us")
F = pa.float64()
I = pa.int32()  # noqa: E741 - short aliases keep the table list readable
B = pa.bool_()

# table -> [(column, type)]. The first column is the row's own id, then patient_id.
TABLES: dict[str, list[tuple[str, pa.DataType]]] = {
    "patients": [
        ("patient_id", S),
        ("birth_date", D),
        ("sex", S),  # administrative gender: female | male | other | unknown
        ("gender_identity", S),
        ("race", S),  # OMB category code (urn:oid:2.16.840.1.113883.6.238), e.g. 2106-3
        ("ethnicity", S),  # OMB ethnicity code, e.g. 2135-2
        ("deceased", B),
        ("death_date", D),
        ("site_id", S),  # home site (first registration)
        ("pcp_id", S),  # practitioner with an active PCP care-team role at extraction
        ("payer", S),  # payer of the most recent coverage span
    ],
    "encounters": [
        ("encounter_id", S),
        ("patient_id", S),
        ("status", S),  # FHIR Encounter.status: planned|arrived|in-progress|finished|cancelled|...
        ("class_code", S),  # v3 ActCode: AMB, EMER, IMP, ACUTE, NONAC, OBSENC, VR, HH
        ("setting", S),  # pc | bh | null (primary care or behavioral health)
        ("system", S),  # Encounter.type coding
        ("code", S),
        ("start", T),
        ("end", T),
        ("site_id", S),
        ("practitioner_id", S),
        ("discharge_disposition_system", S),
        ("discharge_disposition", S),
    ],
    "conditions": [
        ("condition_id", S),
        ("patient_id", S),
        ("system", S),
        ("code", S),
        ("clinical_status", S),  # active|recurrence|relapse|inactive|remission|resolved
        ("verification_status", S),  # unconfirmed|provisional|differential|confirmed|refuted|...
        ("category", S),  # problem-list-item | encounter-diagnosis | health-concern
        ("onset", T),
        ("abatement", T),
        ("recorded", T),
        ("encounter_id", S),  # the encounter that lists it as a diagnosis, if any
        ("rank", I),  # Encounter.diagnosis.rank (1 = principal)
    ],
    "observations": [
        ("observation_id", S),
        ("patient_id", S),
        ("status", S),  # registered|preliminary|final|amended|corrected|cancelled|...
        ("category", S),  # laboratory | vital-signs | survey | social-history | ...
        ("system", S),
        ("code", S),
        ("panel_system", S),
        ("panel_code", S),
        ("effective_start", T),
        ("effective_end", T),
        ("issued", T),
        ("value_num", F),
        ("value_unit", S),
        ("value_system", S),  # coded value (e.g. SNOMED positive/negative finding)
        ("value_code", S),
        ("value_bool", B),
        # FHIR type of value[x] as FHIR spells it: Quantity, integer, decimal, CodeableConcept,
        # boolean, string, dateTime, Period, Ratio, Range, ...; null when there is no value
        ("value_type", S),
        ("reason_system", S),  # not-done reason
        ("reason_code", S),
        ("encounter_id", S),
    ],
    "medication_requests": [
        ("request_id", S),
        ("patient_id", S),
        ("status", S),  # active|on-hold|cancelled|completed|entered-in-error|stopped|draft
        ("intent", S),  # order | plan | proposal | ...
        ("do_not_perform", B),
        ("category", S),  # community | discharge | inpatient | outpatient
        ("system", S),
        ("code", S),
        ("authored", T),
        ("period_start", T),  # dosageInstruction[0].timing.repeat.boundsPeriod
        ("period_end", T),
        ("days_supply", I),  # dispenseRequest.expectedSupplyDuration in days
        ("quantity", F),
        ("refills", I),
        ("dose_quantity", F),  # per administration
        ("frequency_per_day", F),
        ("reason_system", S),
        ("reason_code", S),
        ("prescriber_id", S),
        ("encounter_id", S),
        ("validity_start", T),  # dispenseRequest.validityPeriod
        ("validity_end", T),
        ("medication_ref", S),  # id of the Medication a medicationReference names, else null
    ],
    "medication_dispenses": [
        ("dispense_id", S),
        ("patient_id", S),
        ("status", S),  # completed | in-progress | cancelled | ...
        ("system", S),
        ("code", S),
        ("when_prepared", T),
        ("when_handed_over", T),
        ("days_supply", I),
        ("quantity", F),
        ("dose_quantity", F),
        ("frequency_per_day", F),
        ("prescriber_id", S),
        ("request_id", S),
        ("medication_ref", S),  # id of the Medication a medicationReference names, else null
    ],
    "medication_administrations": [
        ("administration_id", S),
        ("patient_id", S),
        ("status", S),
        ("system", S),
        ("code", S),
        ("effective_start", T),
        ("effective_end", T),
        ("medication_ref", S),  # id of the Medication a medicationReference names, else null
    ],
    "procedures": [
        ("procedure_id", S),
        ("patient_id", S),
        ("status", S),  # completed | not-done | in-progress | ...
        ("category", S),
        ("system", S),
        ("code", S),
        ("performed_start", T),
        ("performed_end", T),
        ("reason_system", S),
        ("reason_code", S),
        ("encounter_id", S),
        ("recorded", T),  # QI-Core / US Quality Core "recorded" extension (ProcedureNotDone)
    ],
    "service_requests": [
        ("request_id", S),
        ("patient_id", S),
        ("status", S),
        ("intent", S),
        ("do_not_perform", B),
        ("category", S),
        ("system", S),
        ("code", S),
        ("authored", T),
        ("reason_system", S),
        ("reason_code", S),
        ("encounter_id", S),
    ],
    "device_requests": [
        ("request_id", S),
        ("patient_id", S),
        ("status", S),
        ("intent", S),
        ("do_not_perform", B),
        ("system", S),
        ("code", S),
        ("authored", T),
    ],
    "assessments": [
        ("assessment_id", S),
        ("patient_id", S),
        ("instrument", S),  # tandem instrument key: phq9, phq2, gad7, audit-c, ...
        ("system", S),  # total-score code (LOINC)
        ("code", S),
        ("total_score", F),
        ("effective", T),
        ("items_json", S),  # {"item code": answer value, ...}
    ],
    # FHIR Task (CMS50: the consultant report closing a referral). One row per Task.code
    # coding x basedOn reference (count distinct ids).
    "tasks": [
        ("task_id", S),
        ("patient_id", S),  # Task.for
        ("status", S),  # draft|requested|received|accepted|rejected|ready|cancelled|...|completed
        ("intent", S),  # unknown | proposal | plan | order | original-order | ...
        ("system", S),  # Task.code coding
        ("code", S),
        ("reason_system", S),  # Task.reasonCode (first coding)
        ("reason_code", S),
        ("status_reason_system", S),  # Task.statusReason (first coding)
        ("status_reason_code", S),
        ("based_on_id", S),  # id a Task.basedOn reference points to (ServiceRequest/x -> x)
        ("focus_id", S),  # id Task.focus points to
        ("authored", T),  # authoredOn
        ("execution_start", T),  # executionPeriod
        ("execution_end", T),
        ("encounter_id", S),
    ],
    # FHIR AllergyIntolerance (CMS347: statin allergy). One row per code coding.
    "allergies": [
        ("allergy_id", S),
        ("patient_id", S),  # AllergyIntolerance.patient
        ("clinical_status", S),  # active | inactive | resolved
        ("verification_status", S),  # unconfirmed | confirmed | refuted | entered-in-error
        ("type", S),  # allergy | intolerance
        ("category", S),  # food | medication | environment | biologic (the first)
        ("system", S),
        ("code", S),
        ("onset_start", T),  # onset[x]: dateTime, Period or Age (from the birth date)
        ("onset_end", T),
        ("recorded", T),  # recordedDate
        ("encounter_id", S),
    ],
    # FHIR AdverseEvent (CMS347: adverse reaction to a statin). One row per event coding.
    "adverse_events": [
        ("adverse_event_id", S),
        ("patient_id", S),  # AdverseEvent.subject
        ("actuality", S),  # actual | potential
        ("category", S),  # first category code (product-problem, medication-mishap, ...)
        ("system", S),  # AdverseEvent.event coding
        ("code", S),
        ("occurred", T),  # AdverseEvent.date
        ("detected", T),
        ("recorded", T),  # recordedDate
        ("encounter_id", S),
    ],
    # Why an encounter happened: one row per Encounter.reasonCode coding ("reason-code"), per
    # reasonReference ("reason-reference") and per diagnosis entry ("diagnosis"). Unlike
    # conditions.encounter_id, a condition listed by several encounters is on each of them.
    "encounter_reasons": [
        ("encounter_id", S),
        ("patient_id", S),
        ("kind", S),  # reason-code | reason-reference | diagnosis
        ("system", S),  # reason-code: the coding; else null
        ("code", S),
        ("condition_id", S),  # reason-reference / diagnosis: the referenced id (Condition/x -> x)
        ("rank", I),  # diagnosis.rank
    ],
    "coverage": [
        ("coverage_id", S),
        ("patient_id", S),
        ("status", S),
        ("payer", S),
        ("plan", S),
        ("member_id", S),
        ("start_date", D),
        ("end_date", D),  # null = open-ended
    ],
    "claims": [
        ("claim_id", S),
        ("patient_id", S),
        ("status", S),
        ("use", S),
        ("encounter_id", S),
        ("sequence", I),
        ("system", S),  # diagnosis coding
        ("code", S),
        ("billable_start", T),
        ("billable_end", T),
    ],
    "care_team": [
        ("membership_id", S),
        ("patient_id", S),
        ("practitioner_id", S),
        ("role", S),  # pcp | bh-clinician | psychiatrist | care-manager | ...
        ("start_date", D),
        ("end_date", D),
    ],
    "practitioners": [
        ("practitioner_id", S),
        ("discipline", S),
        ("npi", S),
        ("site_id", S),
    ],
    "sites": [
        ("site_id", S),
        ("name", S),
        ("kind", S),  # primary-care | cmhc | co-located-bh | sud-program | hospital
        ("integration_go_live", D),
        ("organization_id", S),  # the organization running the site
    ],
    # Consent directives (F26): one row per directive x category x purpose x recipient (like
    # one row per coding: count distinct ids). "all" categories are expanded to the four.
    "consent_directives": [
        ("directive_id", S),
        ("patient_id", S),
        ("status", S),  # draft | active | revoked | expired | entered-in-error
        ("category", S),  # substance-use | mental-health | hiv | reproductive-health
        ("purpose", S),  # treatment | payment | operations | research
        ("start_date", D),
        ("end_date", D),  # null = no end date
        ("recipient_kind", S),  # person | organization | site | role
        ("recipient_id", S),  # practitioner, organization or site id (null for a role)
        ("recipient_role", S),  # care-team role (pcp, ...) for kind role
        ("recipient_revoked_date", D),  # this recipient's revocation (null = not revoked)
        ("sensitivity", S),  # the directive's label (tandem.consent.rules)
    ],
}

# Tables keyed by patient: every one except the two dimension tables.
PATIENT_TABLES = [t for t in TABLES if t not in ("practitioners", "sites")]


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of one analytic table."""
    return pa.schema([pa.field(name, typ) for name, typ in TABLES[table]])


def empty(table: str) -> pa.Table:
    """An empty Arrow table with the right columns."""
    return arrow_schema(table).empty_table()


def conform(table: str, data: pa.Table) -> pa.Table:
    """Return ``data`` with exactly the contract's columns, in order, cast to their types.

    Missing columns are added as nulls; extra columns are an error (a writer drifted).
    """
    schema = arrow_schema(table)
    extra = set(data.column_names) - set(schema.names)
    if extra:
        raise ValueError(f"table {table!r} has columns outside the contract: {sorted(extra)}")
    columns = []
    for field in schema:
        if field.name in data.column_names:
            columns.append(data.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(data.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)
