"""The eCQM value-set expansions shipped with Tandem: one data file per performance year.

A newcomer can run every CMS measure without a UMLS licence: ``tandem/terminology/ecqm/`` holds,
per performance year, the expansions of exactly the value sets that Tandem's measure versions
for that year read, derived from the CC0 eCQM content that the Clinical Quality Framework
publishes (the source repository, commit and licence are recorded in each file and in
``ecqm/SOURCE.md``). Expansions an organisation loads itself (``tandem valuesets load``, e.g.
from VSAC) take precedence over these (``tandem.measures.valuesets.for_year``).

A data file is gzip-compressed JSON::

    {"year": 2026, "source": {"repository": …, "commit": …, "path": …, "licence": …},
     "valuesets": [{"oid", "url", "name", "title", "version", "codes": {system: [code, …]}}]}

:func:`build` writes one from a folder of FHIR ValueSet expansions (``tandem valuesets
package``); :func:`expansions` reads one.
"""

from __future__ import annotations

import gzip
from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from tandem.terminology.expansions import ValueSetExpansion, load_directory

DATA_DIR = Path(__file__).resolve().parent / "ecqm"

# Where each year's expansions come from (the CC0 content of the Clinical Quality Framework).
SOURCES: dict[int, dict[str, str]] = {
    2025: {
        "repository": "https://github.com/cqframework/ecqm-content-qicore-2024",
        "commit": "9ebd48ff",
        "path": "input/vocabulary/valueset (expansions)",
        "licence": "CC0-1.0",
    },
    2026: {
        "repository": "https://github.com/cqframework/dqm-content-cms-2025",
        "commit": "207ec58c",
        "path": "input/vocabulary/valueset (expansions)",
        "licence": "CC0-1.0",
    },
}


def path_for(year: int) -> Path:
    return DATA_DIR / f"valuesets-{year}.json.gz"


def years() -> tuple[int, ...]:
    """The performance years with shipped expansions, oldest first."""
    found = []
    for file in DATA_DIR.glob("valuesets-*.json.gz"):
        stem = file.name.removeprefix("valuesets-").removesuffix(".json.gz")
        if stem.isdigit():
            found.append(int(stem))
    return tuple(sorted(found))


@cache
def _read(year: int) -> dict[str, Any]:
    file = path_for(year)
    if not file.is_file():
        return {"year": year, "source": {}, "valuesets": []}
    data: dict[str, Any] = orjson.loads(gzip.decompress(file.read_bytes()))
    return data


def source(year: int) -> Mapping[str, str]:
    """Where the shipped expansions of ``year`` come from (repository, commit, licence)."""
    found: Mapping[str, str] = _read(year).get("source") or {}
    return found


@cache
def expansions(year: int) -> tuple[ValueSetExpansion, ...]:
    """The shipped expansions for performance year ``year`` (none for a year not shipped)."""
    out = []
    for vs in _read(year)["valuesets"]:
        codes = frozenset((system, code) for system, cs in vs["codes"].items() for code in cs)
        out.append(
            ValueSetExpansion(
                oid=vs["oid"],
                url=vs["url"],
                name=vs["name"],
                version=vs.get("version"),
                codes=codes,
                title=vs.get("title"),
                source=f"shipped {year} expansions",
            )
        )
    return tuple(out)


def _entry(vs: ValueSetExpansion) -> dict[str, Any]:
    by_system: dict[str, list[str]] = defaultdict(list)
    for system, code in sorted(vs.codes):
        by_system[system].append(code)
    return {
        "oid": vs.oid,
        "url": vs.url,
        "name": vs.name,
        "title": vs.title,
        "version": vs.version,
        "codes": dict(by_system),
    }


def build(
    year: int, source_dir: Path, oids: Iterable[str], *, out: Path | None = None
) -> tuple[int, list[str]]:
    """Write the data file of ``year``: the expansions in ``source_dir`` of exactly ``oids``.

    Returns the number written and the OIDs that ``source_dir`` has no expansion for.
    Raises :class:`tandem.terminology.expansions.ExpansionError` for an unreadable folder.
    """
    wanted = set(oids)
    found = {vs.oid: vs for vs in load_directory(source_dir) if vs.oid in wanted}
    data = {
        "year": year,
        "source": SOURCES.get(year, {"repository": str(source_dir)}),
        "valuesets": [_entry(found[oid]) for oid in sorted(found)],
    }
    target = out or path_for(year)
    target.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same input gives the same bytes (a reproducible package file).
    target.write_bytes(gzip.compress(orjson.dumps(data), compresslevel=9, mtime=0))
    _read.cache_clear()
    expansions.cache_clear()
    return len(found), sorted(wanted - set(found))


__all__ = ["DATA_DIR", "SOURCES", "build", "expansions", "path_for", "source", "years"]
