"""The 42 CFR Part 2 redisclosure notice on every path where Part 2 data leaves Tandem.

42 CFR 2.32 (as amended in 2024) requires each disclosure of Part 2 records made with the
patient's consent to carry the notice (:data:`rules.REDISCLOSURE_NOTICE`). Tandem attaches it
wherever a response or a file includes a row labelled ``substance-use`` (``rules.carries_part2``)
— and only then, so that the notice itself does not reveal a Part 2 relationship where no Part
2 row is shown:

- pages and htmx partials: a visible notice near the data (``_redisclosure.html``, context
  variable ``redisclosure``: the notice text or ``""``);
- JSON (the API): a top-level ``redisclosure_notice`` field (:func:`json_field`);
- CSV: a **leading comment line** ``# <notice>`` before the header (:func:`csv_comment`). CSV
  consumers read it with ``comment="#"`` (pandas) or skip lines starting with ``#``; a
  trailing row would be read as data by tools that stream rows;
- PDF: outreach letters carry none (they go to the patient and hold no Part 2 record: see
  ``docs/consent-and-audit.md``); no other PDF of patient data is written;
- FHIR: ``meta.security`` labels ``42CFRPart2`` (v3-ActCode privacy law) and ``NORDSCLCD``
  (obligation: no redisclosure without the patient's consent) plus an extension carrying the
  notice text (:func:`label_fhir`), on the resource or bundle that holds the Part 2 data.

Reads are unchanged: the gate decides what is shown; this module only marks what was shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tandem.consent import rules

NOTICE: str = rules.REDISCLOSURE_NOTICE
PART2 = "substance-use"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SECURITY: tuple[dict[str, str], ...] = (
    {"system": ACT_CODE, "code": "42CFRPart2", "display": "42 CFR Part2"},
    {
        "system": ACT_CODE,
        "code": "NORDSCLCD",
        "display": "no redisclosure without consent directive",
    },
)
EXTENSION_URL = "https://tandem.health/fhir/StructureDefinition/redisclosure-notice"


def labels(rows: Iterable[Any]) -> set[str]:
    """The labels of rows (model instances with ``sensitivity``, or dicts with the key)."""
    out = set()
    for row in rows:
        label = (
            row.get("sensitivity")
            if isinstance(row, Mapping)
            else getattr(row, "sensitivity", None)
        )
        if label:
            out.add(str(label))
    return out


def carries_part2(rows: Iterable[Any] = (), *, extra_labels: Iterable[str] = ()) -> bool:
    """Whether these rows (or labels) include Part 2 data."""
    return rules.carries_part2([*labels(rows), *extra_labels])


def in_disclosure(disclosure: Any) -> bool:
    """Whether a gate disclosure shows a Part 2 row: a row of any kind labelled
    ``substance-use``, or the patient's home site when it is a Part 2 site and shown."""
    patient = getattr(disclosure, "patient", None)
    home = getattr(patient, "home_site_sensitivity", None)
    shown_home = home == PART2 and not getattr(patient, "home_site_withheld", False)
    return shown_home or any(carries_part2(rows) for rows in disclosure.data.values())


def notice_if(shown: bool) -> str:
    """The notice text when Part 2 data is shown, else ``""`` (for templates)."""
    return NOTICE if shown else ""


def for_disclosure(disclosure: Any) -> str:
    return notice_if(in_disclosure(disclosure))


def for_rows(rows: Iterable[Any]) -> str:
    return notice_if(carries_part2(rows))


def json_field(shown: bool) -> dict[str, str]:
    """``{"redisclosure_notice": NOTICE}`` when Part 2 data is in the JSON, else ``{}``."""
    return {"redisclosure_notice": NOTICE} if shown else {}


def csv_comment() -> str:
    """The CSV file's leading comment line (with its line end)."""
    return "# " + " ".join(NOTICE.split()) + "\r\n"


def label_fhir(resource: dict[str, Any]) -> dict[str, Any]:
    """Add the Part 2 security labels and the notice extension to a FHIR resource or bundle
    (in place; returned for chaining). Idempotent."""
    meta = resource.setdefault("meta", {})
    security = meta.setdefault("security", [])
    for label in SECURITY:
        if not any(s.get("system") == label["system"] and s.get("code") == label["code"]
                   for s in security):  # fmt: skip
            security.append(dict(label))
    extensions = resource.setdefault("extension", [])
    if not any(e.get("url") == EXTENSION_URL for e in extensions):
        extensions.append({"url": EXTENSION_URL, "valueString": NOTICE})
    return resource


def is_labelled(resource: Mapping[str, Any]) -> bool:
    """Whether a FHIR resource carries the Part 2 labels and the notice."""
    codes = {s.get("code") for s in resource.get("meta", {}).get("security", [])}
    notes = [e for e in resource.get("extension", []) if e.get("url") == EXTENSION_URL]
    return {"42CFRPart2", "NORDSCLCD"} <= codes and bool(notes)
