"""QRDA Category III export: the CMS 2026 QRDA III guide's checkable rules, and the command.

``RULES`` holds the conformance statements of the **CMS QRDA Category III Implementation Guide
for 2026** (Eligible Clinicians: "QRDA Category III Report - CMS (V10)" and the HL7 QRDA III
STU 2.1 templates it constrains) that a program can check, one per CONF number, each an XPath
2.0 assertion over every node its template applies to (the way the guide's Schematron states
them); a rule whose template the example does not contain fails, so none passes vacuously.
Rules that pick a value from a CMS list (program names, payer groupings) list the values.

The HL7 CDA R2 schema with SDTC extensions (CDA_SDTC.xsd) is checked when the environment
variable ``TANDEM_CDA_SCHEMA`` names a copy (not shipped: docs/measures/qrda.md says how to
assemble one); without it those tests skip.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import elementpath
import pytest

from tandem.measures import qrda
from tests import shared

NS = {"cda": qrda.V3, "xsi": qrda.XSI, "sdtc": qrda.SDTC}
PERIOD = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
GROUP = qrda.Submitter(
    program="MIPS_GROUP", tin="123456789", cehrt_id="0015HQR8VC3TF2B", organization="Tandem Clinic"
)
INDIV = qrda.Submitter(
    program="MIPS_INDIV",
    tin="123456789",
    npi="1234567893",
    cehrt_id="0015HQR8VC3TF2B",
    organization="Tandem Clinic",
)
CDA_SCHEMA = os.environ.get("TANDEM_CDA_SCHEMA", "")
needs_cda_schema = pytest.mark.skipif(
    not (CDA_SCHEMA and Path(CDA_SCHEMA).is_file()),
    reason=f"no HL7 CDA schema (TANDEM_CDA_SCHEMA={CDA_SCHEMA!r}): set it to an assembled "
    "CDA_SDTC.xsd, see docs/measures/qrda.md",
)


def tmpl(key: str) -> str:
    root, ext = qrda.T[key]
    return f"cda:templateId[@root='{root}']" + (f"[@extension='{ext}']" if ext else "")


def at(key: str, kind: str = "observation") -> str:
    return f"//cda:{kind}[{tmpl(key)}]"


DOC = "/cda:ClinicalDocument"
SECTION = at("qrda_section_cms", "section")
RESULTS = at("results_cms", "organizer")
DATA = at("measure_data_cms")
COUNT = "count(cda:entryRelationship[@typeCode='SUBJ'][@inversionInd='true']" \
    f"[count(cda:observation[{tmpl('aggregate_count')}])=1])=1"  # fmt: skip
RATE = at("rate_cms")
PROGRAM = f"{DOC}/cda:informationRecipient/cda:intendedRecipient/cda:id/@extension"
INDIVIDUAL = f"({PROGRAM}='MIPS_INDIV' or {PROGRAM}='MIPS_APP1_INDIV')"
PERFORMER_ORG = f"{DOC}/cda:documentationOf/cda:serviceEvent/cda:performer/cda:assignedEntity"
POPULATION_CODES = "('IPOP','DENOM','NUMER','NUMEX','DENEX','DENEXCEP','MSRPOPL','MSRPOPLEX')"


def completed(key: str, conf: str) -> tuple[str, str, str]:
    return (conf, f"{at(key)}/cda:statusCode", "@code='completed'")


def sde_rules(key: str, confs: list[str], loinc: str) -> list[tuple[str, str, str]]:
    """The rules every supplemental data element template shares (HL7 V2/V3)."""
    cls, mood, tid, code, status, value, subj, code_code, code_system, status_code = confs
    return [
        (cls, at(key), "@classCode='OBS'"),
        (mood, at(key), "@moodCode='EVN'"),
        (tid, at(key), f"count({tmpl(key)})=1"),
        (code, at(key), "count(cda:code)=1"),
        (status, at(key), "count(cda:statusCode)=1"),
        (value, at(key), "count(cda:value[@xsi:type='CD'])=1"),
        (subj, at(key), COUNT),
        (code_code, f"{at(key)}/cda:code", f"@code='{loinc}'"),
        (code_system, f"{at(key)}/cda:code", f"@codeSystem='{qrda.LOINC}'"),
        completed(key, status_code),
    ]


def luhn_npi(node) -> bool:
    value = node.get("extension")
    if value is None:
        return True
    digits = [int(c) for c in "80840" + value] if re.fullmatch(r"\d{10}", value) else None
    if digits is None:
        return False
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
                for i, d in enumerate(reversed(digits)))  # fmt: skip
    return total % 10 == 0


Rule = tuple[str, str, "str | Callable"]
RULES: list[Rule] = [
    # data types (CMS_0105-0122)
    ("CMS_0107", "//cda:code | //cda:value[@xsi:type='CD'] | //cda:confidentialityCode",
     "(@code or @nullFlavor) and not(@code and @nullFlavor)"),
    ("CMS_0106", "//cda:realmCode | //cda:languageCode",
     "(@code or @nullFlavor) and not(@code and @nullFlavor)"),
    ("CMS_0108", "//cda:id | //cda:templateId",
     "(@root or @nullFlavor) and not(@root and @extension and @nullFlavor)"),
    ("CMS_0109", "//cda:value[@xsi:type='INT'] | //cda:versionNumber",
     "(@value or @nullFlavor) and not(@value and @nullFlavor)"),
    ("CMS_0111", "//cda:value[@xsi:type='REAL']",
     "(@value or @nullFlavor) and not(@value and @nullFlavor)"),
    ("CMS_0112", "//cda:title", "string-length(normalize-space(.)) >= 1 or @nullFlavor"),
    ("CMS_0113", "//cda:effectiveTime | //cda:time | //cda:low | //cda:high",
     "count(@value | @nullFlavor) < 2"),
    ("CMS_0115", "//cda:id[@root='2.16.840.1.113883.4.6']",
     "not(@extension) or string-length(@extension) = 10"),
    ("CMS_0116", "//cda:id[@root='2.16.840.1.113883.4.6']",
     "not(@extension) or matches(@extension, '^[0-9]+$')"),
    ("CMS_0117", "//cda:id[@root='2.16.840.1.113883.4.6']", luhn_npi),
    ("CMS_0118", "//cda:id[@root='2.16.840.1.113883.4.6']", "count(@extension | @nullFlavor) = 1"),
    ("CMS_0119", "//cda:id[@root='2.16.840.1.113883.4.2']",
     "not(@extension) or matches(@extension, '^[0-9]{9}$')"),
    ("CMS_0120", "//cda:id[@root='2.16.840.1.113883.4.2']", "count(@extension | @nullFlavor) = 1"),
    ("CMS_0122", "//cda:*[@value][self::cda:effectiveTime or self::cda:time or self::cda:low "
     "or self::cda:high]", "not(contains(@value, '+') or contains(substring(@value, 9), '-'))"),
    # QRDA Category III Report (V5) and - CMS (V10)
    ("CMS_QRDA-Category-III-Report", DOC, f"count(cda:templateId[@root='{qrda.T['report'][0]}'])=1"),
    ("CMS_QRDA-Category-III-Report-CMS", DOC,
     f"count(cda:templateId[@root='{qrda.T['report_cms'][0]}'])=1"),
    ("CMS_1", DOC, f"count({tmpl('report_cms')})=1"),
    ("4484-17226", DOC, "count(cda:realmCode)=1"),
    ("4484-18186", DOC, "count(cda:typeId)=1"),
    ("4484-17208", DOC, f"count({tmpl('report')})=1"),
    ("4484-17236", DOC, "count(cda:id)=1"),
    ("4484-17210", DOC, "count(cda:code)=1"),
    ("4484-17211", DOC, "count(cda:title)=1"),
    ("4484-17237", DOC, "count(cda:effectiveTime)=1"),
    ("4484-17238", DOC, "count(cda:confidentialityCode)=1"),
    ("4484-17239", DOC, "count(cda:languageCode)=1"),
    ("4484-17212", DOC, "count(cda:recordTarget)=1"),
    ("4484-18156", DOC, "count(cda:author[count(cda:time)=1][count(cda:assignedAuthor)=1]) > 0"),
    ("4484-17213", DOC, "count(cda:custodian)=1"),
    ("4484-17217", DOC, "count(cda:component)=1"),
    ("4484-18187", f"{DOC}/cda:typeId", "@root='2.16.840.1.113883.1.3'"),
    ("4484-18188", f"{DOC}/cda:typeId", "@extension='POCD_HD000040'"),
    ("4484-17227", f"{DOC}/cda:realmCode", "@code='US'"),
    ("4484-19549", f"{DOC}/cda:code", "@code='55184-6'"),
    ("4484-21166", f"{DOC}/cda:code", f"@codeSystem='{qrda.LOINC}'"),
    ("4484-19669", f"{DOC}/cda:languageCode", "@code"),
    ("4484-17232", f"{DOC}/cda:recordTarget", "count(cda:patientRole[count(cda:id[@nullFlavor='NA'])=1])=1"),
    ("4484-18163", f"{DOC}/cda:author/cda:assignedAuthor", "count(cda:representedOrganization)=1"),
    ("4484-19667", f"{DOC}/cda:author/cda:assignedAuthor",
     "count(cda:assignedPerson)=1 or count(cda:assignedAuthoringDevice)=1"),
    ("4484-18265", f"{DOC}/cda:author/cda:assignedAuthor/cda:representedOrganization",
     "count(cda:name) > 0"),
    ("4484-18262", f"{DOC}/cda:author/cda:assignedAuthor/cda:assignedAuthoringDevice",
     "count(cda:softwareName)=1"),
    ("4484-17214", f"{DOC}/cda:custodian", "count(cda:assignedCustodian)=1"),
    ("4484-17215", f"{DOC}/cda:custodian/cda:assignedCustodian",
     "count(cda:representedCustodianOrganization)=1"),
    ("4484-18165", f"{DOC}/cda:custodian/cda:assignedCustodian/cda:representedCustodianOrganization",
     "count(cda:id) > 0"),
    ("4484-18166", f"{DOC}/cda:custodian/cda:assignedCustodian/cda:representedCustodianOrganization",
     "count(cda:name)=1"),
    ("4484-18260", DOC, "count(cda:versionNumber)=1"),
    ("4484-17225", DOC, "count(cda:legalAuthenticator)=1"),
    ("4484-18167", f"{DOC}/cda:legalAuthenticator", "count(cda:time)=1"),
    ("4484-18168", f"{DOC}/cda:legalAuthenticator", "count(cda:signatureCode)=1"),
    ("4484-19670", f"{DOC}/cda:legalAuthenticator", "count(cda:assignedEntity)=1"),
    ("4484-18169", f"{DOC}/cda:legalAuthenticator/cda:signatureCode", "@code='S'"),
    ("4484-18303", f"{DOC}/cda:participant[@typeCode='DEV']/cda:associatedEntity", "@classCode='RGPR'"),
    ("4484-20954", f"{DOC}/cda:participant[@typeCode='DEV']/cda:associatedEntity", "count(cda:id) > 0"),
    ("4484-18308", f"{DOC}/cda:participant[@typeCode='DEV']/cda:associatedEntity", "count(cda:code)=1"),
    ("4484-18309", f"{DOC}/cda:participant[@typeCode='DEV']/cda:associatedEntity/cda:code",
     "@code='129465004'"),
    ("4484-21167", f"{DOC}/cda:participant[@typeCode='DEV']/cda:associatedEntity/cda:code",
     f"@codeSystem='{qrda.SNOMED}'"),
    ("4484-18171", f"{DOC}/cda:documentationOf", "count(cda:serviceEvent)=1"),
    ("4484-18172", f"{DOC}/cda:documentationOf/cda:serviceEvent", "@classCode='PCPR'"),
    ("4484-18173", f"{DOC}/cda:documentationOf/cda:serviceEvent", "count(cda:performer) > 0"),
    ("4484-18174", f"{DOC}/cda:documentationOf/cda:serviceEvent/cda:performer", "@typeCode='PRF'"),
    ("4484-18176", f"{DOC}/cda:documentationOf/cda:serviceEvent/cda:performer",
     "count(cda:assignedEntity)=1"),
    ("4484-19474", PERFORMER_ORG, "count(cda:id) > 0"),
    ("4484-18180", PERFORMER_ORG, "count(cda:representedOrganization)=1"),
    ("4484-17235", f"{DOC}/cda:component", "count(cda:structuredBody)=1"),
    ("4484-21394", f"{DOC}/cda:component/cda:structuredBody",
     f"count(cda:component[count(cda:section[{tmpl('qrda_section')}])=1])=1"),
    ("5562-17238_C01", DOC, "count(cda:confidentialityCode)=1"),
    ("5562-17239", DOC, "count(cda:languageCode)=1"),
    ("CMS_7", DOC, "count(cda:informationRecipient)=1"),
    ("5562-18170_C01", DOC, "count(cda:documentationOf)=1"),
    ("5562-17217", DOC, "count(cda:component)=1"),
    ("CMS_4", f"{DOC}/cda:confidentialityCode", "@code='N'"),
    ("5562-19669_C01", f"{DOC}/cda:languageCode", "@code='en'"),
    ("CMS_8", f"{DOC}/cda:informationRecipient", "count(cda:intendedRecipient)=1"),
    ("CMS_9", f"{DOC}/cda:informationRecipient/cda:intendedRecipient", "count(cda:id)=1"),
    ("CMS_10", f"{DOC}/cda:informationRecipient/cda:intendedRecipient/cda:id",
     f"@root='{qrda.CMS_PROGRAM}'"),
    ("CMS_11", f"{DOC}/cda:informationRecipient/cda:intendedRecipient/cda:id",
     "@extension = ('MIPS_INDIV','MIPS_GROUP','MIPS_APP1_INDIV','MIPS_APP1_GROUP',"
     "'MIPS_APMENTITY','MIPS_VIRTUALGROUP','MIPS_SUBGROUP','MIPS_APP1_APMENTITY')"),
    ("CMS_88", f"{DOC}/cda:participant[@typeCode='DEV']/cda:associatedEntity", "@classCode='RGPR'"),
    ("CMS_89", f"{DOC}/cda:participant[@typeCode='DEV']/cda:associatedEntity", "count(cda:id)=1"),
    ("CMS_90", f"{DOC}/cda:participant[@typeCode='DEV']/cda:associatedEntity/cda:id",
     f"@root='{qrda.CEHRT}'"),
    ("CMS_91", f"{DOC}/cda:participant[@typeCode='DEV']/cda:associatedEntity/cda:id",
     "matches(@extension, '^[A-Za-z0-9]{15}$')"),
    ("5562-18171_C01", f"{DOC}/cda:documentationOf", "count(cda:serviceEvent)=1"),
    ("5562-18173", f"{DOC}/cda:documentationOf/cda:serviceEvent", "count(cda:performer) >= 1"),
    ("5562-18171_C01-MIPS-performer", f"{DOC}/cda:documentationOf/cda:serviceEvent",
     "count(cda:performer)=1"),
    ("5562-18176", f"{DOC}/cda:documentationOf/cda:serviceEvent/cda:performer",
     "count(cda:assignedEntity)=1"),
    ("5562-18177_C01", PERFORMER_ORG, f"count(cda:id[@root='{qrda.NPI}'])=1"),
    ("5562-18177_C01-MIPSGROUP-NPI-format", PERFORMER_ORG,
     f"{INDIVIDUAL} or count(cda:id[@root='{qrda.NPI}'][@nullFlavor='NA'][not(@extension)])=1"),
    ("5562-18180", PERFORMER_ORG, "count(cda:representedOrganization)=1"),
    ("5562-18177_C01-MIPSGROUP-assignedEntity", f"{PERFORMER_ORG}/cda:representedOrganization",
     f"{INDIVIDUAL} or (count(cda:id[@root='{qrda.TIN}'][@extension])=1 and "
     f"count(../cda:id[@root='{qrda.NPI}'][@extension])=0)"),
    ("5562-18178_C01-MIPSINDIV-assignedEntity", f"{PERFORMER_ORG}/cda:representedOrganization",
     f"not({INDIVIDUAL}) or (count(cda:id[@root='{qrda.TIN}'][@extension])=1 and "
     f"count(../cda:id[@root='{qrda.NPI}'][@extension])=1)"),
    ("CMS_82", f"{PERFORMER_ORG}/cda:representedOrganization",
     f"{INDIVIDUAL} or count(cda:id[@root='{qrda.TIN}'][@extension])=1"),
    ("CMS_112", f"{PERFORMER_ORG}/cda:representedOrganization",
     f"not({INDIVIDUAL}) or count(cda:id[@root='{qrda.TIN}'][@extension])=1"),
    ("5562-17235", f"{DOC}/cda:component", "count(cda:structuredBody)=1"),
    ("5562-21394_C01", f"{DOC}/cda:component/cda:structuredBody",
     f"count(cda:component[count(cda:section[{tmpl('qrda_section_cms')}])=1])=1"),
    ("CMS_140", DOC, f"count(cda:participant/cda:associatedEntity/cda:id[@root='{qrda.CEHRT}']"
     "[@extension])=1"),
    # Measure Section, QRDA Category III Measure Section (V5) and - CMS (V6)
    ("67-12801", at("measure_section", "section"), f"count({tmpl('measure_section')})=1"),
    ("67-12798", at("measure_section", "section"), "count(cda:code)=1"),
    ("67-12799", at("measure_section", "section"),
     "count(cda:title[lower-case(normalize-space(.))='measure section'])=1"),
    ("67-12800", at("measure_section", "section"), "count(cda:text)=1"),
    ("67-13003", at("measure_section", "section"),
     f"count(cda:entry[cda:organizer[{tmpl('measure_reference')}]]) > 0"),
    ("67-19230", f"{at('measure_section', 'section')}/cda:code", "@code='55186-1'"),
    ("67-27012", f"{at('measure_section', 'section')}/cda:code", f"@codeSystem='{qrda.LOINC}'"),
    ("4484-17906", at("qrda_section", "section"),
     f"count(cda:entry[count(cda:organizer[{tmpl('results')}])=1]) > 0"),
    ("4484-21467", at("qrda_section", "section"),
     f"count(cda:entry[cda:act[{tmpl('reporting_parameters')}]])=1"),
    ("CMS_64", at("qrda_section", "section"), f"count({tmpl('qrda_section_cms')})=1"),
    ("4526-17906_C01", SECTION, f"count(cda:entry[count(cda:organizer[{tmpl('results_cms')}])=1]) > 0"),
    # Reporting Parameters Act (V2)
    ("4484-3269", at("reporting_parameters", "act"), "@classCode='ACT'"),
    ("4484-3270", at("reporting_parameters", "act"), "@moodCode='EVN'"),
    ("4484-18098", at("reporting_parameters", "act"), f"count({tmpl('reporting_parameters')})=1"),
    ("4484-26549", at("reporting_parameters", "act"), "count(cda:id) >= 1"),
    ("4484-3272", at("reporting_parameters", "act"), "count(cda:code)=1"),
    ("4484-3273", at("reporting_parameters", "act"), "count(cda:effectiveTime)=1"),
    ("4484-26550", f"{at('reporting_parameters', 'act')}/cda:code", "@code='252116004'"),
    ("4484-26551", f"{at('reporting_parameters', 'act')}/cda:code", f"@codeSystem='{qrda.SNOMED}'"),
    ("4484-3274", f"{at('reporting_parameters', 'act')}/cda:effectiveTime", "count(cda:low)=1"),
    ("4484-3275", f"{at('reporting_parameters', 'act')}/cda:effectiveTime", "count(cda:high)=1"),
    ("4484-26553", f"{at('reporting_parameters', 'act')}/cda:effectiveTime/cda:low", "@value"),
    ("4484-26554", f"{at('reporting_parameters', 'act')}/cda:effectiveTime/cda:low",
     "string-length(@value) >= 8"),
    ("4484-26555", f"{at('reporting_parameters', 'act')}/cda:effectiveTime/cda:high", "@value"),
    ("4484-26556", f"{at('reporting_parameters', 'act')}/cda:effectiveTime/cda:high",
     "string-length(@value) >= 8"),
    # Measure Reference, Measure Reference and Results (V4) and - CMS (V6)
    ("67-12979", at("measure_reference", "organizer"), "@classCode='CLUSTER'"),
    ("67-12980", at("measure_reference", "organizer"), "@moodCode='EVN'"),
    ("67-19532", at("measure_reference", "organizer"), f"count({tmpl('measure_reference')})=1"),
    ("67-26992", at("measure_reference", "organizer"), "count(cda:id) >= 1"),
    ("67-12981", at("measure_reference", "organizer"), "count(cda:statusCode)=1"),
    ("67-12982", at("measure_reference", "organizer"), "count(cda:reference[@typeCode='REFR']"
     "[count(cda:externalDocument[@classCode='DOC'][count(cda:id[@root]) >= 1])=1])=1"),
    ("67-27020", f"{at('measure_reference', 'organizer')}/cda:statusCode", "@code='completed'"),
    ("67-12997", f"{at('measure_reference', 'organizer')}/cda:reference/cda:externalDocument",
     "count(cda:text)=1"),
    ("4484-17887", at("results", "organizer"), "@classCode='CLUSTER'"),
    ("4484-17888", at("results", "organizer"), "@moodCode='EVN'"),
    ("4484-17908", at("results", "organizer"), f"count({tmpl('results')})=1"),
    ("4484-17890", at("results", "organizer"),
     "count(cda:reference[@typeCode='REFR'][count(cda:externalDocument)=1])=1"),
    ("4484-18425", at("results", "organizer"),
     f"count(cda:component[count(cda:observation[{tmpl('measure_data')}])=1]) > 0"),
    ("4484-19548", f"{at('results', 'organizer')}/cda:reference/cda:externalDocument", "@classCode='DOC'"),
    ("4484-18192", f"{at('results', 'organizer')}/cda:reference/cda:externalDocument",
     f"count(cda:id[@root='{qrda.ECQM_ID}'][@extension])=1"),
    ("4484-17896", f"{at('results', 'organizer')}/cda:reference/cda:externalDocument", "count(cda:code)=1"),
    ("4484-17897", f"{at('results', 'organizer')}/cda:reference/cda:externalDocument", "count(cda:text)=1"),
    ("4484-19553", f"{at('results', 'organizer')}/cda:reference/cda:externalDocument/cda:code",
     "@code='57024-2'"),
    ("CMS_54", at("results", "organizer"), f"count({tmpl('results_cms')})=1"),
    ("4526-18425_C01", RESULTS,
     f"count(cda:component[count(cda:observation[{tmpl('measure_data_cms')}])=1]) > 0"),
    # Measure Data (V3) and - CMS (V5)
    ("3259-17615", at("measure_data"), "@classCode='OBS'"),
    ("3259-17616", at("measure_data"), "@moodCode='EVN'"),
    ("3259-17912", at("measure_data"), f"count({tmpl('measure_data')})=1"),
    ("3259-17617", at("measure_data"), "count(cda:code)=1"),
    ("3259-18199", at("measure_data"), "count(cda:statusCode)=1"),
    ("3259-17618", at("measure_data"), "count(cda:value[@xsi:type='CD'])=1"),
    ("3259-17619", at("measure_data"), COUNT),
    ("3259-18239", at("measure_data"),
     "count(cda:reference[count(cda:externalObservation[count(cda:id)=1])=1])=1"),
    ("3259-18198", f"{at('measure_data')}/cda:code", "@code='ASSERTION'"),
    ("3259-21164", f"{at('measure_data')}/cda:code", f"@codeSystem='{qrda.ACT_CODE}'"),
    ("3259-19555", f"{at('measure_data')}/cda:statusCode", "@code='completed'"),
    ("3259-21162", f"{at('measure_data')}/cda:value[@xsi:type='CD']",
     f"@code = {POPULATION_CODES}"),
    ("CMS_41", at("measure_data"), f"count({tmpl('measure_data_cms')})=1"),
    ("4427-18141_C01", DATA, "count(cda:entryRelationship[@typeCode='COMP']"
     f"[count(cda:observation[{tmpl('payer_cms')}])=1]) >= 1"),
    ("4427-18136_C01", DATA, "count(cda:entryRelationship[@typeCode='COMP']"
     f"[count(cda:observation[{tmpl('sex_cms')}])=1]) >= 1"),
    ("4427-18140_C01", DATA, "count(cda:entryRelationship[@typeCode='COMP']"
     f"[count(cda:observation[{tmpl('race')}])=1]) >= 1"),
    ("4427-18139_C01", DATA, "count(cda:entryRelationship[@typeCode='COMP']"
     f"[count(cda:observation[{tmpl('ethnicity')}])=1]) >= 1"),
    # Aggregate Count
    ("77-17563", at("aggregate_count"), "@classCode='OBS'"),
    ("77-17564", at("aggregate_count"), "@moodCode='EVN'"),
    ("77-17565", at("aggregate_count"), f"count({tmpl('aggregate_count')}[not(@extension)])=1"),
    ("77-17566", at("aggregate_count"), "count(cda:code)=1"),
    ("77-17567", at("aggregate_count"), "count(cda:value[@xsi:type='INT'])=1"),
    ("77-19509", at("aggregate_count"), "count(cda:methodCode)=1"),
    ("77-19508", f"{at('aggregate_count')}/cda:code", "@code='MSRAGG'"),
    ("77-21160", f"{at('aggregate_count')}/cda:code", f"@codeSystem='{qrda.ACT_CODE}'"),
    ("77-17568", f"{at('aggregate_count')}/cda:value[@xsi:type='INT']", "@value"),
    ("77-19510", f"{at('aggregate_count')}/cda:methodCode", "@code='COUNT'"),
    ("77-21161", f"{at('aggregate_count')}/cda:methodCode", "@codeSystem='2.16.840.1.113883.5.84'"),
    # Sex (V3) and Sex - CMS
    *sde_rules("sex", ["3259-18230", "3259-18231", "3259-18232", "3259-18234", "3259-18124",
                       "3259-18236", "3259-18126", "3259-18235", "3259-21163", "3259-18125"],
               "76689-9"),  # fmt: skip
    ("CMS_144", at("sex"), f"count({tmpl('sex_cms')})=1"),
    ("CMS_147", at("sex_cms"), "count(cda:value[@xsi:type='CD'])=1"),
    ("CMS_148", f"{at('sex_cms')}/cda:value[@xsi:type='CD']", "@nullFlavor='OTH'"),
    ("CMS_149", f"{at('sex_cms')}/cda:value[@xsi:type='CD']", "count(cda:translation)=1"),
    ("CMS_150", f"{at('sex_cms')}/cda:value[@xsi:type='CD']/cda:translation",
     f"count(@code)=1 and @code = ('248152002', '248153007') and @codeSystem='{qrda.SNOMED}'"),
    # Ethnicity (V2), Race (V2)
    *sde_rules("ethnicity", ["3259-18216", "3259-18217", "3259-18218", "3259-18220", "3259-18118",
                             "3259-18222", "3259-18120", "3259-18221", "3259-21443", "3259-18119"],
               "69490-1"),  # fmt: skip
    ("3259-18222-valueset", f"{at('ethnicity')}/cda:value",
     "@nullFlavor or @code = ('2135-2', '2186-5')"),
    *sde_rules("race", ["3259-18223", "3259-18224", "3259-18225", "3259-18227", "3259-18112",
                        "3259-18229", "3259-18114", "3259-18228", "3259-21447", "3259-18113"],
               "72826-1"),  # fmt: skip
    ("3259-18229-valueset", f"{at('race')}/cda:value",
     "@nullFlavor or @code = ('1002-5', '2028-9', '2054-5', '2076-8', '2106-3', '2131-1')"),
    # Payer (V2) and Payer - CMS (V3)
    *sde_rules("payer", ["2226-21155", "2226-21156", "2226-18237", "2226-21158", "2226-18106",
                         "2226-18250", "2226-18108", "2226-21159", "2226-21165", "2226-18107"],
               "48768-6"),  # fmt: skip
    ("CMS_47", at("payer"), f"count({tmpl('payer_cms')})=1"),
    ("CMS_50", at("payer_cms"), "count(cda:value[@xsi:type='CD'])=1"),
    ("CMS_51", f"{at('payer_cms')}/cda:value", "@nullFlavor='OTH'"),
    ("CMS_52", f"{at('payer_cms')}/cda:value", "count(cda:translation)=1"),
    ("CMS_53", f"{at('payer_cms')}/cda:value/cda:translation", "@code = ('A', 'B', 'C', 'D')"),
    # Performance Rate for Proportion Measure (V3) and - CMS (V4)
    ("4484-18395", at("rate"), "@classCode='OBS'"),
    ("4484-18396", at("rate"), "@moodCode='EVN'"),
    ("4484-19649", at("rate"), f"count({tmpl('rate')})=1"),
    ("4484-21445", at("rate"), "count(cda:value[@xsi:type='REAL'])=1"),
    ("4484-19651", at("rate"), "count(cda:reference)=1"),
    ("4484-19652", f"{at('rate')}/cda:reference", "@typeCode='REFR'"),
    ("4484-19653", f"{at('rate')}/cda:reference", "count(cda:externalObservation)=1"),
    ("4484-21446", f"{at('rate')}/cda:value[@xsi:type='REAL']",
     "not(@value) or (number(@value) >= 0 and number(@value) <= 1)"),
    ("4484-21447", f"{at('rate')}/cda:value[@xsi:type='REAL']",
     "not(@value) or string-length(substring-after(@value, '.')) <= 6"),
    ("4484-19654", f"{at('rate')}/cda:reference/cda:externalObservation", "@classCode"),
    ("4484-19657", f"{at('rate')}/cda:reference/cda:externalObservation", "count(cda:code)=1"),
    ("4484-19655", f"{at('rate')}/cda:reference/cda:externalObservation", "count(cda:id)=1"),
    ("4484-19656", f"{at('rate')}/cda:reference/cda:externalObservation/cda:id", "@root"),
    ("4484-19658", f"{at('rate')}/cda:reference/cda:externalObservation/cda:code", "@code='NUMER'"),
    ("4484-21180", f"{at('rate')}/cda:reference/cda:externalObservation/cda:code",
     f"@codeSystem='{qrda.ACT_CODE}'"),
    ("CMS_59", at("rate"), f"count({tmpl('rate_cms')})=1"),
    ("4526-21307_C01", RATE, "count(cda:value[@xsi:type='REAL'])=1"),
    ("4526-19651_C01", RATE, "count(cda:reference)=1"),
    ("CMS_62", f"{RATE}/cda:value[@xsi:type='REAL']",
     "not(@value) or (number(@value) >= 0 and number(@value) <= 1)"),
    ("CMS_63", f"{RATE}/cda:value[@xsi:type='REAL']",
     "not(@value) or string-length(substring-after(@value, '.')) <= 6"),
    ("4526-19652_C01", f"{RATE}/cda:reference", "@typeCode='REFR'"),
    ("4526-19653_C01", f"{RATE}/cda:reference", "count(cda:externalObservation)=1"),
    # Reporting Stratum
    ("77-17575", at("stratum"), "@classCode='OBS'"),
    ("77-17576", at("stratum"), "@moodCode='EVN'"),
    ("77-18093", at("stratum"), f"count({tmpl('stratum')}[not(@extension)])=1"),
    ("77-17577", at("stratum"), "count(cda:code)=1"),
    ("77-17579", at("stratum"), "count(cda:statusCode)=1"),
    ("77-17581", at("stratum"), COUNT),
    ("77-18204", at("stratum"), "count(cda:reference)=1"),
    ("77-17578", f"{at('stratum')}/cda:code", "@code='ASSERTION'"),
    ("77-21169", f"{at('stratum')}/cda:code", f"@codeSystem='{qrda.ACT_CODE}'"),
    completed("stratum", "77-18201"),
    ("77-18205", f"{at('stratum')}/cda:reference", "@typeCode='REFR'"),
    ("77-18206", f"{at('stratum')}/cda:reference", "count(cda:externalObservation)=1"),
    ("77-18207", f"{at('stratum')}/cda:reference/cda:externalObservation", "count(cda:id)=1"),
]  # fmt: skip


def tally(n: int, *, sexes=("female", "male"), race="2106-3", payer="medicare", strata=None):
    t = qrda.Tally()
    for i in range(n):
        t.add(1, sex=sexes[i % len(sexes)], race=race if i % 3 else "", ethnicity="2186-5",
              payer=payer if i % 2 else None, strata=(strata or {}))  # fmt: skip
    return t


def example_results() -> list[qrda.MeasureResults]:
    """CMS159v14 (strata, 2026 ids), CMS165v13 (UUID ids), CMS138v14 (three groups, one empty)."""
    age = {"age-at-index": "18+"}
    return [
        qrda.MeasureResults(1, "CMS159v14", "CMS159FHIRDepRemissionat12Months", {
            "group-1": {"initial-population": tally(12, strata=age), "denominator": tally(10, strata=age),
                        "denominator-exclusion": tally(1), "numerator": tally(3, strata=age)},
        }),
        qrda.MeasureResults(2, "CMS165v13", "ControllingHighBloodPressureFHIR", {
            "group-1": {"initial-population": tally(5, sexes=("female", "other")),
                        "denominator": tally(5), "numerator": tally(2, payer="commercial")},
        }),
        qrda.MeasureResults(3, "CMS138v14", "CMS138FHIRTobaccoScrnCessation", {
            "group-1": {"initial-population": tally(4), "denominator": tally(4), "numerator": tally(3)},
            "group-2": {},
            "group-3": {"initial-population": tally(1), "denominator": tally(1)},
        }),
    ]  # fmt: skip


def build(submitter: qrda.Submitter = GROUP, results=None) -> ET.ElementTree:
    doc = qrda.document(results or example_results(), PERIOD, submitter,
                        now=dt.datetime(2027, 1, 15, 9, 30))  # fmt: skip
    return ET.ElementTree(ET.fromstring(doc))  # noqa: S314 (our own output)


@pytest.fixture(scope="module")
def tree():
    return elementpath.get_node_tree(build(GROUP))


def failing(tree, context: str, test) -> tuple[int, int]:
    """How many nodes ``context`` selects, and how many of them fail ``test`` (the failing
    nodes are ``(context)[not(boolean(test))]``: one XPath evaluation)."""
    if callable(test):
        nodes = elementpath.select(tree, f"({context})", NS)
        return len(nodes), sum(not test(n) for n in nodes)
    both = f"(count({context}), count(({context})[not(boolean({test}))]))"
    selected, failed = elementpath.select(tree, both, NS)
    return int(selected), int(failed)


@pytest.mark.parametrize(("conf", "context", "test"), RULES, ids=[r[0] for r in RULES])
def test_the_document_meets_the_conformance_statement(tree, conf, context, test):
    nodes, failed = failing(tree, context, test)

    assert nodes, f"CONF:{conf}: no {context} in the document"
    assert not failed, f"CONF:{conf} fails on {failed} of {nodes} nodes"


def test_individual_reporting_meets_the_performer_statements():
    individual = elementpath.get_node_tree(build(INDIV))
    performer = [r for r in RULES if "performer" in r[1] or r[0].startswith(("CMS_01", "CMS_11"))]

    results = {conf: failing(individual, context, test) for conf, context, test in performer}

    assert len(performer) > 15
    assert {conf: r for conf, r in results.items() if not r[0] or r[1]} == {}


def test_every_conf_number_is_listed_once():
    confs = [r[0] for r in RULES]

    assert len(confs) == len(set(confs))


def values(tree, path: str) -> list[str]:
    return [str(v) for v in elementpath.select(tree, path, NS)]


def test_measures_are_referenced_by_their_version_specific_identifier():
    ids = values(build(), f"{RESULTS}/cda:reference/cda:externalDocument/cda:id/@extension")

    assert ids == [
        "32FEF19D-8EF0-4BF3-96A6-CD0514A0D2E7",  # CMS159v14
        "F573FB8F-4907-4ED7-BC04-09D9A3F36268",  # CMS165v13
        "04CAA1BA-AA09-497C-86B9-D40B493FD443",  # CMS138v14
    ]


def test_populations_are_referenced_by_the_published_population_ids():
    t = build()
    ipop = f"{DATA}[cda:value/@code='IPOP']/cda:reference/cda:externalObservation/cda:id"

    refs = [(n.get("root"), n.get("extension")) for n in elementpath.select(t, ipop, NS)]

    assert refs[0] == ("32FEF19D-8EF0-4BF3-96A6-CD0514A0D2E7", "InitialPopulation_1")
    assert refs[1] == ("DB8494F3-F2F2-4493-A9F6-8793D5F77F41", None)  # a 2025 UUID id
    assert [r[1] for r in refs[2:]] == [f"InitialPopulation_{g}" for g in (1, 2, 3)]


def test_counts_rates_and_strata_are_the_aggregates_given():
    t = build()
    cms159 = f"({RESULTS})[1]"
    count = "cda:entryRelationship[@typeCode='SUBJ']/cda:observation/cda:value/@value"

    populations = values(t, f"{cms159}/cda:component/cda:observation/cda:value/@code")
    counts = values(t, f"{cms159}/cda:component/cda:observation[{tmpl('measure_data')}]/{count}")
    rate = values(t, f"{cms159}/cda:component/cda:observation[{tmpl('rate')}]/cda:value/@value")
    strata = values(t, f"{cms159}//cda:observation[{tmpl('stratum')}]/{count}")

    assert populations[:4] == ["IPOP", "DENOM", "DENEX", "NUMER"]
    assert counts == ["12", "10", "1", "3"]
    assert rate == ["0.333333"]  # 3 / (10 - 1)
    assert strata == ["0", "12", "0", "10", "0", "0", "0", "3"]  # 12-17, 18+ per population


def test_an_empty_group_reports_zero_and_a_rate_not_applicable():
    t = build()
    group2 = f"({RESULTS})[3]/cda:component/cda:observation"

    ipop = values(t, f"{group2}[cda:value/@code='IPOP'][cda:reference/cda:externalObservation/"
                     "cda:id/@extension='InitialPopulation_2']/cda:entryRelationship"
                     "[@typeCode='SUBJ']/cda:observation/cda:value/@value")  # fmt: skip
    rates = [n.get("nullFlavor") for n in elementpath.select(
        t, f"{group2}[{tmpl('rate')}]/cda:value", NS)]  # fmt: skip

    assert ipop == ["0"]
    assert rates == [None, "NA", None]  # group 3: 0 of 1


def test_supplemental_data_counts_sex_race_ethnicity_and_payer():
    t = build()
    ipop = f"(({RESULTS})[2]/cda:component/cda:observation[cda:value/@code='IPOP'])[1]"
    sde = lambda key: values(  # noqa: E731
        t, f"{ipop}/cda:entryRelationship/cda:observation[{tmpl(key)}]/cda:entryRelationship/"
           "cda:observation/cda:value/@value")  # fmt: skip

    assert sde("sex_cms") == ["3"]  # the two recorded as "other" are not Federal Admin. Sex
    assert sorted(sde("race")) == ["2", "3"]  # unknown (UNK), White
    assert sde("ethnicity") == ["5"]
    assert sorted(sde("payer_cms")) == ["2", "3"]  # Medicare, no coverage (Other)


def test_the_reporting_period_is_the_runs_period():
    t = build()
    act = f"{at('reporting_parameters', 'act')}/cda:effectiveTime"

    assert values(t, f"{act}/cda:low/@value") == ["20260101"]
    assert values(t, f"{act}/cda:high/@value") == ["20261231"]


def test_the_file_holds_no_patient():
    text = ET.tostring(build().getroot(), encoding="unicode")

    assert "patient" not in text.lower().replace("patientrole", "")
    assert values(build(), "//cda:patientRole/cda:id/@nullFlavor") == ["NA"]


@pytest.fixture(scope="module")
def cda_schema():
    """The HL7 CDA R2 schema with SDTC extensions, loaded once (``TANDEM_CDA_SCHEMA``)."""
    import xmlschema

    return xmlschema.XMLSchema(CDA_SCHEMA)


def schema_errors(schema, results, submitter: qrda.Submitter = GROUP) -> list[str]:
    doc = qrda.document(results, PERIOD, submitter, now=dt.datetime(2027, 1, 15, 9, 30))
    return [f"{e.path}: {e.reason}" for e in schema.iter_errors(doc.decode())]


def every_way(n: int, version_id: str) -> qrda.Tally:
    """``n`` patients of every sex, race, ethnicity and payer Tandem stores (unknown and
    unmapped ones too), spread over every stratum Tandem computes for ``version_id``."""
    sexes = ("female", "male", "other", "unknown")
    races = ("2106-3", "2054-5", "", "2500-7")  # the last is not an OMB race
    ethnicities = ("2135-2", "2186-5", "")
    payers = ("medicare", "medicaid", "commercial", "self-pay", "dual", None)
    strata = [(name, value) for name, values in qrda.STRATA.get(version_id, {}).items()
              for value in values]  # fmt: skip
    t = qrda.Tally()
    for i in range(n):
        t.add(1, sex=sexes[i % 4], race=races[i % 4], ethnicity=ethnicities[i % 3],
              payer=payers[i % 6], strata=dict([strata[i % len(strata)]]) if strata else {})  # fmt: skip
    return t


def ecqm_versions() -> list[tuple[str, str, list[str]]]:
    """(version id, library, Tandem group ids) of every version QRDA III can report."""
    from tandem.measures import definitions

    return [
        (v.id, v.library, v.group_ids)
        for info in definitions.REGISTRY.values()
        for v in info.versions
        if v.library in qrda.published()
    ]


# Nested as Tandem stores them (numerator within the denominator less its exclusions).
NESTED = {"initial-population": 12, "denominator": 10, "denominator-exclusion": 2,
          "denominator-exception": 1, "numerator": 4, "numerator-exclusion": 1}  # fmt: skip


def full(version_id: str, library: str, group_ids: list[str]) -> qrda.MeasureResults:
    """Every published population of every group counted, with supplemental data and strata."""
    groups = qrda.published()[library]["groups"]
    return qrda.MeasureResults(1, version_id, library, {
        gid: {code: every_way(NESTED[code], version_id) for code in g["populations"]}
        for gid, g in zip(group_ids, groups, strict=False)
    })  # fmt: skip


def empty(version_id: str, library: str, group_ids: list[str]) -> qrda.MeasureResults:
    """No patient in any population: zero counts, zero supplemental counts, no rate."""
    return qrda.MeasureResults(2, version_id, library, {gid: {} for gid in group_ids})


@needs_cda_schema
def test_the_document_is_valid_against_the_cda_schema(cda_schema):
    assert schema_errors(cda_schema, example_results()) == []
    assert schema_errors(cda_schema, example_results(), INDIV) == []


@needs_cda_schema
def test_the_schema_check_catches_an_invalid_document(cda_schema):
    """The assembled schema is strict: a count that is no integer, an unknown element and a
    code with a space (no HL7 cs token) are each refused."""
    doc = qrda.document(example_results(), PERIOD, GROUP, now=dt.datetime(2027, 1, 15)).decode()
    broken = [
        doc.replace('xsi:type="INT" value="12"', 'xsi:type="INT" value="twelve"', 1),
        doc.replace('<realmCode code="US" />', '<realmCode code="US" /><realm />', 1),
        doc.replace('<statusCode code="completed" />', '<statusCode code="finished now" />', 1),
    ]

    assert all(b != doc for b in broken)
    assert [bool(list(cda_schema.iter_errors(b))) for b in broken] == [True, True, True]


@needs_cda_schema
@pytest.mark.parametrize("version", ecqm_versions(), ids=lambda v: v[0])
def test_every_version_is_valid_against_the_cda_schema_full_and_empty(cda_schema, version):
    assert qrda.published()[version[1]]["groups"], version
    assert schema_errors(cda_schema, [full(*version)]) == []
    assert schema_errors(cda_schema, [empty(*version)]) == []


@needs_cda_schema
@pytest.mark.parametrize("program", list(qrda.PROGRAMS))
def test_every_program_is_valid_against_the_cda_schema(cda_schema, program):
    individual = qrda.PROGRAMS[program] == "individual"
    submitter = replace(INDIV if individual else GROUP, program=program)

    assert schema_errors(cda_schema, example_results(), submitter) == []


def test_strata_empty_groups_and_app1_reporting_meet_the_conformance_statements():
    """The CONF rules over a second document: CMS137v14 (three strata in both groups, every
    kind of supplemental data), CMS347v9 with no patient (four empty groups), MIPS_APP1_INDIV.
    A rule whose template the document lacks is not counted here (the example covers them)."""
    versions = {v[0]: v for v in ecqm_versions()}
    results = [full(*versions["CMS137v14"]), empty(*versions["CMS347v9"])]
    tree = elementpath.get_node_tree(build(replace(INDIV, program="MIPS_APP1_INDIV"), results))

    failed = {conf: r for conf, context, test in RULES if (r := failing(tree, context, test))[1]}

    assert failed == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tin": "12345"}, "--tin"),
        ({"cehrt_id": ""}, "--cehrt-id"),
        ({"program": "MIPS_INDIV"}, "--npi"),
        ({"program": "MIPS_INDIV", "npi": "1234567890"}, "--npi"),  # bad check digit
        ({"npi": "1234567893"}, "reports a group"),
        ({"program": "PCF"}, "--program"),
    ],
)
def test_a_submitter_cms_would_refuse_is_a_usage_error(change, message):
    from tandem.core.lib.cli import UsageError

    with pytest.raises(UsageError, match=re.escape(message)):
        replace(GROUP, **change).check()


@shared.needs(shared.MEASURES_2026)
def test_the_shipped_measure_facts_match_the_published_measures():
    shipped = qrda.published()

    for folder in (shared.MEASURES, shared.MEASURES_2026):
        for path in sorted(folder.glob("*.json")):
            m = json.loads(path.read_text())
            facts = shipped[m["name"]]
            version_specific = [
                i["value"] for i in m["identifier"]
                if i.get("type", {}).get("coding", [{}])[0].get("code") == "version-specific"
            ]  # fmt: skip
            assert facts["identifier"] == version_specific[0]
            assert facts["version"] == m["version"]
            assert [g["id"] for g in facts["groups"]] == [g["id"] for g in m["group"]]
            for g, published in zip(facts["groups"], m["group"], strict=True):
                assert g["populations"] == {
                    p["code"]["coding"][0]["code"]: p["id"] for p in published["population"]
                }
                assert g["stratifiers"] == [s["id"] for s in published.get("stratifier", [])]


# --- the command, on stored runs (SQLite and PostgreSQL) ---------------------------------

Y2025 = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
SUBMITTER = ["--tin", "123456789", "--cehrt-id", "0015HQR8VC3TF2B"]
IN_NUMERATOR = {"initial-population": 1, "denominator": 1, "numerator": 1}
NOT_IN_NUMERATOR = {"initial-population": 1, "denominator": 1, "numerator": 0}


def store(version_id: str, period, rows, *, group: str = "group-1", minutes_ago: int = 0):
    """A stored run of ``version_id``: ``rows`` are (patient, populations) pairs."""
    from django.utils import timezone

    from tandem.measures import definitions
    from tandem.measures.models import MeasurePatientResult, MeasureRun

    version = definitions.find_version(version_id)
    when = timezone.now() - dt.timedelta(minutes=minutes_ago)
    run = MeasureRun.objects.create(
        measure=version.key, version=version.id, period_start=period[0], period_end=period[1],
        engine="duckdb", started_at=when, finished_at=when, patients=len(rows), summary=[],
    )  # fmt: skip
    for patient, populations in rows:
        MeasurePatientResult.objects.create(
            run=run, patient=patient, group=group, populations=populations, evidence={},
            reasons={}, strata={}, in_numerator=bool(populations.get("numerator")),
            in_initial_population=bool(populations.get("initial-population")),
        )  # fmt: skip
    return run


@pytest.fixture
def patients(db):
    """Three patients: a White non-Hispanic man on Medicare, two women without a race."""
    from tandem.registry.models import Coverage
    from tests import builders as b

    man = b.patient(sex="male", race="2106-3", ethnicity="2186-5")
    Coverage.objects.create(patient=man, payer=b.organization(), kind="medicare",
                            start=dt.date(2020, 1, 1))  # fmt: skip
    return [man, b.patient(sex="female"), b.patient(sex="female")]


def export(*argv: str) -> int:
    from tandem.cli import main

    return main(["measure", "export", *argv])


def test_export_writes_the_period_s_latest_runs_as_qrda3(patients, tmp_path):
    from tandem.audit.models import AuditEvent

    man, woman, other = patients
    store("CMS165v13", Y2025, [(man, NOT_IN_NUMERATOR)], minutes_ago=60)  # superseded
    run = store("CMS165v13", Y2025, [(man, IN_NUMERATOR), (woman, NOT_IN_NUMERATOR),
                                     (other, NOT_IN_NUMERATOR)])  # fmt: skip
    out = tmp_path / "qrda3.xml"

    code = export("--format", "qrda3", "--period", "2025-01-01..2025-12-31", *SUBMITTER,
                  "--out", str(out))  # fmt: skip

    t = ET.parse(out)  # noqa: S314 (our own output)
    data = f"{DATA}/cda:entryRelationship[@typeCode='SUBJ']/cda:observation/cda:value/@value"
    payer = f"({DATA})[1]/cda:entryRelationship/cda:observation[{tmpl('payer_cms')}]"
    assert code == 0
    assert values(t, data) == ["3", "3", "0", "1"]  # IPOP, DENOM, DENEX, NUMER
    assert values(t, f"{RATE}/cda:value/@value") == ["0.333333"]
    assert sorted(values(t, f"{payer}/cda:value/cda:translation/@code")) == ["A", "D"]
    assert values(t, f"{at('reporting_parameters', 'act')}/cda:effectiveTime/cda:low/@value") == [
        "20250101"
    ]
    event = AuditEvent.objects.filter(action="population-read").latest("pk")
    assert f"measure export qrda3 runs={run.pk}" in event.detail
    assert event.outcome == "shown"


@needs_cda_schema
def test_an_exported_file_is_valid_against_the_cda_schema(patients, tmp_path, cda_schema):
    man, woman, other = patients
    store("CMS165v13", Y2025, [(man, IN_NUMERATOR), (woman, NOT_IN_NUMERATOR)])
    store("CMS138v13", Y2025, [(other, IN_NUMERATOR)])  # groups 2 and 3 empty
    out = tmp_path / "qrda3.xml"

    code = export("--format", "qrda3", "--period", "2025-01-01..2025-12-31", *SUBMITTER,
                  "--out", str(out))  # fmt: skip

    assert code == 0
    assert [f"{e.path}: {e.reason}" for e in cda_schema.iter_errors(out.read_text())] == []


def test_export_as_measurereport_gives_summary_reports(patients, capsys):
    import orjson

    man, woman, _ = patients
    run = store("CMS165v13", Y2025, [(man, IN_NUMERATOR), (woman, NOT_IN_NUMERATOR)])

    code = export("--format", "measurereport", "--run", str(run.pk))

    bundle = orjson.loads(capsys.readouterr().out)
    [report] = [e["resource"] for e in bundle["entry"]]
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    assert code == 0
    assert report["type"] == "summary"
    assert report["measure"].endswith("|0.1.000")
    assert counts == {"initial-population": 2, "denominator": 2, "denominator-exclusion": 0,
                      "numerator": 1}  # fmt: skip
    assert report["group"][0]["measureScore"] == {"value": 0.5}


def refused(capsys, *argv: str) -> str:
    """Run the export, expect exit status 2, and return its one-line message."""
    code = export(*argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    return err


def test_it_refuses_runs_of_different_periods(patients, capsys):
    a = store("CMS165v13", Y2025, [(patients[0], IN_NUMERATOR)])
    b2 = store(
        "CMS122v13", (dt.date(2025, 1, 1), dt.date(2025, 6, 30)), [(patients[1], IN_NUMERATOR)]
    )

    err = refused(capsys, "--run", str(a.pk), "--run", str(b2.pk), *SUBMITTER)

    assert "different periods" in err and "2025-01-01..2025-06-30" in err


def test_it_refuses_unknown_run_ids(db, capsys):
    err = refused(capsys, "--run", "999999", *SUBMITTER)

    assert "unknown run id 999999" in err


def test_it_refuses_a_run_of_a_measure_with_no_ecqm_version(patients, capsys):
    run = store("SSDv1", Y2025, [(patients[0], IN_NUMERATOR)])

    err = refused(capsys, "--run", str(run.pk), *SUBMITTER)

    assert f"run {run.pk} is of SSDv1" in err and "eCQM" in err


def test_it_refuses_an_empty_selection(db, capsys):
    assert "nothing to export" in refused(capsys, *SUBMITTER)
    assert "no stored run" in refused(capsys, "--period", "2025-01-01..2025-12-31", *SUBMITTER)


def test_it_refuses_two_runs_of_one_measure(patients, capsys):
    a = store("CMS165v13", Y2025, [(patients[0], IN_NUMERATOR)])
    b2 = store("CMS165v13", Y2025, [(patients[1], IN_NUMERATOR)])

    err = refused(capsys, "--run", str(a.pk), "--run", str(b2.pk), *SUBMITTER)

    assert "both CMS165" in err


def test_it_refuses_a_submission_without_the_ids_cms_needs(patients, capsys):
    run = store("CMS165v13", Y2025, [(patients[0], IN_NUMERATOR)])

    assert "--tin" in refused(capsys, "--run", str(run.pk), "--cehrt-id", "0015HQR8VC3TF2B")
    assert "--cehrt-id" in refused(capsys, "--run", str(run.pk), "--tin", "123456789")
    assert "--npi" in refused(capsys, "--run", str(run.pk), "--program", "MIPS_INDIV", *SUBMITTER)


def test_cms137_reports_its_three_age_strata_in_both_groups():
    teen = tally(2, strata={"age": "13-17"})
    adult = tally(3, strata={"age": "18-64"})
    adult.strata.update(teen.strata)
    adult.count += teen.count
    results = [
        qrda.MeasureResults(4, "CMS137v14", "CMS137FHIRSUDTxInitEngagement", {
            "group-1": {"initial-population": adult}, "group-2": {"initial-population": adult},
        })
    ]  # fmt: skip
    t = build(results=results)
    stratum = (
        f"{DATA}[cda:value/@code='IPOP']/cda:entryRelationship/cda:observation[{tmpl('stratum')}]"
    )

    ids = values(t, f"{stratum}/cda:reference/cda:externalObservation/cda:id/@extension")
    counts = values(t, f"{stratum}/cda:entryRelationship/cda:observation/cda:value/@value")

    assert ids == [f"Stratification_{g}_{s}" for g in (1, 2) for s in (1, 2, 3)]
    assert counts == ["2", "3", "0", "2", "3", "0"]


def test_a_reader_without_a_population_role_gets_nothing(patients, team):
    from tandem.audit.models import AuditEvent
    from tandem.consent.gate import AccessDenied
    from tandem.measures import queries

    run = store("CMS165v13", Y2025, [(patients[0], IN_NUMERATOR)])

    with pytest.raises(AccessDenied):
        queries.export_aggregates(user=team.olive, run_ids=[run.pk], detail="measure export")
    assert AuditEvent.objects.filter(action="population-read", outcome="denied").exists()


def test_a_leader_counts_only_the_patients_of_their_sites(patients, team):
    from tandem.measures import queries

    outside = patients[0]  # no home site, no MRN at Leo's clinics
    run = store("CMS165v13", Y2025, [(outside, IN_NUMERATOR), (team.pat, IN_NUMERATOR)])

    tallies = queries.export_aggregates(user=team.leo, run_ids=[run.pk], detail="measure export")

    assert tallies[run.pk]["group-1"]["initial-population"].count == 1


@shared.needs(shared.VALUESETS)
def test_a_run_stored_by_measure_run_exports_as_qrda3(team, capsys):
    from tandem.cli import main
    from tandem.measures import run
    from tests.measures.test_run import hypertensive

    main(["valuesets", "load", str(shared.VALUESETS)])
    hypertensive(team, systolic=128, diastolic=82)
    hypertensive(team, systolic=150, diastolic=95)
    [outcome] = run.run_measures(by=None, keys=["CMS165"], period=Y2025, store=True)
    capsys.readouterr()

    code = export("--run", str(outcome.run_id), *SUBMITTER)

    t = ET.ElementTree(ET.fromstring(capsys.readouterr().out))  # noqa: S314 (our own output)
    counts = values(
        t, f"{DATA}/cda:entryRelationship[@typeCode='SUBJ']/cda:observation/cda:value/@value"
    )
    stored = outcome.counts["group-1"]
    assert code == 0
    assert counts == [str(stored.get(c, 0)) for c in
                      ("initial-population", "denominator", "denominator-exclusion", "numerator")]  # fmt: skip
    assert stored["numerator"] >= 1
