"""Template filters for the chart: ``tandem.core.lib.display`` applied to a row or a value."""

from __future__ import annotations

from typing import Any

from django import template

from tandem.core.lib import display

register = template.Library()


@register.filter
def short_name(row: Any, limit: int = display.DEFAULT_LIMIT) -> str:
    """A row's short display name: its code (``code_system``/``code``/``display``, or an
    encounter's ``type_*``) through :func:`display.display_name`."""
    if hasattr(row, "type_code"):
        system, code, text = row.type_system, row.type_code, row.type_display
        if not (code or text):
            return row.get_encounter_class_display()
    else:
        system, code, text = row.code_system, row.code, row.display
    return display.display_name(system, code, text, limit=int(limit))


@register.filter
def system_name(system: str) -> str:
    """ "ICD-10-CM" for the ICD-10-CM URI, and so on."""
    return display.SYSTEM_NAMES.get(system, "")


@register.filter
def day(value: Any) -> str:
    """An unambiguous date: 02-Dec-2026."""
    return display.short_date(value)


@register.filter
def evidence_value(value: Any) -> str:
    """A stored evidence value as a clinician reads it: dates as 02-Dec-2026, none as "none"."""
    import datetime as dt

    if value is None or value == "" or value == []:
        return "none found"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        try:
            return display.short_date(dt.datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, float):
        return display.number(value)
    return str(value)


@register.filter
def humanize_key(key: str) -> str:
    """``last_pc_visit`` -> "Last PC visit"."""
    words = str(key).replace("_", " ").replace("-", " ").split()
    upper = {"pc", "pcp", "bp", "bmi", "ed", "ldl", "phq", "id"}
    out = [w.upper() if w.lower() in upper else w for w in words]
    return " ".join(out)[:1].upper() + " ".join(out)[1:]
