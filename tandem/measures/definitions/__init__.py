"""The measure registry: keys, versions, builders, and one way to evaluate them.

``REGISTRY`` maps a measure key (``CMS2``) to a :class:`MeasureInfo` with its
:class:`~tandem.measures.definitions.versions.MeasureVersion` s, oldest first: the CMS eCQMs
have one version per performance year (CMS122v13 for 2025, CMS122v14 for 2026), Tandem's
HEDIS-style and own measures one version (``SSDv1``) for any period. :func:`get` accepts the key
(any case), a library name of any version (``PCSDepressionScreenAndFollowUpFHIR``) or a version
id; :func:`select` chooses the version for a period (a version id pins it); :func:`evaluate`
runs the chosen version on an engine and returns JSON-ready patient rows
(``{"id", "groups": [{"id", "populations", "evidence"}]}``).

Adding a version is data: a :func:`_cms` entry in the measure's ``_ecqm`` with the published
Measure's library, version and version-specific identifier, and its builder (``build=None``
lists a published version that is not implemented yet). See ``docs/measures/README.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from tandem.measures.definitions import cms, consent, hedis, integration
from tandem.measures.definitions.versions import (
    MeasureVersion,
    NoVersionForPeriod,
    PeriodSpansPerformanceYears,
    UnknownVersion,
    VersionError,
    choose,
)
from tandem.measures.language import Measure


@dataclass(frozen=True)
class MeasureInfo:
    key: str
    title: str
    versions: tuple[MeasureVersion, ...]  # oldest first

    @property
    def name(self) -> str:
        """The library name of the first version (for the CMS eCQMs: the 2025 test-deck folder)."""
        return self.versions[0].library

    @property
    def url(self) -> str:
        return self.versions[0].url

    @property
    def latest(self) -> MeasureVersion:
        """The newest implemented version."""
        return [v for v in self.versions if v.implemented][-1]

    @property
    def group_ids(self) -> list[str]:
        return self.latest.group_ids

    def select(self, period: tuple[dt.date, dt.date], version: str | None = None) -> MeasureVersion:
        """The version for ``period`` (or ``version``, explicitly); see :func:`versions.choose`."""
        return choose(self.key, self.versions, period, version)


def _cms(
    version_id: str,
    year: int,
    library: str,
    published_version: str,
    identifier: str,
    build: Callable[[], Measure] | None = None,
) -> MeasureVersion:
    """A CMS eCQM version, from its published FHIR Measure (``name``, ``version`` and the
    version-specific ``identifier``; the 2025 ones in ``../shared/conformance/ecqm-qicore-2024/
    measures``, the 2026 ones in ``../shared/conformance/ecqm-2026/measures``)."""
    key = version_id.rpartition("v")[0]
    url = f"https://madie.cms.gov/Measure/{library}"
    return MeasureVersion(
        version_id, key, year, build, library, url, published_version, f"urn:uuid:{identifier}"
    )


def _lazy(path: str) -> Callable[[], Measure] | None:
    """The builder ``module:function`` (a module of this package), or None while it does not
    exist yet: a published version whose logic is not written is listed, not implemented."""
    import importlib

    module, _, function = path.partition(":")
    try:
        mod = importlib.import_module(f"{__name__}.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{module}":
            raise
        return None
    found: Callable[[], Measure] | None = getattr(mod, function, None)
    return found


def _ecqm(title: str, *versions: MeasureVersion) -> MeasureInfo:
    return MeasureInfo(versions[0].key, title, versions)


# Each version's builder is a function of this package (``_lazy``); a version whose function
# does not exist yet is listed but not implemented, and a period that needs it is refused.
REGISTRY: dict[str, MeasureInfo] = {
    i.key: i
    for i in (
        _ecqm(
            "Depression screening and follow-up plan",
            _cms(
                "CMS2v14", 2025, "PCSDepressionScreenAndFollowUpFHIR", "0.2.000",
                "7cb8ac66-85c4-489b-aa4a-af861d69c9a5", cms.cms2,
            ),
            _cms(
                "CMS2v15", 2026, "CMS2FHIRPCSDepScreenAndFollowUp", "1.0.000",
                "fd005986-96a6-404d-896f-14257cf9611b", _lazy("cms_behavioral:cms2_2026"),
            ),
        ),
        _ecqm(
            "Depression remission at twelve months",
            _cms(
                "CMS159v13", 2025, "DepressionRemissionatTwelveMonthsFHIR", "0.2.000",
                "970c5e70-c0cb-4f05-b51a-54fea79413e6", cms.cms159,
            ),
            _cms(
                "CMS159v14", 2026, "CMS159FHIRDepRemissionat12Months", "1.0.000",
                "32fef19d-8ef0-4bf3-96a6-cd0514a0d2e7", _lazy("cms_behavioral:cms159_2026"),
            ),
        ),
        _ecqm(
            "Antidepressant medication management",
            _cms(
                "CMS128v13", 2025, "AntidepressantMedicationManagementFHIR", "0.1.001",
                "5f26d7bc-2d67-41a7-a66b-4a044f7d21e0", cms.cms128,
            ),
            _cms(
                "CMS128v14", 2026, "CMS128FHIRAntidepressantMgmt", "1.0.000",
                "a9ffd6a4-fb8f-435d-a6b9-9543f87d7739", _lazy("cms_behavioral:cms128_2026"),
            ),
        ),
        _ecqm(
            "Controlling high blood pressure",
            _cms(
                "CMS165v13", 2025, "ControllingHighBloodPressureFHIR", "0.1.000",
                "f573fb8f-4907-4ed7-bc04-09d9a3f36268", cms.cms165,
            ),
            _cms(
                "CMS165v14", 2026, "CMS165FHIRControllingHighBP", "1.0.000",
                "6f830f33-ed81-4f34-ba8e-97f3810563bd", _lazy("cms_chronic:cms165_2026"),
            ),
        ),
        _ecqm(
            "Diabetes: glycemic status > 9%",
            _cms(
                "CMS122v13", 2025, "DiabetesGlycemicStatusAssessmentGreaterThan9PercentFHIR",
                "0.1.002", "7cd99bbb-c3bd-4089-ac26-c1744377b637", cms.cms122,
            ),
            _cms(
                "CMS122v14", 2026, "CMS122FHIRDiabetesAssessGT9Pct", "1.0.000",
                "2ea22cb2-9bcc-4ca6-b2f2-68fc964365ad", _lazy("cms_chronic:cms122_2026"),
            ),
        ),
        _ecqm(
            "Tobacco use screening and cessation",
            _cms(
                "CMS138v13", 2025,
                "PreventiveCareAndTobaccoUseScreeningAndCessationInterventionFHIR", "0.0.001",
                "93a0c3c5-922d-4ac6-a3ef-41fdcd52a1fc", cms.cms138,
            ),
            _cms(
                "CMS138v14", 2026, "CMS138FHIRTobaccoScrnCessation", "1.0.000",
                "04caa1ba-aa09-497c-86b9-d40b493fd443", _lazy("cms_chronic:cms138_2026"),
            ),
        ),
        _ecqm(
            "Closing the referral loop: receipt of specialist report",
            _cms(
                "CMS50v13", 2025, "CRLReceiptofSpecialistReportFHIR", "0.3.000",
                "28defa55-b86f-4d45-9919-08ee327231da", _lazy("cms_referral:cms50_2025"),
            ),
            _cms(
                "CMS50v14", 2026, "CMS50FHIRReceiptofSpecialistReport", "1.0.000",
                "00ad5281-ab7f-4e65-842f-b296dd094771", _lazy("cms_referral:cms50_2026"),
            ),
        ),
        _ecqm(
            "Documentation of current medications in the medical record",
            _cms(
                "CMS68v14", 2025, "DocumentationofCurrentMedicationsFHIR", "0.2.000",
                "5047320b-7b52-4faa-8572-00ad27c4d7f5", _lazy("cms_encounter:cms68_2025"),
            ),
            _cms(
                "CMS68v15", 2026, "CMS68FHIRDocumentationCurrentMeds", "1.0.000",
                "15214cf9-f81e-4f3a-9746-a6a7c0daa51d", _lazy("cms_encounter:cms68_2026"),
            ),
        ),
        _ecqm(
            "BMI screening and follow-up plan",
            _cms(
                "CMS69v13", 2025, "PCSBMIScreenAndFollowUpFHIR", "0.2.000",
                "be7d6a31-0eae-454a-9524-bcb105417ca3", _lazy("cms_bmi:cms69_2025"),
            ),
            _cms(
                "CMS69v14", 2026, "CMS69FHIRPCSBMIScreenAndFollowUp", "1.0.000",
                "6788e67b-9cd5-40f8-a8fd-75540dc16238", _lazy("cms_bmi:cms69_2026"),
            ),
        ),
        _ecqm(
            "Initiation and engagement of substance use disorder treatment",
            _cms(
                "CMS137v13", 2025,
                "InitiationandEngagementofSubstanceUseDisorderTreatmentFHIR", "0.0.002",
                "5a9ec9ee-f497-4cc1-b8da-9b051397d5b6", _lazy("cms_sud:cms137_2025"),
            ),
            _cms(
                "CMS137v14", 2026, "CMS137FHIRSUDTxInitEngagement", "1.0.000",
                "e156e1a3-4a76-4490-b3be-96a0d90f9b32", _lazy("cms_sud:cms137_2026"),
            ),
        ),
        _ecqm(
            "Child and adolescent MDD: suicide risk assessment",
            _cms(
                "CMS177v13", 2025,
                "ChildandAdolescentMajorDepressiveDisorderMDDSuicideRiskAssessmentFHIR",
                "0.1.000", "9920a350-4525-4cc1-98f3-b80dc323a8c2",
                _lazy("cms_encounter:cms177_2025"),
            ),
            _cms(
                "CMS177v14", 2026, "CMS177FHIRChildMDDSuicideAssmt", "1.0.000",
                "2df449e3-aa29-4cbb-b042-9c6e583f200a", _lazy("cms_encounter:cms177_2026"),
            ),
        ),
        _ecqm(
            "Statin therapy for the prevention and treatment of cardiovascular disease",
            _cms(
                "CMS347v8", 2025,
                "StatinTherapyforthePreventionandTreatmentofCardiovascularDiseaseFHIR",
                "0.2.000", "be1257a3-a34e-4a7b-99df-345de63365a2",
                _lazy("cms_statin:cms347_2025"),
            ),
            _cms(
                "CMS347v9", 2026, "CMS347FHIRStatinPreventionTxCVD", "1.0.000",
                "bcebaf84-db66-4cc4-ab1b-5c95eb02d300", _lazy("cms_statin:cms347_2026"),
            ),
        ),
    )
}  # fmt: skip


def _one_version(
    key: str, name: str, title: str, build: Callable[[], Measure], url: str
) -> MeasureInfo:
    """A measure Tandem versions itself: ``<KEY>v1``, for any measurement period."""
    return MeasureInfo(key, title, (MeasureVersion(f"{key}v1", key, None, build, name, url),))


def _ncqa(key: str, name: str, title: str, build: Callable[[], Measure], slug: str) -> MeasureInfo:
    return _one_version(key, name, title, build, f"https://www.ncqa.org/hedis/measures/{slug}/")


def _tandem(key: str, name: str, title: str, build: Callable[[], Measure]) -> MeasureInfo:
    page = key.lower()
    return _one_version(key, name, title, build, f"https://tandem.health/docs/measures/{page}")


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
            _tandem(
                "TANDEM-CONSENT",
                "TandemConsentOnFile",
                "Consent on file: SMI or SUD, BH data shared with the PC provider",
                consent.tandem_consent,
            ),
        )
    }
)


def get(name: str) -> MeasureInfo:
    """A measure by key (any case), library name of any version, or version id; ``KeyError``."""
    upper = name.upper()
    for info in REGISTRY.values():
        if upper == info.key or any(
            name == v.library or upper == v.id.upper() for v in info.versions
        ):
            return info
    raise KeyError(name)


def find_version(version_id: str) -> MeasureVersion:
    """A version by id (any case), whatever its measure; ``KeyError`` if none has it."""
    for info in REGISTRY.values():
        for v in info.versions:
            if v.id.upper() == version_id.upper():
                return v
    raise KeyError(version_id)


def select(
    name: str, period: tuple[dt.date, dt.date], version: str | None = None
) -> MeasureVersion:
    """The version of measure ``name`` to evaluate over ``period``.

    ``name`` may be a version id (``CMS122v13``), which pins the version; ``version`` pins it
    too and must name a version of the same measure. Otherwise the version whose performance
    period covers ``period`` (:func:`versions.choose`). Raises ``KeyError`` for an unknown
    measure and a :class:`VersionError` (one line) when no version can be chosen.
    """
    info = get(name)
    pinned = next((v.id for v in info.versions if v.id.upper() == name.upper()), None)
    if version is not None:
        try:
            owner = find_version(version)
        except KeyError:
            owner = None
        if owner is not None and owner.key != info.key:
            raise UnknownVersion(f"{owner.id} is a version of {owner.key}, not of {info.key}")
        if pinned is not None and pinned.upper() != version.upper():
            raise UnknownVersion(f"{name} and --version {version} name different versions")
    return info.select(period, version or pinned)


def measure(name: str) -> Measure:
    """The built measure of a version id, or of a measure key's newest implemented version.

    For the version a period needs, use ``select(key, period).measure()``.
    """
    info = get(name)
    for v in info.versions:
        if v.id.upper() == name.upper():
            return v.measure()
    return info.latest.measure()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def evaluate(
    key: str,
    tables: Mapping[str, pa.Table] | None,
    period: tuple[dt.date, dt.date],
    *,
    version: str | None = None,
    engine: str = "duckdb",
    valuesets: Mapping[str, frozenset[tuple[str, str]]] | None = None,
    connection: Any = None,
    table_prefix: str = "",
    label_of: Callable[[Any], str] | None = None,
) -> list[dict[str, Any]]:
    """Patient rows: ``{"id", "groups": [{"id", "populations": {code: count}, "evidence": [...]}]}``
    (a count is 0/1 in a patient-based group, the number of episodes in an episode-based one).

    ``evidence`` lists, per population the patient is in, the named values the measure
    reports and the reasons (``any_of`` branches) that were true. The version is
    :func:`select` ``(key, period, version)``; without ``valuesets``, the expansions shipped for
    its performance year (a missing one raises :class:`valuesets.MissingValueSets`). With ``label_of`` (the stored rows' label of a
    patient's result, ``run.label_of``), each row also has ``"label"``.
    """
    from tandem.measures import valuesets as vs_module
    from tandem.measures.evaluation import evaluate as run

    chosen = select(key, period, version)
    m = chosen.measure()
    if valuesets is None:  # the expansions shipped for the version's year, all present
        valuesets = vs_module.for_year(chosen.year)
        vs_module.require(chosen, valuesets)
    result = run(
        m,
        tables,
        valuesets,
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
                    "populations": {c: int(v or 0) for c, v in pops.items()},
                    "evidence": evidence,
                }
            )
        row: dict[str, Any] = {"id": p.patient_id, "groups": groups}
        if label_of is not None:
            row["label"] = label_of(p)
        rows.append(row)
    return rows


def conformance_evaluator(
    key: str,
    *,
    version: str | None = None,
    engine: str = "duckdb",
    valuesets: Mapping[str, frozenset[tuple[str, str]]] | None = None,
) -> Callable[..., Any]:
    """An ``evaluate`` callable for :func:`tandem.measures.conformance.run` (the version is
    chosen for the period the harness passes, unless ``version`` pins it)."""

    def evaluate_case(tables: Mapping[str, pa.Table], period: tuple[dt.date, dt.date]):
        rows = evaluate(key, tables, period, version=version, engine=engine, valuesets=valuesets)
        return {r["id"]: [g["populations"] for g in r["groups"]] for r in rows}

    return evaluate_case


__all__ = [
    "REGISTRY",
    "MeasureInfo",
    "MeasureVersion",
    "NoVersionForPeriod",
    "PeriodSpansPerformanceYears",
    "UnknownVersion",
    "VersionError",
    "conformance_evaluator",
    "evaluate",
    "find_version",
    "get",
    "measure",
    "select",
]
