"""QRDA Category III: the aggregate XML report CMS accepts for eCQM reporting.

One document per submission: the measure versions' results (populations, strata and the
supplemental data CMS asks for) over one reporting period, for one CMS program (MIPS
individual or group reporting). It carries aggregates only — counts and rates, never a patient.

Templates follow the **CMS QRDA Category III Implementation Guide for 2026** (Eligible
Clinicians; document template "QRDA Category III Report - CMS (V10)", extension 2025-05-01) on
the HL7 QRDA III STU 2.1 base templates it constrains. ``tests/measures/test_qrda3.py`` checks
the conformance statements a program can check (CONF numbers) and the HL7 CDA schema.

Where the guide leaves Tandem a choice:
- a measure is referenced by its version-specific ``Measure.identifier`` (the UUID, without
  ``urn:uuid:``) under the eCQM identifier root ``2.16.840.1.113883.4.738``;
- a population (and a stratum) is referenced by the id the published FHIR ``Measure`` gives it
  (``data/qrda/measures.json``): a UUID (the 2025 measures) is the ``id/@root``; any other id
  (``InitialPopulation_1``, the 2026 measures) is the ``id/@extension`` under the measure's UUID;
- supplemental data: sex as Federal Administrative Sex (female/male; a patient recorded as
  other or unknown is not counted there), race and ethnicity as OMB codes (none recorded:
  ``nullFlavor="UNK"``), payer as the CMS payer grouping of the coverage (:data:`PAYER_GROUPS`);
  a population with no patient reports one zero count per element, as the guide requires one.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tandem.core.lib.cli import UsageError

V3 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SDTC = "urn:hl7-org:sdtc"
ET.register_namespace("", V3)
ET.register_namespace("xsi", XSI)
ET.register_namespace("sdtc", SDTC)

IG = "CMS QRDA Category III Implementation Guide for 2026 (Eligible Clinicians)"
LOINC = "2.16.840.1.113883.6.1"
SNOMED = "2.16.840.1.113883.6.96"
ACT_CODE = "2.16.840.1.113883.5.4"
CDC_RACE = "2.16.840.1.113883.6.238"
CMS_CODES = "2.16.840.1.113883.3.249.12"  # CMS Clinical Codes (payer groupings)
ECQM_ID = "2.16.840.1.113883.4.738"
NPI = "2.16.840.1.113883.4.6"
TIN = "2.16.840.1.113883.4.2"
CMS_PROGRAM = "2.16.840.1.113883.3.249.7"
CEHRT = "2.16.840.1.113883.3.2074.1"

# (root, extension) of each template; None: the template has no version.
T = {
    "report": ("2.16.840.1.113883.10.20.27.1.1", "2020-12-01"),
    "report_cms": ("2.16.840.1.113883.10.20.27.1.2", "2025-05-01"),
    "measure_section": ("2.16.840.1.113883.10.20.24.2.2", None),
    "qrda_section": ("2.16.840.1.113883.10.20.27.2.1", "2020-12-01"),
    "qrda_section_cms": ("2.16.840.1.113883.10.20.27.2.3", "2025-05-01"),
    "reporting_parameters": ("2.16.840.1.113883.10.20.17.3.8", "2020-12-01"),
    "measure_reference": ("2.16.840.1.113883.10.20.24.3.98", None),
    "results": ("2.16.840.1.113883.10.20.27.3.1", "2020-12-01"),
    "results_cms": ("2.16.840.1.113883.10.20.27.3.17", "2025-05-01"),
    "measure_data": ("2.16.840.1.113883.10.20.27.3.5", "2016-09-01"),
    "measure_data_cms": ("2.16.840.1.113883.10.20.27.3.16", "2025-05-01"),
    "aggregate_count": ("2.16.840.1.113883.10.20.27.3.3", None),
    "stratum": ("2.16.840.1.113883.10.20.27.3.4", None),
    "sex": ("2.16.840.1.113883.10.20.27.3.6", "2016-09-01"),
    "sex_cms": ("2.16.840.1.113883.10.20.27.3.21", "2025-05-01"),
    "ethnicity": ("2.16.840.1.113883.10.20.27.3.7", "2016-09-01"),
    "race": ("2.16.840.1.113883.10.20.27.3.8", "2016-09-01"),
    "payer": ("2.16.840.1.113883.10.20.27.3.9", "2016-02-01"),
    "payer_cms": ("2.16.840.1.113883.10.20.27.3.18", "2018-05-01"),
    "rate": ("2.16.840.1.113883.10.20.27.3.14", "2020-12-01"),
    "rate_cms": ("2.16.840.1.113883.10.20.27.3.25", "2022-05-01"),
}

# FHIR population code -> QRDA population code (ActCode), in the order they are reported.
POPULATIONS = {
    "initial-population": "IPOP",
    "denominator": "DENOM",
    "denominator-exclusion": "DENEX",
    "numerator": "NUMER",
    "numerator-exclusion": "NUMEX",
    "denominator-exception": "DENEXCEP",
}

# CMS program names (value set 2.16.840.1.113883.3.249.14.101) Tandem can submit for: who the
# performer is follows from it (an individual: TIN and NPI; a group: TIN only).
PROGRAMS = {
    "MIPS_INDIV": "individual",
    "MIPS_GROUP": "group",
    "MIPS_APP1_INDIV": "individual",
    "MIPS_APP1_GROUP": "group",
}
DEFAULT_PROGRAM = "MIPS_GROUP"

SEX = {  # Tandem's administrative sex -> Federal Administrative Sex (SNOMED CT)
    "female": ("248152002", "Female (finding)"),
    "male": ("248153007", "Male (finding)"),
}
ETHNICITIES = {"2135-2": "Hispanic or Latino", "2186-5": "Not Hispanic or Latino"}
RACES = {
    "1002-5": "American Indian or Alaska Native",
    "2028-9": "Asian",
    "2054-5": "Black or African American",
    "2076-8": "Native Hawaiian or Other Pacific Islander",
    "2106-3": "White",
    "2131-1": "Other Race",
}
# Coverage kind -> CMS payer grouping (A Medicare, B Medicaid, C private, D other). A dual
# enrollee is reported as Medicare (primary payer); no coverage as "other".
PAYER_GROUPS = {"medicare": "A", "dual": "A", "medicaid": "B", "commercial": "C", "self-pay": "D"}
PAYER_NAMES = {"A": "Medicare", "B": "Medicaid", "C": "Private Health Insurance", "D": "Other"}
NO_PAYER = "D"

# Tandem stratifier values -> index of the published stratifier in each group, for the
# versions whose FHIR Measure reports strata and whose Tandem logic computes them.
# (CMS137: Tandem's measure-level "age" stratifier splits both groups alike.)
STRATA: dict[str, dict[str, dict[str, int]]] = {
    "CMS159v14": {"age-at-index": {"12-17": 0, "18+": 1}},
    "CMS137v13": {"age": {"13-17": 0, "18-64": 1, "65+": 2}},
    "CMS137v14": {"age": {"13-17": 0, "18-64": 1, "65+": 2}},
}

DATA = Path(__file__).parent / "data" / "qrda" / "measures.json"


@cache
def published() -> dict[str, Any]:
    """The published Measure facts per library (``data/qrda/measures.json``)."""
    return json.loads(DATA.read_text())["measures"]


@dataclass
class Tally:
    """One population's count and its breakdowns (supplemental data, strata)."""

    count: int = 0
    sex: Counter[str] = field(default_factory=Counter)
    race: Counter[str] = field(default_factory=Counter)
    ethnicity: Counter[str] = field(default_factory=Counter)
    payer: Counter[str] = field(default_factory=Counter)
    strata: Counter[tuple[str, str]] = field(default_factory=Counter)  # (stratifier, value)

    def add(self, n: int, *, sex: str, race: str, ethnicity: str, payer: str | None,
            strata: dict[str, Any]) -> None:  # fmt: skip
        """Count ``n`` (a patient's 1, or an episode-based measure's episodes) once each way."""
        self.count += n
        self.sex[sex] += n
        self.race[race] += n
        self.ethnicity[ethnicity] += n
        self.payer[PAYER_GROUPS.get(payer or "", NO_PAYER)] += n
        for stratifier, value in strata.items():
            if value is not None:
                self.strata[(stratifier, str(value))] += n


