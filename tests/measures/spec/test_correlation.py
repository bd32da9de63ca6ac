"""Events related to other events of the same patient (correlated aggregation).

These are the shapes the CMS eCQMs need: CMS2 (screening before an encounter, follow-up after
it), CMS159 (index assessment inside a depression encounter, then a window from its date),
CMS165 (lowest readings on the most recent day).
"""

from __future__ import annotations

import datetime as dt

from tandem.measures import language as q
from tests.measures.conftest import make_tables

LOINC = "http://loinc.org"
ENC = q.table("encounters").status_in("finished")
OBS = q.table("observations").status_in("final")


def ts(y: int, m: int, d: int, h: int = 10) -> dt.datetime:
    return dt.datetime(y, m, d, h)


def visit(pid: str, start: dt.datetime, end: dt.datetime | None = None, **extra):
    return {"patient_id": pid, "status": "finished", "start": start, "end": end or start, **extra}


def screen(pid: str, when: dt.datetime, result: str, **extra):
    return {
        "patient_id": pid,
        "status": "final",
        "system": LOINC,
        "code": "73832-8",
        "effective_start": when,
        "value_code": result,
        **extra,
    }


def most_recent_screen(e):
    """For an encounter row: the latest screening 14 days or less on or before its start."""
    return OBS.where(lambda o: q.days_or_less_before(o.effective_start, e.start, 14)).last_by(
        lambda o: o.effective_start
    )


def test_for_each_encounter_the_most_recent_screening_within_14_days_before(engine):
    tables = make_tables(
        encounters=[
            visit("p1", ts(2025, 6, 15), encounter_id="e1"),
            visit("p1", ts(2025, 9, 1), encounter_id="e2"),
        ],
        observations=[
            screen("p1", ts(2025, 6, 1, 8), "neg", observation_id="s-old"),
            screen("p1", ts(2025, 6, 10), "pos", observation_id="s-new"),
            screen("p1", ts(2025, 6, 16), "neg", observation_id="s-after"),
        ],
    )
    annotated = ENC.with_columns(
        screen_id=lambda e: most_recent_screen(e).id,
        screen_result=lambda e: most_recent_screen(e).value_code,
    )
    out = engine.run_many(
        {
            "e1": annotated.where(lambda e: e.id == "e1").first_by(lambda e: e.start).screen_id,
            "e1_result": annotated.where(lambda e: e.id == "e1")
            .first_by(lambda e: e.start)
            .screen_result,
            "e2": annotated.where(lambda e: e.id == "e2").first_by(lambda e: e.start).screen_id,
            "screened_visits": annotated.where(lambda e: e.screen_id.is_not_null()).count(),
        },
        tables,
    )["p1"]
    assert out == {"e1": "s-new", "e1_result": "pos", "e2": None, "screened_visits": 1}


def test_follow_up_ordered_within_2_days_after_the_encounter_end(engine):
    orders = q.table("service_requests").where(lambda r: r.status == "active")
    tables = make_tables(
        encounters=[
            visit("in_time", ts(2025, 5, 1), ts(2025, 5, 1, 11)),
            visit("too_late", ts(2025, 5, 1), ts(2025, 5, 1, 11)),
            visit("before", ts(2025, 5, 1), ts(2025, 5, 1, 11)),
        ],
        service_requests=[
            {"patient_id": "in_time", "status": "active", "authored": ts(2025, 5, 3, 23)},
            {"patient_id": "too_late", "status": "active", "authored": ts(2025, 5, 4, 0)},
            {"patient_id": "before", "status": "active", "authored": ts(2025, 4, 30)},
        ],
    )
    followed = ENC.where(
        lambda e: orders.where(lambda r: q.within_days_after(r.authored, e.end, 2)).exists()
    ).exists()
    assert engine.run(followed, tables) == {"in_time": True, "too_late": False, "before": False}


