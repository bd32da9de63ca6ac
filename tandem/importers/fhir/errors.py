"""What the FHIR loader says about bad input.

Three levels: :class:`InvalidElement` (one element of one resource: ``code is required``,
``gender must be a string, not an array``), raised by the element readers and caught by the
loader, which adds file, line and resource; :class:`InvalidResource` (one line, file or
resource, located: a :class:`~tandem.core.lib.cli.UsageError`); :class:`InvalidInput` (a
refused load: the first problem and how many there were).

Messages speak JSON (string, number, array, object), never Python, and stay on one line
(values are quoted with ``repr`` and cut short).
"""

from __future__ import annotations

from typing import Any

from tandem.core.lib.cli import UsageError


class InvalidElement(ValueError):
    """An element Tandem reads is missing, of the wrong JSON type, or makes no sense. The
    message starts with the element path (``period.end``, ``component[2].code``)."""


class MissingElement(InvalidElement):
    """A required element is absent (``code is required``)."""


class InvalidResource(UsageError):
    """One unreadable line, file or resource, with its place (``file:line: Type/id: ...``)."""


class InvalidInput(InvalidResource):
    """A refused load: nothing was loaded. ``problems`` holds the first ones (at most
    :data:`KEEP`), ``count`` how many there were in all."""

    def __init__(self, problems: list[str], count: int) -> None:
        self.problems = problems
        self.count = count
        more = f" (and {count - 1} more invalid)" if count > 1 else ""
        super().__init__(problems[0] + more)


KEEP = 1000  # problems kept in memory (LoadResult.invalid, InvalidInput.problems)

_JSON_TYPES = {
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def json_type(value: Any) -> str:
    """``"an array"`` for a list...: how a value looks in the JSON the user wrote."""
    return _JSON_TYPES.get(type(value), "a value")


def shown(value: Any, limit: int = 40) -> str:
    """A value quoted for a one-line message (no newlines, at most ``limit`` characters)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def wrong(path: str, expected: str, value: Any) -> InvalidElement:
    """``gender must be a string, not an array``."""
    return InvalidElement(f"{path} must be {expected}, not {json_type(value)}")


def missing(path: str, when: str = "") -> MissingElement:
    """``code is required``; ``when`` says when, if not always (`` when status is completed``)."""
    return MissingElement(f"{path} is required{when}")
