"""docs/measures/tables.md lists every analytic table and column of the contract, in order
and with its type (the page the loaders and writers are held to)."""

from __future__ import annotations

import re
from pathlib import Path

from tandem.measures import schema

PAGE = Path(__file__).resolve().parents[2] / "docs" / "measures" / "tables.md"
TYPES = {
    "string": "string",
    "date32[day]": "date",
    "timestamp[us]": "timestamp",
    "double": "float",
    "int32": "int",
    "bool": "bool",
}


def documented() -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in PAGE.read_text().splitlines():
        heading = re.fullmatch(r"### `(\w+)`", line)
        if heading:
            current = tables.setdefault(heading.group(1), [])
            continue
        row = re.match(r"\| `(\w+)` \| (\w+) \|", line)
        if row and current is not None:
            current.append((row.group(1), row.group(2)))
    return tables


def test_the_tables_page_lists_every_table_and_column_with_its_type():
    expected = {
        name: [(column, TYPES[str(typ)]) for column, typ in columns]
        for name, columns in schema.TABLES.items()
    }
    assert documented() == expected
