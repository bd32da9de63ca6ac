"""The risk score (F5): each component, the tiers, labels, and the bulk rebuild."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.registry import queries, rules, services
from tandem.registry.models import RiskScore
from tandem.scheduling.models import Appointment
from tests import builders as b

AS_OF = dt.date(2026, 6, 30)


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def days_before(n: int) -> dt.date:
    return AS_OF - dt.timedelta(days=n)


def no_show(patient, day: dt.date, **kw):
    return Appointment.objects.create(
        patient=patient, start=at(day), end=at(day, 11), status="noshow", **kw
    )


def components(patient) -> dict[str, dict]:
    score = RiskScore.objects.get(patient=patient)
    return {c["key"]: c for c in score.components}


# --- rules (pure) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "tier"),
    [(0, "low"), (3, "low"), (4, "moderate"), (7, "moderate"), (8, "high"), (12, "very-high")],
)
def test_it_puts_a_score_in_its_tier(score, tier):
    assert rules.tier(score) == tier


def test_it_caps_the_points_of_a_count_component():
    ed = rules.RISK_COMPONENTS[0]
    assert [rules.points(ed, n) for n in (0, 1, 3, 4, 9)] == [0, 2, 6, 8, 8]


@pytest.mark.parametrize(("months", "points"), [(None, 3), (12, 3), (11, 1), (6, 1), (5, 0)])
def test_it_scores_months_without_primary_care_by_band(months, points):
    component = next(c for c in rules.RISK_COMPONENTS if c.key == "months_without_pc")
    assert rules.points(component, months) == points


def test_a_score_lists_every_component_in_order_with_its_points():
    total, tier, parts = rules.score({"ed_visits": 2, "months_without_pc": 2})
    assert [p["key"] for p in parts] == [c.key for c in rules.RISK_COMPONENTS]
    assert set(parts[0]) == {"key", "label", "value", "points"}
    assert (total, tier) == (4, "moderate")


# --- rebuild --------------------------------------------------------------------------------


def test_it_counts_ed_visits_in_the_12_months_to_the_day(team):
    p = b.patient()
    for day in (days_before(0), days_before(364), days_before(365)):  # the last one is out
        b.encounter(patient=p, encounter_class="emergency", start=at(day))
    b.encounter(
        patient=p, encounter_class="emergency", start=at(days_before(3)), status="cancelled"
    )

    services.rebuild_risk(as_of=AS_OF)

    assert components(p)["ed_visits"] == {
        "key": "ed_visits",
        "label": "ED visits in 12 months",
        "value": 2,
        "points": 4,
    }


def test_it_counts_psychiatric_admissions_and_labels_the_score_mental_health(team):
    p = b.patient()
    b.encounter(
        patient=p,
        encounter_class="inpatient-psychiatric",
        program=team.bh_program,
        start=at(days_before(100)),
        end=at(days_before(90)),
    )

    services.rebuild_risk(as_of=AS_OF)

    assert components(p)["psych_admissions"]["value"] == 1
    assert components(p)["psych_admissions"]["points"] == 4
    assert RiskScore.objects.get(patient=p).sensitivity == "mental-health"


def test_it_counts_no_shows_in_12_months(team):
    p = b.patient()
    no_show(p, days_before(10))
    no_show(p, days_before(400))
    Appointment.objects.create(
        patient=p, start=at(days_before(5)), end=at(days_before(5), 11), status="fulfilled"
    )

    services.rebuild_risk(as_of=AS_OF)

    assert components(p)["no_shows"]["value"] == 1


def test_it_counts_each_chronic_condition_list_once(team):
    p = b.patient()
    b.condition(patient=p, code="E11.9")  # diabetes
    b.condition(patient=p, code="E11.65")  # diabetes again: the same list
    b.condition(patient=p, code="I10", display="Essential hypertension")
    b.condition(patient=p, code="J06.9", display="Acute upper respiratory infection")
    b.condition(
        patient=p, code="I50.9", abatement=at(days_before(400)), onset=at(days_before(800))
    )  # resolved before the window

    services.rebuild_risk(as_of=AS_OF)

    assert components(p)["chronic_conditions"]["value"] == 2


def test_it_measures_months_since_the_last_primary_care_visit(team):
    seen = b.patient()
    b.encounter(patient=seen, setting="pc", start=at(dt.date(2025, 12, 31)))
    b.encounter(patient=seen, setting="pc", start=at(dt.date(2025, 11, 1)))
    never = b.patient()
    b.encounter(patient=never, setting="bh", start=at(days_before(3)))

    services.rebuild_risk(as_of=AS_OF)

    assert components(seen)["months_without_pc"]["value"] == 5
    assert components(seen)["months_without_pc"]["points"] == 0
    assert components(never)["months_without_pc"] == {
        "key": "months_without_pc",
        "label": "Months without a primary-care visit",
        "value": None,
        "points": 3,
    }


@pytest.mark.parametrize(("days", "recent"), [(0, 1), (29, 1), (30, 0)])
def test_it_flags_a_discharge_in_the_last_30_days(team, days, recent):
    p = b.patient()
    b.encounter(
        patient=p,
        encounter_class="inpatient-acute",
        start=at(days_before(days + 5)),
        end=at(days_before(days)),
    )

    services.rebuild_risk(as_of=AS_OF)

    assert components(p)["recent_discharge"]["value"] == recent


def test_it_never_counts_part2_records(team):
    p = b.patient()
    b.encounter(patient=p, encounter_class="emergency", program=team.part2_program, start=at(AS_OF))
    no_show(p, days_before(2), program=team.part2_program)

    services.rebuild_risk(as_of=AS_OF)

    parts = components(p)
    assert (parts["ed_visits"]["value"], parts["no_shows"]["value"]) == (0, 0)
    assert RiskScore.objects.get(patient=p).sensitivity == "normal"


def test_it_replaces_every_score_and_skips_the_dead(team):
    living, dead = b.patient(), b.patient(deceased_date=days_before(10))
    services.rebuild_risk(as_of=AS_OF)
    b.encounter(patient=living, encounter_class="emergency", start=at(days_before(1)))

    tiers = services.rebuild_risk(as_of=AS_OF)

    assert set(RiskScore.objects.values_list("patient_id", flat=True)) == {team.pat.pk, living.pk}
    assert sum(tiers.values()) == 2
    assert RiskScore.objects.get(patient=living).components[0]["value"] == 1
    assert not RiskScore.objects.filter(patient=dead).exists()
    assert AuditEvent.objects.filter(action="write:rebuild_risk").count() == 2


def test_the_rebuild_takes_a_fixed_number_of_queries_whatever_the_population(team):
    def queries_for(n: int) -> int:
        for _ in range(n):
            p = b.patient()
            b.encounter(patient=p, encounter_class="emergency", start=at(days_before(1)))
            no_show(p, days_before(2))
        with CaptureQueriesContext(connection) as ctx:
            services.rebuild_risk(as_of=AS_OF)
        return len(ctx.captured_queries)

    assert queries_for(2) == queries_for(30)


# --- risk_for -------------------------------------------------------------------------------


def test_risk_for_shows_a_mental_health_score_only_inside_behavioral_health(team):
    b.encounter(
        patient=team.pat,
        encounter_class="inpatient-psychiatric",
        program=team.bh_program,
        start=at(timezone.localdate() - dt.timedelta(days=20)),
    )
    services.rebuild_risk(as_of=timezone.localdate())
    ids = [team.pat.pk]

    assert list(queries.risk_for(patient_ids=ids, user=team.bob)) == [team.pat.pk]
    assert queries.risk_for(patient_ids=ids, user=team.alice) == {}
    assert queries.risk_for(patient_ids=ids) == {}


def test_risk_for_reads_many_patients_in_one_query(team):
    patients = [b.patient() for _ in range(5)]
    services.rebuild_risk(as_of=AS_OF)

    with CaptureQueriesContext(connection) as ctx:
        scores = queries.risk_for(patient_ids=[p.pk for p in patients])

    assert set(scores) == {p.pk for p in patients}
    assert scores[patients[0].pk].tier == "low"
    assert len(ctx.captured_queries) == 1
