"""One table of every code the generator can emit; events carry an index into it.

Keeping codes as small integers until the very end is what makes the generator vectorised:
an event column is an ``int32`` array, and the writers turn it into ``system``/``code``/
``display`` strings with one ``take`` per column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from tandem.terminology import codelists

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"

# Codes the generator emits for the process-of-care eCQMs (CMS50, CMS68, CMS69, CMS137,
# CMS177, CMS347) that no shipped code list holds. Each is in the measure's value set (or is
# its direct-reference code) in both the 2025 (eCQM QI-Core 2024) and 2026 VSAC expansions.
EXTRA_LISTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    # CMS68 direct-reference code
    "medication-documentation": (
        (SNOMED, "428191000124101", "Documentation of current medications (procedure)"),
    ),
    # CMS177 direct-reference code
    "suicide-risk-assessment": ((SNOMED, "225337009", "Suicide risk assessment (procedure)"),),
    # Referral 2.16.840.1.113883.3.464.1003.101.12.1046 (CMS50)
    "specialist-referrals": (
        (SNOMED, "308471005", "Referral to cardiologist (procedure)"),
        (SNOMED, "306278007", "Referral to endocrinologist (procedure)"),
        (SNOMED, "308479007", "Referral to ophthalmologist (procedure)"),
        (SNOMED, "308451001", "Referral to podiatrist (procedure)"),
        (SNOMED, "103699006", "Referral to dietitian (procedure)"),
        (SNOMED, "308472003", "Referral to dermatologist (procedure)"),
        (SNOMED, "308481009", "Referral to orthopedic surgeon (procedure)"),
        (SNOMED, "308476000", "Referral to gastroenterologist (procedure)"),
        (SNOMED, "308474002", "Referral to neurologist (procedure)"),
        (SNOMED, "103696004", "Patient referral to specialist (procedure)"),
    ),
    # Consultant Report 2.16.840.1.113883.3.464.1003.121.12.1006 (CMS50: Task.code in 2025,
    # Task.reasonCode in 2026, where Task.code is "fulfill")
    "consult-note": ((LOINC, "11488-4", "Consult note"),),
    "task-codes": (
        ("http://hl7.org/fhir/CodeSystem/task-code", "fulfill", "Fulfill the focal request"),
    ),
    # Follow Up for Above / Below Normal BMI 2.16.840.1.113883.3.600.1.1525 / .1528 (CMS69)
    "bmi-follow-up": (
        (SNOMED, "304549008", "Giving encouragement to exercise (procedure)"),
        (SNOMED, "410177006", "Special diet education (procedure)"),
        (SNOMED, "443288003", "Lifestyle education regarding diet (procedure)"),
        (SNOMED, "386464006", "Prescribed diet education (procedure)"),
        (SNOMED, "429095004", "Dietary education for weight gain (procedure)"),
    ),
    # Overweight or Obese 2.16.840.1.113762.1.4.1047.502, Underweight 2.16.840.1.113883.3.526.3.1563
    "weight-reasons": (
        (ICD10, "E66.3", "Overweight"),
        (ICD10, "E66.9", "Obesity, unspecified"),
        (ICD10, "R63.6", "Underweight"),
    ),
    # Substance Use Disorder Treatment 2.16.840.1.113883.3.464.1003.106.12.1005 (CMS137)
    "sud-counseling": (
        (SNOMED, "313071005", "Counseling for substance abuse (procedure)"),
        (SNOMED, "60112009", "Drug addiction counseling (procedure)"),
        (SNOMED, "24165007", "Alcoholism counseling (procedure)"),
    ),
    # Familial Hypercholesterolemia 2.16.840.1.113762.1.4.1047.100 (CMS347)
    "familial-hypercholesterolemia": ((ICD10, "E78.01", "Familial hypercholesterolemia"),),
}


@dataclass
class Vocabulary:
    systems: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    displays: list[str] = field(default_factory=list)
    _index: dict[tuple[str, str], int] = field(default_factory=dict)
    _lists: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, system: str, code: str, display: str = "") -> int:
        key = (system, code)
        if key not in self._index:
            self._index[key] = len(self.codes)
            self.systems.append(system)
            self.codes.append(code)
            self.displays.append(display)
        return self._index[key]

    def of(self, system: str, code: str) -> int:
        return self._index[(system, code)]

    def code(self, code: str, system: str | None = None) -> int:
        """The index of a code known to be unique across systems (or give the system)."""
        if system is not None:
            return self.of(system, code)
        hits = [i for (_s, c), i in self._index.items() if c == code]
        if len(hits) != 1:
            raise KeyError(code)
        return hits[0]

    def codes_of(self, key: str, *codes: str) -> np.ndarray:
        """Indices of a code list, or of the named codes in it (in the order given)."""
        idx = self._lists[key]
        if not codes:
            return idx
        by_code = {self.codes[i]: i for i in idx}
        return np.array([by_code[c] for c in codes], dtype=np.int32)

    def arrow(self) -> tuple[pa.Array, pa.Array, pa.Array]:
        return pa.array(self.systems), pa.array(self.codes), pa.array(self.displays)


def build() -> Vocabulary:
    vocab = Vocabulary()
    for key in codelists.names():
        cl = codelists.load(key)
        vocab._lists[key] = np.array(
            [vocab.add(c.system, c.code, c.display) for c in cl.codes], dtype=np.int32
        )
    for key, codes in EXTRA_LISTS.items():
        vocab._lists[key] = np.array([vocab.add(*c) for c in codes], dtype=np.int32)
    return vocab


_VOCAB: Vocabulary | None = None


def get() -> Vocabulary:
    global _VOCAB
    if _VOCAB is None:
        _VOCAB = build()
    return _VOCAB
