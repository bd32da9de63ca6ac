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

The unit a row belongs to (rules 2 and 5) is its program; a row without one belongs to its
site, and a row with neither to its practitioner (``UNIT_FIELDS``, in that order). A unit's
label (:func:`unit_label`) is what a row *reveals* by naming it:
- a program: ``substance-use`` when it is Part 2, ``mental-health`` when it is behavioral;
- a site: ``substance-use`` when it is a Part 2 site (an SUD-program site running a Part 2
  program, or a site whose every program is Part 2), ``mental-health`` when it is a
  behavioral-health site (CMHC, co-located BH, SUD program) or every program there is
  behavioral, else ``normal`` — an MRN from a clinic that also runs primary care reveals
  nothing;
- a practitioner: the least protected label of their programs (someone who also works in
  primary care reveals nothing by name); ``normal`` without programs;
- an organization (a payer): the least protected label of its sites; ``normal`` without sites.

Rows that tie a patient to a unit (42 CFR Part 2 protects the very fact that a person is a
patient of a Part 2 program, 2.13(c)) are labelled by the same rules:
- a care-team membership: its unit (program, else practitioner);
- an identifier: the site that issued it (Medicaid and plan ids have none: ``normal``);
- a coverage span: its payer;
- a consent directive: the most protective of its categories (substance-use > mental-health >
  hiv > reproductive-health; ``all`` is substance-use): a directive to share substance-use
  records says that there are some.
- a task (``tasks.Task``): given by its creator, else its creator's unit and its queue's site
  (:func:`label_task`).
