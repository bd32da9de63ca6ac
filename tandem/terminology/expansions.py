"""FHIR ValueSet expansions: parse, load a directory, look up by OID, URL or name.

Pure functions, no Django. A value set here is what a measure needs from VSAC: the flat set
of ``(system, code)`` pairs in ``ValueSet.expansion.contains`` (nested ``contains`` are
flattened; abstract or inactive entries are kept only if they carry a code, because VSAC
expansions list exactly the codes that qualify).

API
- :class:`ValueSetExpansion` — immutable: ``oid``, ``url``, ``name``, ``version``, ``title``,
  ``codes`` (``frozenset[tuple[system, code]]``). ``id`` is an alias of ``oid``.
- :func:`parse_expansion(resource, source=...)` — one ValueSet dict → expansion.
- :func:`load_file(path)` / :func:`load_directory(path)` — read JSON files (a ValueSet or a
  Bundle of them); a malformed file raises :class:`ExpansionError` with one line naming it.
- :class:`ValueSetIndex` — resolves an OID, a canonical URL (with or without ``|version``)
  or a name to one expansion. Known mistyped URLs in published content (see
  :data:`URL_ALIASES`) resolve too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

VSAC_BASE = "http://cts.nlm.nih.gov/fhir/ValueSet/"

# Misspelled canonical URLs found in published eCQM content -> the URL they mean.
URL_ALIASES: dict[str, str] = {
    # Major Depression Including Remission: "2.16.840.113883" for "2.16.840.1.113883" in the
    # 2024 QI-Core content (DepressionRemissionatTwelveMonthsFHIR).
    VSAC_BASE + "2.16.840.113883.3.67.1.101.3.2444": VSAC_BASE
    + "2.16.840.1.113883.3.67.1.101.3.2444",
}

_OID = re.compile(r"^[0-2](\.\d+)+$")

Code = tuple[str, str]


class ExpansionError(ValueError):
    """A ValueSet file or resource that cannot be read; the message is one line."""


@dataclass(frozen=True)
class ValueSetExpansion:
    """One expanded value set. ``codes`` holds ``(system, code)`` pairs."""

    oid: str
    url: str
    name: str
    version: str | None
    codes: frozenset[Code]
    title: str | None = None
    source: str | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return self.oid

    def __contains__(self, item: object) -> bool:
        return item in self.codes

    def __len__(self) -> int:
        return len(self.codes)


def oid_from_url(url: str) -> str | None:
    """The OID at the end of a VSAC-style canonical URL, or ``None``."""
    url = canonical_url(url)
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    if tail.startswith("urn:oid:"):
        tail = tail[len("urn:oid:") :]
    return tail if _OID.match(tail) else None


def canonical_url(url: str) -> str:
    """``url`` without a ``|version`` suffix, with known misspellings corrected."""
    url = url.split("|", 1)[0].strip()
    return URL_ALIASES.get(url, url)


def _walk(contains: Iterable[Mapping[str, Any]]) -> Iterator[Code]:
    for entry in contains:
        system, code = entry.get("system"), entry.get("code")
        if system and code:
            yield (str(system), str(code))
        nested = entry.get("contains")
        if nested:
            yield from _walk(nested)


def parse_expansion(resource: Mapping[str, Any], source: str = "<resource>") -> ValueSetExpansion:
    """Turn one FHIR ValueSet (with ``expansion``) into a :class:`ValueSetExpansion`."""
    if not isinstance(resource, Mapping) or resource.get("resourceType") != "ValueSet":
        raise ExpansionError(f"{source}: not a FHIR ValueSet resource")
    expansion = resource.get("expansion")
    if not isinstance(expansion, Mapping):
        raise ExpansionError(f"{source}: ValueSet has no expansion")
    url = canonical_url(str(resource.get("url") or ""))
    oid = oid_from_url(url) if url else None
    if oid is None:
        rid = str(resource.get("id") or "")
        oid = rid if _OID.match(rid) else None
    if oid is None:
        # Not a VSAC value set (e.g. a local one): its id stands in for the OID.
        oid = str(resource.get("id") or "")
    if not oid:
        raise ExpansionError(f"{source}: ValueSet has neither an OID url nor an id")
    try:
        codes = frozenset(_walk(expansion.get("contains") or []))
    except (AttributeError, TypeError) as exc:
        raise ExpansionError(f"{source}: malformed expansion.contains ({exc})") from None
    return ValueSetExpansion(
        oid=oid,
        url=url or VSAC_BASE + oid,
        name=str(resource.get("name") or oid),
        version=resource.get("version"),
        codes=codes,
        title=resource.get("title"),
        source=source,
    )


def load_file(path: str | Path) -> list[ValueSetExpansion]:
    """Read one JSON file holding a ValueSet or a Bundle of ValueSets."""
    path = Path(path)
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ExpansionError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except OSError as exc:
        raise ExpansionError(f"{path}: cannot read ({exc.strerror})") from None
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        out = []
        for i, entry in enumerate(data.get("entry") or []):
            res = (entry or {}).get("resource") or {}
            if res.get("resourceType") == "ValueSet":
                out.append(parse_expansion(res, source=f"{path} entry {i}"))
        return out
    return [parse_expansion(data, source=str(path))]


def load_directory(path: str | Path) -> list[ValueSetExpansion]:
    """Every ``*.json`` ValueSet under ``path`` (recursively), sorted by file name."""
    root = Path(path)
    if not root.is_dir():
        raise ExpansionError(f"{root}: not a directory")
    out: list[ValueSetExpansion] = []
    for file in sorted(root.rglob("*.json")):
        out.extend(load_file(file))
    return out


class ValueSetIndex(Mapping[str, ValueSetExpansion]):
    """Expansions keyed by OID; :meth:`resolve` also accepts a canonical URL or a name.

    Iterating yields OIDs. Two files with the same OID: the later one wins (a newer version
    loaded after an older one).
    """

    def __init__(self, expansions: Iterable[ValueSetExpansion] = ()) -> None:
        self._by_oid: dict[str, ValueSetExpansion] = {}
        self._by_url: dict[str, ValueSetExpansion] = {}
        self._by_name: dict[str, ValueSetExpansion] = {}
        for exp in expansions:
            self.add(exp)

    @classmethod
    def from_directory(cls, *paths: str | Path) -> ValueSetIndex:
        index = cls()
        for p in paths:
            for exp in load_directory(p):
                index.add(exp)
        return index

    def add(self, expansion: ValueSetExpansion) -> None:
        self._by_oid[expansion.oid] = expansion
        self._by_url[canonical_url(expansion.url)] = expansion
        self._by_url[VSAC_BASE + expansion.oid] = expansion
        self._by_name[expansion.name] = expansion
        if expansion.title:
            self._by_name.setdefault(expansion.title, expansion)

    def resolve(self, key: str) -> ValueSetExpansion:
        """Find by OID, canonical URL (``|version`` ignored, misspellings fixed), or name."""
        if key in self._by_oid:
            return self._by_oid[key]
        url = canonical_url(key)
        if url in self._by_url:
            return self._by_url[url]
        oid = oid_from_url(url)
        if oid and oid in self._by_oid:
            return self._by_oid[oid]
        if key in self._by_name:
            return self._by_name[key]
        raise KeyError(key)

    def get_by_url(self, url: str) -> ValueSetExpansion | None:
        try:
            return self.resolve(url)
        except KeyError:
            return None

    def __getitem__(self, key: str) -> ValueSetExpansion:
        return self.resolve(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self.resolve(key)
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_oid)

    def __len__(self) -> int:
        return len(self._by_oid)
