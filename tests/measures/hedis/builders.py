"""A compact builder of hand-made patients for the HEDIS-style and Tandem measures.

``Chart("p1", born=date(1980, 5, 1))`` collects rows for one patient; ``tables(*charts)``
turns them into Arrow tables per ``tandem.measures.schema``; ``run(measure, charts, engine)``
evaluates a measure with Tandem's own code lists (no VSAC folder, no Django).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from tandem.measures import evaluate, schema
from tandem.measures.lang_results import MeasureResult
from tandem.measures.language import Measure
from tandem.measures.valuesets import ValueSets
from tandem.terminology import codelists

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"

PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
# every test runs on these engines; ``TANDEM_HEDIS_ENGINES=memory`` narrows a quick local run
ENGINES = os.environ.get("TANDEM_HEDIS_ENGINES", "memory,duckdb,sqlite").split(",")

# codes used by the tests (all in Tandem's code lists)
SCHIZOPHRENIA = "F20.9"
BIPOLAR = "F31.9"
DEPRESSION = "F33.1"
ANXIETY = "F41.1"
DIABETES = "E11.9"
HYPERTENSION = "I10"
AMI = "I21.4"
IVD = "I25.10"
OLANZAPINE = "314154"  # oral SGA
RISPERIDONE_LAI = "402010"  # 2-weekly LAI
ARIPIPRAZOLE_LAI = "1659812"  # monthly LAI
HBA1C = "4548-4"
GLUCOSE = "2345-7"
LDL = "13457-7"
TOTAL_CHOL = "2093-3"
PHQ9 = "44261-6"
OFFICE = "99213"
PSYCHOTHERAPY = "90834"
ED = "99283"
INPATIENT = "99222"
HOSPICE = "Q5001"
CABG = "33510"

_ids = itertools.count(1)


def _codelists() -> dict[str, frozenset[tuple[str, str]]]:
    """Tandem's code lists as ``tandem:<key>`` value sets (lists and groups)."""
    names = getattr(codelists, "names", None) or codelists.keys  # the API is being renamed
    return {f"tandem:{key}": codelists.load(key).pairs() for key in names()}


