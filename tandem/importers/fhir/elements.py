"""Small readers of FHIR R4 elements shared by the resource flatteners.

Each reader checks what it reads and returns it: primitives (:func:`string`, :func:`code`,
:func:`boolean`, :func:`integer`, :func:`number`), references, codings, periods and choice
elements (``effective[x]``...), extensions, durations and dosage. Absent elements give
``None`` (or ``(None, None)``, or an empty tuple for arrays); an element of the wrong JSON
type, or a value that cannot mean anything (a reference ``"p1"``, a period ending before it
starts, a dateTime ``"2024-13"``), raises :class:`InvalidElement` (``errors``) whose message
starts with the element path given as ``path``; :func:`require` raises its ``MissingElement``.

The checks are plain ``isinstance`` tests on the values the flatteners read anyway, so
validation is part of the one flattening pass; sub-paths (``period.end``) are built only when
an error is raised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tandem.importers.fhir.datetimes import timestamp
from tandem.importers.fhir.errors import InvalidElement, missing, shown, wrong

Res = Mapping[str, Any]
Pair = tuple[str | None, str | None]

INT32_MAX = 2_147_483_647  # FHIR integer, positiveInt and unsignedInt are 32-bit
MAX_AGE = 150  # years: an onsetAge / abatementAge beyond a lifetime means nothing


# --- primitives -----------------------------------------------------------------------


def obj(value: Any, path: str, what: str = "an object") -> dict[str, Any] | None:
    """A complex element (JSON object) or ``None``."""
    if value is None or isinstance(value, dict):
        return value
    raise wrong(path, what, value)


def array(value: Any, path: str) -> Sequence[Any]:
    """A repeating element (JSON array); ``()`` when absent."""
    if value is None:
        return ()
    if isinstance(value, list):
        return value
    raise wrong(path, "an array", value)


def item(items: Sequence[Any], value: Any, path: str) -> str:
    """``path[i]`` for an element of ``items`` (built only for an error message)."""
    for i, x in enumerate(items):
        if x is value:
            return f"{path}[{i}]"
    return path


def objects(value: Any, path: str) -> Sequence[dict[str, Any]]:
    """An array of objects; ``()`` when absent."""
    items = array(value, path)
    for x in items:
        if not isinstance(x, dict):
            raise wrong(item(items, x, path), "an object", x)
    return items


def string(value: Any, path: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise wrong(path, "a string", value)


def code(value: Any, path: str, allowed: frozenset[str] | None = None) -> str | None:
    """A ``code``; with ``allowed``, one of a required binding's codes."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise wrong(path, "a string", value)
    if allowed is not None and value not in allowed:
        raise InvalidElement(f"{path} {shown(value)} is not one of {', '.join(sorted(allowed))}")
    return value


def code_set(text: str) -> frozenset[str]:
    """The codes of a required binding, written as one space-separated string."""
    return frozenset(text.split())


def status_code(res: Res, allowed: frozenset[str]) -> str | None:
    """``status`` (required, 1..1 wherever R4 has it but DeviceRequest): one of ``allowed``."""
    return code(require(res, "status"), "status", allowed)


def boolean(value: Any, path: str) -> bool | None:
    if value is None or value is True or value is False:
        return value
    raise wrong(path, "true or false", value)


def integer(value: Any, path: str, minimum: int = 0) -> int | None:
    """A FHIR integer (``minimum=0``: unsignedInt; ``1``: positiveInt): a JSON whole number
    that fits 32 bits."""
    if value is None:
        return None
    if value.__class__ is not int:
        raise wrong(path, "a whole number", value)
    if not minimum <= value <= INT32_MAX:
        raise InvalidElement(f"{path} {value} is out of range ({minimum} to {INT32_MAX})")
    return value  # type: ignore[no-any-return]


def number(value: Any, path: str) -> float | None:
    """A FHIR decimal: a JSON number (not a string, not a boolean)."""
    if value is None:
        return None
    cls = value.__class__
    if cls is float or cls is int:
        return float(value)
    raise wrong(path, "a number", value)


