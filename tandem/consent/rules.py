"""Sensitivity labels and disclosure rules — the one module where they are written down.

Labels (assigned when a row is written or imported, first rule that matches wins)
1. ``psychotherapy-note``: a clinical note of type psychotherapy.
2. ``substance-use``: any row recorded by a 42 CFR Part 2 program (a federally assisted SUD
   program). Part 2 protects every record that would identify the patient as having been
   treated there, not only F10–F19 diagnoses, so the whole record of the program is labelled.
3. ``hiv``: an HIV diagnosis, HIV test or antiretroviral code (``HIV_CODES``), from any program.
4. ``reproductive-health``: pregnancy, contraception and abortion codes
   (``REPRODUCTIVE_PREFIXES``/``REPRODUCTIVE_CODES``), from any program.
5. ``mental-health``: any row recorded by a behavioral-health, psychiatry or (non-Part 2) SUD
   program. A depression diagnosis made by a PCP in primary care stays ``normal``: it is
   primary care's own record.
6. ``normal``: everything else.

Disclosure (what a reader with a treatment relationship may see; ``gate`` applies these)
- ``psychotherapy-note``: its author only — not the team, not the patient (HIPAA excludes
  psychotherapy notes from the right of access), not in emergencies.
- ``substance-use``: members of the recording Part 2 program; the patient; anyone else only
  with the patient's consent for that category naming them (person, organization or
  care-team role) for this purpose; in an emergency (42 CFR 2.51).
- ``mental-health``: readers inside behavioral health (a member of a behavioral-health program,
  or the patient's BH clinician or psychiatrist on the care team); the patient; others with
  consent; in an emergency.
- ``hiv`` and ``reproductive-health``: the care team for treatment, the patient, emergencies;
  for operations/quality use only with consent.
- ``normal``: anyone with a relationship that grants access for the purpose.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tandem.core.models import Sensitivity

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"

# Substance-use disorder diagnoses (F17 nicotine is excluded: Part 2 excludes tobacco).
SUD_PREFIXES = ("F10", "F11", "F12", "F13", "F14", "F15", "F16", "F18", "F19")

HIV_CODES: frozenset[tuple[str, str]] = frozenset(
    {
        (ICD10, "B20"),
        (ICD10, "Z21"),
        (ICD10, "R75"),
        (ICD10, "O98.711"),
        (ICD10, "O98.712"),
        (ICD10, "O98.713"),
        (ICD10, "O98.72"),
        (ICD10, "O98.73"),
        (SNOMED, "86406008"),  # HIV infection
        (SNOMED, "165816005"),  # HIV positive
        (LOINC, "75622-1"),  # HIV 1+2 Ab+Ag screen
        (LOINC, "7917-8"),  # HIV 1 Ab
        (LOINC, "68961-2"),  # HIV 1 Ab
        (LOINC, "25836-8"),  # HIV 1 RNA (viral load)
        (LOINC, "20447-9"),  # HIV 1 RNA copies
        (RXNORM, "1999563"),  # bictegravir/emtricitabine/tenofovir alafenamide
        (RXNORM, "1747691"),  # elvitegravir/cobicistat/emtricitabine/TAF
    }
)
REPRODUCTIVE_PREFIXES: dict[str, tuple[str, ...]] = {
    ICD10: ("O", "Z30", "Z31", "Z32", "Z33", "Z34", "Z35", "Z36", "Z37", "Z39", "Z3A"),
}
REPRODUCTIVE_CODES: frozenset[tuple[str, str]] = frozenset(
    {(CPT, str(c)) for c in range(59840, 59858)}  # induced abortion procedures
    | {(RXNORM, "259280")}  # mifepristone
)
# HIV in pregnancy (O98.7x) is labelled hiv: rule 3 comes before rule 4.


def is_sud_code(system: str, code: str) -> bool:
    return system == ICD10 and code.startswith(SUD_PREFIXES)


def label_code(
    *,
    system: str = "",
    code: str = "",
    program_kind: str | None = None,
    program_is_part2: bool = False,
    psychotherapy_note: bool = False,
) -> str:
    """The label for one row, from its code and the program that recorded it (rules 1–6)."""
    if psychotherapy_note:
        return Sensitivity.PSYCHOTHERAPY_NOTE
    if program_is_part2:
        return Sensitivity.SUBSTANCE_USE
    if (system, code) in HIV_CODES:
        return Sensitivity.HIV
    if (system, code) in REPRODUCTIVE_CODES or code.startswith(
        REPRODUCTIVE_PREFIXES.get(system, ("\0",))
    ):
        return Sensitivity.REPRODUCTIVE_HEALTH
    if program_kind in BEHAVIORAL_PROGRAM_KINDS:
        return Sensitivity.MENTAL_HEALTH
    return Sensitivity.NORMAL


BEHAVIORAL_PROGRAM_KINDS = frozenset({"behavioral-health", "sud", "psychiatry"})


def row_code(row: Any) -> tuple[str, str]:
    """The (system, code) that labels a row: its own code, or an encounter's type."""
    if hasattr(row, "code_system"):
        return row.code_system or "", row.code or ""
    if hasattr(row, "type_system"):
        return row.type_system or "", row.type_code or ""
    return "", ""


def label_for(row: Any) -> str:
    """The label of a model instance (any ClinicalRecord), from rules 1–6."""
    program = row.program if getattr(row, "program_id", None) else None
    system, code = row_code(row)
    return label_code(
        system=system,
        code=code,
        program_kind=program.kind if program else None,
        program_is_part2=bool(program and program.is_part2),
        psychotherapy_note=getattr(row, "note_type", None) == "psychotherapy",
    )


def label_all(rows: Iterable[Any]) -> None:
    """Label rows before a ``bulk_create`` (which skips ``save``)."""
    for row in rows:
        if not row.sensitivity:
            row.sensitivity = label_for(row)


# Which site roles grant which purposes (patients registered at that site).
SITE_ROLE_PURPOSES: dict[str, frozenset[str]] = {
    "clinician": frozenset({"treatment"}),
    "care-manager": frozenset({"treatment"}),
    "leader": frozenset({"operations"}),
    "quality": frozenset({"operations"}),
    "front-desk": frozenset(),
}

# Care-team roles that make a reader "inside behavioral health" for this patient.
BEHAVIORAL_CARE_TEAM_ROLES = frozenset({"bh-clinician", "psychiatrist"})
