"""The value sets the measure engines read: ``id -> frozenset[(system, code)]``.

Ids are VSAC OIDs (``2.16.840.1.113883.3.600.1916``) for published value sets and short
``tandem:<name>`` keys for Tandem's own code lists. Any canonical URL or name that
:class:`tandem.terminology.expansions.ValueSetIndex` understands also resolves, so a measure may
be written with the OID its CQL declares.

Where the expansions come from, per performance year (:func:`for_year`):

1. ``--valuesets DIR`` (:func:`load` with folders): exactly those expansions, nothing else;
2. otherwise the expansions shipped with Tandem for that year (``tandem.terminology.packaged``),
   overlaid by the expansions loaded into the database (``tandem valuesets load``), which take
   precedence (an organisation with a UMLS licence loads its own VSAC expansions).

A measure version is evaluated only when every value set its logic reads is there
(:func:`require`): a missing one is a one-line :class:`MissingValueSets` naming each, never an
empty set.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tandem.core.lib.cli import UsageError
from tandem.terminology import packaged
from tandem.terminology.expansions import (
    ValueSetExpansion,
    ValueSetIndex,
    load_directory,
)

if TYPE_CHECKING:
    from tandem.measures.definitions.versions import MeasureVersion

Code = tuple[str, str]


class MissingValueSets(UsageError):
    """A measure version reads value sets that are not loaded; the message names them."""


class ValueSets(Mapping[str, frozenset[Code]]):
    """Immutable-by-convention mapping from value-set id to its codes.

    ``vs[oid]``, ``vs[url]`` and ``vs[name]`` all work; iteration yields the ids (OIDs and
    local keys). :meth:`expansion` returns the full :class:`ValueSetExpansion` when there is one.
    """

    def __init__(
        self,
        expansions: Iterable[ValueSetExpansion] = (),
        local: Mapping[str, Iterable[Code]] | None = None,
    ) -> None:
        self._index = ValueSetIndex(expansions)
        self._local: dict[str, frozenset[Code]] = {
            k: frozenset(v) for k, v in (local or {}).items()
        }

    @classmethod
    def from_directories(
        cls, *dirs: str | Path, local: Mapping[str, Iterable[Code]] | None = None
    ) -> ValueSets:
        expansions: list[ValueSetExpansion] = []
        for d in dirs:
            expansions.extend(load_directory(d))
        return cls(expansions, local=local)

    def expansion(self, key: str) -> ValueSetExpansion:
        return self._index.resolve(key)

    def __getitem__(self, key: str) -> frozenset[Code]:
        if key in self._local:
            return self._local[key]
        return self._index.resolve(key).codes

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (key in self._local or key in self._index)

    def __iter__(self) -> Iterator[str]:
        yield from self._index
        yield from self._local

    def __len__(self) -> int:
        return len(self._index) + len(self._local)


def codelist_entries() -> dict[str, frozenset[Code]]:
    """Tandem's own code lists (``tandem.terminology.codelists``) as ``tandem:<key>`` ids."""
    from tandem.terminology import codelists

    keys = codelists.keys()  # a module function, not a dict
    return {f"tandem:{key}": codelists.load(key).pairs() for key in keys}


_cache: dict[tuple[str, ...], ValueSets] = {}
_year_cache: dict[int | None, ValueSets] = {}


def load(*dirs: str | Path) -> ValueSets:
    """Expansions from ``dirs`` plus Tandem's code lists; with no ``dirs``, the expansions
    shipped for the newest performance year (:func:`for_year`).

    Cached per set of directories. A missing or malformed directory raises
    :class:`tandem.terminology.expansions.ExpansionError` naming it.
    """
    if not dirs:
        return for_year(None)
    paths = tuple(str(Path(d).resolve()) for d in dirs)
    if paths not in _cache:
        expansions: list[ValueSetExpansion] = []
        for path in paths:
            expansions.extend(load_directory(path))
        _cache[paths] = ValueSets(expansions, local=codelist_entries())
    return _cache[paths]


def shipped_year(year: int | None) -> int | None:
    """The shipped year whose expansions serve performance year ``year``: that year, or (a
    measure for any period, or a year not shipped) the newest shipped year at or before it."""
    shipped = packaged.years()
    if not shipped:
        return None
    if year is None:
        return shipped[-1]
    earlier = [y for y in shipped if y <= year]
    return earlier[-1] if earlier else shipped[0]


def for_year(
    year: int | None,
    *,
    dirs: Iterable[str | Path] = (),
    stored: Iterable[ValueSetExpansion] | None = None,
) -> ValueSets:
    """The value sets for evaluating measures of performance year ``year`` (None: a measure
    for any period — the newest shipped year).

    ``dirs`` given: exactly the expansions there (:func:`load`). Otherwise the shipped
    expansions of that year, overlaid by ``stored`` (the database's, which win), plus
    Tandem's code lists.
    """
    folders = tuple(dirs)
    if folders:
        return load(*folders)
    base = packaged.expansions(y) if (y := shipped_year(year)) is not None else ()
    if stored is None:
        if year not in _year_cache:
            _year_cache[year] = ValueSets(base, local=codelist_entries())
        return _year_cache[year]
    return ValueSets([*base, *stored], local=codelist_entries())


def missing(version: MeasureVersion, vs: Mapping[str, frozenset[Code]]) -> list[str]:
    """The value sets ``version``'s logic reads that ``vs`` lacks (sorted ids)."""
    return sorted(oid for oid in version.valuesets if oid not in vs)


def _named(oid: str) -> str:
    for year in reversed(packaged.years()):
        for exp in packaged.expansions(year):
            if exp.oid == oid:
                return f"{oid} ({exp.title or exp.name})"
    return oid


def require(version: MeasureVersion, vs: Mapping[str, frozenset[Code]]) -> None:
    """Raise :class:`MissingValueSets` (one line, naming each) unless ``vs`` has every value
    set ``version`` reads."""
    absent = missing(version, vs)
    if absent:
        names = ", ".join(_named(oid) for oid in absent)
        raise MissingValueSets(
            f"{version.id} cannot be evaluated: {len(absent)} value set"
            f"{'s' if len(absent) != 1 else ''} not loaded: {names}; load their expansions "
            "with 'tandem valuesets load DIR' or pass --valuesets DIR"
        )