VALUESETS = ValueSets(local=_codelists())
ANTIDEPRESSANT = sorted(c for _, c in VALUESETS["tandem:antidepressants"])[0]


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def ts(text: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(d(text), dt.time(hour))


class Chart:
    """Rows of one patient. Methods return ``self`` so charts read as one sentence."""

    def __init__(
        self,
        pid: str = "p1",
        born: str = "1980-06-15",
        *,
        sex: str = "female",
        site: str | None = "site-a",
        payer: str | None = "medicaid",
        pcp: str | None = None,
        death: str | None = None,
        race: str | None = "2106-3",
        covered: bool | tuple[str, str | None] = True,
    ) -> None:
        self.pid = pid
        self.rows: dict[str, list[dict[str, Any]]] = {
            "patients": [
                {
                    "patient_id": pid,
                    "birth_date": d(born),
                    "sex": sex,
                    "race": race,
                    "site_id": site,
                    "payer": payer,
                    "pcp_id": pcp,
                    "deceased": death is not None,
                    "death_date": d(death) if death else None,
                }
            ]
        }
        if covered is True:
            self.coverage("2020-01-01", None)
        elif isinstance(covered, tuple):
            self.coverage(*covered)

    def _add(self, table: str, **row: Any) -> str:
        id_col = schema.TABLES[table][0][0]
        row.setdefault(id_col, f"{table[:3]}-{self.pid}-{next(_ids)}")
        row["patient_id"] = self.pid
        self.rows.setdefault(table, []).append(row)
        return str(row[id_col])

    # --- enrollment --------------------------------------------------------------------
    def coverage(self, start: str, end: str | None) -> Chart:
        self._add(
            "coverage",
            status="active",
            payer="medicaid",
            start_date=d(start),
            end_date=d(end) if end else None,
        )
        return self

    # --- encounters --------------------------------------------------------------------
    def encounter(
        self,
        start: str,
        *,
        end: str | None = None,
        cls: str = "AMB",
        code: str = OFFICE,
        system: str = CPT,
        setting: str | None = None,
        dx: str | tuple[str, ...] | None = None,
        status: str = "finished",
        hour: int = 10,
        eid: str | None = None,
        dx_rank: int = 1,
        disposition: str | None = None,
    ) -> Chart:
        eid = self._add(
            "encounters",
            **({"encounter_id": eid} if eid else {}),
            status=status,
            class_code=cls,
            setting=setting,
            system=system,
            code=code,
            start=ts(start, hour),
            end=ts(end or start, hour + 1 if end is None else 11),
            discharge_disposition=disposition,
        )
        for i, code_ in enumerate((dx,) if isinstance(dx, str) else dx or ()):
            self._add(
                "conditions",
                system=ICD,
                code=code_,
                clinical_status="active",
                verification_status="confirmed",
                category="encounter-diagnosis",
                onset=ts(start),
                recorded=ts(start),
                encounter_id=eid,
                rank=dx_rank + i,
            )
        return self

    def visit(self, day: str, dx: str | None = None, **kw: Any) -> Chart:
        return self.encounter(day, dx=dx, **kw)

    def bh_visit(self, day: str, dx: str | None = None, **kw: Any) -> Chart:
        kw.setdefault("code", PSYCHOTHERAPY)
        return self.encounter(day, dx=dx, setting="bh", **kw)

    def pc_visit(self, day: str, dx: str | None = None, **kw: Any) -> Chart:
        return self.encounter(day, dx=dx, setting="pc", **kw)

    def ed_visit(self, day: str, dx: str | None = None, **kw: Any) -> Chart:
        return self.encounter(day, cls="EMER", code=ED, dx=dx, **kw)

    def stay(self, admit: str, discharge: str, dx: str | None = None, **kw: Any) -> Chart:
        kw.setdefault("cls", "IMP")
        return self.encounter(admit, end=discharge, code=INPATIENT, dx=dx, **kw)

    # --- problems ----------------------------------------------------------------------
    def problem(self, code: str, onset: str = "2020-01-01", abated: str | None = None) -> Chart:
        self._add(
            "conditions",
            system=ICD,
            code=code,
            clinical_status="active" if abated is None else "resolved",
            verification_status="confirmed",
            category="problem-list-item",
            onset=ts(onset),
            abatement=ts(abated) if abated else None,
            recorded=ts(onset),
        )
        return self

    # --- medications -------------------------------------------------------------------
    def fill(
        self, day: str, days: int | None = 30, code: str = OLANZAPINE, status: str = "completed"
    ) -> Chart:
        self._add(
            "medication_dispenses",
            status=status,
            system=RXNORM,
            code=code,
            when_handed_over=ts(day),
            days_supply=days,
        )
        return self

    def injection(self, day: str, code: str = ARIPIPRAZOLE_LAI) -> Chart:
        self._add(
            "medication_administrations",
            status="completed",
            system=RXNORM,
            code=code,
            effective_start=ts(day),
            effective_end=ts(day),
        )
        return self

    def order(self, day: str, code: str = OLANZAPINE, days: int = 30) -> Chart:
        self._add(
            "medication_requests",
            status="active",
            intent="order",
            system=RXNORM,
            code=code,
            authored=ts(day),
            days_supply=days,
        )
        return self

    # --- results -----------------------------------------------------------------------
    def lab(self, day: str, code: str, value: float = 5.0) -> Chart:
        self._add(
            "observations",
            status="final",
            category="laboratory",
            system=LOINC,
            code=code,
            effective_start=ts(day),
            value_num=value,
        )
        return self

    def phq9(self, day: str, score: float) -> Chart:
        self._add(
            "observations",
            status="final",
            category="survey",
            system=LOINC,
            code=PHQ9,
            effective_start=ts(day),
            value_num=score,
        )
        return self

    def bp(self, day: str, systolic: float, diastolic: float, hour: int = 10) -> Chart:
        oid = f"bp-{self.pid}-{next(_ids)}"
        for code, value in (("8480-6", systolic), ("8462-4", diastolic)):
            self._add(
                "observations",
                observation_id=oid,
                status="final",
                category="vital-signs",
                system=LOINC,
                code=code,
                panel_system=LOINC,
                panel_code="85354-9",
                effective_start=ts(day, hour),
                value_num=value,
            )
        return self

    def procedure(self, day: str, code: str, system: str = CPT) -> Chart:
        self._add(
            "procedures",
            status="completed",
            system=system,
            code=code,
            performed_start=ts(day),
            performed_end=ts(day),
        )
        return self

    def care_team(
        self,
        practitioner: str,
        role: str = "pcp",
        start: str = "2020-01-01",
        end: str | None = None,
    ) -> Chart:
        self._add(
            "care_team",
            practitioner_id=practitioner,
            role=role,
            start_date=d(start),
            end_date=d(end) if end else None,
        )
        return self


def tables(*charts: Chart) -> dict[str, pa.Table]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for c in charts:
        for table, items in c.rows.items():
            rows.setdefault(table, []).extend(items)
    out = {}
    for table, items in rows.items():
        columns = [name for name, _ in schema.TABLES[table]]
        full = [{col: r.get(col) for col in columns} for r in items]
        out[table] = pa.Table.from_pylist(full, schema=schema.arrow_schema(table))
    return out


def run(
    measure: Measure,
    charts: list[Chart] | Chart,
    engine: str,
    *,
    period: tuple[dt.date, dt.date] = PERIOD,
    parameters: Mapping[str, Any] | None = None,
) -> MeasureResult:
    charts = [charts] if isinstance(charts, Chart) else charts
    return evaluate(
        measure, tables(*charts), VALUESETS, period=period, engine=engine, parameters=parameters
    )


def pops(result: MeasureResult, group: str = "group-1", pid: str = "p1") -> set[str]:
    """The populations the patient is in, as a set of codes."""
    return {k for k, v in result.patient(pid).populations[group].items() if v}


IN_NUMERATOR = {"initial-population", "denominator", "numerator"}
NOT_IN_NUMERATOR = {"initial-population", "denominator"}
EXCLUDED = {"initial-population", "denominator", "denominator-exclusion"}
