"""Results as clinicians read them: short names, units for people, paired blood pressure,
reference ranges with high/low flags, and small trends. Pure functions (no database, no Django).

- :func:`display_name` — a short name for a coded concept: the curated ``SHORT_NAMES`` for the
  codes the synthetic population and the measures use most (LOINC, SNOMED CT, RxNorm, CPT,
  HCPCS, ICD-10-CM), else the stored descriptor made shorter by :func:`shorten`, which cuts at a
  clause, then at a word boundary — never inside a word — and marks the cut with "…".
- :func:`unit` — a UCUM unit as people write it ("mm[Hg]" → "mmHg", "kg/m2" → "kg/m²").
- :func:`blood_pressure` — systolic and diastolic as one reading ("162/102 mmHg").
- :func:`reference_range` and :func:`flag` — ranges as data per LOINC code (``RANGES``, with
  sex and age where they matter); the flag is text ("H", "L" and a word), never colour alone.
- :func:`score_band` — the published severity band of an instrument total (PHQ-9, GAD-7 …).
- :func:`trend_text` and :func:`sparkline` — "HbA1c 7.1 → 8.4 over 5 results" and an inline
  SVG drawn with attributes only (the Content-Security-Policy forbids style attributes).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"

SYSTEM_NAMES = {
    LOINC: "LOINC",
    SNOMED: "SNOMED CT",
    RXNORM: "RxNorm",
    CPT: "CPT",
    HCPCS: "HCPCS",
    ICD10: "ICD-10-CM",
}


def _each(system: str, codes: str, name: str) -> dict[tuple[str, str], str]:
    return {(system, code): name for code in codes.split()}


# (system, code) -> the short name a clinician uses. Codes sharing a name are one concept on
# the chart (every HbA1c method is "HbA1c"), so their results trend together.
SHORT_NAMES: dict[tuple[str, str], str] = {
    **_each(LOINC, "4548-4 17855-8 17856-6 4549-2 96595-4", "HbA1c"),
    **_each(LOINC, "2345-7", "Glucose"),
    **_each(LOINC, "2339-0", "Glucose (blood)"),
    **_each(LOINC, "1558-6", "Fasting glucose"),
    **_each(LOINC, "13457-7 18262-6 2089-1", "LDL cholesterol"),
    **_each(LOINC, "2093-3", "Total cholesterol"),
    **_each(LOINC, "2085-9", "HDL cholesterol"),
    **_each(LOINC, "2571-8", "Triglycerides"),
    **_each(LOINC, "2160-0", "Creatinine"),
    **_each(LOINC, "718-7", "Hemoglobin"),
    **_each(LOINC, "85354-9", "Blood pressure"),
    **_each(LOINC, "8480-6", "Systolic BP"),
    **_each(LOINC, "8462-4", "Diastolic BP"),
    **_each(LOINC, "8867-4", "Heart rate"),
    **_each(LOINC, "39156-5", "BMI"),
    **_each(LOINC, "29463-7", "Weight"),
    **_each(LOINC, "8302-2", "Height"),
    **_each(LOINC, "72166-2", "Smoking status"),
    **_each(LOINC, "44261-6", "PHQ-9"),
    **_each(LOINC, "89204-2", "PHQ-A"),
    **_each(LOINC, "55758-7", "PHQ-2"),
    **_each(LOINC, "70274-6", "GAD-7"),
    **_each(LOINC, "75626-2", "AUDIT-C"),
    **_each(LOINC, "82667-7", "DAST-10"),
    **_each(SNOMED, "449868002", "Smokes tobacco daily"),
    **_each(SNOMED, "8517006", "Ex-smoker"),
    **_each(SNOMED, "266919005", "Never smoked"),
    **_each(CPT, "99202 99203 99204 99205", "Office visit, new patient"),
    **_each(CPT, "99211 99212 99213 99214 99215", "Office visit"),
    **_each(CPT, "90832 90833", "Psychotherapy, 30 min"),
    **_each(CPT, "90834 90836", "Psychotherapy, 45 min"),
    **_each(CPT, "90837 90838", "Psychotherapy, 60 min"),
    **_each(CPT, "90791", "Psychiatric evaluation"),
    **_each(CPT, "90792", "Psychiatric evaluation with medical services"),
    **_each(CPT, "99281 99282 99283 99284 99285", "Emergency department visit"),
    **_each(CPT, "99221 99222 99223", "Hospital admission"),
    **_each(CPT, "99238 99239", "Hospital discharge"),
    **_each(CPT, "98966 98967 98968 99441 99442 99443", "Telephone visit"),
    **_each(CPT, "99421 99422 99423", "Online visit"),
    **_each(CPT, "99484", "Behavioral health care management"),
    **_each(CPT, "99490", "Chronic care management"),
    **_each(CPT, "99492 99493 99494", "Collaborative care management"),
    **_each(HCPCS, "G2214", "Collaborative care management"),
    **_each(CPT, "99406 99407", "Tobacco cessation counseling"),
    **_each(CPT, "96372", "Injection"),
    **_each(HCPCS, "H0001", "Alcohol and drug assessment"),
    **_each(HCPCS, "H0004", "Behavioral health counseling"),
    **_each(HCPCS, "H0005", "Group counseling (SUD)"),
    **_each(ICD10, "E11.9", "Type 2 diabetes"),
    **_each(ICD10, "I10", "Hypertension"),
    **_each(ICD10, "F20.9", "Schizophrenia"),
    **_each(ICD10, "F25.9", "Schizoaffective disorder"),
    **_each(ICD10, "F31.9", "Bipolar disorder"),
}

DEFAULT_LIMIT = 48
# Where a long descriptor may end before its word limit: a clause that adds detail.
_CLAUSE = re.compile(r";|, which |, per |, for up to | when | \(|\. ")
# RxNorm's clinical-drug names, as a prescription is written.
_RX_WORDS = [
    (r"\bMG\b", "mg"),
    (r"\bML\b", "mL"),
    (r"\bMCG\b", "mcg"),
    (r"\bExtended Release\b", "ER"),
    (r"\b24 HR\b", "24 h"),
    (r"\bOral Tablet\b", "tablet"),
    (r"\bOral Capsule\b", "capsule"),
    (r"\bOral Solution\b", "oral solution"),
    (r"\bDisintegrating Oral Tablet\b", "ODT"),
    (r"\bPrefilled Syringe\b", "prefilled syringe"),
    (r"\bInjectable Suspension\b", "injection"),
]


def shorten(text: str, limit: int = DEFAULT_LIMIT) -> str:
    """``text`` in at most ``limit`` characters: first up to a clause that adds detail
    (", which …", "; …"), then at the last whole word, marked "…". Never cut inside a word;
    a single word longer than ``limit`` is kept whole."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    clause = _CLAUSE.search(text)
    if clause and 0 < clause.start() <= limit:
        return text[: clause.start()].rstrip(" ,.;:")
    head = text[: limit - 1]
    if text[limit - 1] != " " and " " in head:  # the limit falls inside a word: drop it
        head = head.rsplit(" ", 1)[0]
    head = head.rstrip(" ,.;:-/")
    return (head or text.split(" ", 1)[0]) + "…"


