"""Every engine agrees with the in-memory oracle on random tables and random queries.

Tables: a handful of patients (birthdays near 29 February and month ends), encounters,
observations, conditions and dispensings with dates clustered around period and month
boundaries. Queries: drawn from a small grammar of frames (filters by code, value set, status,
value and date relations, including correlation with an outer row) and aggregations.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.measures import language as q
from tandem.measures.evaluation import run_outputs
from tests.measures.conftest import PERIOD, make_tables

SQL_ENGINES = ["duckdb", "sqlite", "postgres"]
EXAMPLES = int(os.environ.get("TANDEM_AGREE_EXAMPLES", "25"))
VALUESETS = {"vs-a": frozenset({("sys", "A"), ("sys", "B")}), "vs-b": frozenset({("sys", "C")})}

BASE = dt.date(2024, 12, 1)
SPECIAL = [dt.date(2024, 2, 29), dt.date(2025, 1, 31), dt.date(2024, 12, 31), dt.date(2025, 12, 31)]

dates = st.one_of(
    st.integers(min_value=-400, max_value=420).map(lambda n: BASE + dt.timedelta(days=n)),
    st.sampled_from(SPECIAL),
)
timestamps = st.builds(
    lambda d, h, m: dt.datetime.combine(d, dt.time(h, m)),
    dates,
    st.sampled_from([0, 9, 23]),
    st.sampled_from([0, 30, 59]),
)
codes = st.sampled_from(["A", "B", "C", "D"])
statuses = st.sampled_from(["finished", "final", "cancelled", None])
values = st.one_of(st.none(), st.integers(min_value=0, max_value=27).map(float))
PIDS = ["p1", "p2", "p3", "p4"]
pids = st.sampled_from(PIDS)


@st.composite
def tables(draw: Any) -> dict[str, Any]:
    births = [dt.date(2008, 2, 29), dt.date(2010, 3, 1), dt.date(1990, 1, 31), None]
    patients = [
        {
            "patient_id": p,
            "birth_date": draw(st.sampled_from(births)),
            "sex": draw(st.sampled_from(["female", "male", None])),
        }
        for p in PIDS
    ]

    def rows(n_max: int, build: Any) -> list[dict[str, Any]]:
        return [build(i) for i in range(draw(st.integers(min_value=0, max_value=n_max)))]

    def encounter(i: int) -> dict[str, Any]:
        start = draw(timestamps)
        return {
            "encounter_id": f"e{i}",
            "patient_id": draw(pids),
            "status": draw(statuses),
            "system": "sys",
            "code": draw(codes),
            "start": start,
            "end": start + dt.timedelta(hours=draw(st.sampled_from([0, 1, 30]))),
        }

    def observation(i: int) -> dict[str, Any]:
        return {
            "observation_id": f"o{i // 2}",
            "patient_id": draw(pids),
            "status": draw(statuses),
            "system": "sys",
            "code": draw(codes),
            "effective_start": draw(st.one_of(st.none(), timestamps)),
            "value_num": draw(values),
        }

    def condition(i: int) -> dict[str, Any]:
        return {
            "condition_id": f"c{i}",
            "patient_id": draw(pids),
            "system": "sys",
            "code": draw(codes),
            "onset": draw(st.one_of(st.none(), timestamps)),
            "abatement": draw(st.one_of(st.none(), timestamps)),
        }

    def dispense(i: int) -> dict[str, Any]:
        return {
            "dispense_id": f"d{i}",
            "patient_id": draw(pids),
            "status": "completed",
            "system": "sys",
            "code": draw(codes),
            "when_handed_over": draw(timestamps),
            "days_supply": draw(st.one_of(st.none(), st.integers(min_value=1, max_value=90))),
        }

    return make_tables(
        patients=patients,
        encounters=rows(6, encounter),
        observations=rows(8, observation),
        conditions=rows(3, condition),
        medication_dispenses=rows(5, dispense),
    )


ENC = q.table("encounters")
OBS = q.table("observations")
COND = q.table("conditions")
DISP = q.table("medication_dispenses")


def row_filter(draw: Any, frame: q.Frame, time_col: str, anchor: q.Expr | None) -> q.Frame:
    """One random filter on a frame; ``anchor`` is an outer date to relate to, if any."""
    kind = draw(st.sampled_from(["code", "vs", "status", "value", "time", "time", "none"]))
    if kind == "code":
        c = draw(codes)
        return frame.where(lambda r: r.code == c)
    if kind == "vs":
        vs = draw(st.sampled_from(sorted(VALUESETS)))
        return frame.where(lambda r: r.code_in(vs))
    if kind == "status" and "status" in frame.columns:
        s = draw(st.sampled_from(["finished", "final"]))
        return frame.where(lambda r: r.status == s)
    if kind == "value" and "value_num" in frame.columns:
        k = draw(st.integers(min_value=0, max_value=27))
        return frame.where(lambda r: r.value_num > k)
    if kind == "time":
        ref = (
            anchor if anchor is not None else q.period_start.add_months(draw(st.integers(-13, 13)))
        )
        n = draw(st.integers(min_value=0, max_value=60))
        rel = draw(st.sampled_from(["before", "after", "after_excl", "of", "lt"]))
        if rel == "before":
            return frame.where(lambda r: q.days_or_less_before(r.col(time_col), ref, n))
        if rel == "after":
            return frame.where(lambda r: q.within_days_after(r.col(time_col), ref, n))
        if rel == "after_excl":
            return frame.where(
                lambda r: q.within_days_after(r.col(time_col), ref, n, same_day=False)
            )
        if rel == "of":
            return frame.where(lambda r: q.within_days_of(r.col(time_col), ref, n))
        return frame.where(lambda r: r.col(time_col) < ref)
    return frame


FRAMES = [(ENC, "start"), (OBS, "effective_start"), (DISP, "when_handed_over")]


def aggregate(draw: Any, frame: q.Frame, time_col: str) -> q.Expr:
    kind = draw(
        st.sampled_from(["exists", "count", "distinct", "min", "max", "first", "last", "sum"])
    )
    if kind == "exists":
        return frame.exists()
    if kind == "count":
        return frame.count()
    if kind == "distinct":
        return frame.count_distinct(lambda r: r.col(time_col).date)
    if kind in ("min", "max"):
        fn = frame.min if kind == "min" else frame.max
        return fn(lambda r: r.col(time_col).date)
    if kind == "sum" and "value_num" in frame.columns:
        return frame.sum(lambda r: r.value_num)
    picked = (
        frame.first_by(lambda r: r.col(time_col))
        if kind == "first"
        else frame.last_by(lambda r: r.col(time_col))
    )
    field = draw(st.sampled_from(["id", "code", time_col]))
    return picked.get(lambda r: r.col(field))


@st.composite
def queries(draw: Any, *, nested: bool = True) -> dict[str, q.Expr]:
    """Random outputs; ``nested``: also a correlated value read inside a further correlated
    frame (two query levels, which Spark SQL cannot resolve: not drawn for Spark)."""
    out: dict[str, q.Expr] = {}
    for i in range(3):
        frame, tcol = draw(st.sampled_from(FRAMES))
        for _ in range(draw(st.integers(0, 2))):
            frame = row_filter(draw, frame, tcol, None)
        out[f"agg{i}"] = aggregate(draw, frame, tcol)
    # correlation: per encounter, an aggregate over observations related to its start
    inner, icol = draw(st.sampled_from(FRAMES[1:]))
    n = draw(st.integers(0, 30))
    rel = draw(st.sampled_from(["before", "after"]))

    def related(e: Any) -> q.Frame:
        if rel == "before":
            return inner.where(lambda o: q.days_or_less_before(o.col(icol), e.start, n))
        return inner.where(lambda o: q.within_days_after(o.col(icol), e.end, n, same_day=False))

    annotated = ENC.with_columns(
        hit=lambda e: related(e).exists(),
        last_id=lambda e: related(e).last_by(lambda o: o.col(icol)).id,
        n_rel=lambda e: related(e).count(),
        days_rel=lambda e: related(e).count_distinct(lambda o: o.col(icol).date),
        first_rel=lambda e: related(e).min(lambda o: o.col(icol)),
    )
    out["corr_count"] = annotated.where(lambda e: e.hit).count()
    out["corr_last"] = annotated.last_by(lambda e: e.start).last_id
    out["corr_n"] = annotated.where(lambda e: e.n_rel >= draw(st.integers(1, 2))).count()
    out["corr_days"] = annotated.sum(lambda e: e.days_rel)
    out["corr_first"] = annotated.max(lambda e: e.first_rel)
    if nested:  # encounters starting within n days after an encounter's first related row
        out["corr_nested"] = annotated.where(
            lambda e: ENC.where(
                lambda f: (
                    (f.encounter_id != e.encounter_id)
                    & q.within_days_after(f.start, e.first_rel, n)
                )
            ).exists()
        ).count()
    # derived patient date used in later filters, month arithmetic and ages
    first = ENC.min(lambda e: e.start.date)
    months = draw(st.integers(-14, 14))
    out["derived"] = OBS.where(
        lambda o: o.effective_start.date.between(first, first.add_months(months))
    ).count()
    out["shifted"] = first.add_months(months)
    out["age"] = q.patient_age_on(first.if_null(q.period_end))
    lo = first.if_null(q.period_start)
    out["covered"] = DISP.covered_days(
        lambda d: d.when_handed_over,
        lambda d: d.when_handed_over.date.add_days(d.days_supply - 1),
        within=(lo, lo.add_days(draw(st.integers(0, 200)))),
    )
    out["covered_two"] = q.covered_days(
        (
            DISP,
            lambda d: d.when_handed_over,
            lambda d: d.when_handed_over.date.add_days(d.days_supply),
        ),
        (ENC, lambda e: e.start, lambda e: e.end),
        within=(q.period_start, q.period_end),
    )
    # an episode-based group: criteria per encounter, the hierarchy per episode, counts
    threshold = draw(st.integers(1, 2))
    episodes = q.Group(
        id="episodes",
        basis="Encounter",
        episodes=row_filter(draw, ENC, "start", None),
        populations={
            "initial-population": lambda e: e.status == "finished",
            "denominator-exclusion": lambda e: q.any_of(
                related=related(e).count() > threshold, early=e.start.date < q.period_start
            ),
            "numerator": lambda e: related(e).exists(),
            "denominator-exception": OBS.exists(),  # patient-level: every episode
        },
    )
    out.update(episodes.outputs())
    nulls = draw(st.sampled_from(["skip", "first", "last"]))
    out["nulls"] = OBS.last_by(lambda o: o.value_num, nulls=nulls).id
    out["rounded"] = OBS.sum(lambda o: q.floor(o.value_num / 4) + q.ceil(o.value_num / 3))
    out["overlap"] = COND.where(
        lambda c: q.overlaps(c.onset, c.abatement, q.period_start, q.period_end)
    ).exists()
    return out


@pytest.fixture(params=SQL_ENGINES)
def sql_engine(request: pytest.FixtureRequest) -> tuple[str, Any]:
    if request.param == "postgres":
        return "postgres", request.getfixturevalue("postgres_connection")
    return request.param, None


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=tables(), query=queries())
def test_sql_engines_agree_with_the_in_memory_oracle(
    sql_engine: tuple[str, Any], data: Any, query: Any
) -> None:
    name, connection = sql_engine
    expected = run_outputs(query, data, VALUESETS, engine="memory", period=PERIOD)
    actual = run_outputs(query, data, VALUESETS, engine=name, period=PERIOD, connection=connection)
    assert actual == expected


SPARK_EXAMPLES = int(os.environ.get("TANDEM_AGREE_SPARK_EXAMPLES", "4"))


@pytest.mark.spark
@settings(max_examples=SPARK_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=tables(), query=queries(nested=False))
def test_spark_agrees_with_the_in_memory_oracle(spark_session: Any, data: Any, query: Any) -> None:
    expected = run_outputs(query, data, VALUESETS, engine="memory", period=PERIOD)
    actual = run_outputs(
        query, data, VALUESETS, engine="spark", period=PERIOD, connection=spark_session
    )
    assert actual == expected
