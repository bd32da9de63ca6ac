"""Walking the language's trees: children, free row variables, value sets and parameters."""

from __future__ import annotations

from collections.abc import Iterator

from tandem.measures import lang_nodes as n

PATIENT_VAR = 0  # the var_id of ``language.patient``


def frame_steps(frame: n.Frame) -> list[n.Frame]:
    """The chain of a frame from its table to itself (table first)."""
    steps: list[n.Frame] = []
    f: n.Frame = frame
    while not isinstance(f, n.Table):
        steps.append(f)
        f = f.parent  # type: ignore[attr-defined]
    steps.append(f)
    return steps[::-1]


def frame_children(frame: n.Frame) -> Iterator[n.Expr]:
    for step in frame_steps(frame):
        if isinstance(step, n.Where):
            yield step.predicate
        elif isinstance(step, n.Annotate):
            yield from step.exprs.values()


def children(e: n.Expr) -> Iterator[n.Expr]:
    """Direct sub-expressions, including those inside an aggregate's frame."""
    if isinstance(e, n.BinOp):
        yield e.left
        yield e.right
    elif isinstance(e, n.Not | n.IsNull | n.In):
        yield e.arg
    elif isinstance(e, n.InValueSet):
        yield e.system
        yield e.code
    elif isinstance(e, n.Func):
        yield from e.args
    elif isinstance(e, n.AnyOf):
        yield from e.branches.values()
    elif isinstance(e, n.Exists | n.Count):
        yield from frame_children(e.frame)
    elif isinstance(e, n.Agg):
        yield from frame_children(e.frame)
        yield e.value
    elif isinstance(e, n.Pick):
        yield from frame_children(e.frame)
        yield from e.keys
        yield e.value
    elif isinstance(e, n.CoveredDays):
        for part in e.parts:
            yield from frame_children(part.frame)
            yield from (part.start, part.end)
        yield from (e.lo, e.hi)


def bound_vars(e: n.Expr) -> set[int]:
    """Row variables an aggregate binds (its frame's lambdas and its own)."""
    out: set[int] = set()
    for frame, row in sources(e):
        for step in frame_steps(frame):
            if isinstance(step, n.Where | n.Annotate):
                out.add(step.row.var_id)
        if row is not None:
            out.add(row.var_id)
    return out


def sources(e: n.Expr) -> list[tuple[n.Frame, n.Row | None]]:
    """The frames an aggregate reads, with the row variable of each (if any)."""
    if isinstance(e, n.CoveredDays):
        return [(part.frame, part.row) for part in e.parts]
    frame = getattr(e, "frame", None)
    return [] if frame is None else [(frame, getattr(e, "row", None))]


class Walker:
    """Memoised facts about nodes (free variables)."""

    def __init__(self) -> None:
        self._free: dict[int, frozenset[int]] = {}
        self._keep: list[n.Expr] = []  # keep nodes alive so ids stay unique

    def free_vars(self, e: n.Expr) -> frozenset[int]:
        key = id(e)
        if key in self._free:
            return self._free[key]
        if isinstance(e, n.Field):
            out = frozenset({e.row.var_id})
        else:
            acc: set[int] = set()
            for c in children(e):
                acc |= self.free_vars(c)
            if isinstance(e, n.AGGREGATES):
                acc -= bound_vars(e)
            out = frozenset(acc)
        self._free[key] = out
        self._keep.append(e)
        return out

    def is_patient_level(self, e: n.Expr) -> bool:
        return self.free_vars(e) <= {PATIENT_VAR}

    def frame_free_vars(self, frame: n.Frame) -> frozenset[int]:
        key = id(frame)
        if key not in self._free:
            acc: set[int] = set()
            own: set[int] = set()
            for step in frame_steps(frame):
                if isinstance(step, n.Where | n.Annotate):
                    own.add(step.row.var_id)
            for c in frame_children(frame):
                acc |= self.free_vars(c)
            self._free[key] = frozenset(acc - own)
            self._keep.append(frame)  # type: ignore[arg-type]
        return self._free[key]

    def is_patient_level_frame(self, frame: n.Frame) -> bool:
        return self.frame_free_vars(frame) <= {PATIENT_VAR}


