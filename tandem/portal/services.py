"""The portal's writes: a questionnaire the patient completes. Audited in the caller's
transaction. (Sharing choices are written by ``tandem.consent.services``.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from tandem.audit import services as audit
from tandem.portal import rules
from tandem.screening.models import AssessmentResponse

CRISIS_TASK_TITLE = "Questionnaire answer needs a call today (PHQ-9 question 9)"


class QuestionnaireError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def complete_questionnaire(
    *,
    by: Any,
    patient: Any,
    questionnaire: rules.Questionnaire,
    answers: dict[str, int],
    care_team: Sequence[Any] = (),
) -> tuple[AssessmentResponse, Any | None]:
    """Store the patient's answers as an ``AssessmentResponse`` (completed by the patient,
    source ``portal``) and, when the crisis item is answered above 0, a task for the care team
    to call today. Returns (the response, the task or None). Raises QuestionnaireError."""
    for q in questionnaire.questions:
        value = answers.get(q.code)
        if value not in (0, 1, 2, 3):
            raise QuestionnaireError(q.code, "Choose one answer.")
    extra = set(answers) - {q.code for q in questionnaire.questions}
    if extra:
        raise QuestionnaireError(sorted(extra)[0], "This is not a question of this form.")
    total = rules.total(questionnaire, answers)
    with transaction.atomic():
        response = AssessmentResponse.objects.create(
            patient=patient,
            instrument=questionnaire.instrument,
            answers={**answers, questionnaire.total_code: total},
            total_score=total,
            effective_at=timezone.now(),
            completed_by="patient",
            source="portal",
        )
        audit.record(
            actor=by,
            entry=audit.Entry(
                "write:complete_questionnaire",
                "written",
                patient.pk,
                "assessments",
                "patient-access",
                f"instrument={questionnaire.instrument} response={response.pk}",
            ),
        )
        task = None
        if questionnaire.crisis_item and answers.get(questionnaire.crisis_item, 0) > 0:
            task = _crisis_task(by=by, patient=patient, care_team=care_team, response=response)
    return response, task


def _crisis_task(*, by: Any, patient: Any, care_team: Sequence[Any], response: Any) -> Any:
    """A task to call the patient today: for the primary-care team of the patient's home site
    (or their PCP's site), else for a care-team member with a login; None when nobody."""
    from tandem.tasks import services as tasks

    pcp = next((m.practitioner for m in care_team if m.role == "pcp"), None)
    site = getattr(patient, "home_site", None)
    if site is None and pcp is not None:
        site = pcp.sites.order_by("pk").first()
    common = {
        "by": by,
        "patient": patient,
        "title": CRISIS_TASK_TITLE,
        "due": timezone.localdate(),
        "priority": "urgent",
        "source": "alert",
        "source_ref": f"assessment:{response.pk}",
    }
    if site is not None:
        return tasks.create_task(queue=tasks.queue_for(site=site, kind="primary-care"), **common)
    holder = next((m.practitioner.user for m in care_team if m.practitioner.user_id), None)
    if holder is not None:
        return tasks.create_task(owner=holder, **common)
    return None
