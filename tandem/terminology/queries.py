"""Reads of value sets (reference data): the mapping the measure engines use."""

from __future__ import annotations

from collections import defaultdict

from tandem.measures.valuesets import ValueSets, codelist_entries
from tandem.terminology.expansions import ValueSetExpansion, load_directory
from tandem.terminology.models import ValueSet, ValueSetCode


def stored_expansions(year: int | None) -> list[ValueSetExpansion]:
    """The expansions loaded into the database that serve performance year ``year``, one per
    value set: the version loaded for that year (``--year``), else the version loaded for any
    year most recently; versions loaded for another year are not used. (Reference data, not
    patient data: no gate.)"""
    chosen: dict[str, ValueSet] = {}
    rank: dict[str, tuple[int, object]] = {}
    for vs in ValueSet.objects.filter(source=ValueSet.Source.VSAC):
        if vs.performance_year is not None and vs.performance_year != year:
            continue
        key = (1 if vs.performance_year is not None else 0, vs.loaded_at)
        if vs.identifier not in rank or key > rank[vs.identifier]:  # type: ignore[operator]
            rank[vs.identifier], chosen[vs.identifier] = key, vs
    if not chosen:
        return []
    codes: dict[int, set[tuple[str, str]]] = defaultdict(set)
    ids = [vs.pk for vs in chosen.values()]
    for vs_id, system, code in ValueSetCode.objects.filter(valueset_id__in=ids).values_list(
        "valueset_id", "system", "code"
    ):
        codes[vs_id].add((system, code))
    return [
        ValueSetExpansion(
            oid=vs.identifier,
            url=vs.url,
            name=vs.name,
            version=vs.version or None,
            codes=frozenset(codes.get(vs.pk, ())),
            source="database",
        )
        for vs in chosen.values()
    ]


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
