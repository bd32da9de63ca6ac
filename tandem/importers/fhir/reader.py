"""Stream FHIR R4 resources from files: JSON resources, Bundles and NDJSON, recursively.

Each yielded item is ``(resource, where)`` where ``where`` names the file and, for NDJSON, the
line (``path:12``) or, for a Bundle, the entry (``path entry 3``) — what an error message
must show. Nothing is held in memory beyond one JSON file or one NDJSON line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from tandem.core.lib.cli import UsageError

JSON_SUFFIXES = (".json",)
NDJSON_SUFFIXES = (".ndjson", ".jsonl")

Resource = dict[str, Any]


class InvalidResource(UsageError):
    """One unreadable line, file or resource; ``skip_invalid`` turns it into a report line."""


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and p.suffix.lower() in JSON_SUFFIXES + NDJSON_SUFFIXES:
                yield p
    elif path.is_file():
        yield path
    else:
        raise UsageError(f"{path}: no such file or directory")


def _bundle(bundle: Resource, where: str) -> Iterator[tuple[Resource, str]]:
    for i, entry in enumerate(bundle.get("entry") or []):
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict):
            continue
        w = f"{where} entry {i}"
        full_url = entry.get("fullUrl") or ""
        if not res.get("id") and full_url.startswith("urn:uuid:"):
            res["id"] = full_url[len("urn:uuid:") :]  # transaction bundles may omit ids
        if res.get("resourceType") == "Bundle":
            yield from _bundle(res, w)
        else:
            yield res, w


def _one(data: Any, where: str) -> Iterator[tuple[Resource, str]]:
    if not isinstance(data, dict) or "resourceType" not in data:
        raise InvalidResource(f"{where}: not a FHIR resource (no resourceType)")
    if data["resourceType"] == "Bundle":
        yield from _bundle(data, where)
    else:
        yield data, where


def _ndjson(path: Path, skip_invalid: bool, errors: list[str]) -> Iterator[tuple[Resource, str]]:
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                data = orjson.loads(line)
                yield from _one(data, where)
            except orjson.JSONDecodeError as exc:
                _fail(f"{where}: not valid JSON ({exc.msg})", skip_invalid, errors)
            except InvalidResource as exc:
                _fail(str(exc), skip_invalid, errors)


def _fail(message: str, skip_invalid: bool, errors: list[str]) -> None:
    if not skip_invalid:
        raise InvalidResource(message)
    errors.append(message)


def read(
    paths: str | Path | Iterable[str | Path],
    *,
    skip_invalid: bool = False,
    errors: list[str] | None = None,
) -> Iterator[tuple[Resource, str]]:
    """Yield ``(resource, where)`` for every resource under ``paths``.

    Files ending ``.ndjson``/``.jsonl`` hold one resource per line; ``.json`` files hold one
    resource or a Bundle (entries, nested Bundles included). Directories are walked
    recursively in name order. Unparseable input raises :class:`InvalidResource` (a
    ``UsageError``) naming file and line, or, with ``skip_invalid``, is appended to ``errors``.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    errors = errors if errors is not None else []
    for root in paths:
        for file in _files(Path(root)):
            if file.suffix.lower() in NDJSON_SUFFIXES:
                yield from _ndjson(file, skip_invalid, errors)
                continue
            try:
                data = orjson.loads(file.read_bytes())
            except orjson.JSONDecodeError as exc:
                _fail(f"{file}:{exc.lineno}: not valid JSON ({exc.msg})", skip_invalid, errors)
                continue
            try:
                yield from _one(data, str(file))
            except InvalidResource as exc:
                _fail(str(exc), skip_invalid, errors)