@dataclass
class MeasureResults:
    """A stored run's aggregates: per Tandem group id, per FHIR population code, a tally."""

    run_id: int
    version_id: str
    library: str
    groups: dict[str, dict[str, Tally]]


@dataclass(frozen=True)
class Submitter:
    """Who reports: the CMS program, the practice's TIN, the clinician's NPI (individual
    reporting), the CMS EHR Certification ID and the organization's name."""

    program: str
    tin: str
    cehrt_id: str
    organization: str
    npi: str = ""

    def check(self) -> None:
        """Refuse, with a one-line :class:`UsageError`, what CMS would reject."""
        if self.program not in PROGRAMS:
            raise UsageError(f"--program {self.program!r}: one of {', '.join(PROGRAMS)}")
        if not re.fullmatch(r"\d{9}", self.tin or ""):
            raise UsageError(f"--tin {self.tin!r}: the practice's TIN, 9 digits, is required")
        if not re.fullmatch(r"[A-Za-z0-9]{15}", self.cehrt_id or ""):
            raise UsageError(
                f"--cehrt-id {self.cehrt_id!r}: the CMS EHR Certification ID, 15 letters or "
                "digits, is required"
            )
        individual = PROGRAMS[self.program] == "individual"
        if individual and not npi_valid(self.npi):
            raise UsageError(f"--npi {self.npi!r}: {self.program} needs the clinician's NPI")
        if not individual and self.npi:
            raise UsageError(f"--npi: {self.program} reports a group, which has no NPI")


