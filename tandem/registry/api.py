"""API router for patients: search, and the chart section by section (scope ``patients:read``).

Thin handlers over ``registry.queries``, so over ``consent.gate``: search has the semantics of
the patient search page (name, MRN, birth date; only patients the reader may see; each listed
patient audited), and each chart endpoint returns what the patient summary page shows in that
section, with what the gate withheld as data: ``{"items": [...], "withheld": [{"count", "reason"}]}``.
A patient the reader may not see and one that does not exist are the same 404, both audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from tandem.api import (
    ApiProblem,
    Page,
    PageQuery,
    audit_detail,
    caller,
    not_found_patient,
    page_of,
    record_read,
    requires,
)
from tandem.consent import gate, redisclosure
from tandem.core.forms import MAX_ID
from tandem.core.lib import display
from tandem.core.queries import purpose_for, role_of
from tandem.measures import queries as measure_queries
from tandem.registry import queries
from tandem.tasks import queries as tasks_queries

router = Router(auth=requires("patients:read"))

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL
T = TypeVar("T")


# --- schemas -------------------------------------------------------------------------------


class Notice(Schema):
    """Rows the gate withheld: how many, and why (the label itself stays internal)."""

    count: int
    reason: str


class Section(Schema, Generic[T]):
    """One chart section: the rows the reader may see and a notice for each reason rows were
    withheld. Same rows, order and limits as the section of the patient summary page."""

    patient_id: int
    items: list[T]
    withheld: list[Notice]
    redisclosure_notice: str | None = Field(
        None, description="The 42 CFR 2.32 notice when the response includes Part 2 rows"
    )


def _name(obj: Any) -> str | None:
    return obj.name if obj is not None else None


class PatientListItem(Schema):
    id: int
    given_name: str
    family_name: str
    birth_date: dt.date
    sex: str
    deceased_date: dt.date | None
    home_site: str | None
    url: str = Field(description="This patient's chart in the API")

    @staticmethod
    def resolve_home_site(obj: Any) -> str | None:
        return _name(obj.home_site)

    @staticmethod
    def resolve_url(obj: Any) -> str:
        return reverse("api:patient", kwargs={"patient_id": obj.pk})


class Address(Schema):
    line: str
    city: str
    state: str
    postal_code: str


class IdentifierOut(Schema):
    kind: str
    system: str
    value: str
    site: str | None

    @staticmethod
    def resolve_site(obj: Any) -> str | None:
        return _name(obj.site)


class ContactOut(Schema):
    kind: str
    name: str
    relationship: str
    phone: str
    address: str


class CoverageOut(Schema):
    kind: str
    payer: str
    plan: str
    start: dt.date
    end: dt.date | None

    @staticmethod
    def resolve_payer(obj: Any) -> str:
        return obj.payer.name


class PatientOut(Schema):
    """The banner and the demographics section of the summary page."""

    id: int
    given_name: str
    middle_name: str
    family_name: str
    birth_date: dt.date
    age: int = Field(description="Completed years today, or at death")
    sex: str
    gender_identity: str
    language: str
    phone: str
    address: Address
    deceased_date: dt.date | None
    home_site: str | None
    identifiers: list[IdentifierOut]
    contacts: list[ContactOut]
    coverage: list[CoverageOut]
    withheld: list[Notice]
    sections: dict[str, str] = Field(description="Section name -> its path in the API")
    redisclosure_notice: str | None = Field(
        None, description="The 42 CFR 2.32 notice when the response includes Part 2 rows"
    )


class CareTeamOut(Schema):
    practitioner: str
    role: str
    role_display: str
    program: str | None
    start: dt.date
    end: dt.date | None

    @staticmethod
    def resolve_practitioner(obj: Any) -> str:
        return obj.practitioner.name

    @staticmethod
    def resolve_role_display(obj: Any) -> str:
        return obj.get_role_display()

    @staticmethod
    def resolve_program(obj: Any) -> str | None:
        return _name(obj.program)


class ProblemOut(Schema):
    id: int
    code_system: str
    code: str
    display: str
    clinical_status: str
    verification_status: str
    onset: dt.datetime | None
    abatement: dt.datetime | None
    sensitivity: str


class MedicationOut(Schema):
    id: int
    code_system: str
    code: str
    display: str
    status: str
    dose_quantity: float | None
    dose_unit: str
    frequency_per_day: float | None
    route: str
    authored_at: dt.datetime
    prescriber: str | None
    sensitivity: str

    @staticmethod
    def resolve_prescriber(obj: Any) -> str | None:
        return _name(obj.prescriber)


class DispenseOut(Schema):
    id: int
    code_system: str
    code: str
    display: str
    quantity: float | None
    days_supply: int
    dispensed_at: dt.datetime
    sensitivity: str


class EncounterOut(Schema):
    id: int
    encounter_class: str
    type_code: str
    type_display: str
    status: str
    start: dt.datetime
    end: dt.datetime | None
    site: str | None
    practitioner: str | None
    sensitivity: str

    @staticmethod
    def resolve_site(obj: Any) -> str | None:
        return _name(obj.site)

    @staticmethod
    def resolve_practitioner(obj: Any) -> str | None:
        return _name(obj.practitioner)


class ObservationOut(Schema):
    id: int
    category: str
    code_system: str
    code: str
    display: str
    value_num: float | None
    value_unit: str
    value_code: str
    value_text: str
    effective_at: dt.datetime
    sensitivity: str
    name: str = Field(description="Short display name (HbA1c, Systolic BP, BMI…)")
    unit: str = Field(description="The unit as people write it (mmHg, kg/m²)")
    value: str = Field(description="The result as shown on the chart: number and unit")
    flag: str = Field(description='"H" high, "L" low, "" within range or no range')
    flag_text: str = Field(description='"High", "Low" or ""')
    reference_range: str = Field(description='For this patient\'s sex and age; "" when none')
    panel_id: str = Field(description="Rows of one blood-pressure reading share it")

    @staticmethod
    def resolve_name(obj: Any) -> str:
        return display.display_name(obj.code_system, obj.code, obj.display)

    @staticmethod
    def resolve_unit(obj: Any) -> str:
        return display.unit(obj.value_unit)

    @staticmethod
    def resolve_value(obj: Any) -> str:
        if obj.value_num is not None:
            return display.quantity(obj.value_num, obj.value_unit)
        if obj.value_code:
            return display.display_name(obj.value_code_system, obj.value_code, obj.value_text)
        return obj.value_text

    @staticmethod
    def resolve_flag(obj: Any) -> str:
        return display.flag(obj.value_num, getattr(obj, "reference", None)).code

    @staticmethod
    def resolve_flag_text(obj: Any) -> str:
        return display.flag(obj.value_num, getattr(obj, "reference", None)).text

    @staticmethod
    def resolve_reference_range(obj: Any) -> str:
        ranges = getattr(obj, "reference", None)
        return ranges.text(obj.value_unit) if ranges else ""


class GapOut(Schema):
    measure: str
    title: str
    group: str
    version: str
    period_end: dt.date
    evidence: dict[str, Any] = Field(description="Population -> the values the engine stored")
    reasons: dict[str, Any] = Field(description="Population -> the named branches that held")


class MonitoringOut(Schema):
    key: str
    label: str
    last: dt.date | None
    due: dt.date | None
    state: str = Field(description="overdue | due-soon | up-to-date")


class EngagementOut(Schema):
    """The primary-care engagement panel (shown to behavioral-health users on SMI patients)."""

    patient_id: int
    shown: bool = Field(description="False: not a behavioral-health reader, or no SMI")
    pcp: str | None
    last_pc_visit: dt.date | None
    monitoring: list[MonitoringOut]
    open_gaps: list[GapOut]
    open_request: str | None = Field(description="The open engagement task's title, if any")
    withheld: list[Notice]
    redisclosure_notice: str | None = Field(
        None, description="The 42 CFR 2.32 notice when the response includes Part 2 rows"
    )


class AssessmentOut(Schema):
    id: int
    instrument: str
    instrument_display: str
    total_score: int | None
    effective_at: dt.datetime
    sensitivity: str

    @staticmethod
    def resolve_instrument_display(obj: Any) -> str:
        return obj.get_instrument_display()


class NoteOut(Schema):
    id: int
    note_type: str
    title: str
    text: str
    author: str
    authored_at: dt.datetime
    sensitivity: str

    @staticmethod
    def resolve_author(obj: Any) -> str:
        return obj.author.name


class AppointmentOut(Schema):
    id: int
    start: dt.datetime
    end: dt.datetime
    status: str
    cancel_reason: str
    service_type: str
    site: str | None
    practitioner: str | None
    sensitivity: str

    @staticmethod
    def resolve_site(obj: Any) -> str | None:
        return _name(obj.site)

    @staticmethod
    def resolve_practitioner(obj: Any) -> str | None:
        return _name(obj.practitioner)


class SearchQuery(PageQuery):
    """Any combination of name, MRN and birth date; at least one."""

    name: str = Field("", max_length=100, pattern=NO_NUL, description="Given or family name")
    mrn: str = Field("", max_length=64, pattern=NO_NUL, description="Medical record number")
    birth_date: dt.date | None = Field(None, description="YYYY-MM-DD")


# --- handlers ------------------------------------------------------------------------------


def _purpose(request: HttpRequest) -> str:
    return purpose_for(role_of(caller(request).user))


def _read(request: HttpRequest, patient_id: int, kinds: tuple[str, ...], what: str) -> Any:
    """The gate's disclosure of these kinds; refusal and absence are the same audited 404."""
    who, purpose = caller(request).user, _purpose(request)
    if patient_id > MAX_ID:  # no such row can exist; the database would refuse the number
        gate.deny(user=who, patient_id=None, purpose=purpose, detail="malformed id")
        raise not_found_patient()
    detail = audit_detail(request, what)
    return queries.chart_section(
        user=who, patient_id=patient_id, purpose=purpose, kinds=kinds, detail=detail
    )


