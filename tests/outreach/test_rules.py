"""Worklist membership, auto-resolution and the protocol, rule by rule (real database)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tandem.measures.models import MeasurePatientResult, MeasureRun
from tandem.outreach import rules, services
from tandem.outreach.models import ItemEvent, WorklistItem
from tests import builders as b
from tests.outreach import builders as ob

TODAY = timezone.localdate()


def rebuild():
    return services.rebuild_worklists(as_of=timezone.localdate())


def items(key, patient):
    return list(WorklistItem.objects.filter(worklist=key, patient=patient).order_by("pk"))


# --- membership ---------------------------------------------------------------------------


def test_it_lists_an_smi_patient_without_a_pc_visit_in_12_months(team):
    patient = ob.disengaged_smi(team)

    rebuild()

    [item] = items("smi-disengaged", patient)
    assert item.state == "new"
    assert item.sensitivity == "mental-health"
    assert item.reason.startswith("No primary-care visit since ")
    assert item.evidence["pcp_assigned"] is True


def test_it_lists_an_smi_patient_without_a_pcp_even_with_a_recent_visit(team):
    patient = b.patient(home_site=team.pc_site)
    ob.cohort(patient=patient)
    ob.pc_visit(patient=patient, days_ago=20)

    rebuild()

    [item] = items("smi-disengaged", patient)
    assert item.reason.startswith("No PCP assigned; last primary-care visit ")


def test_it_leaves_off_an_engaged_smi_patient_and_a_patient_not_on_the_cohort(team):
    engaged = ob.disengaged_smi(team)
    ob.pc_visit(patient=engaged, days_ago=40)
    other = b.patient()  # no cohort membership
    ob.pc_visit(patient=other, days_ago=900)

    rebuild()

    assert items("smi-disengaged", engaged) == []
    assert items("smi-disengaged", other) == []


def test_it_lists_a_no_show_of_the_last_14_days_but_not_an_older_one(team):
    recent, old = b.patient(), b.patient()
    ob.appointment(patient=recent, days_ago=3, site=team.pc_site)
    ob.appointment(patient=old, days_ago=20, site=team.pc_site)

    rebuild()

    [item] = items("no-shows", recent)
    assert "Missed appointment on" in item.reason and "Riverside" in item.reason
    assert items("no-shows", old) == []


def test_part2_records_never_put_a_patient_on_a_list(team):
    patient = b.patient()
    ob.appointment(patient=patient, days_ago=3, site=team.sud_site, program=team.part2_program)

    rebuild()

    assert items("no-shows", patient) == []


def test_it_lists_an_antipsychotic_user_without_lipids_and_says_what_was_drawn(team):
    patient = b.patient()
    ob.cohort(patient=patient, key="antipsychotic")
    b.observation(
        patient=patient, code="4548-4", effective_at=timezone.now() - dt.timedelta(days=40)
    )

    rebuild()

    [item] = items("antipsychotic-monitoring", patient)
    assert item.reason.startswith("No lipid test in 12 months; HbA1c drawn ")


def test_it_lists_a_psychiatric_discharge_without_follow_up_as_time_critical(team):
    patient = b.patient()
    out = timezone.now() - dt.timedelta(days=2)
    b.encounter(
        patient=patient,
        encounter_class="inpatient-psychiatric",
        start=out - dt.timedelta(days=5),
        end=out,
    )

    rebuild()

    [item] = items("follow-up-7-day", patient)
    assert item.time_critical and item.due == timezone.localdate(out) + dt.timedelta(days=7)
    assert item.sensitivity == "mental-health"
    assert item.reason.startswith("Psychiatric discharge on ")


def test_an_ed_visit_already_followed_up_is_not_listed(team):
    patient = b.patient()
    b.encounter(
        patient=patient, encounter_class="emergency", start=timezone.now() - dt.timedelta(days=6)
    )
    b.encounter(
        patient=patient, encounter_class="ambulatory", start=timezone.now() - dt.timedelta(days=2)
    )

    rebuild()

    assert items("follow-up-7-day", patient) == []


def _run(measure="CMS2", **kw):
    now = timezone.now()
    return MeasureRun.objects.create(
        measure=measure,
        version=f"{measure}v14",
        period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 12, 31),
        engine="duckdb",
        started_at=now,
        finished_at=now,
        patients=1,
        summary={},
        **kw,
    )


def _result(run, patient, **populations):
    return MeasurePatientResult.objects.create(
        run=run,
        patient=patient,
        group="g1",
        populations=populations,
        evidence={"screening": None},
        in_initial_population=True,
        in_numerator=bool(populations.get("numerator")),
    )


def test_it_opens_one_care_gap_list_per_stored_measure_from_its_latest_run(team):
    gap, met, excluded = b.patient(), b.patient(), b.patient()
    run = _run()
    _result(run, gap, **{"initial-population": 1, "denominator": 1, "numerator": 0})
    _result(run, met, **{"initial-population": 1, "denominator": 1, "numerator": 1})
    _result(
        run, excluded, **{"initial-population": 1, "denominator": 1, "denominator-exclusion": 1}
    )

    rebuild()

    assert [i.patient_id for i in WorklistItem.objects.filter(worklist="gap-cms2")] == [gap.pk]


def test_an_inverse_measure_lists_its_numerator(team):
    poor = b.patient()
    run = _run("CMS122")
    _result(run, poor, **{"initial-population": 1, "denominator": 1, "numerator": 1})

    rebuild()

    assert items("gap-cms122", poor)[0].state == "new"


# --- auto-resolution -----------------------------------------------------------------------


def test_a_pc_visit_resolves_the_smi_item_with_its_date(team):
    patient = ob.disengaged_smi(team)
    rebuild()
    visit = ob.pc_visit(patient=patient, days_ago=1)

    counts = rebuild()

    [item] = items("smi-disengaged", patient)
    assert item.state == "resolved" and item.resolved_by is None
    assert item.resolved_reason == f"PC visit on {timezone.localdate(visit.start)}; PCP assigned"
    assert counts["resolved"] == 1
    assert ItemEvent.objects.filter(item=item, action="auto-resolved").count() == 1


def test_a_lab_draw_resolves_the_monitoring_item_and_names_the_tests(team):
    patient = b.patient()
    ob.cohort(patient=patient, key="antipsychotic")
    rebuild()
    drawn = timezone.now() - dt.timedelta(days=1)
    b.observation(patient=patient, code="4548-4", effective_at=drawn)
    b.observation(patient=patient, code="13457-7", display="LDL", value_num=100, effective_at=drawn)

    rebuild()

    [item] = items("antipsychotic-monitoring", patient)
    day = timezone.localdate(drawn)
    assert item.resolved_reason == f"HbA1c drawn {day}; LDL drawn {day}"


def test_a_no_show_item_stays_open_after_14_days_until_an_appointment_is_kept(team):
    patient = b.patient()
    ob.appointment(patient=patient, days_ago=13)
    services.rebuild_worklists(as_of=TODAY)

    services.rebuild_worklists(as_of=TODAY + dt.timedelta(days=5))
    assert items("no-shows", patient)[0].state == "new"

    ob.appointment(patient=patient, days_ago=1, status="fulfilled")
    rebuild()
    [item] = items("no-shows", patient)
    assert item.state == "resolved" and item.resolved_reason.startswith("Kept appointment on ")


def test_rebuilding_twice_changes_nothing(team):
    patient = ob.disengaged_smi(team)
    first = rebuild()
    events = ItemEvent.objects.count()

    second = rebuild()

    assert first["opened"] == 1 and second["opened"] == 0 and second["resolved"] == 0
    assert len(items("smi-disengaged", patient)) == 1
    assert ItemEvent.objects.count() == events


def test_an_item_a_person_closed_is_not_reopened_by_the_next_refresh(team):
    patient = ob.disengaged_smi(team)
    rebuild()
    [item] = items("smi-disengaged", patient)
    services.resolve_item(by=team.bob, item=item, reason="Sees a PCP elsewhere")

    rebuild()

    assert [i.state for i in items("smi-disengaged", patient)] == ["resolved"]


# --- protocol and transitions ---------------------------------------------------------------


def _attempts(*specs):
    return [rules.Attempt(c, o, TODAY - dt.timedelta(days=d)) for c, o, d in specs]


def test_the_default_protocol_needs_four_attempts_over_three_channels_in_30_days():
    p = rules.DEFAULT_PROTOCOL
    three = _attempts(
        ("phone", "no-answer", 9), ("text", "no-answer", 6), ("letter", "left-message", 3)
    )
    two_channels = _attempts(
        *[("phone", "no-answer", d) for d in (9, 6)],
        ("text", "no-answer", 3),
        ("text", "no-answer", 1),
    )
    enough = three + _attempts(("phone", "wrong-number", 1))

    assert not rules.evaluate(p, three, opened=TODAY, due=None).exhausted
    assert not rules.evaluate(p, two_channels, opened=TODAY, due=None).exhausted
    status = rules.evaluate(p, enough, opened=TODAY, due=None)
    assert status.exhausted and status.next_due is None
    assert status.channels == ("letter", "phone", "text")


def test_attempts_older_than_the_window_or_answered_do_not_count():
    p = rules.DEFAULT_PROTOCOL
    old = _attempts(
        ("phone", "no-answer", 40),
        ("text", "no-answer", 3),
        ("letter", "no-answer", 2),
        ("home-visit", "no-answer", 1),
    )
    answered = _attempts(
        ("phone", "reached", 4),
        ("text", "no-answer", 3),
        ("letter", "no-answer", 2),
        ("home-visit", "no-answer", 1),
    )

    assert not rules.evaluate(p, old, opened=TODAY, due=None).exhausted
    assert rules.evaluate(p, answered, opened=TODAY, due=None).counted == 3


def test_the_next_attempt_is_due_after_the_cadence_and_never_after_the_deadline():
    p = rules.Protocol(cadence_days=7)
    one = _attempts(("phone", "no-answer", 0))

    assert rules.evaluate(p, one, opened=TODAY, due=None).next_due == TODAY + dt.timedelta(days=7)
    deadline = TODAY + dt.timedelta(days=2)
    assert rules.evaluate(p, one, opened=TODAY, due=deadline).next_due == deadline
    assert rules.evaluate(p, [], opened=TODAY, due=None).next_due == TODAY


@pytest.mark.parametrize(
    "action,state,expected",
    [
        ("claim", "new", "claimed"),
        ("log-attempt", "claimed", "in-outreach"),
        ("log-attempt", "new", "in-outreach"),
        ("unable-to-reach", "in-outreach", "unable-to-reach"),
        ("resolve", "claimed", "resolved"),
        ("release", "claimed", "new"),
    ],
)
def test_the_state_machine_allows(action, state, expected):
    assert rules.next_state(action, state) == expected


@pytest.mark.parametrize(
    "action,state",
    [
        ("unable-to-reach", "new"),
        ("unable-to-reach", "claimed"),
        ("claim", "resolved"),
        ("log-attempt", "unable-to-reach"),
        ("resolve", "resolved"),
    ],
)
def test_the_state_machine_refuses(action, state):
    with pytest.raises(rules.TransitionRefused):
        rules.next_state(action, state)


def test_labels_combine_to_the_most_protective():
    assert rules.most_protective(["normal", "mental-health", "hiv"]) == "mental-health"
    assert rules.most_protective(["substance-use", "mental-health"]) == "substance-use"
    assert rules.most_protective([]) == "normal"