def npi_valid(npi: str) -> bool:
    """Ten digits with the Luhn check digit of the ``80840`` prefix (as CMS checks it)."""
    if not re.fullmatch(r"\d{10}", npi or ""):
        return False
    digits = [int(c) for c in "80840" + npi]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def population_ref(identifier: str, population_id: str) -> dict[str, str]:
    """The ``id`` attributes that reference a published population or stratifier."""
    try:
        return {"root": str(uuid.UUID(population_id)).upper()}
    except ValueError:
        return {"root": _uuid(identifier), "extension": population_id}


def _uuid(identifier: str) -> str:
    return identifier.removeprefix("urn:uuid:").upper()


def _ts(moment: dt.datetime) -> str:
    """A timestamp without a UTC offset (the guide: none anywhere, or one everywhere)."""
    return moment.strftime("%Y%m%d%H%M%S")


class _Doc:
    """Element helpers: ``el(parent, tag, **attrs)`` and the recurring shapes."""

    @staticmethod
    def el(
        parent: ET.Element | None, tag: str, text: str | None = None, **attrs: str
    ) -> ET.Element:
        name = tag if tag.startswith("{") else f"{{{V3}}}{tag}"
        attrib = {(f"{{{XSI}}}type" if k == "xsi_type" else k): v for k, v in attrs.items()}
        node = ET.Element(name, attrib) if parent is None else ET.SubElement(parent, name, attrib)
        if text is not None:
            node.text = text
        return node

    def templates(self, parent: ET.Element, *keys: str) -> None:
        for key in keys:
            root, extension = T[key]
            self.el(
                parent, "templateId", root=root, **({"extension": extension} if extension else {})
            )

    def count(self, parent: ET.Element, n: int) -> None:
        """An Aggregate Count, as the subject of ``parent``."""
        rel = self.el(parent, "entryRelationship", typeCode="SUBJ", inversionInd="true")
        obs = self.el(rel, "observation", classCode="OBS", moodCode="EVN")
        self.templates(obs, "aggregate_count")
        self.el(obs, "code", code="MSRAGG", codeSystem=ACT_CODE, displayName="rate aggregation")
        self.el(obs, "value", xsi_type="INT", value=str(n))
        self.el(obs, "methodCode", code="COUNT", codeSystem="2.16.840.1.113883.5.84",
                displayName="Count")  # fmt: skip

    def observation(self, parent: ET.Element, *templates: str, rel: str = "COMP") -> ET.Element:
        entry = self.el(parent, "entryRelationship", typeCode=rel)
        obs = self.el(entry, "observation", classCode="OBS", moodCode="EVN")
        self.templates(obs, *templates)
        return obs