def walk(e: n.Expr) -> Iterator[n.Expr]:
    """Every node under ``e`` (pre-order, may repeat shared nodes)."""
    seen: set[int] = set()
    stack = [e]
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        yield x
        stack.extend(children(x))


def valuesets_used(exprs: list[n.Expr]) -> set[str]:
    return {x.valueset for e in exprs for x in walk(e) if isinstance(x, n.InValueSet)}


def params_used(exprs: list[n.Expr]) -> dict[str, str]:
    return {x.name: x.dtype for e in exprs for x in walk(e) if isinstance(x, n.Param)}


def tables_used(exprs: list[n.Expr]) -> set[str]:
    """Analytic tables the expressions read (``patients`` is always read by the engines)."""
    out = {"patients"}
    for e in exprs:
        for x in walk(e):
            for frame, _ in sources(x):
                out.add(root_table(frame).table_name)
            if isinstance(x, n.Field):
                out.add(x.row.frame.table_name)
    return out


def root_table(frame: n.Frame) -> n.Table:
    return frame_steps(frame)[0]  # type: ignore[return-value]


Requirement = dict[int, n.Frame]
"""Frames (by ``id``) at least one of which has a row for the patient."""


def required_frames(e: n.Expr) -> list[Requirement]:
    """What boolean ``e`` needs to be true: each requirement is a set of frames, one of which
    must have a row for the patient. A frame is required by ``exists``, ``count >= k``
    (k >= 1), or a comparison or ``is_not_null`` of a picked row, ``min`` or ``max`` (null
    without rows); ``&`` needs what either side needs, ``|`` (and ``any_of``) a row in a
    frame that one side needs. Patients meeting none of a requirement can be left out."""
    if isinstance(e, n.BinOp) and e.op == "and":
        return _merge(required_frames(e.left) + required_frames(e.right))
    if isinstance(e, n.BinOp) and e.op == "or":
        return _either([e.left, e.right])
    if isinstance(e, n.AnyOf):
        return _either(list(e.branches.values()))
    return [{k: f} for k, f in _one_side(e).items()]


def _one_side(e: n.Expr) -> dict[int, n.Frame]:
    """Frames that must all have a row wherever ``e`` (not an ``&`` or ``|``) is true."""
    if isinstance(e, n.Exists):
        return {id(e.frame): e.frame}
    if isinstance(e, n.BinOp) and e.op in ("eq", "ne", "lt", "le", "gt", "ge"):
        out = {**_nonnull_frames(e.left), **_nonnull_frames(e.right)}
        for count, bound, op in ((e.left, e.right, e.op), (e.right, e.left, _flip(e.op))):
            if _counts_rows(count) and _at_least_one(op, bound):
                out[id(count.frame)] = count.frame  # type: ignore[attr-defined]
        return out
    if isinstance(e, n.Not) and isinstance(e.arg, n.IsNull):
        return _nonnull_frames(e.arg.arg)
    return {}


def _either(sides: list[n.Expr]) -> list[Requirement]:
    """``a | b | ...``: a row in a frame that one side requires. Requirement i of each side
    are united (groups built by one function list theirs in the same order)."""
    needs = [required_frames(side) for side in sides]
    out: list[Requirement] = []
    for i in range(min(len(x) for x in needs)):
        union: Requirement = {}
        for need in needs:
            union.update(need[i])
        out.append(union)
    return _merge(out)


def _merge(needs: list[Requirement]) -> list[Requirement]:
    """Requirements without repeats (``a | a`` of the same node, several groups' IPs)."""
    out: list[Requirement] = []
    for need in needs:
        if need not in out:
            out.append(need)
    return out


def _at_least_one(op: str, bound: n.Expr) -> bool:
    """``x <op> bound`` holds only for ``x >= 1`` (``>= k`` with k >= 1, ``> k`` with k >= 0)."""
    if not isinstance(bound, n.Lit) or bound.value is None:
        return False
    return (op == "ge" and bound.value >= 1) or (op == "gt" and bound.value >= 0)


def _flip(op: str) -> str:
    return {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}.get(op, op)


def _counts_rows(e: n.Expr) -> bool:
    return isinstance(e, n.Count) or (isinstance(e, n.Agg) and e.kind == "count_distinct")