def test_a_second_frame_of_the_same_table_relates_visits_to_each_other(engine):
    other = q.table("encounters")
    tables = make_tables(
        encounters=[
            visit("p1", ts(2025, 1, 10), encounter_id="a"),
            visit("p1", ts(2025, 1, 10, 15), encounter_id="b"),
            visit("p1", ts(2025, 3, 1), encounter_id="c"),
            visit("p2", ts(2025, 1, 10), encounter_id="d"),
        ]
    )
    # visits followed by another visit of the same patient on a later day
    followed = ENC.where(lambda e: other.where(lambda o: o.start.date > e.start.date).exists())
    assert engine.run(followed.count(), tables) == {"p1": 2, "p2": 0}


def test_index_assessment_inside_an_encounter_then_a_window_from_its_date(engine):
    # CMS159 shape: first PHQ-9 > 9 from 7 days before to the end of a depression encounter
    # that overlaps an active depression diagnosis; then the last PHQ-9 in index+12 months ±60 days.
    dx = q.table("conditions").where(lambda c: c.code == "F32.1")
    dep_enc = ENC.where(
        lambda e: dx.where(lambda c: q.overlaps(c.onset, c.abatement, e.start, e.end)).exists()
    )
    phq = OBS.where(lambda o: o.code == "44261-6")
    index = phq.where(
        lambda o: (
            (o.value_num > 9)
            & dep_enc.where(
                lambda e: q.during(o.effective_start, e.start.add_days(-7), e.end)
            ).exists()
        )
    ).first_by(lambda o: o.effective_start)
    index_date = index.get(lambda o: o.effective_start.date)
    anniversary = index_date.add_months(12)
    remission_check = phq.where(
        lambda o: q.during(o.effective_start, anniversary.add_days(-60), anniversary.add_days(60))
    ).last_by(lambda o: o.effective_start)

    def p(pid, code, when, value):
        return {
            "patient_id": pid,
            "status": "final",
            "code": code,
            "effective_start": when,
            "value_num": value,
        }

    tables = make_tables(
        encounters=[visit("rem", ts(2024, 2, 10)), visit("no_dx", ts(2024, 2, 10))],
        conditions=[{"patient_id": "rem", "code": "F32.1", "onset": ts(2023, 12, 1)}],
        observations=[
            p("rem", "44261-6", ts(2024, 2, 4), 15),  # 6 days before: counts
            p("rem", "44261-6", ts(2024, 2, 11), 20),  # after the encounter ended: not index
            p("rem", "44261-6", ts(2025, 2, 4), 6),
            p("rem", "44261-6", ts(2025, 4, 5), 3),  # day 60 after the anniversary: last
            p("rem", "44261-6", ts(2025, 4, 6), 12),  # day 61: outside
            p("no_dx", "44261-6", ts(2024, 2, 10), 15),
        ],
    )
    out = engine.run_many(
        {
            "index_date": index_date,
            "index_value": index.value_num,
            "last_value": remission_check.value_num,
            "remission": remission_check.value_num < 5,
        },
        tables,
    )
    assert out["rem"] == {
        "index_date": dt.date(2024, 2, 4),
        "index_value": 15.0,
        "last_value": 3.0,
        "remission": True,
    }
    assert out["no_dx"] == {
        "index_date": None,
        "index_value": None,
        "last_value": None,
        "remission": None,
    }


