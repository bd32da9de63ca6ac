"""FHIR R4 import: read files (``reader``), check and flatten resources (``flatten``,
``elements``), build the analytic tables (``load``). Entry point: :func:`load_fhir`; bad
input raises :class:`InvalidInput` (see ``errors``)."""

from tandem.importers.fhir.errors import InvalidInput, InvalidResource
from tandem.importers.fhir.load import LoadResult, load, load_fhir, write_parquet

__all__ = ["InvalidInput", "InvalidResource", "LoadResult", "load", "load_fhir", "write_parquet"]
