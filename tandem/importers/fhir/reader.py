"""Stream FHIR R4 resources from files: JSON resources, Bundles and NDJSON, recursively.

:class:`Reader` yields ``(resource, place)``: ``place`` is the NDJSON line number, the Bundle
entry (``"entry 3"``, nested: ``"entry 2 entry 0"``) or ``None`` for a one-resource JSON
file; :meth:`Reader.where` turns it into what an error message shows (``path:12``,
``path:40 entry 3`` — the line of a Bundle entry is found, on error only, from its id).
Nothing is held in memory beyond one JSON file or one NDJSON line.

A yielded resource is a JSON object with a non-empty string ``resourceType``. What cannot be
read (JSON that does not parse, an empty JSON file, a line that is not a resource, a Bundle
whose ``entry`` is not an array of objects, a ``fullUrl`` that is not a string) goes to the
``report`` callback, one located line each, and reading goes on. A path that does not exist, a
directory without FHIR files, or a file that cannot be opened raises
:class:`~tandem.core.lib.cli.UsageError` at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from tandem.core.lib.cli import UsageError
from tandem.importers.fhir.errors import InvalidResource, json_type

JSON_SUFFIXES = (".json",)
NDJSON_SUFFIXES = (".ndjson", ".jsonl")

Resource = dict[str, Any]
Place = int | str | None

__all__ = ["InvalidResource", "Reader", "Resource", "read"]


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = [
            p
            for p in sorted(path.rglob("*"))
            if p.is_file() and p.suffix.lower() in JSON_SUFFIXES + NDJSON_SUFFIXES
        ]
        if not files:
            raise UsageError(f"{path}: no FHIR files (*.json, *.ndjson, *.jsonl) in this directory")
        return files
    if path.is_file():
        return [path]
    raise UsageError(f"{path}: no such file or directory")


def resource_problem(data: Any) -> str | None:
    """Why ``data`` is not a FHIR resource at all, or ``None``."""
    if not isinstance(data, dict):
        return f"not a FHIR resource ({json_type(data)}, not an object)"
    rtype = data.get("resourceType")
    if rtype is None:
        return "not a FHIR resource (no resourceType)"
    if not isinstance(rtype, str) or not rtype:
        return f"resourceType must be a resource type name, not {json_type(rtype)}"
    return None


class Reader:
    """Iterate ``(resource, place)`` over ``paths``; ``report(message)`` receives each located
    problem. After the iteration, ``files`` and ``resources`` count what was read."""

    def __init__(self, paths: str | Path | Iterable[str | Path], report: Callable[[str], None]):
        self.paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
        self.report = report
        self.file = ""
        self.files = 0
        self.resources = 0
        self._text = b""  # the JSON file being read, for the line of a Bundle entry
        self._line: int | None = None  # the NDJSON line of a Bundle being read

    def __iter__(self) -> Iterator[tuple[Resource, Place]]:
        for root in self.paths:
            for file in _files(root):
                self.file, self._text = str(file), b""
                self.files += 1
                if file.suffix.lower() in NDJSON_SUFFIXES:
                    yield from self._ndjson(file)
                else:
                    yield from self._json(file)

    def where(self, place: Place, res: Resource | None = None) -> str:
        """``path``, ``path:12`` (NDJSON line) or ``path:40 entry 3`` (Bundle entry, with its
        line when the resource's id is found once in the file)."""
        if isinstance(place, int):
            return f"{self.file}:{place}"
        line = self._line or (self._line_of(res) if res is not None and place else None)
        head = f"{self.file}:{line}" if line else self.file
        return f"{head} {place}" if place else head

    def _line_of(self, res: Resource) -> int | None:
        rid = res.get("id")
        if not isinstance(rid, str) or not rid or not self._text:
            return None
        body = re.escape(orjson.dumps(rid)[1:-1])
        for key in (rb'"id"\s*:\s*"', rb'"fullUrl"\s*:\s*"urn:uuid:'):
            hits = [m.start() for m in re.finditer(key + body + rb'"', self._text)]
            if len(hits) == 1:
                return self._text.count(b"\n", 0, hits[0]) + 1
        return None

    def _ndjson(self, path: Path) -> Iterator[tuple[Resource, Place]]:
        try:
            fh = path.open("rb")
        except OSError as exc:
            raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
        with fh:
            for lineno, line in enumerate(fh, start=1):
                try:
                    data = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    if line.strip():
                        self.report(f"{path}:{lineno}: not valid JSON ({exc.msg})")
                    continue
                if data.__class__ is not dict or data.get("resourceType").__class__ is not str:
                    self.report(f"{path}:{lineno}: {resource_problem(data)}")
                    continue
                if data["resourceType"] == "Bundle":
                    self._line = lineno
                    yield from self._bundle(data, "")
                    self._line = None
                else:
                    self.resources += 1
                    yield data, lineno

    def _json(self, path: Path) -> Iterator[tuple[Resource, Place]]:
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
        if not text.strip():
            self.report(f"{path}: empty file (a .json file holds one resource or a Bundle)")
            return
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            self.report(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})")
            return
        problem = resource_problem(data)
        if problem:
            self.report(f"{path}: {problem}")
        elif data["resourceType"] == "Bundle":
            self._text = text
            yield from self._bundle(data, "")
        else:
            self.resources += 1
            yield data, None

    def _bundle(self, bundle: Resource, prefix: str) -> Iterator[tuple[Resource, Place]]:
        entries = bundle.get("entry")
        if entries is None:
            return
        if not isinstance(entries, list):
            where = self.where(prefix.strip() or None)
            self.report(f"{where}: Bundle entry must be an array, not {json_type(entries)}")
            return
        for i, entry in enumerate(entries):
            place = f"{prefix}entry {i}"
            if not isinstance(entry, dict):
                self.report(f"{self.where(place)}: must be an object, not {json_type(entry)}")
                continue
            full_url = entry.get("fullUrl")
            if full_url is not None and not isinstance(full_url, str):
                self.report(
                    f"{self.where(place)}: fullUrl must be a string, not {json_type(full_url)}"
                )
                continue
            res = entry.get("resource")
            if res is None:
                continue  # a request or response without a resource
            problem = resource_problem(res)
            if problem:
                self.report(f"{self.where(place)}: resource: {problem}")
                continue
            rid = res.get("id")
            if (rid is None or rid == "") and full_url and full_url.startswith("urn:uuid:"):
                res["id"] = full_url[len("urn:uuid:") :]  # transaction bundles may omit ids
            if res["resourceType"] == "Bundle":
                yield from self._bundle(res, place + " ")
            else:
                self.resources += 1
                yield res, place


def read(
    paths: str | Path | Iterable[str | Path],
    *,
    skip_invalid: bool = False,
    errors: list[str] | None = None,
) -> Iterator[tuple[Resource, str]]:
    """Yield ``(resource, where)`` for every resource under ``paths``.

    Files ending ``.ndjson``/``.jsonl`` hold one resource per line; ``.json`` files hold one
    resource or a Bundle (entries, nested Bundles included). Directories are walked
    recursively in name order. Unreadable input raises :class:`InvalidResource` (a
    ``UsageError``) naming file and line, or, with ``skip_invalid``, is appended to ``errors``.
    """
    found = errors if errors is not None else []

    def report(message: str) -> None:
        if not skip_invalid:
            raise InvalidResource(message)
        found.append(message)

    reader = Reader(paths, report)
    for res, place in reader:
        yield res, reader.where(place)