def medication_name(text: str) -> str:
    """An RxNorm clinical-drug name as written on a prescription ("500 MG Oral Tablet" →
    "500 mg tablet")."""
    for pattern, word in _RX_WORDS:
        text = re.sub(pattern, word, text)
    return text


def display_name(system: str, code: str, display: str = "", limit: int = DEFAULT_LIMIT) -> str:
    """The short name of a coded concept: curated, else the descriptor shortened, else the
    code with its system ("CPT 99213")."""
    curated = SHORT_NAMES.get((system, code))
    if curated:
        return curated
    if display:
        if system == RXNORM:
            display = medication_name(display)
        return shorten(display, limit)
    return f"{SYSTEM_NAMES.get(system, 'Code')} {code}".strip()


# --- units -------------------------------------------------------------------------------

UNITS = {
    "mm[Hg]": "mmHg",
    "kg/m2": "kg/m²",
    "{score}": "",
    "%": "%",
    "mg/dL": "mg/dL",
    "g/dL": "g/dL",
    "mmol/L": "mmol/L",
    "mmol/mol": "mmol/mol",
    "/min": "/min",
    "{beats}/min": "/min",
    "{breaths}/min": "/min",
    "kg": "kg",
    "g": "g",
    "cm": "cm",
    "[in_i]": "in",
    "[lb_av]": "lb",
    "Cel": "°C",
    "[degF]": "°F",
    "mL/min/{1.73_m2}": "mL/min/1.73 m²",
    "10*3/uL": "×10³/µL",
    "10*6/uL": "×10⁶/µL",
    "ug/L": "µg/L",
    "ug/mL": "µg/mL",
    "ng/mL": "ng/mL",
    "mg/L": "mg/L",
    "[IU]/L": "IU/L",
    "U/L": "U/L",
    "1": "",
}
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def unit(ucum: str) -> str:
    """A UCUM unit as people write it: the table above, else by rule — annotations in braces
    dropped, square brackets removed, a trailing power as a superscript, "u" as "µ"."""
    ucum = (ucum or "").strip()
    if ucum in UNITS:
        return UNITS[ucum]
    text = re.sub(r"\{[^}]*\}", "", ucum)
    text = text.replace("[", "").replace("]", "")
    text = re.sub(r"(?<=[a-zA-Z])([23])\b", lambda m: m.group(1).translate(_SUPERSCRIPTS), text)
    text = re.sub(r"(?<![a-zA-Z])u(?=[gLlm]\b|mol\b)", "µ", text)
    return text.strip()


