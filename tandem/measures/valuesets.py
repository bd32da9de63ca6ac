"""The value sets the measure engines read: ``id -> frozenset[(system, code)]``.

Ids are VSAC OIDs (``2.16.840.1.113883.3.600.1916``) for published value sets and short
``tandem:<name>`` keys for Tandem's own code lists (later, from versioned data files). Any
canonical URL or name that :class:`tandem.terminology.expansions.ValueSetIndex` understands
also resolves, so a measure may be written with the OID its CQL declares.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from tandem.terminology.expansions import (
    ValueSetExpansion,
    ValueSetIndex,
    load_directory,
)

Code = tuple[str, str]

# Where the public CMS eCQM expansions are kept on a developer machine (see
# /work/shared/conformance/README.md); tests skip when it is absent.
DEFAULT_EXPANSION_DIRS: tuple[Path, ...] = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "conformance"
    / "ecqm-qicore-2024"
    / "valuesets",
)


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


def load(*dirs: str | Path) -> ValueSets:
    """Expansions from ``dirs`` (default: the public eCQM expansions) plus Tandem's code lists.

    Cached per set of directories. A missing or malformed directory raises
    :class:`tandem.terminology.expansions.ExpansionError` naming it.
    """
    paths = tuple(str(Path(d).resolve()) for d in (dirs or DEFAULT_EXPANSION_DIRS))
    if paths not in _cache:
        expansions: list[ValueSetExpansion] = []
        for path in paths:
            expansions.extend(load_directory(path))
        _cache[paths] = ValueSets(expansions, local=codelist_entries())
    return _cache[paths]