def require(res: Res, name: str) -> Any:
    """``res[name]``, which must be present and not empty."""
    value = res.get(name)
    if value:
        return value
    if value is None or value == "" or value == {} or value == []:
        raise missing(name)
    return value  # false or 0: present; the type check is the caller's


def within(prefix: str, exc: InvalidElement) -> InvalidElement:
    """The same problem one level down: ``within("dispenseRequest", e)`` turns
    ``quantity.value must be...`` into ``dispenseRequest.quantity.value must be...``."""
    return type(exc)(f"{prefix}.{exc}")


def resource_id(res: Res) -> str:
    """The resource's ``id``: a non-empty string."""
    rid = res.get("id")
    if rid.__class__ is str and rid:
        return rid  # type: ignore[no-any-return]
    if rid is None or rid == "":
        raise missing("id")
    raise wrong("id", "a string", rid)


# --- references -----------------------------------------------------------------------

PATIENT = frozenset({"Patient"})
ENCOUNTER = frozenset({"Encounter"})
MEDICATION = frozenset({"Medication"})


def _parse_reference(r: str) -> tuple[str | None, str] | None:
    """``(type, id)`` of a reference string (type ``None`` when it cannot be told: urn:uuid,
    urn:oid, #contained); ``None`` when it is not a reference at all."""
    if r.startswith("urn:uuid:"):
        return (None, r[9:]) if len(r) > 9 else None
    if r.startswith("#"):
        return (None, r) if len(r) > 1 else None
    if r.startswith("urn:"):
        return None, r
    parts = r.rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        del parts[-2:]
    if len(parts) < 2:
        return None
    rtype, rid = parts[-2], parts[-1]
    if not rid or not rtype.isascii() or not rtype.isalpha() or not rtype[0].isupper():
        return None
    return rtype, rid


def reference(ref: Any, path: str, types: frozenset[str] | None = None) -> str | None:
    """The id a Reference points to (``Patient/123`` -> ``"123"``; also absolute URLs,
    ``_history`` versions, ``urn:uuid:x``, ``#contained``). ``None`` for a reference by
    identifier or display only. With ``types``, the reference must name one of them."""
    if ref is None:
        return None
    if not isinstance(ref, dict):
        raise wrong(path, "an object (Reference)", ref)
    r = ref.get("reference")
    if r is None:
        return None
    if not isinstance(r, str):
        raise wrong(path + ".reference", "a string", r)
    parsed = _parse_reference(r)
    if parsed is None:
        raise InvalidElement(
            f"{path}.reference {shown(r)} is not a reference "
            "(Type/id, an absolute URL, urn:uuid:... or #id)"
        )
    rtype, rid = parsed
    if types is not None and rtype is not None and rtype not in types:
        raise InvalidElement(f"{path} must reference {' or '.join(sorted(types))}, not {rtype}")
    return rid


def typed_reference(ref: Any, path: str) -> tuple[str | None, str | None]:
    """``(type, id)`` of a Reference, checked as :func:`reference` checks it; the type is
    ``None`` when the reference does not say it (``urn:uuid:``, ``#contained``)."""
    rid = reference(ref, path)
    if rid is None:
        return None, None
    parsed = _parse_reference(ref["reference"])
    return (parsed[0] if parsed else None), rid


def ref_id(ref: Any) -> str | None:
    """Lenient :func:`reference` (``None`` for anything malformed): for looking ahead only;
    the flatteners check the same element properly."""
    try:
        return reference(ref, "reference")
    except InvalidElement:
        return None


def subject_id(res: Res, *names: str) -> str:
    """The patient id of patient data: the first of ``names`` present (a Patient reference)."""
    for name in names:
        pid = reference(res.get(name), name, PATIENT)
        if pid:
            return pid
    raise missing(names[0])


# --- codes ----------------------------------------------------------------------------


