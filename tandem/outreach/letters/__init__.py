"""Outreach letters as PDF (fpdf2), one page per letter, in the patient's preferred language.

Templates are data files beside this module (``en.json``, ``es.json``; add a language by adding
a file): a greeting, a body per worklist (``default`` for the others, care-gap lists included),
how to make an appointment, a closing. A patient whose language (``Patient.language``, BCP 47:
``es``, ``es-MX``) has no template gets the English letter.

The texts never name a diagnosis, a medication or a program: a letter may be opened by someone
else, and the envelope and page must not disclose a mental-health or substance-use relationship.
The sender is the item's site (the patient's home site), which the reader may see since the
item carries the site's label.

The PDF uses the core Helvetica font (Latin-1: Spanish accents and ñ print; other characters are
replaced) and is written uncompressed (letters are small, and the text stays searchable).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from fpdf import FPDF

DEFAULT_LANGUAGE = "en"


@cache
def template(language: str) -> dict[str, Any]:
    """The letter template for a BCP 47 tag (its primary language), else English."""
    primary = (language or DEFAULT_LANGUAGE).split("-")[0].lower()
    folder = resources.files(__name__)
    name = f"{primary}.json" if folder.joinpath(f"{primary}.json").is_file() else "en.json"
    return dict(json.loads(folder.joinpath(name).read_text(encoding="utf-8")))


def languages() -> list[str]:
    return sorted(
        p.name.removesuffix(".json")
        for p in resources.files(__name__).iterdir()
        if p.name.endswith(".json")
    )


@dataclass(frozen=True)
class Letter:
    given_name: str
    family_name: str
    address: list[str]
    language: str
    worklist: str
    site: str
    day: dt.date


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _date(t: dict[str, Any], day: dt.date) -> str:
    return str(t["date"]).format(month=t["months"][day.month - 1], day=day.day, year=day.year)


def _write(pdf: FPDF, letter: Letter) -> None:
    t = template(letter.language)
    fields = {"given_name": letter.given_name, "family_name": letter.family_name}
    fields["site"] = letter.site
    pdf.add_page()
    pdf.set_font("helvetica", "B", 13)
    pdf.cell(0, 8, _latin1(letter.site), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 11)
    pdf.ln(4)
    for line in [f"{letter.given_name} {letter.family_name}", *letter.address]:
        pdf.cell(0, 6, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.cell(0, 6, _latin1(_date(t, letter.day)), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("helvetica", "B", 11)
    pdf.multi_cell(0, 6, _latin1(t["subject"]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 11)
    pdf.ln(3)
    key = letter.worklist if letter.worklist in t["bodies"] else "default"
    paragraphs = [t["greeting"], *t["bodies"][key], t["call"], t["closing"], t["signature"]]
    for text in paragraphs:
        pdf.multi_cell(0, 6, _latin1(str(text).format(**fields)), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.set_font("helvetica", "I", 9)
    pdf.multi_cell(0, 5, _latin1(t["footer"]), new_x="LMARGIN", new_y="NEXT")


def render(letters: Iterable[Letter]) -> bytes:
    """One PDF, one letter per page."""
    pdf = FPDF(format="Letter")
    pdf.set_compression(False)
    pdf.set_title("Outreach letters")
    pdf.set_author("Tandem")
    pdf.set_margins(25, 25, 25)
    for letter in letters:
        _write(pdf, letter)
    return bytes(pdf.output())


def letter_for(item: Any, *, day: dt.date) -> Letter:
    """The letter of a worklist item read through the gate (``item.patient`` disclosed)."""
    patient = item.patient
    address = [
        patient.address_line,
        " ".join(p for p in (patient.city, patient.state, patient.postal_code) if p),
    ]
    site = item.site.name if item.site is not None else "your clinic"
    worklist = item.worklist if not item.worklist.startswith("gap-") else "default"
    return Letter(
        patient.given_name,
        patient.family_name,
        [line for line in address if line.strip()],
        patient.language or DEFAULT_LANGUAGE,
        worklist,
        site,
        day,
    )
