"""Pat's portal at /me/: the own record, the care team, questionnaires, the care plan, sharing
choices and who looked — always Pat's own record, whatever a URL says."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.consent.models import ConsentDirective, DirectiveRecipient
from tandem.scheduling.models import Appointment
from tandem.screening.models import AssessmentResponse
from tests import builders as b

PASSWORD = "correct horse battery"


def sign_in(client, user):
    client.force_login(user)


def pat_record(team):
    """Pat: diabetes with a high HbA1c in primary care, opioid treatment in the Part 2 program,
    a psychotherapy note by Charlie."""
    alice = team.practitioner(team.alice)
    b.condition(patient=team.pat, program=team.pc_program, recorder=alice)
    b.condition(
        patient=team.pat, program=team.part2_program, code="F11.20", display="Opioid dependence"
    )
    b.observation(patient=team.pat, program=team.pc_program, value_num=9.4)
    b.medication_order(patient=team.pat, program=team.pc_program, prescriber=alice)
    b.encounter(
        patient=team.pat, program=team.pc_program, site=team.pc_site, practitioner=alice,
        type_display="Office visit",
    )  # fmt: skip
    b.note(
        patient=team.pat, program=team.pc_program, author=alice, title="Diabetes follow-up",
        text="A1c up; continue metformin.",
    )  # fmt: skip
    b.note(
        patient=team.pat, program=team.bh_program, author=team.practitioner(team.charlie),
        note_type="psychotherapy", title="Session 4", text="Process notes.",
    )  # fmt: skip


def sud_consent_for_alice(team):
    """Pat shares substance-use records with Alice (the PCP) and with the CMHC, for treatment."""
    return b.consent(
        patient=team.pat,
        categories=["substance-use"],
        purposes=["treatment"],
        recipients=[
            {"kind": "person", "practitioner": team.practitioner(team.alice)},
            {"kind": "site", "site": team.cmhc},
        ],
        start=timezone.localdate() - dt.timedelta(days=30),
        signer_name="Pat Jones",
        signed_on=timezone.localdate() - dt.timedelta(days=30),
        signer_relationship="self",
        signature_kind="typed",
    )


# --- only the signed-in patient ---------------------------------------------------------------


@pytest.mark.parametrize("persona", ["alice", "bob", "leo", "olive"])
def test_staff_get_the_not_found_page_at_the_portal_and_it_is_audited(client, team, persona):
    sign_in(client, getattr(team, persona))

    response = client.get(reverse("portal-home"))

    assert response.status_code == 404
    event = AuditEvent.objects.filter(actor_id=getattr(team, persona).pk).latest("pk")
    assert (event.outcome, event.purpose, event.detail) == (
        "denied", "patient-access", "portal: not a patient"
    )  # fmt: skip


def test_signed_out_visitors_are_sent_to_sign_in(client, db):
    response = client.get(reverse("portal-record"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_no_portal_url_carries_a_patient_id(team):
    from tandem.portal import urls

    routes = [str(p.pattern) for p in urls.urlpatterns]
    assert not [r for r in routes if "patient" in r]


# --- my record ---------------------------------------------------------------------------------


def test_pat_sees_the_record_with_units_and_flags_and_no_psychotherapy_note(client, team):
    pat_record(team)
    sign_in(client, team.pat_user)

    page = client.get(reverse("portal-record")).text

    assert "Opioid dependence" in page  # the patient sees their Part 2 records
    assert "HbA1c" in page and "9.4 %" in page and ">High<" in page
    assert "metformin" in page.lower() and "Office visit" in page
    assert "Diabetes follow-up" in page
    assert "Session 4" not in page and "Process notes" not in page
    assert "Notes your therapist keeps about therapy sessions are not part of this record." in page
    event = AuditEvent.objects.filter(
        actor_id=team.pat_user.pk, detail__startswith="portal record"
    ).get()
    assert (event.patient_id, event.purpose, event.outcome) == (
        team.pat.pk,
        "patient-access",
        "redacted",
    )


def test_the_care_team_shows_every_program_including_part2_and_the_appointments(client, team):
    sam = team.practitioner(team.sam)
    b.care_team_member(
        patient=team.pat, practitioner=sam, role="bh-clinician", program=team.part2_program
    )
    now = timezone.now()
    for days, service in ((7, "Diabetes check"), (-7, "Last month's visit")):
        Appointment.objects.create(
            patient=team.pat, program=team.pc_program, site=team.pc_site,
            practitioner=team.practitioner(team.alice), service_type=service,
            start=now + dt.timedelta(days=days), end=now + dt.timedelta(days=days, hours=1),
        )  # fmt: skip
    sign_in(client, team.pat_user)

    page = client.get(reverse("portal-team")).text

    assert sam.name in page and "Opioid treatment" in page and "Harbor Recovery" in page
    assert team.practitioner(team.alice).name in page and "Primary care provider" in page
    assert "Diabetes check" in page and "Last month&#x27;s visit" not in page
    home = client.get(reverse("portal-home")).text
    assert "Your next appointment" in home


# --- questionnaires ----------------------------------------------------------------------------


def test_questionnaires_are_due_when_none_was_filled_out_in_twelve_months(client, team):
    AssessmentResponse.objects.create(
        patient=team.pat, instrument="phq9", total_score=4,
        effective_at=timezone.now() - dt.timedelta(days=60),
    )  # fmt: skip
    sign_in(client, team.pat_user)

    response = client.get(reverse("portal-questionnaires"))

    due = [d.questionnaire.instrument for d in response.context["due"]]
    assert due == ["gad7"]
    assert "Done for this year" in response.text and "Mood check (PHQ-9)" in response.text


def test_pat_fills_out_the_gad7_and_it_is_stored_as_answered_by_the_patient(client, team):
    sign_in(client, team.pat_user)
    answers = {f"q{i}": "1" for i in range(1, 8)}

    response = client.post(reverse("portal-questionnaire", args=["gad7"]), answers)

    assert response.status_code == 302
    stored = AssessmentResponse.objects.get(patient=team.pat)
    assert (stored.instrument, stored.total_score, stored.completed_by, stored.source) == (
        "gad7", 7, "patient", "portal"
    )  # fmt: skip
    assert stored.answers["69725-0"] == 1 and stored.answers["70274-6"] == 7
    assert AuditEvent.objects.filter(
        action="write:complete_questionnaire", patient_id=team.pat.pk, actor_id=team.pat_user.pk
    ).exists()
    due = client.get(reverse("portal-questionnaires")).context["due"]
    assert [d.questionnaire.instrument for d in due] == ["phq9"]


def test_a_missing_answer_is_refused_naming_the_question_and_nothing_is_stored(client, team):
    sign_in(client, team.pat_user)
    answers = {f"q{i}": "0" for i in range(1, 9)}  # question 9 left out
    answers["q2"] = "7"  # off the scale

    response = client.post(reverse("portal-questionnaire", args=["phq9"]), answers)

    assert response.status_code == 400
    assert 'href="#id_q9"' in response.text and 'href="#id_q2"' in response.text
    assert not AssessmentResponse.objects.exists()


def test_thoughts_of_self_harm_give_the_crisis_line_and_a_task_to_call_today(client, team):
    from tandem.tasks.models import Task

    sign_in(client, team.pat_user)
    answers = {f"q{i}": "0" for i in range(1, 10)}
    answers["q9"] = "1"

    response = client.post(reverse("portal-questionnaire", args=["phq9"]), answers, follow=True)

    assert "call or text 988" in response.text
    task = Task.objects.get(patient=team.pat)
    assert (task.priority, task.due, task.queue.site) == (
        "urgent",
        timezone.localdate(),
        team.pc_site,
    )


def test_an_unknown_questionnaire_is_not_found(client, team):
    sign_in(client, team.pat_user)
    assert client.get(reverse("portal-questionnaire", args=["nope"])).status_code == 404


# --- care plan ---------------------------------------------------------------------------------


def test_the_care_plan_says_open_care_gaps_in_plain_words(client, team):
    from tandem.measures.models import MeasurePatientResult, MeasureRun

    now = timezone.now()
    run = MeasureRun.objects.create(
        measure="CMS165", version="CMS165v13", period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 12, 31), engine="duckdb", started_at=now, finished_at=now,
        patients=1, summary={},
    )  # fmt: skip
    MeasurePatientResult.objects.create(
        run=run, patient=team.pat, group="g1", evidence={},
        populations={"initial-population": 1, "denominator": 1, "numerator": 0},
        in_initial_population=True, in_numerator=False,
    )  # fmt: skip
    sign_in(client, team.pat_user)

    page = client.get(reverse("portal-care-plan")).text

    assert "bring your blood pressure under 140/90" in page
    assert "Mood check (PHQ-9)" in page  # never filled out: due


# --- sharing choices ---------------------------------------------------------------------------


def test_pat_lists_the_sharing_choices_with_plain_words(client, team):
    sud_consent_for_alice(team)
    sign_in(client, team.pat_user)

    page = client.get(reverse("portal-sharing")).text

    assert "Care for alcohol or drug use" in page and "Sharing now" in page
    assert team.practitioner(team.alice).name in page and "Everyone at Northside CMHC" in page


def test_recipients_to_choose_are_the_care_team_and_its_places_only(client, team):
    sign_in(client, team.pat_user)

    choices = client.get(reverse("portal-sharing-new")).context["form"].fields["recipients"].choices

    labels = [label for _, label in choices]
    assert any(team.practitioner(team.alice).name in label for label in labels)
    assert "Everyone at Riverside Family Medicine" in labels
    assert "Everyone who works for County Health Partnership" in labels
    assert "Anyone who is your primary care provider" in labels
    assert not any(
        team.practitioner(team.sam).name in label for label in labels
    )  # not on Pat's team
    assert not any("Olive" in label for label in labels)


def form_data(team, **kw):
    data = {
        "categories": ["substance-use"],
        "recipients": [f"person:{team.practitioner(team.alice).pk}"],
        "purposes": ["treatment"],
        "end": "",
        "signature": "",
        "action": "preview",
    }
    data.update(kw)
    return data


def test_the_preview_shows_what_each_recipient_would_see_and_saves_nothing(client, team):
    pat_record(team)
    sign_in(client, team.pat_user)

    response = client.post(reverse("portal-sharing-new"), form_data(team))

    assert response.status_code == 200
    assert "What they would see" in response.text
    preview = response.context["previews"]
    assert [p["recipient"] for p in preview] == [team.practitioner(team.alice).name]
    assert "2 health problems" in preview[0]["see"]  # the Part 2 diagnosis too, once signed
    assert not ConsentDirective.objects.exists()
    assert AuditEvent.objects.filter(action="consent-preview", patient_id=team.pat.pk).exists()


def test_pat_signs_and_shares_substance_use_records_with_alice(client, team):
    sign_in(client, team.pat_user)
    data = form_data(
        team, purposes=["treatment", "payment", "operations"], signature=" pat  JONES ",
        action="sign",
    )  # fmt: skip

    response = client.post(reverse("portal-sharing-new"), data)

    directive = ConsentDirective.objects.get(patient=team.pat)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal-directive", args=[directive.pk])
    assert (directive.status, directive.categories, directive.part2_tpo) == (
        "active", ["substance-use"], True
    )  # fmt: skip
    assert (directive.signer_relationship, directive.signed_on) == ("self", timezone.localdate())
    assert [r.practitioner_id for r in directive.recipients.all()] == [
        team.practitioner(team.alice).pk
    ]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"signature": "Someone Else"},
            "signature",
            "Type your name as it is on your record: Pat Jones.",
        ),
        ({"signature": ""}, "signature", "Type your full name to sign."),
        (
            {"recipients": ["person:999999"]},
            "recipients",
            "Choose people and places from your own care team.",
        ),
        ({"categories": ["psychotherapy-note"]}, "categories", "Select a valid choice"),
        ({"end": "2001-01-01"}, "end", "The end date must be today or later."),
        ({"purposes": []}, "purposes", "Choose what they can use it for."),
    ],
)
def test_bad_sharing_input_is_refused_naming_the_field_and_nothing_is_written(
    client, team, change, field, message
):
    sign_in(client, team.pat_user)
    data = form_data(team, signature="Pat Jones", action="sign")
    data.update(change)

    response = client.post(reverse("portal-sharing-new"), data)

    assert response.status_code == 400
    assert f'href="#id_{field}"' in response.text and message in response.text
    assert not ConsentDirective.objects.exists()


def test_someone_outside_the_care_team_is_refused_even_as_a_forged_choice(client, team):
    sign_in(client, team.pat_user)
    sam = team.practitioner(team.sam)

    response = client.post(
        reverse("portal-sharing-new"),
        form_data(team, recipients=[f"person:{sam.pk}"], signature="Pat Jones", action="sign"),
    )

    assert response.status_code == 400 and not ConsentDirective.objects.exists()


def test_revoking_one_recipient_stops_alice_seeing_the_part2_records(client, team):
    pat_record(team)
    directive = sud_consent_for_alice(team)
    alice_row = directive.recipients.get(kind="person")
    client.force_login(team.alice)
    before = client.get(reverse("patient-summary", args=[team.pat.pk])).text
    assert "Opioid dependence" in before
    sign_in(client, team.pat_user)

    response = client.post(
        reverse("portal-recipient-revoke", args=[directive.pk, alice_row.pk]), {"reason": ""}
    )

    assert response.status_code == 302
    alice_row.refresh_from_db()
    directive.refresh_from_db()
    assert alice_row.revoked_on is not None and directive.status == "active"  # the CMHC still
    assert directive.recipients.get(kind="site").revoked_on is None
    client.force_login(team.alice)
    after = client.get(reverse("patient-summary", args=[team.pat.pk])).text
    assert "Opioid dependence" not in after and "Protected records" in after


def test_stopping_the_whole_choice_revokes_it(client, team):
    directive = sud_consent_for_alice(team)
    sign_in(client, team.pat_user)

    client.post(
        reverse("portal-directive-revoke", args=[directive.pk]), {"reason": "Changed my mind"}
    )

    directive.refresh_from_db()
    assert (directive.status, directive.revocation_reason) == ("revoked", "Changed my mind")
    page = client.get(reverse("portal-sharing")).text
    assert "Stopped or ended" in page


# --- forged ids --------------------------------------------------------------------------------


def other_patients_directive(team):
    other = b.patient(given_name="Quinn", family_name="Other")
    return b.consent(
        patient=other, categories=["hiv"], purposes=["treatment"],
        recipients=[{"kind": "person", "practitioner": team.practitioner(team.bob)}],
        start=timezone.localdate(),
    )  # fmt: skip


@pytest.mark.parametrize("method", ["view", "stop", "stop-recipient"])
def test_a_forged_directive_id_reveals_nothing_changes_nothing_and_is_audited(client, team, method):
    theirs = other_patients_directive(team)
    recipient = theirs.recipients.get()
    sign_in(client, team.pat_user)

    if method == "view":
        response = client.get(reverse("portal-directive", args=[theirs.pk]))
    elif method == "stop":
        response = client.post(reverse("portal-directive-revoke", args=[theirs.pk]), {})
    else:
        url = reverse("portal-recipient-revoke", args=[theirs.pk, recipient.pk])
        response = client.post(url, {})

    assert response.status_code == 404
    assert "HIV" not in response.text and "Quinn" not in response.text
    assert team.practitioner(team.bob).name not in response.text
    theirs.refresh_from_db()
    recipient.refresh_from_db()
    assert theirs.status == "active" and recipient.revoked_on is None
    denied = AuditEvent.objects.filter(actor_id=team.pat_user.pk, outcome="denied").latest("pk")
    assert denied.detail == f"portal: directive={theirs.pk} is not the patient's"
    assert denied.patient_id is None  # the other patient is not named to the trail as Pat's


def test_a_forged_recipient_id_on_pats_own_directive_is_refused(client, team):
    mine = sud_consent_for_alice(team)
    theirs = other_patients_directive(team).recipients.get()
    sign_in(client, team.pat_user)

    response = client.post(reverse("portal-recipient-revoke", args=[mine.pk, theirs.pk]), {})

    assert response.status_code == 404
    assert not DirectiveRecipient.objects.filter(revoked_on__isnull=False).exists()
    assert AuditEvent.objects.filter(
        actor_id=team.pat_user.pk, outcome="denied", patient_id=team.pat.pk,
        detail=f"portal: recipient={theirs.pk} is not on directive={mine.pk}",
    ).exists()  # fmt: skip


def test_an_id_too_large_for_the_database_is_not_found(client, team):
    sign_in(client, team.pat_user)
    response = client.get(f"/me/sharing/{2**64}/")
    assert response.status_code == 404


# --- who looked at my record -------------------------------------------------------------------


def test_the_access_log_names_who_looked_when_and_why_in_plain_words(client, team):
    pat_record(team)
    client.force_login(team.alice)
    client.get(reverse("patient-summary", args=[team.pat.pk]))
    client.force_login(team.olive)
    client.get(reverse("patient-summary", args=[team.pat.pk]))  # refused: no relationship
    sign_in(client, team.pat_user)
    client.get(reverse("portal-record"))  # Pat's own visit: not listed

    response = client.get(reverse("portal-access"))

    sentences = [line.sentence for line in response.context["lines"]]
    alice = team.practitioner(team.alice).name
    assert any(
        s.startswith(
            f"{alice}, primary care physician at Riverside Family Medicine, looked at your health record on "
        )
        and s.endswith(", to treat you.")
        for s in sentences
    ), sentences
    olive = team.practitioner(team.olive).name
    assert any(
        s.startswith(f"{olive}, nurse, tried to look at") and "not allowed" in s for s in sentences
    )
    assert not any(s.startswith("You") for s in sentences)
    assert AuditEvent.objects.filter(
        actor_id=team.pat_user.pk, categories="access-log", patient_id=team.pat.pk
    ).exists()


def test_the_access_log_shows_break_the_glass(client, team):
    from tandem.breakglass import services as breakglass

    pat_record(team)
    breakglass.declare(
        by=team.olive, patient_id=team.pat.pk, reason="Unconscious in the ED, no history available"
    )
    client.force_login(team.olive)
    client.get(reverse("patient-summary", args=[team.pat.pk]))  # an emergency read now
    sign_in(client, team.pat_user)

    lines = client.get(reverse("portal-access")).context["lines"]

    emergency = [line for line in lines if line.emergency]
    assert any("used emergency access to open your record" in line.sentence for line in emergency)
    assert any(line.sentence.endswith(", in an emergency.") for line in emergency)


def test_pat_signs_a_draft_recorded_with_the_clinic_and_it_is_in_force(client, team):
    draft = b.consent(
        patient=team.pat, categories=["mental-health"], purposes=["treatment"], status="draft",
        recipients=[{"kind": "role", "role": "pcp"}], start=timezone.localdate(),
    )  # fmt: skip
    sign_in(client, team.pat_user)
    listed = client.get(reverse("portal-sharing"))
    assert [d["pk"] for d in listed.context["drafts"]] == [draft.pk]
    assert listed.context["current"] == [] and "Waiting for your signature" in listed.text
    assert "Sign to start sharing" in client.get(reverse("portal-directive", args=[draft.pk])).text

    wrong = client.post(reverse("portal-directive-sign", args=[draft.pk]), {"signature": "P J"})
    assert wrong.status_code == 400 and "Type your name as it is on your record" in wrong.text
    draft.refresh_from_db()
    assert draft.status == "draft"

    client.post(reverse("portal-directive-sign", args=[draft.pk]), {"signature": "Pat Jones"})

    draft.refresh_from_db()
    assert (draft.status, draft.signer_name, draft.signer_relationship) == (
        "active", "Pat Jones", "self"
    )  # fmt: skip


def test_a_forged_directive_id_cannot_be_signed(client, team):
    theirs = other_patients_directive(team)
    sign_in(client, team.pat_user)

    response = client.post(
        reverse("portal-directive-sign", args=[theirs.pk]), {"signature": "Pat Jones"}
    )

    assert response.status_code == 404