A patient's home site, shown in the summary's header and in patient lists, carries its site's
label too (``Patient.home_site_sensitivity``). Contacts (names and phone numbers of the
patient's people) point at no unit and carry no label.

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

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps as django_apps
from django.conf import settings
from django.utils import timezone

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


BEHAVIORAL_PROGRAM_KINDS = frozenset({"behavioral-health", "sud", "psychiatry"})
BEHAVIORAL_SITE_KINDS = frozenset({"cmhc", "co-located-bh", "sud-program"})
PART2_SITE_KIND = "sud-program"
# The unit a row belongs to: the first of these foreign keys that is set on it.
UNIT_FIELDS = ("program", "site", "practitioner")
# How much a unit's label protects; the least protected of several units is what they reveal.
_PROTECTION: dict[str, int] = {
    Sensitivity.NORMAL: 0,
    Sensitivity.MENTAL_HEALTH: 1,
    Sensitivity.SUBSTANCE_USE: 2,
}


def program_label(*, kind: str | None, is_part2: bool) -> str:
    """What naming a program reveals (rules 2 and 5)."""
    if is_part2:
        return Sensitivity.SUBSTANCE_USE
    if kind in BEHAVIORAL_PROGRAM_KINDS:
        return Sensitivity.MENTAL_HEALTH
    return Sensitivity.NORMAL


def site_label(*, kind: str, programs: Iterable[tuple[str, bool]]) -> str:
    """What naming a site reveals, from its kind and its programs' (kind, is_part2)."""
    programs = list(programs)
    part2 = [is_part2 for _, is_part2 in programs]
    if any(part2) and (kind == PART2_SITE_KIND or all(part2)):
        return Sensitivity.SUBSTANCE_USE
    if kind in BEHAVIORAL_SITE_KINDS or (
        programs and all(k in BEHAVIORAL_PROGRAM_KINDS for k, _ in programs)
    ):
        return Sensitivity.MENTAL_HEALTH
    return Sensitivity.NORMAL


def least_protected(labels: Iterable[str]) -> str:
    """What a practitioner or organization with units of these labels reveals by name."""
    return min(labels, key=_PROTECTION.__getitem__, default=Sensitivity.NORMAL)


def label_code(
    *,
    system: str = "",
    code: str = "",
    program_kind: str | None = None,
    program_is_part2: bool = False,
    psychotherapy_note: bool = False,
    unit: str | None = None,
) -> str:
    """The label for one row, from its code and its unit (rules 1–6).

    ``unit`` is the label of the unit the row belongs to; without it, the program given by
    ``program_kind`` and ``program_is_part2``.
    """
    if unit is None:
        unit = program_label(kind=program_kind, is_part2=program_is_part2)
    if psychotherapy_note:
        return Sensitivity.PSYCHOTHERAPY_NOTE
    if unit == Sensitivity.SUBSTANCE_USE:
        return Sensitivity.SUBSTANCE_USE
    if (system, code) in HIV_CODES:
        return Sensitivity.HIV
    if (system, code) in REPRODUCTIVE_CODES or code.startswith(
        REPRODUCTIVE_PREFIXES.get(system, ("\0",))
    ):
        return Sensitivity.REPRODUCTIVE_HEALTH
    if unit == Sensitivity.MENTAL_HEALTH:
        return Sensitivity.MENTAL_HEALTH
    return Sensitivity.NORMAL


def row_code(row: Any) -> tuple[str, str]:
    """The (system, code) that labels a row: its own code, or an encounter's type."""
    if hasattr(row, "code_system"):
        return row.code_system or "", row.code or ""
    if hasattr(row, "type_system"):
        return row.type_system or "", row.type_code or ""
    return "", ""


def _site_of(site: Any) -> str:
    return site_label(kind=site.kind, programs=site.programs.values_list("kind", "is_part2"))


def _practitioner_of(practitioner: Any) -> str:
    return least_protected(
        program_label(kind=kind, is_part2=part2)
        for kind, part2 in practitioner.programs.values_list("kind", "is_part2")
    )


def _organization_of(organization: Any) -> str:
    return least_protected(_site_of(site) for site in organization.sites.all())


_UNIT_LABELS = {
    "program": lambda p: program_label(kind=p.kind, is_part2=p.is_part2),
    "site": _site_of,
    "practitioner": _practitioner_of,
}


def unit_label(row: Any) -> str:
    """The label of the unit ``row`` belongs to: its program, else its site, else practitioner."""
    for name in UNIT_FIELDS:
        if getattr(row, f"{name}_id", None) is not None:
            return _UNIT_LABELS[name](getattr(row, name))
    return Sensitivity.NORMAL


def _label_record(row: Any) -> str:
    system, code = row_code(row)
    return label_code(
        system=system,
        code=code,
        unit=unit_label(row),
        psychotherapy_note=getattr(row, "note_type", None) == "psychotherapy",
    )


def label_home_site(patient: Any) -> str:
    """What naming a patient's home site reveals: the site's label (``normal`` without one)."""
    return _site_of(patient.home_site) if patient.home_site_id is not None else Sensitivity.NORMAL


def label_consent(category: str) -> str:
    """A consent directive's label for one category (it says there are records of that kind);
    ``all`` is ``substance-use``, the most protective."""
    return Sensitivity.SUBSTANCE_USE if category == "all" else category


# Consent categories, most protective first: a directive with several takes the first.
DIRECTIVE_CATEGORY_ORDER = (
    Sensitivity.SUBSTANCE_USE,
    Sensitivity.MENTAL_HEALTH,
    Sensitivity.HIV,
    Sensitivity.REPRODUCTIVE_HEALTH,
)


def label_directive(categories: Iterable[str]) -> str:
    """A consent directive's label: the most protective of its categories (substance-use >
    mental-health > hiv > reproductive-health; ``all`` is substance-use)."""
    labels = {label_consent(c) for c in categories}
    for label in DIRECTIVE_CATEGORY_ORDER:
        if label in labels:
            return str(label)
    raise ValueError(f"a consent directive needs a known category, not {sorted(labels)}")


def directive_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date for consent directives: in the patient's home site's time zone.

    ``core.Site`` has no time-zone field, so it is ``TIME_ZONE``'s (``TANDEM_TIME_ZONE``) for
    every patient: a directive ending on the 31st is in force until midnight there, whatever
    the server's clock or the reader's active time zone says.
    """
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    return (now or timezone.now()).astimezone(zone).date()


def carries_part2(labels: Iterable[str]) -> bool:
    """Whether data with these labels includes 42 CFR Part 2 records: then anything that
    leaves Tandem with it (an export, a FHIR bundle, a PDF, a message) must carry
    :data:`REDISCLOSURE_NOTICE` (42 CFR 2.32)."""
    return any(label == Sensitivity.SUBSTANCE_USE or label == "all" for label in labels)


# 42 CFR 2.32(a)(1), as amended by the 2024 final rule (89 FR 12472, Feb 16 2024): the notice
# that must accompany each disclosure of Part 2 records made with the patient's consent.
REDISCLOSURE_NOTICE = (
    "This record which has been disclosed to you is protected by Federal confidentiality "
    "rules (42 CFR part 2). These rules prohibit you from using or disclosing this record, or "
    "testimony that describes the information contained in this record, in any civil, "
    "criminal, administrative, or legislative proceedings by any Federal, State, or local "
    "authority, against the patient, unless authorized by the consent of the patient, except "
    "as provided at 42 CFR 2.12(c)(5) or as authorized by a court in accordance with 42 CFR "
    "2.64 or 2.65. In addition, the Federal rules prohibit you from making any other use or "
    "disclosure of this record unless at least one of the following applies: "
    "(i) Further use or disclosure is expressly permitted by the written consent of the "
    "individual whose information is being disclosed in this record or as otherwise permitted "
    "by 42 CFR part 2. "
    "(ii) You are a covered entity or business associate and have received the record for "
    "treatment, payment, or health care operations, or "
    "(iii) You have received the record from a covered entity or business associate as "
    "permitted by 45 CFR part 164, subparts A and E. "
    "A general authorization for the release of medical or other information is NOT "
    "sufficient to meet the required elements of written consent to further use or redisclose "
    "the record (see 42 CFR 2.31)."
)
# 2.32(a)(2): the abbreviated notice allowed where space is short (a screen banner, a label).
REDISCLOSURE_NOTICE_SHORT = (
    "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
)


# What being on a registry cohort (``registry.CohortMembership``) says about a patient. A
# membership takes the least protected label of the patient's records that put them on the
# cohort (their diagnoses in its code list, or their antipsychotic orders and fills): a
# depression diagnosis made in primary care is primary care's own record (rule 5), so the
# membership it supports is ``normal``; one resting only on a Part 2 program's records is
# ``substance-use``. Where no such record is found (a claim alone), the cohort's own label
# below applies: what its name reveals.
COHORT_LABELS: dict[str, str] = {
    "smi": Sensitivity.MENTAL_HEALTH,
    "depression": Sensitivity.MENTAL_HEALTH,
    "anxiety": Sensitivity.MENTAL_HEALTH,
    "sud": Sensitivity.SUBSTANCE_USE,
    "antipsychotic": Sensitivity.MENTAL_HEALTH,
}


def label_cohort(cohort: str, evidence: Iterable[str] = ()) -> str:
    """A cohort membership's label: the least protected of its evidence's labels, else the
    cohort's (``COHORT_LABELS``; ``normal`` for the others)."""
    labels = set(evidence)
    ranked = [label for label in labels if label in _PROTECTION]
    if ranked:
        return least_protected(ranked)
    if labels:  # only hiv or reproductive-health records (e.g. gestational diabetes)
        return sorted(labels)[0]
    return COHORT_LABELS.get(cohort, Sensitivity.NORMAL)


def label_task(row: Any) -> str:
    """A task's label when its creator gave none: what its creator's unit reveals.

    A task about a patient, created by someone who works only in a Part 2 program, says the
    person is that program's patient (``substance-use``); by someone who works only in behavioral
    health, ``mental-health``; by anyone who also works in primary care, or by the system,
    ``normal`` (``least_protected`` of the creator's programs, as a practitioner's name). A
    task without a patient reveals nothing: ``normal``. A task held by a queue of a protected
    site takes that site's label if it protects more (``label_task_holder``); reassigning a
    task to such a queue raises its label the same way, never lowers it. Callers that know
    better (a worklist item's label, a neutral engagement request) pass the label explicitly.
    """
    if row.patient_id is None:
        return Sensitivity.NORMAL
    practitioner = (
        None
        if row.created_by_id is None
        else (
            django_apps.get_model("core", "Practitioner")
            .objects.filter(user_id=row.created_by_id, active=True)
            .first()
        )
    )
    creator = Sensitivity.NORMAL if practitioner is None else _practitioner_of(practitioner)
    return most_protected([creator, label_task_holder(row)])


def label_task_holder(row: Any) -> str:
    """What the queue holding a task reveals: its site's label (a Part 2 site's queue says the
    patient is the program's patient). A person, or a queue without a site, reveals nothing."""
    if row.patient_id is None or row.queue_id is None or row.queue.site_id is None:
        return Sensitivity.NORMAL
    return _site_of(row.queue.site)


def most_protected(labels: Iterable[str]) -> str:
    """The most protective of unit labels (``normal``, ``mental-health``, ``substance-use``)."""
    return max(labels, key=_PROTECTION.__getitem__, default=Sensitivity.NORMAL)


_LABELLERS = {
    "tasks.Task": label_task,
    "registry.CohortMembership": lambda row: label_cohort(row.cohort),
    "core.CareTeamMember": unit_label,
    "registry.PatientIdentifier": unit_label,
    "registry.Coverage": lambda row: _organization_of(row.payer),
    "consent.ConsentDirective": lambda row: label_directive(row.categories),
}


def label_for(row: Any) -> str:
    """The label of a model instance (any ``Labelled`` row), from the rules above."""
    return str(_LABELLERS.get(row._meta.label, _label_record)(row))


def label_all(rows: Iterable[Any]) -> None:
    """Label rows before a ``bulk_create`` (which skips ``save``)."""
    for row in rows:
        if not row.sensitivity:
            row.sensitivity = label_for(row)


@dataclass(frozen=True)
class Units:
    """The label of every program, site, practitioner and organization, read in four queries.

    For labelling many rows without a query per row: the synthetic writer's bulk inserts and
    the data migrations that back-fill labels (which pass their historical ``get_model``).
    A unit missing from a mapping is ``normal``.
    """

    program: dict[int, str]
    site: dict[int, str]
    practitioner: dict[int, str]
    organization: dict[int, str]

    @classmethod
    def load(cls, get_model: Callable[[str, str], Any] = django_apps.get_model) -> Units:
        program_model = get_model("core", "Program")
        practitioner_model = get_model("core", "Practitioner")
        programs, by_site = {}, defaultdict(list)
        for pk, site_id, kind, part2 in program_model.objects.values_list(
            "pk", "site_id", "kind", "is_part2"
        ):
            programs[pk] = program_label(kind=kind, is_part2=part2)
            by_site[site_id].append((kind, part2))
        sites, by_org = {}, defaultdict(list)
        for pk, kind, org_id in get_model("core", "Site").objects.values_list(
            "pk", "kind", "organization_id"
        ):
            sites[pk] = site_label(kind=kind, programs=by_site[pk])
            by_org[org_id].append(sites[pk])
        by_practitioner = defaultdict(list)
        for practitioner_id, program_id in practitioner_model.programs.through.objects.values_list(
            "practitioner_id", "program_id"
        ):
            by_practitioner[practitioner_id].append(programs[program_id])
        return cls(
            programs,
            sites,
            {pk: least_protected(labels) for pk, labels in by_practitioner.items()},
            {pk: least_protected(labels) for pk, labels in by_org.items()},
        )

    def of(self, unit: str, pk: int | None) -> str:
        """The label of one unit (``program``, ``site``, ``practitioner``, ``organization``)."""
        if pk is None:
            return Sensitivity.NORMAL
        return getattr(self, unit).get(pk, Sensitivity.NORMAL)

    def of_row(self, **ids: int | None) -> str:
        """The label of a row's unit, from its ``program``/``site``/``practitioner`` ids."""
        for name in UNIT_FIELDS:
            if ids.get(name) is not None:
                return self.of(name, ids[name])
        return Sensitivity.NORMAL

    def with_label(self, unit: str, label: str) -> list[int]:
        return sorted(pk for pk, value in getattr(self, unit).items() if value == label)


def backfill(model: Any, units: Units) -> None:
    """Label the existing rows of ``model`` by the rules above, in a few set-based updates.

    For the data migrations that add a label to a table or change a rule. Rows take
    ``substance-use`` from a Part 2 unit (psychotherapy notes stay theirs) and
    ``mental-health`` from a behavioral unit where they are still ``normal`` — the order of
    rules 1–6. Coverage follows its payer; a consent directive its categories.
    """
    rows = model.objects
    if model._meta.label == "consent.ConsentDirective":
        if "categories" not in {f.name for f in model._meta.get_fields()}:  # before consent 0005
            for category in set(rows.values_list("category", flat=True)):
                rows.filter(category=category).update(sensitivity=label_consent(category))
            return
        for pk, categories in rows.values_list("pk", "categories"):
            rows.filter(pk=pk).update(sensitivity=label_directive(categories))
        return
    column, paths = _BACKFILL.get(model._meta.label, ("sensitivity", []))
    names = {f.name for f in model._meta.get_fields()}
    paths = paths + [(name, name) for name in UNIT_FIELDS if name in names]
    for i, (field, unit) in enumerate(paths):
        unset_before = {f"{earlier}__isnull": True for earlier, _ in paths[:i]}
        part2 = units.with_label(unit, Sensitivity.SUBSTANCE_USE)
        rows.filter(**unset_before, **{f"{field}_id__in": part2}).exclude(
            **{f"{column}__in": [Sensitivity.SUBSTANCE_USE, Sensitivity.PSYCHOTHERAPY_NOTE]}
        ).update(**{column: Sensitivity.SUBSTANCE_USE})
        behavioral = units.with_label(unit, Sensitivity.MENTAL_HEALTH)
        rows.filter(
            **unset_before, **{f"{field}_id__in": behavioral, column: Sensitivity.NORMAL}
        ).update(**{column: Sensitivity.MENTAL_HEALTH})


# Tables whose label column or unit differs from a clinical row's: (column, [(field, unit)]).
_BACKFILL: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "registry.Coverage": ("sensitivity", [("payer", "organization")]),
    "registry.Patient": ("home_site_sensitivity", [("home_site", "site")]),
}


# Which site roles grant which purposes (patients registered at that site).
SITE_ROLE_PURPOSES: dict[str, frozenset[str]] = {
    "clinician": frozenset({"treatment"}),
    "care-manager": frozenset({"treatment"}),
    "leader": frozenset({"operations"}),
    "quality": frozenset({"operations"}),
    "front-desk": frozenset(),
    "privacy-officer": frozenset(),  # reads audit data, not charts
}

# Care-team roles that make a reader "inside behavioral health" for this patient.
BEHAVIORAL_CARE_TEAM_ROLES = frozenset({"bh-clinician", "psychiatrist"})
