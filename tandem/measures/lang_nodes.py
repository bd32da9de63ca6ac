"""The nodes of the measure language: typed, immutable expression and frame trees.

Users build these through :mod:`tandem.measures.language`; engines walk them. Every node is
compared by identity (``==`` builds an expression), so engines memoise on ``id(node)``.

Types (``dtype``): ``bool``, ``int``, ``float``, ``str``, ``date``, ``timestamp``. Null is a
value of every type and follows SQL three-valued logic (see ``docs/measures/language.md``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

DTYPES = ("bool", "int", "float", "str", "date", "timestamp")
NUMERIC = ("int", "float")
TEMPORAL = ("date", "timestamp")


def arrow_dtype(typ: pa.DataType) -> str:
    """The language type of an Arrow column type."""
    if pa.types.is_boolean(typ):
        return "bool"
    if pa.types.is_integer(typ):
        return "int"
    if pa.types.is_floating(typ):
        return "float"
    if pa.types.is_date(typ):
        return "date"
    if pa.types.is_timestamp(typ):
        return "timestamp"
    return "str"


def literal_dtype(value: Any) -> str:
    """The language type of a Python literal."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dt.datetime):
        return "timestamp"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, str):
        return "str"
    raise TypeError(f"unsupported literal {value!r} ({type(value).__name__})")


def lift(value: Any) -> Expr:
    """Turn a Python value into an expression (expressions pass through)."""
    if isinstance(value, Expr):
        return value
    if value is None:
        raise TypeError("use q.null(dtype) for a typed null literal")
    return Lit(value, literal_dtype(value))


class Expr:
    """A value per patient (or per row of a frame). Operators build new expressions."""

    dtype: str = "str"

    __hash__ = object.__hash__

    def _bin(self, op: str, other: Any, swap: bool = False) -> Expr:
        o = lift(other)
        return BinOp(op, o, self) if swap else BinOp(op, self, o)

    def __eq__(self, other: Any) -> Expr:  # type: ignore[override]
        return self._bin("eq", other)

    def __ne__(self, other: Any) -> Expr:  # type: ignore[override]
        return self._bin("ne", other)

    def __lt__(self, other: Any) -> Expr:
        return self._bin("lt", other)

    def __le__(self, other: Any) -> Expr:
        return self._bin("le", other)

    def __gt__(self, other: Any) -> Expr:
        return self._bin("gt", other)

    def __ge__(self, other: Any) -> Expr:
        return self._bin("ge", other)

    def __and__(self, other: Any) -> Expr:
        return self._bin("and", other)

    def __rand__(self, other: Any) -> Expr:
        return self._bin("and", other, swap=True)

    def __or__(self, other: Any) -> Expr:
        return self._bin("or", other)

    def __ror__(self, other: Any) -> Expr:
        return self._bin("or", other, swap=True)

    def __invert__(self) -> Expr:
        return Not(self)

    def __neg__(self) -> Expr:
        return BinOp("sub", Lit(0, "int"), self)

    def __add__(self, other: Any) -> Expr:
        return self._bin("add", other)

    def __radd__(self, other: Any) -> Expr:
        return self._bin("add", other, swap=True)

    def __sub__(self, other: Any) -> Expr:
        return self._bin("sub", other)

    def __rsub__(self, other: Any) -> Expr:
        return self._bin("sub", other, swap=True)

    def __mul__(self, other: Any) -> Expr:
        return self._bin("mul", other)

    def __rmul__(self, other: Any) -> Expr:
        return self._bin("mul", other, swap=True)

    def __truediv__(self, other: Any) -> Expr:
        return self._bin("div", other)

    def __bool__(self) -> bool:
        raise TypeError(
            "a measure expression has no truth value in Python: use & | ~ instead of and/or/not"
        )

    # --- null and membership -------------------------------------------------------------
    def is_null(self) -> Expr:
        return IsNull(self)

    def is_not_null(self) -> Expr:
        return Not(IsNull(self))

    def isin(self, values: Iterable[Any]) -> Expr:
        """True when the value is one of ``values`` (literals); null stays null."""
        vals = tuple(values)
        return In(self, vals)

    def between(self, low: Any, high: Any) -> Expr:
        """``low <= self <= high`` (both ends included)."""
        return (self >= low) & (self <= high)

    def to_int(self) -> Expr:
        """A number without its fraction, towards zero (``q.trunc``)."""
        return Func("trunc", (self,))

    def if_null(self, default: Any) -> Expr:
        return Func("coalesce", (self, lift(default)))

    # --- dates ---------------------------------------------------------------------------
    @property
    def date(self) -> Expr:
        """The calendar date of a timestamp (a date stays itself)."""
        if self.dtype == "date":
            return self
        return Func("to_date", (self,))

    @property
    def year(self) -> Expr:
        return Func("year", (self,))

    @property
    def month(self) -> Expr:
        return Func("month", (self,))

    @property
    def day(self) -> Expr:
        return Func("day", (self,))

    def add_days(self, n: Any) -> Expr:
        return Func("add_days", (self, lift(n)))

    def add_months(self, n: Any) -> Expr:
        """Calendar months; a day past the target month's end clamps to its last day."""
        return Func("add_months", (self, lift(n)))

    def add_years(self, n: Any) -> Expr:
        """Calendar years (= 12 months): 29 February + 1 year is 28 February."""
        return Func("add_months", (self, lift(n) * 12))

    def days_until(self, other: Any) -> Expr:
        """Whole calendar days from this date to ``other`` (negative if ``other`` is earlier)."""
        return Func("days_between", (self, lift(other)))