def _notices(disclosure: gate.Disclosure, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """One notice per reason, counts merged across kinds (as on the summary page)."""
    merged: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        for r in disclosure.withheld(kind):
            merged.setdefault(r.reason, {"count": 0, "reason": r.reason})["count"] += r.count
    return list(merged.values())


@router.get("", response=Page[PatientListItem], summary="Search patients")
def search(request: HttpRequest, q: Query[SearchQuery]) -> dict[str, Any]:
    """Patients you may see matching every criterion given (name words match given or family
    name; MRN exactly; birth date exactly). Each patient listed is audited."""
    if not (q.name.strip() or q.mrn.strip() or q.birth_date):
        raise ApiProblem(400, "validation-error", "Give at least one of name, mrn or birth_date.")
    criteria = queries.Search(
        name=q.name.strip(), mrn=q.mrn.strip(), birth_date=q.birth_date, page=q.page
    )
    page = queries.search_patients(
        user=caller(request).user,
        criteria=criteria,
        purpose=_purpose(request),
        page_size=q.page_size,
        detail=audit_detail(request, "patient search"),
    )
    if not page.object_list:
        record_read(request, "patient search found none")
    return page_of(request, page, list(page.object_list))


DEMOGRAPHICS = ("identifiers", "contacts", "coverage")  # the gate may also withhold "home_site"

# path -> (gate kind, item schema, summary); each is a section (or half of one) of the page
SECTIONS: dict[str, tuple[str, type[Schema], str]] = {
    "care-team": ("care_team", CareTeamOut, "Active care team"),
    "problems": ("conditions", ProblemOut, "Problem list"),
    "medications": ("medication_orders", MedicationOut, "Active medication orders"),
    "dispenses": ("medication_dispenses", DispenseOut, "Recent pharmacy fills (60)"),
    "encounters": ("encounters", EncounterOut, "Recent encounters (10)"),
    "labs": ("observations", ObservationOut, "Recent labs and vitals (300), flagged"),
    "assessments": ("assessments", AssessmentOut, "Recent assessments (60)"),
    "notes": ("notes", NoteOut, "Recent notes (10)"),
    "appointments": ("appointments", AppointmentOut, "Recent appointments (10)"),
}


@router.get("/{int:patient_id}", response=PatientOut, url_name="patient", summary="A patient")
def patient(request: HttpRequest, patient_id: int) -> dict[str, Any]:
    """The patient's banner and demographics: identifiers, contacts, coverage; and the paths
    of the chart sections."""
    disclosure = _read(request, patient_id, DEMOGRAPHICS, "patient")
    p = disclosure.patient
    return {
        **{f: getattr(p, f) for f in ("id", "given_name", "middle_name", "family_name")},
        **{f: getattr(p, f) for f in ("birth_date", "sex", "gender_identity", "language")},
        "age": p.age_on(p.deceased_date or timezone.localdate()),
        "phone": p.phone,
        "address": {
            "line": p.address_line,
            "city": p.city,
            "state": p.state,
            "postal_code": p.postal_code,
        },
        "deceased_date": p.deceased_date,
        "home_site": _name(p.home_site),
        "identifiers": disclosure.data["identifiers"],
        "contacts": disclosure.data["contacts"],
        "coverage": disclosure.data["coverage"],
        "withheld": _notices(disclosure, ("home_site", *DEMOGRAPHICS)),
        "sections": {
            name: reverse(f"api:patient-{name}", kwargs={"patient_id": p.pk})
            for name in [*SECTIONS, "gaps", "engagement"]
        },
        "redisclosure_notice": redisclosure.for_disclosure(disclosure) or None,
    }


def _section_endpoint(name: str, kind: str, schema: type[Schema], summary: str) -> Callable:
    def handler(request: HttpRequest, patient_id: int) -> dict[str, Any]:
        disclosure = _read(request, patient_id, (kind,), name)
        if kind == "observations":
            _reference_ranges(disclosure)
        return {
            "patient_id": patient_id,
            "items": disclosure.data[kind],
            "withheld": _notices(disclosure, (kind,)),
            "redisclosure_notice": redisclosure.for_rows(disclosure.data[kind]) or None,
        }

    handler.__name__ = handler.__qualname__ = f"patient_{name.replace('-', '_')}"
    handler.__doc__ = f"{summary}: what the patient summary page shows, with withheld notices."
    return router.get(
        f"/{{int:patient_id}}/{name}",
        response=Section[schema],  # type: ignore[valid-type]
        url_name=f"patient-{name}",
        operation_id=f"patient_{name.replace('-', '_')}",
        summary=summary,
    )(handler)


for _name_, (_kind, _schema, _summary) in SECTIONS.items():
    _section_endpoint(_name_, _kind, _schema, _summary)


def _reference_ranges(disclosure: gate.Disclosure) -> None:
    """Give each result the reference range for this patient's sex and age (for its flag)."""
    p = disclosure.patient
    age = p.age_on(p.deceased_date or timezone.localdate())
    for row in disclosure.data["observations"]:
        row.reference = display.reference_range(row.code, sex=p.sex, age=age)


@router.get(
    "/{int:patient_id}/gaps",
    response=Section[GapOut],
    url_name="patient-gaps",
    summary="Open care gaps",
)
def patient_gaps(request: HttpRequest, patient_id: int) -> dict[str, Any]:
    """Open care gaps in the latest stored run of each measure, with the evidence and reasons
    the engine stored (the chart's care-gaps section); results withheld by the gate as notices."""
    who, purpose = caller(request).user, _purpose(request)
    if patient_id > MAX_ID:
        gate.deny(user=who, patient_id=None, purpose=purpose, detail="malformed id")
        raise not_found_patient()
    found = measure_queries.open_gaps(user=who, patient_id=patient_id, purpose=purpose)
    merged: dict[str, dict[str, Any]] = {}
    for r in found.withheld:
        merged.setdefault(r.reason, {"count": 0, "reason": r.reason})["count"] += r.count
    return {
        "patient_id": patient_id,
        "items": found.items,
        "withheld": list(merged.values()),
        "redisclosure_notice": redisclosure.for_rows(found.items) or None,
    }


@router.get(
    "/{int:patient_id}/engagement",
    response=EngagementOut,
    url_name="patient-engagement",
    summary="Primary-care engagement",
)
def patient_engagement(request: HttpRequest, patient_id: int) -> dict[str, Any]:
    """The primary-care engagement panel: assigned PCP, last primary-care visit, monitoring due
    (12-month rule), open gaps and the open request. ``shown`` is false (and the rest empty)
    unless the reader works in behavioral health and the patient has SMI, as on the chart."""
    who, purpose = caller(request).user, _purpose(request)
    if patient_id > MAX_ID:
        gate.deny(user=who, patient_id=None, purpose=purpose, detail="malformed id")
        raise not_found_patient()
    found = queries.primary_care_engagement(
        user=who, patient_id=patient_id, purpose=purpose, extra=[tasks_queries.TASKS_REQUEST]
    )
    empty: dict[str, Any] = {"pcp": None, "last_pc_visit": None, "monitoring": [], "open_gaps": []}
    if not (found.smi and queries.is_behavioral_health_user(who)):
        return {"patient_id": patient_id, "shown": False, **empty, "open_request": None,
                "withheld": []}  # fmt: skip
    gaps = measure_queries.open_gaps(user=who, patient_id=patient_id, purpose=purpose)
    active = tasks_queries.patient_tasks(found.disclosure).active
    request_ = next((t for t in active if t.source == "engagement"), None)
    return {
        "patient_id": patient_id,
        "shown": True,
        "pcp": _name(found.pcp),
        "last_pc_visit": found.last_visit,
        "monitoring": found.monitoring,
        "open_gaps": gaps.items,
        "open_request": request_.title if request_ else None,
        "withheld": _notices(found.disclosure, ("care_team", "encounters", "observations")),
        "redisclosure_notice": redisclosure.notice_if(
            redisclosure.in_disclosure(found.disclosure) or redisclosure.carries_part2(gaps.items)
        )
        or None,
    }