def test_lowest_systolic_and_diastolic_on_the_most_recent_day(engine):
    # CMS165 shape: BP components are rows with the same observation id and the panel code.
    bp = OBS.where(
        lambda o: (
            (o.panel_code == "85354-9") & q.during(o.effective_start, q.period_start, q.period_end)
        )
    )
    last_day = bp.max(lambda o: o.effective_start.date)

    def lowest(code):
        return bp.where(lambda o: (o.code == code) & (o.effective_start.date == last_day)).min(
            lambda o: o.value_num
        )

    def reading(oid, when, sys_, dia):
        base = {
            "patient_id": "p1",
            "status": "final",
            "observation_id": oid,
            "panel_code": "85354-9",
            "effective_start": when,
        }
        return [
            {**base, "code": "8480-6", "value_num": sys_},
            {**base, "code": "8462-4", "value_num": dia},
        ]

    tables = make_tables(
        observations=[
            *reading("a", ts(2025, 10, 1), 120, 70),
            *reading("b", ts(2025, 11, 3, 8), 150, 85),
            *reading("c", ts(2025, 11, 3, 17), 138, 92),
            *reading("d", ts(2026, 1, 2), 110, 60),
        ]
    )
    out = engine.run_many(
        {
            "day": last_day,
            "sys": lowest("8480-6"),
            "dia": lowest("8462-4"),
            "controlled": (lowest("8480-6") < 140) & (lowest("8462-4") < 90),
        },
        tables,
    )["p1"]
    assert out == {"day": dt.date(2025, 11, 3), "sys": 138.0, "dia": 85.0, "controlled": True}


def test_annotated_frames_nest_inside_other_correlations(engine):
    # numerator shape of CMS2: some encounter whose latest screen is positive AND that has a
    # follow-up within 2 days after its end.
    orders = q.table("service_requests")
    with_screen = ENC.with_columns(result=lambda e: most_recent_screen(e).value_code)
    met = with_screen.where(
        lambda e: (
            (e.result == "pos")
            & orders.where(lambda r: q.within_days_after(r.authored, e.end, 2)).exists()
        )
    ).exists()
    tables = make_tables(
        encounters=[visit("met", ts(2025, 6, 15)), visit("no_follow_up", ts(2025, 6, 15))],
        observations=[
            screen("met", ts(2025, 6, 15, 9), "pos"),
            screen("no_follow_up", ts(2025, 6, 14), "pos"),
        ],
        service_requests=[
            {"patient_id": "met", "authored": ts(2025, 6, 16)},
            {"patient_id": "no_follow_up", "authored": ts(2025, 6, 20)},
        ],
    )
    assert engine.run(met, tables) == {"met": True, "no_follow_up": False}


def test_a_correlated_value_can_feed_a_patient_level_pick(engine):
    # per encounter, days since the previous encounter; then the longest gap
    prev = q.table("encounters")
    gaps = ENC.with_columns(
        gap=lambda e: (
            prev.where(lambda o: o.start < e.start).max(lambda o: o.start.date).days_until(e.start)
        )
    )
    tables = make_tables(
        encounters=[
            visit("p1", ts(2025, 1, 1)),
            visit("p1", ts(2025, 1, 11)),
            visit("p1", ts(2025, 3, 1)),
        ]
    )
    out = engine.run_many(
        {"longest": gaps.max(lambda e: e.gap), "where": gaps.last_by(lambda e: e.gap).start}, tables
    )["p1"]
    assert out == {"longest": 49, "where": ts(2025, 3, 1)}


def test_a_picked_row_carries_values_computed_from_other_frames(engine):
    obs = q.table("observations")
    last_visit = ENC.last_by(lambda e: e.start)
    same_day_obs = last_visit.get(
        lambda e: obs.where(lambda o: o.effective_start.date == e.start.date).count()
    )
    stacked = ENC.with_columns(day=lambda e: e.start.date).with_columns(
        next_day=lambda e: e.day.add_days(1)
    )
    tables = make_tables(
        encounters=[visit("p1", ts(2025, 3, 1)), visit("p1", ts(2025, 4, 1))],
        observations=[
            {"patient_id": "p1", "effective_start": ts(2025, 4, 1, 8)},
            {"patient_id": "p1", "effective_start": ts(2025, 4, 1, 18)},
            {"patient_id": "p1", "effective_start": ts(2025, 3, 1)},
        ],
    )
    out = engine.run_many({"n": same_day_obs, "next": stacked.max(lambda e: e.next_day)}, tables)[
        "p1"
    ]
    assert out == {"n": 2, "next": dt.date(2025, 4, 2)}


