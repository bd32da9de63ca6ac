"""Reads of value sets (reference data): the mapping the measure engines use."""

from __future__ import annotations

from collections import defaultdict

from tandem.measures.valuesets import ValueSets, codelist_entries
from tandem.terminology.expansions import ValueSetExpansion, load_directory
from tandem.terminology.models import ValueSet, ValueSetCode


def valuesets(extra_dirs: tuple[str, ...] = ()) -> ValueSets:
    """Every value set in the database (plus expansions in ``extra_dirs``), and Tandem's own
    code lists as ``tandem:<key>``."""
    codes: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for vs_id, system, code in ValueSetCode.objects.values_list("valueset_id", "system", "code"):
        codes[vs_id].add((system, code))
    expansions = [
        ValueSetExpansion(
            oid=vs.identifier,
            url=vs.url,
            name=vs.name,
            version=vs.version or None,
            codes=frozenset(codes.get(vs.pk, ())),
        )
        for vs in ValueSet.objects.filter(source=ValueSet.Source.VSAC)
    ]
    for folder in extra_dirs:
        expansions.extend(load_directory(folder))
    return ValueSets(expansions, local=codelist_entries())
