"""Registry cohorts (F1): the definitions on small charts with the engines, and the rebuild
that stores the members with their labels."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.measures.definitions import cohorts
from tandem.measures.evaluation import evaluate
from tandem.registry import services
from tandem.registry.models import CohortMembership
from tests import builders as b
from tests.measures.hedis.builders import (
    ANXIETY,
    BIPOLAR,
    DEPRESSION,
    DIABETES,
    ENGINES,
    HYPERTENSION,
    IVD,
    SCHIZOPHRENIA,
    VALUESETS,
    Chart,
    tables,
)

AS_OF = dt.date(2025, 12, 31)
OPIOID_USE_DISORDER = "F11.20"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def members(charts: list[Chart], engine: str, as_of: dt.date = AS_OF) -> dict[str, set[str]]:
    result = evaluate(
        cohorts.cohort_measure(),
        tables(*charts),
        VALUESETS,
        period=cohorts.period(as_of),
        engine=engine,
    )
    return {
        key: {
            pid
            for pid, on in zip(result.patient_ids, pops["initial-population"], strict=True)
            if on
        }
        for key, pops in result.scores.items()
    }


def test_every_cohort_has_a_readable_definition_and_a_unique_key():
    assert cohorts.KEYS == (
        "smi", "depression", "anxiety", "sud", "diabetes", "cardiovascular", "antipsychotic",
    )  # fmt: skip
    for cohort in cohorts.COHORTS:
        assert cohort.title and len(cohort.description) > 40


def test_each_diagnosis_puts_a_patient_on_its_cohort(engine):
    charts = [
        Chart("schizophrenia").problem(SCHIZOPHRENIA),
        Chart("bipolar").problem(BIPOLAR),
        Chart("depressed").problem(DEPRESSION),
        Chart("anxious").problem(ANXIETY),
        Chart("oud").problem(OPIOID_USE_DISORDER),
        Chart("diabetic").problem(DIABETES),
        Chart("cardiac").problem(IVD),
        Chart("hypertensive").problem(HYPERTENSION),
        Chart("none"),
    ]

    found = members(charts, engine)

    assert found == {
        "smi": {"schizophrenia", "bipolar"},
        "depression": {"depressed"},
        "anxiety": {"anxious"},
        "sud": {"oud"},
        "diabetes": {"diabetic"},
        "cardiovascular": {"cardiac"},  # hypertension alone is not cardiovascular disease
        "antipsychotic": set(),
    }


def test_a_diagnosis_resolved_before_the_lookback_no_longer_counts(engine):
    charts = [
        Chart("recent").problem(DIABETES, onset="2020-01-01", abated="2024-01-01"),
        Chart("old").problem(DIABETES, onset="2020-01-01", abated="2023-12-31"),
        # a diagnosis never resolved is still the patient's, however old the visit
        Chart("encounter-dx").visit("2021-06-01", dx=DEPRESSION),
    ]

    found = members(charts, engine)

    assert found["diabetes"] == {"recent"}  # 24 months: 2024-01-01 to 2025-12-31
    assert found["depression"] == {"encounter-dx"}


def test_antipsychotic_users_had_one_in_the_last_12_months(engine):
    charts = [
        Chart("filled").fill("2025-03-01"),
        Chart("injected").injection("2025-11-30"),
        Chart("ordered").order("2025-01-01"),
        Chart("last-year").fill("2024-12-31"),
    ]

    assert members(charts, engine)["antipsychotic"] == {"filled", "injected", "ordered"}


def test_the_dead_are_on_no_cohort(engine):
    charts = [
        Chart("died", death="2025-06-01").problem(DIABETES),
        Chart("dies-later", death="2026-02-01").problem(DIABETES),
    ]

    assert members(charts, engine)["diabetes"] == {"dies-later"}


def test_the_period_is_the_year_ending_on_the_day():
    assert cohorts.period(dt.date(2025, 12, 31)) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert cohorts.period(dt.date(2024, 2, 29)) == (dt.date(2023, 3, 1), dt.date(2024, 2, 29))


# --- rebuild (database) --------------------------------------------------------------------


def test_it_stores_members_with_the_label_of_their_cohort(team):
    other = b.patient()

    counts = services.rebuild_cohorts(
        as_of=AS_OF,
        members={"smi": [team.pat.pk], "sud": [other.pk], "diabetes": [team.pat.pk, other.pk]},
    )

    assert counts == {"smi": 1, "sud": 1, "diabetes": 2}
    labels = dict(
        CohortMembership.objects.filter(patient=other).values_list("cohort", "sensitivity")
    )
    assert labels == {"sud": "substance-use", "diabetes": "normal"}
    assert CohortMembership.objects.get(cohort="smi").sensitivity == "mental-health"
    assert AuditEvent.objects.filter(action="write:rebuild_cohort").count() == 3


def test_a_membership_takes_the_least_protected_label_of_its_records(team):
    pc_dx, bh_dx, part2_dx, pc_sud = b.patient(), b.patient(), b.patient(), b.patient()
    b.condition(patient=pc_dx, code="F33.1", program=team.pc_program)  # depression, by a PCP
    b.condition(patient=bh_dx, code="F33.1", program=team.bh_program)
    b.condition(patient=bh_dx, code="E11.9", program=team.bh_program)
    b.condition(patient=part2_dx, code="E11.9", program=team.part2_program)
    b.condition(patient=part2_dx, code="E11.9", program=team.part2_program)
    b.condition(patient=pc_sud, code="F11.20", program=team.pc_program)

    services.rebuild_cohorts(
        as_of=AS_OF,
        members={
            "depression": [pc_dx.pk, bh_dx.pk],
            "diabetes": [bh_dx.pk, part2_dx.pk],
            "sud": [pc_sud.pk],
        },
    )

    labels = {(m.cohort, m.patient_id): m.sensitivity for m in CohortMembership.objects.all()}
    assert labels == {
        ("depression", pc_dx.pk): "normal",  # primary care's own record
        ("depression", bh_dx.pk): "mental-health",
        ("diabetes", bh_dx.pk): "mental-health",
        ("diabetes", part2_dx.pk): "substance-use",
        ("sud", pc_sud.pk): "normal",
    }


def test_a_rebuild_replaces_a_cohort_and_keeps_the_day_a_member_joined(team):
    leaving, staying, joining = b.patient(), b.patient(), b.patient()
    services.rebuild_cohorts(as_of=AS_OF, members={"diabetes": [leaving.pk, staying.pk]})
    later = AS_OF + dt.timedelta(days=1)

    services.rebuild_cohorts(as_of=later, members={"diabetes": [staying.pk, joining.pk]})

    rows = dict(
        CohortMembership.objects.filter(cohort="diabetes").values_list("patient_id", "since")
    )
    assert rows == {staying.pk: AS_OF, joining.pk: later}
    assert set(CohortMembership.objects.values_list("as_of", flat=True)) == {later}


def test_it_evaluates_the_cohorts_on_the_operational_database(team):
    b.condition(patient=team.pat, code="E11.9", onset=timezone.now() - dt.timedelta(days=40))
    healthy = b.patient()

    counts = services.rebuild_cohorts(as_of=timezone.localdate())

    assert set(counts) == set(cohorts.KEYS)
    assert counts["diabetes"] == 1
    assert list(
        CohortMembership.objects.filter(cohort="diabetes").values_list("patient_id", flat=True)
    ) == [team.pat.pk]
    assert not CohortMembership.objects.filter(patient=healthy).exists()
