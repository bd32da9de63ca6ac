"""The measure registry: ids, names, builders, and one way to evaluate them.

``REGISTRY`` maps a measure key (``CMS2``) to a :class:`MeasureInfo`; :func:`get` also
accepts the lower-case key and the eCQM library name (``PCSDepressionScreenAndFollowUpFHIR``).
:func:`evaluate` runs a measure on an engine and returns JSON-ready patient rows
(``{"id", "groups": [{"id", "populations", "evidence"}]}``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import pyarrow as pa

from tandem.measures.definitions import cms, hedis, integration
from tandem.measures.language import Measure


@dataclass(frozen=True)
class MeasureInfo:
    key: str
    name: str  # eCQM library name = the test-deck folder name
    title: str
    url: str
    build: Callable[[], Measure]

    @property
    def group_ids(self) -> list[str]:
        return [g.id for g in measure(self.key).groups]


def _info(key: str, name: str, title: str, build: Callable[[], Measure]) -> MeasureInfo:
    return MeasureInfo(key, name, title, f"https://madie.cms.gov/Measure/{name}", build)


REGISTRY: dict[str, MeasureInfo] = {
    i.key: i
    for i in (
        _info(
            "CMS2",
            "PCSDepressionScreenAndFollowUpFHIR",
            "Depression screening and follow-up plan",
            cms.cms2,
        ),
        _info(
            "CMS159",
            "DepressionRemissionatTwelveMonthsFHIR",
            "Depression remission at twelve months",
            cms.cms159,
        ),
        _info(
            "CMS128",
            "AntidepressantMedicationManagementFHIR",
            "Antidepressant medication management",
            cms.cms128,
        ),
        _info(
            "CMS165",
            "ControllingHighBloodPressureFHIR",
            "Controlling high blood pressure",
            cms.cms165,
        ),
        _info(
            "CMS122",
            "DiabetesGlycemicStatusAssessmentGreaterThan9PercentFHIR",
            "Diabetes: glycemic status > 9%",
            cms.cms122,
        ),
        _info(
            "CMS138",
            "PreventiveCareAndTobaccoUseScreeningAndCessationInterventionFHIR",
            "Tobacco use screening and cessation",
            cms.cms138,
        ),
    )
}


def _ncqa(key: str, name: str, title: str, build: Callable[[], Measure], slug: str) -> MeasureInfo:
    return MeasureInfo(key, name, title, f"https://www.ncqa.org/hedis/measures/{slug}/", build)


def _tandem(key: str, name: str, title: str, build: Callable[[], Measure]) -> MeasureInfo:
    page = key.lower()
    return MeasureInfo(key, name, title, f"https://tandem.health/docs/measures/{page}", build)


# HEDIS-style measures (licensed NCQA specification not seen; docs/measures/<key>.md) and
# Tandem's own integration measures.
_SSD_SMD_SMC = (
    "diabetes-and-cardiovascular-disease-screening-and-monitoring-for-people-with-schizophrenia-"
    "or-bipolar-disorder"
)
REGISTRY.update(
    {
        i.key: i
        for i in (
            _ncqa(
                "SSD",
                "HedisStyleSSD",
                "Diabetes screening, schizophrenia or bipolar disorder on antipsychotics",
                hedis.ssd,
                _SSD_SMD_SMC,
            ),
            _ncqa(
                "SMD",
                "HedisStyleSMD",
                "Diabetes monitoring, diabetes and schizophrenia",
                hedis.smd,
                _SSD_SMD_SMC,
            ),
            _ncqa(
                "SMC",
                "HedisStyleSMC",
                "Cardiovascular monitoring, cardiovascular disease and schizophrenia",
                hedis.smc,
                _SSD_SMD_SMC,
            ),
            _ncqa(
                "SAA",
                "HedisStyleSAA",
                "Adherence to antipsychotics, schizophrenia (PDC >= 80%)",
                hedis.saa,
                "adherence-to-antipsychotic-medications-for-individuals-with-schizophrenia",
            ),
            _ncqa(
                "APM",
                "HedisStyleAPM",
                "Metabolic monitoring, children and adolescents on antipsychotics",
                hedis.apm,
                "metabolic-monitoring-for-children-and-adolescents-on-antipsychotics",
            ),
            _ncqa(
                "FUH",
                "HedisStyleFUH",
                "Follow-up after hospitalization for mental illness (7/30 days)",
                hedis.fuh,
                "follow-up-after-hospitalization-for-mental-illness",
            ),
            _ncqa(
                "FUM",
                "HedisStyleFUM",
                "Follow-up after ED visit for mental illness (7/30 days)",
                hedis.fum,
                "follow-up-after-emergency-department-visit-for-mental-illness",
            ),
            _ncqa(
                "AMM",
                "HedisStyleAMM",
                "Antidepressant medication management (acute, continuation)",
                hedis.amm,
                "antidepressant-medication-management",
            ),
            _ncqa(
                "DMS",
                "HedisStyleDMS",
                "PHQ-9 to monitor depression symptoms (three assessment periods)",
                hedis.dms,
                "hedis-learning-collaborative/hedis-depression-measures",
            ),
            _ncqa(
                "DRR",
                "HedisStyleDRR",
                "Depression remission or response (follow-up PHQ-9, remission, response)",
                hedis.drr,
                "depression-remission-or-response-for-adolescents-and-adults",
            ),
            _tandem(
                "TANDEM-PCENG",
                "TandemSmiPrimaryCareEngagement",
                "SMI primary-care engagement (PCP assigned and PC visit in 12 months)",
                integration.tandem_pceng,
            ),
            _tandem(
                "TANDEM-METAB",
                "TandemAntipsychoticMetabolicMonitoring",
                "Metabolic monitoring of antipsychotic users",
                integration.tandem_metab,
            ),
            _tandem(
                "TANDEM-BPSMI",
                "TandemSmiBloodPressureControl",
                "Blood pressure control (<140/90) for SMI with hypertension",
                integration.tandem_bpsmi,
            ),
            _tandem(
                "TANDEM-UTIL",
                "TandemIntegrationUtilization",
                "ED visits, psychiatric admissions and LOS before/after integration go-live",
                integration.tandem_util,
            ),
        )
    }
)


def get(key: str) -> MeasureInfo:
    """A measure by key (any case) or eCQM library name; ``KeyError`` if unknown."""
    for info in REGISTRY.values():
        if key.upper() == info.key or key == info.name:
            return info
    raise KeyError(key)


@cache
def measure(key: str) -> Measure:
    """The built measure (built once per process)."""
    return get(key).build()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def evaluate(
    key: str,
    tables: Mapping[str, pa.Table] | None,
    period: tuple[dt.date, dt.date],
    *,
    engine: str = "duckdb",
    valuesets: Mapping[str, frozenset[tuple[str, str]]] | None = None,
    connection: Any = None,
    table_prefix: str = "",
) -> list[dict[str, Any]]:
    """Patient rows: ``{"id", "groups": [{"id", "populations": {code: 0|1}, "evidence": [...]}]}``.

    ``evidence`` lists, per population the patient is in, the named values the measure
    reports and the reasons (``any_of`` branches) that were true.
    """
    from tandem.measures import valuesets as vs_module
    from tandem.measures.evaluation import evaluate as run

    m = measure(get(key).key)
    result = run(
        m,
        tables,
        valuesets or vs_module.load(),
        period=period,
        engine=engine,
        connection=connection,
        table_prefix=table_prefix,
    )
    rows = []
    for p in result.patients:
        groups = []
        for g in m.groups:
            pops = p.populations.get(g.id, {})
            evidence: list[dict[str, Any]] = []
            for code, member in pops.items():
                if not member:
                    continue
                values = p.evidence.get(g.id, {}).get(code) or {}
                reasons = p.reasons.get(g.id, {}).get(code) or []
                if values or reasons:
                    evidence.append(
                        {
                            "population": code,
                            **({"reasons": reasons} if reasons else {}),
                            **{k: _jsonable(v) for k, v in values.items()},
                        }
                    )
            groups.append(
                {
                    "id": g.id,
                    "populations": {c: int(bool(v)) for c, v in pops.items()},
                    "evidence": evidence,
                }
            )
        rows.append({"id": p.patient_id, "groups": groups})
    return rows


def conformance_evaluator(
    key: str,
    *,
    engine: str = "duckdb",
    valuesets: Mapping[str, frozenset[tuple[str, str]]] | None = None,
) -> Callable[..., Any]:
    """An ``evaluate`` callable for :func:`tandem.measures.conformance.run`."""

    def evaluate_case(tables: Mapping[str, pa.Table], period: tuple[dt.date, dt.date]):
        rows = evaluate(key, tables, period, engine=engine, valuesets=valuesets)
        return {r["id"]: [g["populations"] for g in r["groups"]] for r in rows}

    return evaluate_case


__all__ = ["REGISTRY", "MeasureInfo", "conformance_evaluator", "evaluate", "get", "measure"]