def number(value: float) -> str:
    """A result as reported: no trailing ".0", at most two decimals."""
    return f"{round(value, 2):g}"


def quantity(value: float | None, ucum: str = "") -> str:
    """ "7.1 %", "162 mmHg", "31.2 kg/m²"; a score has no unit."""
    if value is None:
        return "—"
    shown = unit(ucum)
    return f"{number(value)} {shown}".strip() if shown != "%" else f"{number(value)} %"


def blood_pressure(systolic: float | None, diastolic: float | None) -> str:
    """One reading: "162/102 mmHg" (a missing half shows as "—")."""
    s = number(systolic) if systolic is not None else "—"
    d = number(diastolic) if diastolic is not None else "—"
    return f"{s}/{d} mmHg"


# --- reference ranges and flags -----------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """A reference (or target) range for adults unless ages are given; either end optional."""

    low: float | None
    high: float | None
    sex: str | None = None  # "female" / "male"; None: either
    min_age: int | None = None
    max_age: int | None = None
    note: str = ""

    def text(self, ucum: str = "") -> str:
        shown = unit(ucum)
        suffix = f" {shown}" if shown else ""
        if self.low is not None and self.high is not None:
            body = f"{number(self.low)}–{number(self.high)}{suffix}"
        elif self.high is not None:
            body = f"≤ {number(self.high)}{suffix}"
        else:
            body = f"≥ {number(self.low or 0)}{suffix}"
        return f"{body} ({self.note})" if self.note else body


ADULT = 18
# LOINC -> ranges, first match wins (sex and age where the range depends on them). Sources:
# ADA Standards of Care 2025 (HbA1c, glucose), NCEP ATP III (lipids), ACC/AHA and CMS165's
# control target < 140/90 (blood pressure: flagged high from 140/90), WHO adult BMI bands,
# Mayo Clinic Laboratories adult ranges (hemoglobin, creatinine).
RANGES: dict[str, tuple[Range, ...]] = {
    **{c: (Range(4.0, 5.6),) for c in ("4548-4", "17855-8", "17856-6", "4549-2", "96595-4")},
    "2345-7": (Range(70, 99, note="fasting"),),
    "2339-0": (Range(70, 99, note="fasting"),),
    "1558-6": (Range(70, 99),),
    **{c: (Range(None, 99),) for c in ("13457-7", "18262-6", "2089-1")},
    "2093-3": (Range(None, 199),),
    "2085-9": (Range(50, None, sex="female"), Range(40, None, sex="male")),
    "2571-8": (Range(None, 149),),
    "2160-0": (Range(0.59, 1.04, sex="female"), Range(0.74, 1.35, sex="male")),
    "718-7": (Range(12.0, 15.5, sex="female"), Range(13.5, 17.5, sex="male")),
    "8480-6": (Range(90, 139),),
    "8462-4": (Range(60, 89),),
    "8867-4": (Range(60, 100),),
    "39156-5": (Range(18.5, 24.9, min_age=20),),
}


