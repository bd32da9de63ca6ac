"""Task, AllergyIntolerance and AdverseEvent -> rows (see ``flatten`` for the rules every
flattener keeps).

Required, besides ``id``: a Task's ``status`` and ``intent`` (R4 1..1, required bindings), its
patient (``for``, a Patient) and ``code`` (QI-Core 1..1: a Task without it says nothing a
measure reads); an AllergyIntolerance's ``patient`` (R4 1..1) and ``code`` (QI-Core 1..1); an
AdverseEvent's ``actuality`` (R4 1..1, required binding), ``subject`` and ``event`` (QI-Core
1..1). Not required, because R4 and the public decks have resources without them: a Task's
``executionPeriod`` or ``basedOn``, an allergy's ``clinicalStatus`` or ``onset[x]``, an
adverse event's ``date`` or ``recordedDate``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tandem.importers.fhir.datetimes import timestamp
from tandem.importers.fhir.elements import (
    ENCOUNTER,
    array,
    choice,
    code,
    code_set,
    codings,
    first_code,
    first_code_of,
    item,
    period,
    reference,
    require,
    resource_id,
    status_code,
    subject_id,
    years,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from tandem.importers.fhir.flatten import Context

    Res = Mapping[str, Any]
    Rows = Iterator[tuple[str, dict[str, Any]]]

# Required bindings (FHIR R4).
TASK_STATUS = code_set(
    "draft requested received accepted rejected ready cancelled in-progress on-hold failed "
    "completed entered-in-error"
)
TASK_INTENT = code_set(
    "unknown proposal plan order original-order reflex-order filler-order instance-order option"
)
ALLERGY_TYPE = code_set("allergy intolerance")
ALLERGY_CATEGORY = code_set("food medication environment biologic")
ADVERSE_EVENT_ACTUALITY = code_set("actual potential")


def _based_on(res: Res) -> list[str | None]:
    """The ids ``Task.basedOn`` points to (``[None]`` when there is none)."""
    refs = array(res.get("basedOn"), "basedOn")
    out: list[str | None] = []
    for r in refs:
        rid = reference(r, item(refs, r, "basedOn"))
        if rid is not None:
            out.append(rid)
    return out or [None]


def flatten_task(res: Res, ctx: Context) -> Rows:
    """One row per ``code`` coding x ``basedOn`` reference."""
    tid = resource_id(res)
    status = status_code(res, TASK_STATUS)
    intent = code(require(res, "intent"), "intent", TASK_INTENT)
    pid = subject_id(res, "for")
    codes = codings(require(res, "code"), "code")
    start, end = period(res.get("executionPeriod"), "executionPeriod")
    rsys, rcode = first_code(res.get("reasonCode"), "reasonCode")
    ssys, scode = first_code(res.get("statusReason"), "statusReason")
    based_on = _based_on(res)
    base = {
        "task_id": tid,
        "patient_id": pid,
        "status": status,
        "intent": intent,
        "reason_system": rsys,
        "reason_code": rcode,
        "status_reason_system": ssys,
        "status_reason_code": scode,
        "focus_id": reference(res.get("focus"), "focus"),
        "authored": timestamp(res.get("authoredOn"), "authoredOn"),
        "execution_start": start,
        "execution_end": end,
        "encounter_id": reference(res.get("encounter"), "encounter", ENCOUNTER),
    }
    for system, code_ in codes:
        for target in based_on:
            yield "tasks", {**base, "system": system, "code": code_, "based_on_id": target}


def _allergy_category(res: Res) -> str | None:
    categories = array(res.get("category"), "category")
    for c in categories:
        value = code(c, item(categories, c, "category"), ALLERGY_CATEGORY)
        if value is not None:
            return value
    return None


def flatten_allergy_intolerance(res: Res, ctx: Context) -> Rows:
    """One row per ``code`` coding; ``onsetAge`` becomes dates in the loader (``ctx.ages``)."""
    aid = resource_id(res)
    pid = subject_id(res, "patient")
    codes = codings(require(res, "code"), "code")
    start, end = choice(res, "onset")
    onset_age = years(res.get("onsetAge"), "onsetAge")
    base = {
        "allergy_id": aid,
        "patient_id": pid,
        "clinical_status": first_code(res.get("clinicalStatus"), "clinicalStatus")[1],
        "verification_status": first_code(res.get("verificationStatus"), "verificationStatus")[1],
        "type": code(res.get("type"), "type", ALLERGY_TYPE),
        "category": _allergy_category(res),
        "onset_start": start,
        "onset_end": end,
        "recorded": timestamp(res.get("recordedDate"), "recordedDate"),
        "encounter_id": reference(res.get("encounter"), "encounter", ENCOUNTER),
    }
    if onset_age is not None:
        ctx.allergy_ages[aid] = (pid, onset_age)
    for system, code_ in codes:
        yield "allergies", {**base, "system": system, "code": code_}


def flatten_adverse_event(res: Res, ctx: Context) -> Rows:
    """One row per ``event`` coding."""
    eid = resource_id(res)
    actuality = code(require(res, "actuality"), "actuality", ADVERSE_EVENT_ACTUALITY)
    pid = subject_id(res, "subject")
    codes = codings(require(res, "event"), "event")
    category = first_code_of(res.get("category"), "category")[1]
    base = {
        "adverse_event_id": eid,
        "patient_id": pid,
        "actuality": actuality,
        "category": category,
        "occurred": timestamp(res.get("date"), "date"),
        "detected": timestamp(res.get("detected"), "detected"),
        "recorded": timestamp(res.get("recordedDate"), "recordedDate"),
        "encounter_id": reference(res.get("encounter"), "encounter", ENCOUNTER),
    }
    for system, code_ in codes:
        yield "adverse_events", {**base, "system": system, "code": code_}
