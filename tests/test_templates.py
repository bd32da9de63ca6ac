"""Template hygiene that Django does not check for us."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "tandem"
# Django's {# … #} comment ends at the line's end: a comment spread over lines is not a comment,
# and its text is printed on the page (it was, above every paginated list and the chart).
OPEN_COMMENT = re.compile(r"\{#(?![^\n]*#\})")


def test_no_template_spreads_a_short_comment_over_lines() -> None:
    offenders = [
        f"{path.relative_to(ROOT.parent)}:{text[: m.start()].count(chr(10)) + 1}"
        for path in sorted(ROOT.rglob("*.html"))
        for text in [path.read_text()]
        for m in OPEN_COMMENT.finditer(text)
    ]
    assert offenders == [], "use {% comment %} for comments over several lines: " + ", ".join(
        offenders
    )
