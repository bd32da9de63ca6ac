"""QRDA III package data: measures.json (see its _provenance)."""
