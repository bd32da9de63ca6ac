"""Loading value sets into the operational database (reference data, not patient data)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tandem.audit import services as audit
from tandem.core.lib.cli import UsageError
from tandem.terminology import expansions
from tandem.terminology.models import ValueSet, ValueSetCode


def store(
    *,
    by: Any,
    identifier: str,
    name: str,
    source: str,
    codes: Iterable[tuple[str, str, str]],
    url: str = "",
    version: str = "",
    performance_year: int | None = None,
) -> ValueSet:
    """Create or replace one version of a value set and its (system, code, display) members
    (other versions of the same value set are kept)."""
    valueset, _ = ValueSet.objects.update_or_create(
        identifier=identifier,
        version=version,
        defaults={
            "name": name,
            "source": source,
            "url": url,
            "performance_year": performance_year,
        },
    )
    ValueSetCode.objects.filter(valueset=valueset).delete()
    ValueSetCode.objects.bulk_create(
        [ValueSetCode(valueset=valueset, system=s, code=c, display=d) for s, c, d in set(codes)],
        batch_size=2000,
    )
    audit.record(
        actor=by,
        entry=audit.Entry("write:store_valueset", "written", detail=f"valueset={valueset.pk}"),
    )
    return valueset


def load_expansions(*, by: Any, path: Path, performance_year: int | None = None) -> list[ValueSet]:
    """Load every FHIR ValueSet expansion in a file or directory (e.g. VSAC downloads), kept
    by version and, with ``performance_year``, for that year only."""
    try:
        found = expansions.load_directory(path) if path.is_dir() else expansions.load_file(path)
    except expansions.ExpansionError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    return [
        store(
            by=by,
            identifier=vs.oid,
            name=vs.name,
            source=ValueSet.Source.VSAC,
            codes=((system, code, "") for system, code in vs.codes),
            url=vs.url,
            version=vs.version or "",
            performance_year=performance_year,
        )
        for vs in found
    ]
