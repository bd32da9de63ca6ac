"""docs/synth.md documents every parameter and every option of ``tandem synth``."""

from __future__ import annotations

from pathlib import Path

from tandem.cli import build_parser
from tandem.synth.parameters import QUANTITIES, describe

DOC = Path(__file__).resolve().parents[2] / "docs" / "synth.md"


def test_every_parameter_is_in_the_table_with_its_source() -> None:
    text = DOC.read_text()
    for name, _value, _doc, source in describe():
        line = next((ln for ln in text.splitlines() if ln.startswith(f"| `{name}` |")), None)
        assert line is not None, name
        assert source in line, name


def test_every_option_is_documented() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    synth = sub.choices["synth"]
    text = DOC.read_text()
    for action in synth._actions:
        for option in action.option_strings:
            if option.startswith("--") and option != "--help":
                assert f"`{option}" in text, option


def test_every_unit_and_range_is_in_the_table_with_its_source() -> None:
    text = DOC.read_text()
    for q in QUANTITIES.values():
        line = next((ln for ln in text.splitlines() if ln.startswith(f"| `{q.code}` |")), None)
        assert line is not None, q.code
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[2:] == [f"`{q.unit}`", f"{q.low:g}", f"{q.high:g}", q.source], q.code
