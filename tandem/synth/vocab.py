"""One table of every code the generator can emit; events carry an index into it.

Keeping codes as small integers until the very end is what makes the generator vectorised:
an event column is an ``int32`` array, and the writers turn it into ``system``/``code``/
``display`` strings with one ``take`` per column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from tandem.terminology import codelists

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"


@dataclass
class Vocabulary:
    systems: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    displays: list[str] = field(default_factory=list)
    _index: dict[tuple[str, str], int] = field(default_factory=dict)
    _lists: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, system: str, code: str, display: str = "") -> int:
        key = (system, code)
        if key not in self._index:
            self._index[key] = len(self.codes)
            self.systems.append(system)
            self.codes.append(code)
            self.displays.append(display)
        return self._index[key]

    def of(self, system: str, code: str) -> int:
        return self._index[(system, code)]

    def code(self, code: str, system: str | None = None) -> int:
        """The index of a code known to be unique across systems (or give the system)."""
        if system is not None:
            return self.of(system, code)
        hits = [i for (_s, c), i in self._index.items() if c == code]
        if len(hits) != 1:
            raise KeyError(code)
        return hits[0]

    def codes_of(self, key: str, *codes: str) -> np.ndarray:
        """Indices of a code list, or of the named codes in it (in the order given)."""
        idx = self._lists[key]
        if not codes:
            return idx
        by_code = {self.codes[i]: i for i in idx}
        return np.array([by_code[c] for c in codes], dtype=np.int32)

    def arrow(self) -> tuple[pa.Array, pa.Array, pa.Array]:
        return pa.array(self.systems), pa.array(self.codes), pa.array(self.displays)


def build() -> Vocabulary:
    vocab = Vocabulary()
    for key in codelists.names():
        cl = codelists.load(key)
        vocab._lists[key] = np.array(
            [vocab.add(c.system, c.code, c.display) for c in cl.codes], dtype=np.int32
        )
    return vocab


_VOCAB: Vocabulary | None = None


def get() -> Vocabulary:
    global _VOCAB
    if _VOCAB is None:
        _VOCAB = build()
    return _VOCAB
