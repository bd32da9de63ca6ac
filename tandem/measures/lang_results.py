"""Measure results: per-patient populations with evidence, and summaries per group/stratum.

Built from an engine's raw patient-level outputs by the same code for every engine, so
scoring, evidence and rates cannot differ between engines.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tandem.measures.engines.base import is_sorted, outside_null
from tandem.measures.language import POPULATION_CODES, Group, Measure

_ORDER = POPULATION_CODES


@dataclass
class PatientResult:
    patient_id: str
    # group -> population code -> bool (patient-based group) or episode count (int)
    populations: dict[str, dict[str, Any]] = field(default_factory=dict)
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


@dataclass(eq=False)
class MeasureResult:
    """A measure's results, kept in columns; per-patient objects are built when asked for.

    ``table``: the engine's outputs (``patient_id`` then every output key, sorted by patient);
    ``scores``: per group, each population per row of ``table``: numpy booleans for a
    patient-based group, numpy int64 episode counts for an episode-based one;
    ``summary``: counts (patients, or episodes) and rates per group and stratum.
    """

    measure_id: str
    period: tuple[dt.date, dt.date] | None
    engine: str
    table: pa.Table
    scores: dict[str, dict[str, np.ndarray]]
    summary: list[SummaryRow]
    plan: list[tuple[Group, list[Any], list[Any]]] = field(repr=False)
    strata_keys: list[tuple[str, str]] = field(repr=False)
    _patients: list[PatientResult] | None = field(default=None, init=False, repr=False)
    _index: dict[str, int] | None = field(default=None, init=False, repr=False)

    @property
    def patient_ids(self) -> list[str]:
        ids: list[str] = self.table.column("patient_id").to_pylist()
        return ids

    def __len__(self) -> int:
        return int(self.table.num_rows)

    @property
    def patients(self) -> list[PatientResult]:
        """Every patient's result (built on first use, then kept)."""
        if self._patients is None:
            self._patients = self._build(range(self.table.num_rows))
        return self._patients

    def in_some_population(self) -> np.ndarray:
        """Per row of ``table``: in the initial population of some group. Evidence, reasons
        and strata are reported for these patients only, so every other patient's result is
        the same but for the id."""
        return _in_any_population(self.scores, self.table.num_rows)

    def patients_at(self, indices: Iterable[int]) -> list[PatientResult]:
        """The results of the patients at these rows of ``table``, built now and not kept
        (bounded memory, unlike :attr:`patients`)."""
        return self._build(indices)

    def patient(self, patient_id: str) -> PatientResult:
        if self._index is None:
            self._index = {pid: i for i, pid in enumerate(self.patient_ids)}
        if patient_id not in self._index:
            raise KeyError(patient_id)
        return self._build([self._index[patient_id]])[0]

    def populations_table(self) -> pa.Table:
        """``patient_id`` and one column ``<group>|<population code>`` per population:
        booleans, or episode counts (int64) for an episode-based group."""
        columns: dict[str, Any] = {"patient_id": self.table.column("patient_id")}
        for gid, pops in self.scores.items():
            for code, values in pops.items():
                kind = pa.bool_() if values.dtype == bool else pa.int64()
                columns[f"{gid}|{code}"] = pa.array(values, kind)
        return pa.table(columns)

    def _build(self, indices: Any) -> list[PatientResult]:
        indices = list(indices)
        if not indices:
            return []
        rows = self.table.take(pa.array(indices, pa.int64())).to_pylist()
        scores = {
            gid: {code: values[indices].tolist() for code, values in pops.items()}
            for gid, pops in self.scores.items()
        }
        out = []
        collecting = gc.isenabled()
        gc.disable()  # the per-patient dicts are acyclic; collections would double the time
        try:
            for i, values in enumerate(rows):
                pr = PatientResult(values["patient_id"])
                for g, evidence, reasons in self.plan:
                    pr.populations[g.id] = {c: v[i] for c, v in scores[g.id].items()}
                    pr.evidence[g.id] = {
                        code: {name: values[key] for name, key in items} for code, items in evidence
                    }
                    pr.reasons[g.id] = {
                        code: [name for name, key in items if values[key] is True]
                        for code, items in reasons
                    }
                pr.strata = {sid: values[key] for sid, key in self.strata_keys}
                out.append(pr)
        finally:
            if collecting:
                gc.enable()
        return out

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


def _truth(table: pa.Table, key: str) -> np.ndarray:
    """A boolean output as numpy booleans, null counting as false."""
    values: np.ndarray = pc.fill_null(table.column(key), False).to_numpy()
    return values.astype(bool, copy=False)


def _episodes(table: pa.Table, key: str) -> np.ndarray:
    """An episode count as numpy int64, null (outside the computed cohort) counting as 0."""
    values: np.ndarray = pc.fill_null(table.column(key), 0).to_numpy()
    return values.astype(np.int64, copy=False)


