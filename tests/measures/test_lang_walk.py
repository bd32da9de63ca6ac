"""``lang_walk.required_frames``: the frames a population cannot hold without (the SQL
engines compute a population only for patients with a row in them)."""

from __future__ import annotations

from tandem.measures import language as q
from tandem.measures.lang_walk import required_frames

ENC = q.table("encounters").status_in("finished")
OBS = q.table("observations").status_in("final")
CONDS = q.table("conditions")


def required(e: q.Expr) -> set[int]:
    """The frames required one by one (requirements of a single frame)."""
    return {k for need in required_frames(e) if len(need) == 1 for k in need}


def either(e: q.Expr) -> list[set[int]]:
    return [set(need) for need in required_frames(e)]


def test_exists_counts_and_non_null_values_require_their_frame() -> None:
    last = OBS.last_by(lambda o: o.effective_start)
    assert required(ENC.exists()) == {id(ENC)}
    assert required(ENC.count() >= 2) == {id(ENC)}
    assert required(ENC.count() > 0) == {id(ENC)}
    assert required(q.lit(1) <= ENC.count()) == {id(ENC)}
    assert required(ENC.count_distinct(lambda e: e.start.date) >= 1) == {id(ENC)}
    assert required(last.value_num > 9) == {id(OBS)}
    assert required(last.value_num.is_not_null()) == {id(OBS)}
    assert required(ENC.min(lambda e: e.start.date).add_days(30) <= q.period_end) == {id(ENC)}


def test_what_a_patient_without_rows_can_satisfy_requires_nothing() -> None:
    assert required(ENC.count() >= 0) == set()
    assert required(ENC.count() < 2) == set()
    assert required(~ENC.exists()) == set()
    assert required(OBS.last_by(lambda o: o.effective_start).value_num.is_null()) == set()
    assert required(ENC.min(lambda e: e.start.date).if_null(q.period_start) <= q.period_end) == (
        set()
    )
    assert required(q.patient_age_on(q.period_end) >= 18) == set()


def test_and_requires_both_sides_or_a_row_in_a_frame_one_side_requires() -> None:
    both = ENC.exists() & CONDS.exists()
    assert either(both) == [{id(ENC)}, {id(CONDS)}]
    assert either(ENC.exists() | CONDS.exists()) == [{id(ENC), id(CONDS)}]
    assert either(both | OBS.exists()) == [{id(ENC), id(OBS)}]
    assert either(ENC.exists() | (q.patient_age_on(q.period_end) >= 18)) == []
    assert either(q.any_of(a=ENC.exists(), b=OBS.count() >= 2)) == [{id(ENC), id(OBS)}]
    same = ENC.exists() & (q.patient_age_on(q.period_end) >= 18)
    assert either(same | same) == [{id(ENC)}]
    # two groups of one shape: their first requirements together, then their second
    visits = [ENC.where(lambda e, y=y: e.start.year == y) for y in (2024, 2025)]
    groups = [v.exists() & CONDS.exists() for v in visits]
    assert either(groups[0] | groups[1]) == [{id(visits[0]), id(visits[1])}, {id(CONDS)}]