D = _Doc()


def document(
    results: list[MeasureResults],
    period: tuple[dt.date, dt.date],
    submitter: Submitter,
    *,
    now: dt.datetime | None = None,
    document_id: str | None = None,
) -> bytes:
    """The QRDA III document (UTF-8 XML) for ``results`` over ``period``."""
    submitter.check()
    now = now or dt.datetime.now()
    root = D.el(None, "ClinicalDocument")
    _header(root, submitter, now, document_id or str(uuid.uuid4()))
    _participants(root, submitter, now)
    body = D.el(D.el(root, "component"), "structuredBody")
    _section(D.el(body, "component"), results, period)
    ET.indent(root, "  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _header(root: ET.Element, s: Submitter, now: dt.datetime, doc_id: str) -> None:
    D.el(root, "realmCode", code="US")
    D.el(root, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    D.templates(root, "report", "report_cms")
    D.el(root, "id", root=doc_id)
    D.el(root, "code", code="55184-6", codeSystem=LOINC, codeSystemName="LOINC",
         displayName="Quality Reporting Document Architecture Calculated Summary Report")  # fmt: skip
    D.el(root, "title", "QRDA Category III Report")
    D.el(root, "effectiveTime", value=_ts(now))
    D.el(root, "confidentialityCode", code="N", codeSystem="2.16.840.1.113883.5.25")
    D.el(root, "languageCode", code="en")
    D.el(root, "versionNumber", value="1")
    D.el(D.el(D.el(root, "recordTarget"), "patientRole"), "id", nullFlavor="NA")
    author = D.el(root, "author")
    D.el(author, "time", value=_ts(now))
    assigned = D.el(author, "assignedAuthor")
    D.el(assigned, "id", root=TIN, extension=s.tin)
    D.el(D.el(assigned, "assignedAuthoringDevice"), "softwareName", "Tandem")
    D.el(D.el(assigned, "representedOrganization"), "name", s.organization)
    custodian = D.el(D.el(D.el(root, "custodian"), "assignedCustodian"),
                     "representedCustodianOrganization")  # fmt: skip
    D.el(custodian, "id", root=TIN, extension=s.tin)
    D.el(custodian, "name", s.organization)
    recipient = D.el(D.el(root, "informationRecipient"), "intendedRecipient")
    D.el(recipient, "id", root=CMS_PROGRAM, extension=s.program)


def _participants(root: ET.Element, s: Submitter, now: dt.datetime) -> None:
    legal = D.el(root, "legalAuthenticator")
    D.el(legal, "time", value=_ts(now))
    D.el(legal, "signatureCode", code="S")
    D.el(D.el(legal, "assignedEntity"), "id", root=TIN, extension=s.tin)
    device = D.el(D.el(root, "participant", typeCode="DEV"), "associatedEntity", classCode="RGPR")
    D.el(device, "id", root=CEHRT, extension=s.cehrt_id)
    D.el(device, "code", code="129465004", codeSystem=SNOMED, displayName="medical record, device")
    event = D.el(D.el(root, "documentationOf", typeCode="DOC"), "serviceEvent", classCode="PCPR")
    performer = D.el(D.el(event, "performer", typeCode="PRF"), "assignedEntity")
    if PROGRAMS[s.program] == "individual":
        D.el(performer, "id", root=NPI, extension=s.npi)
    else:
        D.el(performer, "id", root=NPI, nullFlavor="NA")
    D.el(D.el(performer, "representedOrganization"), "id", root=TIN, extension=s.tin)


def _section(component: ET.Element, results: list[MeasureResults], period) -> None:
    section = D.el(component, "section")
    D.templates(section, "measure_section", "qrda_section", "qrda_section_cms")
    D.el(section, "code", code="55186-1", codeSystem=LOINC, displayName="Measure Section")
    D.el(section, "title", "Measure Section")
    text = D.el(section, "text")
    for r in results:
        facts = published()[r.library]
        D.el(text, "paragraph", f"{r.version_id} {_title(facts)} (version {facts['version']})")
    for r in results:
        _measure(D.el(section, "entry"), r)
    act = D.el(D.el(section, "entry", typeCode="DRIV"), "act", classCode="ACT", moodCode="EVN")
    D.templates(act, "reporting_parameters")
    D.el(act, "id", root=str(uuid.uuid4()))
    D.el(act, "code", code="252116004", codeSystem=SNOMED, displayName="Observation Parameters")
    span = D.el(act, "effectiveTime")
    D.el(span, "low", value=period[0].strftime("%Y%m%d"))
    D.el(span, "high", value=period[1].strftime("%Y%m%d"))


def _measure(entry: ET.Element, r: MeasureResults) -> None:
    facts = published()[r.library]
    organizer = D.el(entry, "organizer", classCode="CLUSTER", moodCode="EVN")
    D.templates(organizer, "measure_reference", "results", "results_cms")
    D.el(organizer, "id", root=str(uuid.uuid4()))
    D.el(organizer, "statusCode", code="completed")
    doc = D.el(D.el(organizer, "reference", typeCode="REFR"), "externalDocument",
               classCode="DOC", moodCode="EVN")  # fmt: skip
    D.el(doc, "id", root=ECQM_ID, extension=_uuid(facts["identifier"]))
    D.el(
        doc, "code", code="57024-2", codeSystem=LOINC, displayName="Health Quality Measure Document"
    )
    D.el(doc, "text", _title(facts))
    tandem_groups = list(r.groups)
    for i, group in enumerate(facts["groups"]):
        tallies = r.groups.get(tandem_groups[i], {}) if i < len(tandem_groups) else {}
        strata = _strata_of(r.version_id, group)
        for code in POPULATIONS:
            if code in group["populations"]:
                ref = population_ref(facts["identifier"], group["populations"][code])
                _population(organizer, code, ref, tallies.get(code, Tally()), strata, facts)
        _rate(organizer, group, tallies, facts)


def _strata_of(version_id: str, group: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(Tandem stratifier, value) -> the published stratifier id of this group."""
    ids = group["stratifiers"]
    return {
        (stratifier, value): ids[index]
        for stratifier, values in STRATA.get(version_id, {}).items()
        for value, index in values.items()
        if index < len(ids)
    }


def _population(organizer, code, ref, tally: Tally, strata, facts) -> None:
    obs = D.el(D.el(organizer, "component"), "observation", classCode="OBS", moodCode="EVN")
    D.templates(obs, "measure_data", "measure_data_cms")
    D.el(obs, "code", code="ASSERTION", codeSystem=ACT_CODE, displayName="Assertion")
    D.el(obs, "statusCode", code="completed")
    D.el(obs, "value", xsi_type="CD", code=POPULATIONS[code], codeSystem=ACT_CODE)
    D.count(obs, tally.count)
    _supplemental(obs, tally)
    for key, stratifier_id in strata.items():
        stratum = D.observation(obs, "stratum")
        D.el(stratum, "code", code="ASSERTION", codeSystem=ACT_CODE, displayName="Assertion")
        D.el(stratum, "statusCode", code="completed")
        D.count(stratum, tally.strata.get(key, 0))
        ext = D.el(D.el(stratum, "reference", typeCode="REFR"), "externalObservation",
                   classCode="OBS", moodCode="EVN")  # fmt: skip
        D.el(ext, "id", **population_ref(facts["identifier"], stratifier_id))
    ext = D.el(D.el(obs, "reference", typeCode="REFR"), "externalObservation",
               classCode="OBS", moodCode="EVN")  # fmt: skip
    D.el(ext, "id", **ref)


def _supplemental(obs: ET.Element, tally: Tally) -> None:
    """Sex, ethnicity, race and payer counts (one zero count each for an empty population)."""
    sexes = {c: n for c, n in tally.sex.items() if c in SEX} or {"female": 0}
    for sex, n in sorted(sexes.items()):
        sde = _sde(obs, ("sex", "sex_cms"), "76689-9", "Sex assigned at birth")
        value = D.el(sde, "value", xsi_type="CD", nullFlavor="OTH")
        code, display = SEX[sex]
        D.el(value, "translation", code=code, codeSystem=SNOMED, displayName=display)
        D.count(sde, n)
    for codes, key, loinc, name in (
        (ETHNICITIES, "ethnicity", "69490-1", "Ethnic"),
        (RACES, "race", "72826-1", "Race"),
    ):
        counts = Counter({(c if c in codes else ""): 0 for c in getattr(tally, key)} or {"": 0})
        for c, n in getattr(tally, key).items():
            counts[c if c in codes else ""] += n
        for c, n in sorted(counts.items()):
            sde = _sde(obs, (key,), loinc, name)
            if c:
                D.el(sde, "value", xsi_type="CD", code=c, codeSystem=CDC_RACE,
                     codeSystemName="Race & Ethnicity - CDC", displayName=codes[c])  # fmt: skip
            else:
                D.el(sde, "value", xsi_type="CD", nullFlavor="UNK")
            D.count(sde, n)
    for group, n in sorted((tally.payer or Counter({NO_PAYER: 0})).items()):
        sde = _sde(obs, ("payer", "payer_cms"), "48768-6", "Payment source")
        value = D.el(sde, "value", xsi_type="CD", nullFlavor="OTH")
        D.el(value, "translation", code=group, codeSystem=CMS_CODES, displayName=PAYER_NAMES[group])
        D.count(sde, n)


def _sde(obs: ET.Element, templates: tuple[str, ...], loinc: str, name: str) -> ET.Element:
    sde = D.observation(obs, *templates)
    D.el(sde, "code", code=loinc, codeSystem=LOINC, codeSystemName="LOINC", displayName=name)
    D.el(sde, "statusCode", code="completed")
    return sde


def performance_rate(tallies: dict[str, Tally]) -> float | None:
    """(numerator - numerator exclusions) / (denominator - exclusions - exceptions)."""
    n = lambda code: tallies[code].count if code in tallies else 0  # noqa: E731
    base = n("denominator") - n("denominator-exclusion") - n("denominator-exception")
    if base <= 0:
        return None
    return (n("numerator") - n("numerator-exclusion")) / base


def _rate(organizer: ET.Element, group: dict[str, Any], tallies, facts) -> None:
    """A Performance Rate for Proportion Measure per group; ``nullFlavor="NA"`` when the
    performance denominator is empty."""
    if "numerator" not in group["populations"]:
        return
    obs = D.el(D.el(organizer, "component"), "observation", classCode="OBS", moodCode="EVN")
    D.templates(obs, "rate", "rate_cms")
    D.el(obs, "code", code="72510-1", codeSystem=LOINC, displayName="Performance Rate")
    D.el(obs, "statusCode", code="completed")
    rate = performance_rate(tallies)
    if rate is None:
        D.el(obs, "value", xsi_type="REAL", nullFlavor="NA")
    else:
        D.el(obs, "value", xsi_type="REAL", value=f"{rate:.6f}".rstrip("0").rstrip(".") or "0")
    ext = D.el(D.el(obs, "reference", typeCode="REFR"), "externalObservation", classCode="OBS",
               moodCode="EVN")  # fmt: skip
    D.el(ext, "id", **population_ref(facts["identifier"], group["populations"]["numerator"]))
    D.el(ext, "code", code="NUMER", codeSystem=ACT_CODE, displayName="Numerator")


def _title(facts: dict[str, Any]) -> str:
    return " ".join(facts["title"].split())