def score(group: Group, table: pa.Table) -> dict[str, np.ndarray]:
    """FHIR proportion scoring from the raw criteria, for every row at once. An
    episode-based group's outputs are already scored per episode and counted
    (``lang_episodes``)."""
    if group.episode_based:
        return {c: _episodes(table, f"{group.id}|{c}") for c in group.codes()}
    size = table.num_rows

    def crit(code: str, default: bool = False) -> np.ndarray:
        if code in group.populations:
            return _truth(table, f"{group.id}|{code}")
        return np.full(size, default, dtype=bool)

    ip = crit("initial-population")
    denom = ip & crit("denominator", default=True)
    denex = denom & crit("denominator-exclusion")
    numer = denom & ~denex & crit("numerator")
    numex = numer & crit("numerator-exclusion")
    denexcep = denom & ~denex & ~numer & crit("denominator-exception")
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
    table: pa.Table,
    period: tuple[dt.date, dt.date] | None,
    engine: str,
) -> MeasureResult:
    """Score every patient and summarise, in columns (``table``: ``evaluation._run_table``)."""
    if table.column_names[0] != "patient_id":
        raise ValueError("the results table starts with patient_id")
    if not is_sorted(table):
        table = table.sort_by("patient_id")
    plan = []
    for g in measure.groups:
        evidence = [
            (code, [(name, f"{g.id}|{code}|evidence|{name}") for name in items])
            for code, items in g.evidence.items()
        ]
        reasons = [
            (code, [(name, f"{g.id}|{code}|reason|{name}") for name in branches])
            for code, branches in g.reasons().items()
        ]
        plan.append((g, evidence, reasons))
    strata = [(s.id, f"stratum|{s.id}") for s in measure.strata]
    scores = {g.id: score(g, table) for g in measure.groups}
    if not outside_null(table):  # else computed for the initial populations only
        table = _outside_populations_blank(measure, table, scores)
    summary = summarise(measure, table, scores)
    return MeasureResult(
        measure.id, period, engine, table, scores, summary, plan=plan, strata_keys=strata
    )


def _in_any_population(scores: dict[str, dict[str, np.ndarray]], size: int) -> np.ndarray:
    inside = np.zeros(size, dtype=bool)
    for pops in scores.values():
        inside |= pops["initial-population"] > 0
    return inside


def _outside_populations_blank(
    measure: Measure, table: pa.Table, scores: dict[str, dict[str, np.ndarray]]
) -> pa.Table:
    """Evidence, exclusion reasons and strata are reported for patients in the initial
    population of at least one group; for everyone else they are null. (The SQL engines
    compute them only for that cohort; this keeps every engine's results identical.)"""
    inside = pa.array(_in_any_population(scores, table.num_rows), pa.bool_())
    if table.num_rows == 0 or pc.all(inside).as_py():
        return table
    criteria = {f"{g.id}|{code}" for g in measure.groups for code in g.codes()}
    columns = []
    for name in table.column_names:
        column = table.column(name)
        if name != "patient_id" and name not in criteria:
            column = pc.if_else(inside, column, pa.nulls(table.num_rows, column.type))
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def summarise(
    measure: Measure, table: pa.Table, scores: dict[str, dict[str, np.ndarray]]
) -> list[SummaryRow]:
    """Counts per group (patients, or episodes for an episode-based group); per stratum,
    over the patients in some initial population."""
    rows = []
    inside = _in_any_population(scores, table.num_rows)
    for g in measure.groups:
        pops = scores[g.id]
        rows.append(_summary_row(g.id, None, None, pops, table.num_rows))
        stratified = {c: v[inside] for c, v in pops.items()}
        for s in measure.strata:
            values = table.column(f"stratum|{s.id}").filter(pa.array(inside))
            # one grouping per stratifier: a dictionary code per row, then counts per code
            encoded = values.combine_chunks().dictionary_encode(null_encoding="encode")
            codes = encoded.indices.to_numpy(zero_copy_only=False)
            labels = encoded.dictionary.to_pylist()
            order = sorted(range(len(labels)), key=lambda i: (labels[i] is None, str(labels[i])))
            size = len(labels)
            sizes = np.bincount(codes, minlength=size)
            sums = {c: np.bincount(codes, weights=v, minlength=size) for c, v in stratified.items()}
            for i in order:
                counts = {c: int(sums[c][i]) for c in stratified}
                rows.append(_summary_counts(g.id, s.id, labels[i], counts, int(sizes[i])))
    return rows


def _summary_row(
    group: str, strat: str | None, value: Any, pops: dict[str, np.ndarray], size: int
) -> SummaryRow:
    counts = {c: int(np.sum(v, dtype=np.int64)) for c, v in pops.items()}
    return _summary_counts(group, strat, value, counts, size)


def _summary_counts(
    group: str, strat: str | None, value: Any, counts: dict[str, int], size: int
) -> SummaryRow:
    if size == 0:  # no patient: only the initial population is reported
        counts = {"initial-population": 0}
    base = (
        counts.get("denominator", 0)
        - counts.get("denominator-exclusion", 0)
        - counts.get("denominator-exception", 0)
    )
    numer = counts.get("numerator", 0) - counts.get("numerator-exclusion", 0)
    rate = numer / base if base > 0 else None
    return SummaryRow(group, strat, value, counts, rate)