def reference_range(code: str, *, sex: str = "", age: int | None = None) -> Range | None:
    """The range for this LOINC code, this patient's sex and age; None when there is none."""
    for candidate in RANGES.get(code, ()):
        if candidate.sex and candidate.sex != sex:
            continue
        if candidate.min_age is not None and (age is None or age < candidate.min_age):
            continue
        if candidate.max_age is not None and (age is None or age > candidate.max_age):
            continue
        unaged = candidate.min_age is None and candidate.max_age is None
        if unaged and age is not None and age < ADULT:
            continue  # adult ranges only: no flag rather than a wrong one for a child
        return candidate
    return None


@dataclass(frozen=True)
class Flag:
    code: str  # "H", "L" or ""
    text: str  # "High", "Low" or ""


NORMAL = Flag("", "")
HIGH = Flag("H", "High")
LOW = Flag("L", "Low")


def flag(value: float | None, ranges: Range | None) -> Flag:
    """High above the range, low below it, else no flag (nor without a value or range)."""
    if value is None or ranges is None:
        return NORMAL
    if ranges.high is not None and value > ranges.high:
        return HIGH
    if ranges.low is not None and value < ranges.low:
        return LOW
    return NORMAL


# Instrument -> (upper bound of the band, its name), published cut-offs.
SCORE_BANDS: dict[str, tuple[tuple[int, str], ...]] = {
    "phq9": (
        (4, "minimal"),
        (9, "mild"),
        (14, "moderate"),
        (19, "moderately severe"),
        (27, "severe"),
    ),  # Kroenke 2001  # fmt: skip
    "phqa": (
        (4, "minimal"),
        (9, "mild"),
        (14, "moderate"),
        (19, "moderately severe"),
        (27, "severe"),
    ),  # fmt: skip
    "gad7": ((4, "minimal"), (9, "mild"), (14, "moderate"), (21, "severe")),  # Spitzer 2006
    "phq2": ((2, "negative screen"), (6, "positive screen")),  # Kroenke 2003, cut-off 3
    "dast10": ((0, "none"), (2, "low"), (5, "moderate"), (8, "substantial"), (10, "severe")),
}


def score_band(instrument: str, score: int | None) -> str:
    """The severity band of an instrument's total ("moderate"), or "" when none applies."""
    if score is None:
        return ""
    for upper, name in SCORE_BANDS.get(instrument, ()):
        if score <= upper:
            return name
    return ""


# --- trends -------------------------------------------------------------------------------


def trend_text(name: str, values: Sequence[float], ucum: str = "") -> str:
    """The accessible words for a trend: "HbA1c 7.1 → 8.4 over 5 results" (oldest first)."""
    if not values:
        return f"{name}: no results"
    shown = unit(ucum)
    suffix = f" {shown}" if shown and shown != "%" else (" %" if shown == "%" else "")
    if len(values) == 1:
        return f"{name} {number(values[0])}{suffix}, 1 result"
    return f"{name} {number(values[0])} → {number(values[-1])}{suffix} over {len(values)} results"


def sparkline(
    values: Sequence[float], *, label: str, width: int = 96, height: int = 24, pad: int = 3
) -> str:
    """An inline SVG line of ``values`` (oldest first) with the last point marked; ``label``
    is its accessible name (``role="img"`` and a ``<title>``). Attributes only, no style."""
    text = html.escape(label)
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (width - 2 * pad) / (len(values) - 1)
    points = [
        (pad + i * step, height - pad - (v - low) / span * (height - 2 * pad))
        for i, v in enumerate(values)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    last_x, last_y = points[-1]
    return (
        f'<svg class="tandem-spark" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{text}">'
        f"<title>{text}</title>"
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" '
        f'stroke-linejoin="round" points="{path}"/>'
        f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2.5" fill="currentColor"/></svg>'
    )


def short_date(day: dt.date | dt.datetime | None) -> str:
    """An unambiguous date: "02-Dec-2026" (docs/ui.md); "—" when there is none."""
    if day is None:
        return "—"
    return day.strftime("%d-%b-%Y")