class Lit(Expr):
    def __init__(self, value: Any, dtype: str) -> None:
        self.value = value
        self.dtype = dtype


class Param(Expr):
    """A measure parameter, bound at evaluation time (``period_start``, thresholds...)."""

    def __init__(self, name: str, dtype: str) -> None:
        assert dtype in DTYPES, dtype
        self.name = name
        self.dtype = dtype


_COMPARE = ("eq", "ne", "lt", "le", "gt", "ge")
_ARITH = ("add", "sub", "mul", "div")


def _unify(op: str, a: str, b: str) -> str:
    if a == b:
        return a
    if a in NUMERIC and b in NUMERIC:
        return "float"
    if a in TEMPORAL and b in TEMPORAL and op in _COMPARE:
        return "timestamp"  # a date compares as midnight of that day
    raise TypeError(f"cannot apply {op!r} to {a} and {b}")


class BinOp(Expr):
    def __init__(self, op: str, left: Expr, right: Expr) -> None:
        self.op, self.left, self.right = op, left, right
        if op in ("and", "or"):
            if left.dtype != "bool" or right.dtype != "bool":
                raise TypeError(f"{op!r} needs two booleans, got {left.dtype} and {right.dtype}")
            self.dtype = "bool"
            self.operand_dtype = "bool"
        elif op in _COMPARE:
            self.operand_dtype = _unify(op, left.dtype, right.dtype)
            self.dtype = "bool"
        elif op in _ARITH:
            if left.dtype not in NUMERIC or right.dtype not in NUMERIC:
                raise TypeError(
                    f"{op!r} needs numbers, got {left.dtype} and {right.dtype}; "
                    "use add_days / days_until for dates"
                )
            self.dtype = "float" if op == "div" else _unify(op, left.dtype, right.dtype)
            self.operand_dtype = self.dtype
        else:
            raise ValueError(op)


class Not(Expr):
    dtype = "bool"

    def __init__(self, arg: Expr) -> None:
        if arg.dtype != "bool":
            raise TypeError(f"~ needs a boolean, got {arg.dtype}")
        self.arg = arg


class IsNull(Expr):
    dtype = "bool"

    def __init__(self, arg: Expr) -> None:
        self.arg = arg


class In(Expr):
    dtype = "bool"

    def __init__(self, arg: Expr, values: tuple[Any, ...]) -> None:
        for v in values:
            if isinstance(v, Expr) or v is None:
                raise TypeError("isin takes literal values")
        self.arg, self.values = arg, values


class InValueSet(Expr):
    """``(system, code)`` is in the value set ``valueset`` (id, OID or canonical URL)."""

    dtype = "bool"

    def __init__(self, system: Expr, code: Expr, valueset: str) -> None:
        self.system, self.code, self.valueset = system, code, valueset


