"""Anchors: the audit chain's head, recorded outside the database.

An anchor says "after COUNT events, the newest event's hash was HASH". Because every event's hash
covers the one before it, a chain still holding that event at position COUNT with that hash still
holds every earlier event unchanged. A chain cut below COUNT, emptied, or rewritten (even
consistently, head included) no longer does — which the chain alone cannot reveal.

Anchors come from ``--expect HASH:COUNT`` or from an anchor file: one anchor a line,
``ISO-TIME HASH COUNT``, appended by ``tandem audit anchor --append-to PATH``; blank lines and
lines starting with ``#`` are ignored. This module reads and writes them; it imports nothing
from Django, so the command line can parse ``--expect`` before Django starts.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

_HASH = re.compile(r"[0-9a-f]{64}")
_COUNT = re.compile(r"[0-9]{1,18}")
EXPECT_FORMAT = "HASH:COUNT (the 64-hex-digit head hash and the event count `verify` printed)"


class AnchorError(ValueError):
    """An anchor that cannot be read; the message is one line and says where."""


@dataclass(frozen=True)
class Anchor:
    hash: str
    count: int
    recorded_at: str = ""  # ISO time, for anchors from a file
    origin: str = "given with --expect"  # for messages: where the anchor came from

    def line(self) -> str:
        """The anchor as a line of an anchor file."""
        return f"{self.recorded_at} {self.hash} {self.count}"


def _hash_and_count(hash_text: str, count_text: str) -> tuple[str, int] | None:
    hash_text, count_text = hash_text.strip().lower(), count_text.strip()
    if not _HASH.fullmatch(hash_text) or not _COUNT.fullmatch(count_text):
        return None
    return hash_text, int(count_text)


def parse_expect(text: str) -> Anchor:
    """``HASH:COUNT`` (``--expect``) as an anchor."""
    hash_text, sep, count_text = text.partition(":")
    parsed = _hash_and_count(hash_text, count_text) if sep else None
    if parsed is None:
        raise AnchorError(f"expected {EXPECT_FORMAT}, got {text!r}")
    return Anchor(*parsed)


def read_file(path: Path) -> list[Anchor]:
    """Every anchor in an anchor file, oldest first."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AnchorError(f"no anchor file at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AnchorError(f"cannot read the anchor file {path}: {exc}") from None
    anchors = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        parsed = _hash_and_count(fields[1], fields[2]) if len(fields) == 3 else None
        if parsed is None or not _is_time(fields[0]):
            raise AnchorError(
                f"{path} line {number}: expected 'ISO-TIME HASH COUNT', got {line[:80]!r}"
            )
        where = f"in {path} line {number} (recorded {fields[0]})"
        anchors.append(Anchor(*parsed, recorded_at=fields[0], origin=where))
    return anchors


def _is_time(text: str) -> bool:
    try:
        return dt.datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def append(path: Path, anchor: Anchor) -> None:
    """Append one anchor line to ``path`` (created if missing), and make it durable."""
    try:
        with path.open("ab+") as file:
            end = file.seek(0, os.SEEK_END)
            if end > 0:
                file.seek(end - 1)
                if file.read(1) != b"\n":  # a last line without its newline
                    file.write(b"\n")
            file.write(anchor.line().encode() + b"\n")
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        raise AnchorError(f"cannot append to the anchor file {path}: {exc.strerror}") from None
