"""Tandem's own code lists: versioned CSV files shipped inside the package.

Pure Python (no Django, no network, nothing read from outside the package). Each CSV in
``tandem/terminology/codelists/`` has the header ``key,system,code,display``; one file may hold
several lists. ``manifest.json`` beside them gives the version of the whole set and, per list,
its file, title, source (VSAC OID and expansion, or "by hand") and whether its membership is
verified. ``groups`` names unions of lists (``antipsychotics`` = FGA + SGA + LAI).

API
- :func:`load(key)` -> :class:`CodeList` (a list or a group), cached.
- :func:`keys()` (alias :func:`names()`) -> every list and group key.
- :func:`version()` -> the version string of the set.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

PACKAGE = "tandem.terminology"
FOLDER = "codelists"


class CodeListError(KeyError):
    """An unknown list key, or a malformed code-list file."""


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str = ""


@dataclass(frozen=True)
class CodeList:
    key: str
    version: str
    title: str
    source: str
    verified: bool
    codes: tuple[Code, ...]

    def pairs(self) -> frozenset[tuple[str, str]]:
        """The ``(system, code)`` pairs, for membership tests."""
        return frozenset((c.system, c.code) for c in self.codes)

    def code_values(self) -> list[str]:
        return [c.code for c in self.codes]

    def displays(self) -> dict[str, str]:
        return {c.code: c.display for c in self.codes}

    def __len__(self) -> int:
        return len(self.codes)


def _folder() -> Any:
    return resources.files(PACKAGE).joinpath(FOLDER)


@cache
def _manifest() -> dict[str, Any]:
    return json.loads(_folder().joinpath("manifest.json").read_text(encoding="utf-8"))


@cache
def _file_rows(name: str) -> dict[str, tuple[Code, ...]]:
    text = _folder().joinpath(name).read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header != ["key", "system", "code", "display"]:
        raise CodeListError(f"{name}: header must be key,system,code,display")
    out: dict[str, list[Code]] = {}
    for lineno, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != 4 or not all(row[:3]):
            raise CodeListError(f"{name}:{lineno}: expected key,system,code,display")
        out.setdefault(row[0], []).append(Code(row[1], row[2], row[3]))
    return {k: tuple(v) for k, v in out.items()}


def version() -> str:
    return str(_manifest()["version"])


def keys() -> list[str]:
    """Every list and group key, sorted."""
    m = _manifest()
    return sorted([*m["lists"], *m.get("groups", {})])


names = keys


@cache
def load(key: str) -> CodeList:
    """One code list (or a group of lists) by key."""
    m = _manifest()
    if key in m.get("groups", {}):
        parts = [load(k) for k in m["groups"][key]]
        codes = tuple(c for p in parts for c in p.codes)
        return CodeList(
            key=key,
            version=version(),
            title=" + ".join(p.title for p in parts),
            source="; ".join(sorted({p.source for p in parts})),
            verified=all(p.verified for p in parts),
            codes=codes,
        )
    try:
        meta = m["lists"][key]
    except KeyError:
        raise CodeListError(f"unknown code list {key!r}") from None
    codes = _file_rows(meta["file"]).get(key, ())
    if not codes:
        raise CodeListError(f"code list {key!r} has no rows in {meta['file']}")
    return CodeList(
        key=key,
        version=version(),
        title=meta["title"],
        source=meta["source"],
        verified=bool(meta["verified"]),
        codes=codes,
    )
