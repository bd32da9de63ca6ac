"""Small readers of FHIR R4 elements shared by the resource flatteners.

References, codings, periods and choice elements (``effective[x]``...), extensions,
durations and dosage. Each returns ``None`` (or ``(None, None)``) for what is absent; none
raises except :func:`require` and :func:`subject_id` (:class:`MissingElement`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tandem.importers.fhir.datetimes import timestamp

Res = Mapping[str, Any]


class MissingElement(ValueError):
    """A resource lacks an element the tables need (id, subject...)."""


def ref_id(ref: Any) -> str | None:
    """``{"reference": "Patient/123"}`` -> ``"123"`` (also ``urn:uuid:x``, ``#contained``)."""
    if not isinstance(ref, Mapping):
        return None
    r = ref.get("reference")
    if not r or not isinstance(r, str):
        return None
    if r.startswith("urn:uuid:"):
        return r[9:]
    if r.startswith("#"):
        return r
    parts = r.rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        return parts[-3]
    return parts[-1]


def codings(concept: Any) -> list[tuple[str | None, str | None]]:
    """The ``(system, code)`` pairs of a CodeableConcept; ``[(None, None)]`` if it has none."""
    if isinstance(concept, Mapping):
        out = [
            (c.get("system"), c.get("code")) for c in concept.get("coding") or () if c.get("code")
        ]
        if out:
            return out
    return [(None, None)]


def first_code(concept: Any) -> tuple[str | None, str | None]:
    return codings(concept)[0]


def first_code_of(concepts: Any) -> tuple[str | None, str | None]:
    """First coding of the first CodeableConcept in a list that has one."""
    for c in concepts or ():
        sc = first_code(c)
        if sc[1] is not None:
            return sc
    return (None, None)


def require(res: Res, *names: str) -> None:
    for name in names:
        if not res.get(name):
            raise MissingElement(f"{res.get('resourceType')} without {name}")


def subject_id(res: Res, *names: str) -> str:
    for name in names:
        pid = ref_id(res.get(name))
        if pid:
            return pid
    raise MissingElement(f"{res.get('resourceType')} without {names[0]}")


def period(p: Any) -> tuple[Any, Any]:
    if not isinstance(p, Mapping):
        return None, None
    return timestamp(p.get("start")), timestamp(p.get("end"), end=True)


def choice(res: Res, stem: str) -> tuple[Any, Any]:
    """effective[x]/performed[x]/onset[x]: dateTime, instant or Period -> (start, end)."""
    v = res.get(stem + "DateTime") or res.get(stem + "Instant")
    if v:
        ts = timestamp(v)
        return ts, ts
    return period(res.get(stem + "Period"))


def extension(
    res: Res, urls: str | tuple[str, ...], key: str = "extension"
) -> Mapping[str, Any] | None:
    urls = (urls,) if isinstance(urls, str) else urls
    for e in res.get(key) or ():
        if e.get("url") in urls:
            return e
    return None


def days(duration: Any) -> int | None:
    if not isinstance(duration, Mapping) or duration.get("value") is None:
        return None
    unit = duration.get("code") or duration.get("unit") or "d"
    per_day = {
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
    }.get(unit, 1)
    return int(round(float(duration["value"]) * per_day))


def years(age: Any) -> float | None:
    """An Age quantity in years (``a``/``year(s)``; months are divided by 12)."""
    value = quantity_value(age)
    if value is None:
        return None
    unit = age.get("code") or age.get("unit") or "a"
    return value / 12 if unit in ("mo", "month", "months") else value


def quantity_value(q: Any) -> float | None:
    if isinstance(q, Mapping) and q.get("value") is not None:
        return float(q["value"])
    return None


PER_DAY = {"s": 86400, "min": 1440, "h": 24, "d": 1, "wk": 1 / 7, "mo": 1 / 30, "a": 1 / 365}


def dosage(dosages: Any) -> tuple[float | None, float | None, Any, Any]:
    """(dose per administration, administrations per day, bounds start, bounds end)."""
    if not dosages:
        return None, None, None, None
    d = dosages[0]
    dose = None
    for dr in d.get("doseAndRate") or ():
        dose = quantity_value(dr.get("doseQuantity"))
        if dose is None and isinstance(dr.get("doseRange"), Mapping):
            dose = quantity_value(dr["doseRange"].get("high"))
        if dose is not None:
            break
    repeat = (d.get("timing") or {}).get("repeat") or {}
    freq = None
    if repeat.get("frequency") is not None and repeat.get("period"):
        n = repeat.get("frequencyMax") or repeat["frequency"]
        freq = float(n) / float(repeat["period"]) * PER_DAY.get(repeat.get("periodUnit", "d"), 1)
    elif repeat.get("timeOfDay"):
        freq = float(len(repeat["timeOfDay"]))
    start, end = period(repeat.get("boundsPeriod"))
    return dose, freq, start, end