def _nonnull_frames(e: n.Expr) -> dict[int, n.Frame]:
    """Frames that must have a row wherever ``e`` is not null."""
    if isinstance(e, n.Pick) or (isinstance(e, n.Agg) and e.kind in ("min", "max")):
        return {id(e.frame): e.frame}
    if isinstance(e, n.Func) and e.name not in ("coalesce", "case"):  # null in, null out
        out: dict[int, n.Frame] = {}
        for a in e.args:
            out.update(_nonnull_frames(a))
        return out
    if isinstance(e, n.BinOp) and e.op in ("add", "sub", "mul", "div"):
        return {**_nonnull_frames(e.left), **_nonnull_frames(e.right)}
    return {}


Key = tuple[object, ...]


def structural_key(e: n.Expr) -> Key:
    """A value equal for two trees that compute the same thing: the same node kinds,
    operators, literals, tables and value sets, with row variables bound inside ``e``
    numbered in the order they are bound (so ``exists(t.where(lambda r: r.x == 1))`` built
    twice has one key). Variables free in ``e`` keep their ids (the patient's is shared).
    Used to compute repeated patient-level aggregates once (a measure's strata and groups
    build the same tests again; the nodes compare by identity)."""
    env: dict[int, int] = {}
    memo: dict[int, Key] = {}

    def bind(row: n.Row) -> int:
        if row.var_id not in env:
            env[row.var_id] = len(env) + 1
        return env[row.var_id]

    def lit(value: object) -> Key:
        return (type(value).__name__, value)

    def frame_key(f: n.Frame) -> Key:
        if isinstance(f, n.Table):
            return ("table", f.table_name)
        if isinstance(f, n.Where):
            return ("where", frame_key(f.parent), bind(f.row), key(f.predicate))
        if isinstance(f, n.Annotate):
            row = bind(f.row)
            cols = tuple((name, key(x)) for name, x in f.exprs.items())
            return ("annotate", frame_key(f.parent), row, cols)
        raise TypeError(f"no structural key for frame {type(f).__name__}")

    def key(x: n.Expr) -> Key:  # noqa: C901 - one case per node kind
        if id(x) in memo:
            return memo[id(x)]
        out: Key
        if isinstance(x, n.Lit):
            out = ("lit", x.dtype, *lit(x.value))
        elif isinstance(x, n.Param):
            out = ("param", x.name, x.dtype)
        elif isinstance(x, n.Field):
            var = ("bound", env[x.row.var_id]) if x.row.var_id in env else ("free", x.row.var_id)
            out = ("field", var, x.name, x.dtype)
        elif isinstance(x, n.BinOp):
            out = ("binop", x.op, key(x.left), key(x.right))
        elif isinstance(x, n.Not):
            out = ("not", key(x.arg))
        elif isinstance(x, n.IsNull):
            out = ("isnull", key(x.arg))
        elif isinstance(x, n.In):
            out = ("in", key(x.arg), tuple(lit(v) for v in x.values))
        elif isinstance(x, n.InValueSet):
            out = ("valueset", x.valueset, key(x.system), key(x.code))
        elif isinstance(x, n.Func):
            out = ("func", x.name, x.dtype, tuple(key(a) for a in x.args))
        elif isinstance(x, n.AnyOf):
            out = ("anyof", tuple((name, key(b)) for name, b in x.branches.items()))
        elif isinstance(x, n.Exists | n.Count):
            out = (type(x).__name__, frame_key(x.frame))
        elif isinstance(x, n.Agg):
            out = ("agg", x.kind, x.dtype, frame_key(x.frame), bind(x.row), key(x.value))
        elif isinstance(x, n.Pick):
            picked = x.picked
            row = (frame_key(picked.frame), bind(picked.row))
            keys = tuple(key(k) for k in picked.keys)
            out = ("pick", row, picked.last, picked.nulls, keys, key(x.value))
        elif isinstance(x, n.CoveredDays):
            parts = tuple(
                (frame_key(p.frame), bind(p.row), key(p.start), key(p.end)) for p in x.parts
            )
            out = ("covered", parts, key(x.lo), key(x.hi))
        else:
            raise TypeError(f"no structural key for {type(x).__name__}")
        memo[id(x)] = out
        return out

    return key(e)
