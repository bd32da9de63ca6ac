"""Episode-based population groups (FHIR ``populationBasis`` other than ``boolean``).

In an episode-based measure (CMS68, CMS177: ``populationBasis`` "Encounter") each population
is a set of episodes — encounters — and a patient counts once per qualifying episode. A group
gives the candidate episodes as a frame and each population's criterion as a lambda over the
episode row (or a patient-level boolean, true for all the patient's episodes). This module
turns that into ordinary patient-level integer expressions of the language, so every engine
evaluates it without knowing about episodes:

1. the episodes frame gets one boolean column per criterion (null counting as false), computed
   once per episode row;
2. the proportion hierarchy is applied **per episode**, as fqm-execution and the CQL engines
   do for an episode-based measure (an episode is in the numerator only if it is in the
   denominator and not excluded, etc.);
3. each population's value is the number of distinct episodes (``Frame.count``: distinct ids,
   so several codings of one encounter count once) in it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tandem.measures.lang_frames import Frame, Row
from tandem.measures.lang_nodes import AnyOf, Expr, lift

Criterion = Expr | Callable[[Row], Expr]

_IP, _DENOM, _DENEX, _DENEXCEP, _NUMER, _NUMEX = (
    "initial-population",
    "denominator",
    "denominator-exclusion",
    "denominator-exception",
    "numerator",
    "numerator-exclusion",
)


def flag_column(code: str, branch: str | None = None) -> str:
    """The episode frame's column holding a criterion (or one ``any_of`` branch of it)."""
    name = "pop_" + code.replace("-", "_")
    return name if branch is None else f"{name}__{branch}"


def _criterion(code: str, value: Criterion, row: Row) -> Expr:
    expr = value(row) if callable(value) and not isinstance(value, Expr) else value
    expr = lift(expr)
    if expr.dtype != "bool":
        raise TypeError(f"population {code!r} must be boolean per episode, got {expr.dtype}")
    return expr


def flagged_episodes(
    episodes: Frame, populations: Mapping[str, Criterion]
) -> tuple[Frame, dict[str, list[str]]]:
    """``episodes`` with a boolean column per criterion and per ``any_of`` branch; returns
    the frame and, per population code, the names of its branches (exclusion reasons)."""
    reasons: dict[str, list[str]] = {}
    columns: dict[str, Callable[[Row], Any]] = {}
    probe = Row(episodes)
    for code, value in populations.items():
        expr = _criterion(code, value, probe)  # type check once, with a throwaway row

        def column(r: Row, code: str = code, value: Criterion = value) -> Expr:
            return _criterion(code, value, r).if_null(False)

        columns[flag_column(code)] = column
        if isinstance(expr, AnyOf):
            reasons[code] = list(expr.branches)
            for name in expr.branches:

                def branch(
                    r: Row, code: str = code, value: Criterion = value, name: str = name
                ) -> Expr:
                    crit = _criterion(code, value, r)
                    assert isinstance(crit, AnyOf)
                    return crit.branches[name].if_null(False)

                columns[flag_column(code, name)] = branch
    return episodes.with_columns(**columns), reasons


def hierarchy(row: Row, given: set[str]) -> dict[str, Expr]:
    """Each population's membership of one episode row of the flagged frame (FHIR proportion
    scoring, per episode). A missing denominator criterion means "= initial population"."""

    def flag(code: str, default: bool) -> Expr:
        return row.col(flag_column(code)) if code in given else lift(default)

    ip = flag(_IP, True)
    denom = ip & flag(_DENOM, True)
    denex = denom & flag(_DENEX, False)
    numer = denom & ~denex & flag(_NUMER, False)
    numex = numer & flag(_NUMEX, False)
    denexcep = denom & ~denex & ~numer & flag(_DENEXCEP, False)
    return {
        _IP: ip,
        _DENOM: denom,
        _DENEX: denex,
        _DENEXCEP: denexcep,
        _NUMER: numer,
        _NUMEX: numex,
    }


def episode_outputs(
    group_id: str,
    episodes: Frame,
    populations: Mapping[str, Criterion],
    codes: list[str],
) -> dict[str, Expr]:
    """The group's patient-level outputs: ``<group>|<code>`` = episodes counted in the
    population (an int); ``<group>|<code>|reason|<name>`` = some episode of the population has
    that ``any_of`` branch true (a bool)."""
    flagged, reasons = flagged_episodes(episodes, populations)
    given = set(populations)
    out: dict[str, Expr] = {}
    for code in codes:

        def member(r: Row, code: str = code) -> Expr:
            return hierarchy(r, given)[code]

        out[f"{group_id}|{code}"] = flagged.where(member).count()
        for name in reasons.get(code, ()):

            def because(r: Row, code: str = code, name: str = name) -> Expr:
                return hierarchy(r, given)[code] & r.col(flag_column(code, name))

            out[f"{group_id}|{code}|reason|{name}"] = flagged.where(because).exists()
    return out
