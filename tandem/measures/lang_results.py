"""Measure results: per-patient populations with evidence, and summaries per group/stratum.

Built from an engine's raw patient-level outputs by the same code for every engine, so
scoring, evidence and rates cannot differ between engines.
"""

from __future__ import annotations

import datetime as dt
import gc
from dataclasses import dataclass, field
from typing import Any

from tandem.measures.language import POPULATION_CODES, Group, Measure

_ORDER = POPULATION_CODES


@dataclass
class PatientResult:
    patient_id: str
    populations: dict[str, dict[str, bool]] = field(default_factory=dict)
    evidence: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    reasons: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    strata: dict[str, Any] = field(default_factory=dict)


@dataclass
class SummaryRow:
    group: str
    stratifier: str | None  # None for the whole population
    stratum: Any
    counts: dict[str, int]
    rate: float | None  # numerator / (denominator - exclusions - exceptions)


@dataclass
class MeasureResult:
    measure_id: str
    period: tuple[dt.date, dt.date] | None
    engine: str
    patients: list[PatientResult]
    summary: list[SummaryRow]

    def patient(self, patient_id: str) -> PatientResult:
        for p in self.patients:
            if p.patient_id == patient_id:
                return p
        raise KeyError(patient_id)

    def counts(
        self, group: str, stratifier: str | None = None, stratum: Any = None
    ) -> dict[str, int]:
        for row in self.summary:
            if row.group == group and row.stratifier == stratifier and row.stratum == stratum:
                return row.counts
        raise KeyError((group, stratifier, stratum))

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per patient and group (for tables, exports and worklists)."""
        out = []
        for p in self.patients:
            for gid, pops in p.populations.items():
                row: dict[str, Any] = {"patient_id": p.patient_id, "group": gid, **pops}
                row.update({f"stratum:{k}": v for k, v in p.strata.items()})
                out.append(row)
        return out


def score(group: Group, raw: dict[str, Any]) -> dict[str, bool]:
    """FHIR proportion scoring from the raw criteria (null counts as false)."""

    def crit(code: str, default: bool = False) -> bool:
        key = f"{group.id}|{code}"
        return raw.get(key) is True if code in group.populations else default

    ip = crit("initial-population")
    denom = ip and crit("denominator", default=True)
    denex = denom and crit("denominator-exclusion")
    numer = denom and not denex and crit("numerator")
    numex = numer and crit("numerator-exclusion")
    denexcep = denom and not denex and not numer and crit("denominator-exception")
    values = {
        "initial-population": ip,
        "denominator": denom,
        "denominator-exclusion": denex,
        "denominator-exception": denexcep,
        "numerator": numer,
        "numerator-exclusion": numex,
    }
    present = set(group.populations) | {"initial-population", "denominator", "numerator"}
    return {c: values[c] for c in _ORDER if c in present}


def build(
    measure: Measure,
    raw: dict[str, dict[str, Any]],
    period: tuple[dt.date, dt.date] | None,
    engine: str,
) -> MeasureResult:
    # The output keys are worked out once per group, not once per patient; the cyclic
    # garbage collector is paused while the (acyclic) per-patient dicts are created: with
    # it on, building 1 M patients spends about half its time in collections.
    plan = []
    for g in measure.groups:
        evidence = [
            (code, [(name, f"{g.id}|{code}|evidence|{name}") for name in items])
            for code, items in g.evidence.items()
        ]
        reasons = [
            (code, [(name, f"{g.id}|{code}|reason|{name}") for name in branches])
            for code, expr in g.populations.items()
            if (branches := getattr(expr, "branches", None)) is not None
        ]
        plan.append((g, evidence, reasons))
    strata = [(s.id, f"stratum|{s.id}") for s in measure.strata]
    patients = []
    collecting = gc.isenabled()
    gc.disable()
    try:
        for pid in sorted(raw):
            values = raw[pid]
            pr = PatientResult(pid)
            for g, evidence, reasons in plan:
                pr.populations[g.id] = score(g, values)
                pr.evidence[g.id] = {
                    code: {name: values[key] for name, key in items} for code, items in evidence
                }
                pr.reasons[g.id] = {
                    code: [name for name, key in items if values[key] is True]
                    for code, items in reasons
                }
            pr.strata = {sid: values[key] for sid, key in strata}
            patients.append(pr)
    finally:
        if collecting:
            gc.enable()
    return MeasureResult(measure.id, period, engine, patients, summarise(measure, patients))


def summarise(measure: Measure, patients: list[PatientResult]) -> list[SummaryRow]:
    rows = []
    for g in measure.groups:
        rows.append(_summary_row(g.id, None, None, [p.populations[g.id] for p in patients]))
        for s in measure.strata:
            # one pass per stratifier (not one per stratum value: a stratifier with many
            # values, e.g. a practitioner, made this quadratic in the patients)
            by_value: dict[Any, list[dict[str, bool]]] = {}
            for p in patients:
                by_value.setdefault(p.strata[s.id], []).append(p.populations[g.id])
            for v in sorted(by_value, key=lambda v: (v is None, str(v))):
                rows.append(_summary_row(g.id, s.id, v, by_value[v]))
    return rows


def _summary_row(
    group: str, strat: str | None, value: Any, pops: list[dict[str, bool]]
) -> SummaryRow:
    codes = [c for c in _ORDER if any(c in p for p in pops)] or ["initial-population"]
    counts = {c: sum(1 for p in pops if p.get(c)) for c in codes}
    base = (
        counts.get("denominator", 0)
        - counts.get("denominator-exclusion", 0)
        - counts.get("denominator-exception", 0)
    )
    numer = counts.get("numerator", 0) - counts.get("numerator-exclusion", 0)
    rate = numer / base if base > 0 else None
    return SummaryRow(group, strat, value, counts, rate)