_FUNC_TYPES: dict[str, Callable[[tuple[Expr, ...]], str]] = {
    "to_date": lambda a: "date",
    "to_timestamp": lambda a: "timestamp",
    "year": lambda a: "int",
    "month": lambda a: "int",
    "day": lambda a: "int",
    "add_days": lambda a: a[0].dtype,
    "add_months": lambda a: a[0].dtype,
    "days_between": lambda a: "int",
    "age_years": lambda a: "int",
    "make_date": lambda a: "date",
    "coalesce": lambda a: a[0].dtype,
    "greatest": lambda a: a[0].dtype,
    "least": lambda a: a[0].dtype,
    "abs": lambda a: a[0].dtype,
    "floor": lambda a: "int",
    "ceil": lambda a: "int",
    "trunc": lambda a: "int",
    "case": lambda a: a[1].dtype,
}


class Func(Expr):
    """A scalar function; the engines implement each name (date rules in ``dialects``)."""

    def __init__(self, name: str, args: tuple[Expr, ...]) -> None:
        self.name, self.args = name, args
        dated = ("add_days", "add_months", "days_between", "age_years", "year", "month", "day")
        if name in dated and args[0].dtype not in TEMPORAL:
            raise TypeError(f"{name} needs a date or timestamp, got {args[0].dtype}")
        if name in ("floor", "ceil", "trunc") and args[0].dtype not in NUMERIC:
            raise TypeError(f"{name} needs a number, got {args[0].dtype}")
        if name in ("add_days", "add_months") and args[1].dtype != "int":
            raise TypeError(f"{name} needs a whole number, got {args[1].dtype}")
        if name in ("days_between", "age_years") and args[1].dtype not in TEMPORAL:
            raise TypeError(f"{name} needs a date or timestamp, got {args[1].dtype}")
        if name in ("coalesce", "greatest", "least"):
            kinds = {a.dtype for a in args}
            if len(kinds) > 1 and not kinds <= set(NUMERIC):
                raise TypeError(f"{name} needs one type, got {sorted(kinds)}")
        if name == "case" and (args[0].dtype != "bool" or args[1].dtype != args[2].dtype):
            raise TypeError("when(cond, then, else): cond is boolean and both branches agree")
        self.dtype = _FUNC_TYPES[name](args)
        if name in ("coalesce", "greatest", "least") and {a.dtype for a in args} == set(NUMERIC):
            self.dtype = "float"


class AnyOf(Expr):
    """OR of named criteria; results report which names were true (exclusion reasons)."""

    dtype = "bool"

    def __init__(self, branches: dict[str, Expr]) -> None:
        for name, e in branches.items():
            if e.dtype != "bool":
                raise TypeError(f"any_of branch {name!r} is {e.dtype}, not bool")
        self.branches = dict(branches)


class Field(Expr):
    """A column of a row variable (``row`` is a ``lang_frames.Row``)."""

    def __init__(self, row: Row, name: str, dtype: str) -> None:
        self.row, self.name, self.dtype = row, name, dtype


# Rows, frames and aggregates live in ``lang_frames``; they are re-exported lazily (PEP 562) so
# engines can use one namespace (``lang_nodes as n``) without a circular import.
_FRAME_NAMES = (
    "AGGREGATES",
    "Agg",
    "Annotate",
    "CoveredDays",
    "CoveredPart",
    "Count",
    "Exists",
    "Frame",
    "Pick",
    "Picked",
    "Row",
    "Table",
    "Where",
    "root_table",
)

if TYPE_CHECKING:
    from tandem.measures.lang_frames import (
        AGGREGATES,
        Agg,
        Annotate,
        Count,
        CoveredDays,
        CoveredPart,
        Exists,
        Frame,
        Pick,
        Picked,
        Row,
        Table,
        Where,
        root_table,
    )


def __getattr__(name: str) -> Any:
    if name in _FRAME_NAMES:
        from tandem.measures import lang_frames

        value = getattr(lang_frames, name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AGGREGATES",
    "Agg",
    "Annotate",
    "AnyOf",
    "BinOp",
    "CoveredDays",
    "CoveredPart",
    "Count",
    "Exists",
    "Expr",
    "Field",
    "Frame",
    "Func",
    "In",
    "InValueSet",
    "IsNull",
    "Lit",
    "Not",
    "Param",
    "Pick",
    "Picked",
    "Row",
    "Table",
    "Where",
    "arrow_dtype",
    "lift",
    "literal_dtype",
    "root_table",
]
