"""Property: whatever JSON value stands in any element of a valid resource, the loader either
loads it (into tables that keep the contract) or refuses it with its own error, located and in
words — never another exception, never Python's words, never the catch-all message that means
a check is missing.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.importers.fhir import InvalidInput, load_fhir
from tandem.measures import schema

from . import builders as b

INTERNALS = re.compile(r"Error\b|object has no attribute|unhashable|NoneType|unexpected shape")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "x", "2025", "2025-02-30", "Patient/1", "p1", "final", "9999-12-31"])
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["code", "value", "reference", "start", "x"]), children)
    ),
    max_leaves=6,
)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every element path of a resource (keys and list indexes), outermost first."""
    out = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        if prefix == () and key == "resourceType":
            continue
        out.append((*prefix, key))
        if isinstance(child, dict | list):
            out.extend(paths(child, (*prefix, key)))
    return out


def mutate(res: dict[str, Any], path: tuple, value: Any, drop: bool) -> None:
    target: Any = res
    for key in path[:-1]:
        target = target[key]
    if drop and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = value


@st.composite
def mutated_resources(draw: st.DrawFn) -> dict[str, Any]:
    res = draw(st.sampled_from(b.EVERY_TYPE + b.RICH))()
    path = draw(st.sampled_from(paths(res)))
    mutate(res, path, draw(json_values), draw(st.booleans()))
    return res


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(res=mutated_resources())
def test_a_mutated_resource_loads_or_is_refused_in_words(res):
    with tempfile.TemporaryDirectory() as tmp:
        path = b.ndjson(Path(tmp) / "d.ndjson", b.patient(id="anchor"), res)
        try:
            result = load_fhir(path)
        except InvalidInput as exc:
            message = str(exc)
            assert message.startswith(f"{path}:2: "), message
            assert "\n" not in message and not INTERNALS.search(message), message
            return
    for name, table in result.tables.items():
        assert table.schema == schema.arrow_schema(name)


@pytest.mark.parametrize("build", b.EVERY_TYPE + b.RICH, ids=lambda f: f.__name__)
def test_every_element_of_every_type_with_every_wrong_type_is_handled(build, tmp_path):
    """The exhaustive small version: each element replaced by a value of each JSON type."""
    wrong = [None, True, 7, 2.5, "x", [], ["x"], {}, {"x": 1}]
    for path in paths(build()):
        for value in wrong:
            res = build()
            mutate(res, path, value, drop=False)
            file = b.ndjson(tmp_path / "d.ndjson", b.patient(id="anchor"), res)
            try:
                load_fhir(file)
            except InvalidInput as exc:
                assert not INTERNALS.search(str(exc)), (path, value, str(exc))
