"""Run a measure against a deck of test cases with expected results and list the differences.

A deck is laid out like the public CMS eCQM test content::

    <cases_dir>/<case-id>/*.json             FHIR resources of one test patient
    <cases_dir>/<case-id>/MeasureReport-*.json   expected counts (the CQFM test-case profile)

Each case is loaded on its own (resource ids repeat across cases), evaluated for the period,
and compared per group (by position, the MeasureReport groups carry no ids) and per
population code. A population missing from the report counts as 0.

The harness does not know the measure language: it takes an ``evaluate`` callable,
``(tables, period) -> {patient_id: [{population code: count}, ...one dict per group]}``: 0/1
for a patient-based group, the number of the patient's episodes in the population for an
episode-based one (CMS68, CMS177: ``populationBasis`` "Encounter"), as the decks' reports count.
:func:`tandem.measures.definitions.conformance_evaluator` builds one from a registered measure
and an engine name; it evaluates the measure version whose performance period covers the
period (the official decks' 2025-01-01..2025-12-31: the 2025 versions) unless one is named.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import orjson
import pyarrow as pa

from tandem.core.lib.cli import UsageError
from tandem.importers.fhir import load_fhir
from tandem.measures import schema

POPULATIONS = (
    "initial-population",
    "denominator",
    "denominator-exclusion",
    "denominator-exception",
    "numerator",
    "numerator-exclusion",
)
DESCRIPTION_URL = "http://hl7.org/fhir/us/cqfmeasures/StructureDefinition/cqfm-testCaseDescription"

# Cases whose expected counts cannot follow from their data, by measure key and case id (the
# defects are in the decks' data, whichever version is evaluated; the official decks are those
# of the 2025 versions). They are reported as "known" instead of failed; any other mismatch fails.
KNOWN_DECK_DEFECTS: dict[str, dict[str, str]] = {
    "CMS122": {
        "6630d394-c81d-42f5-a218-40b73a2a4949": (
            "described as GMI > 9% but the Observation's value is a CodeableConcept (SNOMED "
            "374166001), not a Quantity; the published logic cannot reach the expected numerator"
        ),
        "8956ebb5-d3c0-4112-a34a-200961713efd": (
            "described as HbA1c 9.1% but the value is a CodeableConcept (SNOMED 373066001); case "
            "5ed37c9e has the same shape and expects the opposite numerator"
        ),
    },
    "CMS177": {
        "85e6225c-a9bb-4338-a228-297564e38c4d": (
            "described as an encounter before the measurement period, but the Psychoanalysis "
            "encounter (CPT 90845, finished) is on 2025-02-11 with an MDD reasonCode and "
            "diagnosis at age 13; the same shape in case 680126f3 expects the encounter counted"
        ),
    },
}

GroupCounts = dict[str, int]
Evaluate = Callable[
    [Mapping[str, pa.Table], tuple[date, date]], Mapping[str, Sequence[GroupCounts]]
]


@dataclass(frozen=True)
class Case:
    """One test patient: its folder, the patient id and the expected counts per group."""

    case_id: str
    path: Path
    patient_id: str | None
    description: str
    expected: list[GroupCounts]


@dataclass(frozen=True)
class Mismatch:
    case: str
    description: str
    group: int  # 1-based, in the order of the measure's groups
    population: str
    expected: int
    got: int

    def line(self) -> str:
        return (
            f"{self.case} group {self.group} {self.population}: expected {self.expected}, "
            f"got {self.got} — {self.description}"
        )


@dataclass
class Report:
    measure: str
    passed: int = 0
    failed: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    known: list[Mismatch] = field(default_factory=list)  # on cases in KNOWN_DECK_DEFECTS

    def summary(self) -> str:
        text = f"{self.passed} passed, {self.failed} failed"
        cases = {m.case for m in self.known}
        if cases:
            text += f", {len(cases)} known deck defect{'s' if len(cases) > 1 else ''}"
        return text


def _report_of(path: Path) -> tuple[str | None, str, list[GroupCounts]]:
    try:
        report = orjson.loads(path.read_bytes())
    except (orjson.JSONDecodeError, OSError) as exc:
        raise UsageError(f"{path}: cannot read the expected MeasureReport ({exc})") from None
    description = ""
    for ext in report.get("extension") or ():
        if ext.get("url") == DESCRIPTION_URL:
            description = str(ext.get("valueMarkdown") or ext.get("valueString") or "")
    patient = None
    for res in report.get("contained") or ():
        for p in res.get("parameter") or ():
            if p.get("name") == "subject":
                patient = p.get("valueString")
    if patient is None:
        ref = (report.get("subject") or {}).get("reference") or ""
        patient = ref.rsplit("/", 1)[-1] or None
    groups: list[GroupCounts] = []
    for g in report.get("group") or ():
        counts = dict.fromkeys(POPULATIONS, 0)
        for pop in g.get("population") or ():
            code = (((pop.get("code") or {}).get("coding") or [{}])[0]).get("code")
            if code in counts:
                counts[code] = int(pop.get("count") or 0)
        groups.append(counts)
    return patient, " ".join(description.split()), groups


def load_cases(cases_dir: str | Path) -> list[Case]:
    """Every case folder under ``cases_dir`` that holds a ``MeasureReport-*.json``."""
    root = Path(cases_dir)
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory of test cases")
    cases = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        reports = sorted(folder.glob("MeasureReport*.json"))
        if not reports:
            continue
        patient, description, groups = _report_of(reports[0])
        cases.append(Case(folder.name, folder, patient, description, groups))
    if not cases:
        raise UsageError(f"{root}: no test cases (folders with a MeasureReport-*.json)")
    return cases


def _case_tables(case: Case) -> dict[str, pa.Table]:
    """The case's resources as analytic tables, all attributed to the case's patient.

    Every resource of a case folder belongs to the test patient, as the published expected
    results were computed (some decks reference another subject, e.g. CMS159 case 491f554e).
    Medications are loaded as anywhere else (a ``medicationReference`` resolved, its id in
    ``medication_ref``); the 2025 measures leave those out themselves, as their CQL retrieves
    match ``medicationCodeableConcept`` only (``common.coded_medications``; CMS165 case
    45e01fed tests that).
    """
    files = [p for p in sorted(case.path.glob("*.json")) if not p.name.startswith("MeasureReport")]
    tables = load_fhir(files).tables
    if case.patient_id is None:
        return tables
    for name in schema.PATIENT_TABLES:
        t = tables[name]
        i = t.schema.get_field_index("patient_id")
        tables[name] = t.set_column(
            i, "patient_id", pa.array([case.patient_id] * t.num_rows, pa.string())
        )
    return tables


def _compare(case: Case, got_groups: Sequence[GroupCounts]) -> list[Mismatch]:
    bad = []
    for gi, expected in enumerate(case.expected):
        got = got_groups[gi] if gi < len(got_groups) else {}
        for pop in POPULATIONS:
            e, g = expected.get(pop, 0), int(got.get(pop, 0) or 0)
            if e != g:
                bad.append(Mismatch(case.case_id, case.description, gi + 1, pop, e, g))
    return bad


def run(
    measure: str,
    cases_dir: str | Path,
    evaluate: Evaluate,
    *,
    period: tuple[date, date] = (date(2025, 1, 1), date(2025, 12, 31)),
    batch: bool = True,
) -> Report:
    """Evaluate every case of the deck and compare with its expected counts.

    Each case is loaded on its own. With ``batch`` (the default) the cases' tables are then
    concatenated and evaluated in one engine run — safe because every row is attributed to
    its case's patient and engines relate rows within a patient only; it falls back to one
    run per case when two cases share a patient id.
    """
    report = Report(measure=measure)
    cases = load_cases(cases_dir)
    loaded = [(case, _case_tables(case)) for case in cases]
    ids = [c.patient_id for c in cases]
    if batch and None not in ids and len(set(ids)) == len(ids):
        tables = {name: pa.concat_tables([t[name] for _, t in loaded]) for name in schema.TABLES}
        results = evaluate(tables, period)
        for case in cases:
            _record(report, case, _compare(case, list(results.get(case.patient_id or "", ()))))
        return report
    for case, tables in loaded:
        try:
            results = evaluate(tables, period)
        except UsageError:
            raise
        except Exception as exc:  # noqa: BLE001 - one broken case must not hide the others
            report.failed += 1
            report.errors.append(f"{case.case_id}: {type(exc).__name__}: {exc}")
            continue
        pid = case.patient_id
        if pid is None:
            pids = tables["patients"].column("patient_id").to_pylist()
            pid = pids[0] if pids else None
        _record(report, case, _compare(case, list(results.get(pid, ())) if pid else []))
    return report


def _record(report: Report, case: Case, bad: list[Mismatch]) -> None:
    if bad and case.case_id in KNOWN_DECK_DEFECTS.get(report.measure, {}):
        report.known.extend(bad)
    elif bad:
        report.failed += 1
        report.mismatches.extend(bad)
    else:
        report.passed += 1