def codings(concept: Any, path: str) -> list[Pair]:
    """The ``(system, code)`` pairs of a CodeableConcept; ``[(None, None)]`` if it has none."""
    if concept is None:
        return [(None, None)]
    if not isinstance(concept, dict):
        raise wrong(path, "an object (CodeableConcept)", concept)
    coding = concept.get("coding")
    if coding is None:
        return [(None, None)]
    if not isinstance(coding, list):
        raise wrong(path + ".coding", "an array", coding)
    out: list[Pair] = []
    for c in coding:
        if not isinstance(c, dict):
            raise wrong(item(coding, c, path + ".coding"), "an object (Coding)", c)
        value = c.get("code")
        if not value:
            if value is None or value == "":
                continue
            raise wrong(item(coding, c, path + ".coding") + ".code", "a string", value)
        system = c.get("system")
        if value.__class__ is not str or not (system is None or system.__class__ is str):
            bad, what = (value, ".code") if value.__class__ is not str else (system, ".system")
            raise wrong(item(coding, c, path + ".coding") + what, "a string", bad)
        out.append((system, value))
    return out or [(None, None)]


def first_code(concept: Any, path: str) -> Pair:
    return codings(concept, path)[0]


def first_code_of(concepts: Any, path: str) -> Pair:
    """First coding of the first CodeableConcept in a list that has one."""
    items = array(concepts, path)
    for c in items:
        sc = _indexed_codings(items, c, path)[0]
        if sc[1] is not None:
            return sc
    return (None, None)


def _indexed_codings(items: Sequence[Any], concept: Any, path: str) -> list[Pair]:
    """:func:`codings` of one CodeableConcept of an array; the error names its index."""
    try:
        return codings(concept, "")
    except InvalidElement as exc:
        text = str(exc)
        raise type(exc)(item(items, concept, path) + text) from None


def all_codings(concepts: Any, path: str) -> list[Pair]:
    """The codings of every CodeableConcept of an array (those without a code dropped)."""
    items = array(concepts, path)
    return [sc for c in items for sc in _indexed_codings(items, c, path) if sc[1] is not None]