def test_exists_by_equal_keys_never_matches_a_null_key(engine):
    """``exists`` related only by equalities (an encounter's diagnoses, by encounter and
    patient): a null key on either side matches nothing, also for two keys at once."""
    conditions = q.table("conditions")
    tables = make_tables(
        encounters=[
            visit("p1", ts(2025, 3, 1), encounter_id="e1", code="x"),
            visit("p1", ts(2025, 3, 2), encounter_id="e2", code=None),
            visit("p2", ts(2025, 3, 3), encounter_id="e1", code="x"),
        ],
        conditions=[
            {"patient_id": "p1", "condition_id": "c1", "encounter_id": "e1", "code": "x"},
            {"patient_id": "p1", "condition_id": "c2", "encounter_id": None, "code": None},
        ],
    )

    def by_encounter(e):
        return conditions.where(lambda c: c.encounter_id == e.encounter_id).exists()

    def by_encounter_and_code(e):
        return conditions.where(
            lambda c: (c.encounter_id == e.encounter_id) & (c.code == e.code)
        ).exists()

    def by_code(e):
        return conditions.where(lambda c: c.code == e.code).exists()

    out = engine.run_many(
        {
            "with_dx": ENC.where(by_encounter).count(),
            "without_dx": ENC.where(lambda e: ~by_encounter(e)).count(),
            "same_code": ENC.where(by_encounter_and_code).count(),
            "null_code_matches": ENC.where(lambda e: e.code.is_null() & by_code(e)).exists(),
        },
        tables,
    )
    assert out == {
        "p1": {"with_dx": 1, "without_dx": 1, "same_code": 1, "null_code_matches": False},
        "p2": {"with_dx": 0, "without_dx": 1, "same_code": 0, "null_code_matches": False},
    }


def test_either_of_several_related_frames(engine):
    """``a.exists() | b.exists()`` of frames related to an outer row: by the same keys (an
    encounter's diagnoses from conditions or claims) or by dates, with a non-exists branch."""
    conditions = q.table("conditions")
    claims = q.table("claims")
    orders = q.table("service_requests")
    tables = make_tables(
        encounters=[
            visit("p1", ts(2025, 3, 1), encounter_id="e1", code="x"),
            visit("p1", ts(2025, 4, 1), encounter_id="e2", code="x"),
            visit("p1", ts(2025, 5, 1), encounter_id="e3", code="x"),
            visit("p2", ts(2025, 3, 1), encounter_id="e1", code=None),
            visit("p2", ts(2025, 6, 1), encounter_id=None, code=None),
        ],
        conditions=[{"patient_id": "p1", "condition_id": "c1", "encounter_id": "e1"}],
        claims=[
            {"patient_id": "p1", "claim_id": "k1", "encounter_id": "e2"},
            {"patient_id": "p2", "claim_id": "k2", "encounter_id": None},
        ],
        service_requests=[
            {"patient_id": "p1", "request_id": "r1", "authored": ts(2025, 5, 2)},
            {"patient_id": "p2", "request_id": "r2", "authored": ts(2025, 6, 2)},
        ],
    )

    def dx(e):
        return (
            conditions.where(lambda c: c.encounter_id == e.encounter_id).exists()
            | claims.where(lambda c: c.encounter_id == e.encounter_id).exists()
        )

    def followed(e):
        return (
            orders.where(lambda r: q.within_days_after(r.authored, e.start, 2)).exists()
            | conditions.where(lambda c: c.encounter_id == e.encounter_id).exists()
            | e.code.is_null()
        )

    out = engine.run_many(
        {
            "with_dx": ENC.where(dx).count(),
            "without_dx": ENC.where(lambda e: ~dx(e)).count(),
            "followed": ENC.where(followed).count(),
        },
        tables,
    )
    assert out == {
        "p1": {"with_dx": 2, "without_dx": 1, "followed": 2},
        "p2": {"with_dx": 0, "without_dx": 2, "followed": 2},
    }
