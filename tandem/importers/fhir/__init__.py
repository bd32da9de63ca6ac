"""FHIR R4 import: read files (``reader``), flatten resources (``flatten``), build the
analytic tables (``load``). Entry point: :func:`load_fhir`."""

from tandem.importers.fhir.load import LoadResult, load, load_fhir, write_parquet

__all__ = ["LoadResult", "load", "load_fhir", "write_parquet"]