def coding_code(value: Any, path: str) -> str | None:
    """The code of a Coding (``Encounter.class``)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise wrong(path, "an object (Coding)", value)
    result = value.get("code")
    if result is None or result.__class__ is str:
        return result  # type: ignore[no-any-return]
    raise wrong(path + ".code", "a string", result)


# --- times ----------------------------------------------------------------------------


def period(p: Any, path: str) -> tuple[datetime | None, datetime | None]:
    """(start, end) of a Period; the end must not be before the start (FHIR per-1)."""
    if p is None:
        return None, None
    if not isinstance(p, dict):
        raise wrong(path, "an object (Period)", p)
    value = p.get("start")
    start = None if value is None else timestamp(value, path, ".start")
    value = p.get("end")
    if value is None:
        return start, None
    end = timestamp(value, path, ".end", end=True)
    if start is not None and end is not None and end < start:
        raise InvalidElement(f"{path}.end is before {path}.start")
    return start, end


_CHOICES = {
    stem: (stem + "DateTime", stem + "Instant", stem + "Period")
    for stem in ("effective", "performed", "onset")
}


def choice(res: Res, stem: str) -> tuple[datetime | None, datetime | None]:
    """effective[x]/performed[x]/onset[x]: dateTime, instant or Period -> (start, end)."""
    dt_key, instant_key, period_key = _CHOICES[stem]
    v = res.get(dt_key)
    if v is not None:
        ts = timestamp(v, dt_key)
        return ts, ts
    v = res.get(instant_key)
    if v is not None:
        ts = timestamp(v, instant_key)
        return ts, ts
    return period(res.get(period_key), period_key)


# --- extensions, quantities, dosage ---------------------------------------------------


def extension(
    res: Res, urls: str | tuple[str, ...], key: str = "extension"
) -> dict[str, Any] | None:
    """The first extension (``key``: ``extension`` or ``modifierExtension``) with one of
    ``urls``."""
    urls = (urls,) if isinstance(urls, str) else urls
    for e in objects(res.get(key), key):
        if e.get("url") in urls:
            return e
    return None


def quantity_value(q: Any, path: str) -> float | None:
    """The value of a Quantity (a JSON number) or ``None``."""
    if q is None:
        return None
    if not isinstance(q, dict):
        raise wrong(path, "an object (Quantity)", q)
    value = q.get("value")
    if value is None:
        return None
    cls = value.__class__
    if cls is float or cls is int:
        return float(value)
    raise wrong(path + ".value", "a number", value)


def _unit(q: dict[str, Any], path: str, default: str) -> str:
    unit = q.get("code")
    if unit is not None:
        return string(unit, path + ".code") or default
    return string(q.get("unit"), path + ".unit") or default


_DAYS_PER = {
    "d": 1,
    "day": 1,
    "days": 1,
    "wk": 7,
    "week": 7,
    "mo": 30,
    "month": 30,
    "a": 365,
    "year": 365,
    "h": 1 / 24,
    "hour": 1 / 24,
}


def days(duration: Any, path: str) -> int | None:
    """A Duration in whole days (unknown units count as days)."""
    value = quantity_value(duration, path)
    if value is None:
        return None
    n = value * _DAYS_PER.get(_unit(duration, path, "d"), 1)
    if not 0 <= n <= INT32_MAX:
        raise InvalidElement(f"{path}.value {shown(value)} is out of range")
    return int(round(n))


def years(age: Any, path: str) -> float | None:
    """An Age quantity in years (``a``/``year(s)``; months are divided by 12)."""
    value = quantity_value(age, path)
    if value is None:
        return None
    unit = _unit(age, path, "a")
    age_years = value / 12 if unit in ("mo", "month", "months") else value
    if not 0 <= age_years <= MAX_AGE:
        raise InvalidElement(f"{path}.value {shown(value)} is not an age (0 to {MAX_AGE} years)")
    return age_years


PER_DAY = {"s": 86400, "min": 1440, "h": 24, "d": 1, "wk": 1 / 7, "mo": 1 / 30, "a": 1 / 365}


def _dose(d: dict[str, Any], path: str) -> float | None:
    rates = objects(d.get("doseAndRate"), path + ".doseAndRate")
    where = path + ".doseAndRate"
    for dr in rates:
        dose = quantity_value(dr.get("doseQuantity"), where + ".doseQuantity")
        if dose is None:
            dose_range = obj(dr.get("doseRange"), where + ".doseRange")
            if dose_range is not None:
                dose = quantity_value(dose_range.get("high"), where + ".doseRange.high")
        if dose is not None:
            return dose
    return None


def _frequency(repeat: dict[str, Any], path: str) -> float | None:
    frequency = integer(repeat.get("frequency"), path + ".frequency", 1)
    per = number(repeat.get("period"), path + ".period")
    if frequency is not None and per is not None:
        if per <= 0:
            raise InvalidElement(f"{path}.period must be greater than 0")
        n = integer(repeat.get("frequencyMax"), path + ".frequencyMax", 1) or frequency
        unit = code(repeat.get("periodUnit"), path + ".periodUnit") or "d"
        return n / per * PER_DAY.get(unit, 1)
    times = array(repeat.get("timeOfDay"), path + ".timeOfDay")
    return float(len(times)) if times else None


def dosage(
    dosages: Any, path: str
) -> tuple[float | None, float | None, datetime | None, datetime | None]:
    """(dose per administration, administrations per day, bounds start, bounds end) of the
    first Dosage."""
    items = objects(dosages, path)
    if not items:
        return None, None, None, None
    d = items[0]
    path = path + "[0]"
    dose = _dose(d, path)
    timing = obj(d.get("timing"), path + ".timing")
    repeat = obj(timing.get("repeat"), path + ".timing.repeat") if timing else None
    if not repeat:
        return dose, None, None, None
    freq = _frequency(repeat, path + ".timing.repeat")
    start, end = period(repeat.get("boundsPeriod"), path + ".timing.repeat.boundsPeriod")
    return dose, freq, start, end
