"""Clinical events: encounters, conditions, observations, procedures, orders and notes.

Every model here is a :class:`~tandem.core.models.ClinicalRecord` (patient, recording program,
sensitivity label, provenance). Codes are stored as FHIR system URI + code so that measures,
FHIR import/export and value sets meet without translation.
"""

from __future__ import annotations

from django.db import models

from tandem.core.models import ClinicalRecord, Practitioner, Site, sensitivity_check


class Encounter(ClinicalRecord):
    class Class(models.TextChoices):
        AMBULATORY = "ambulatory", "Ambulatory"
        EMERGENCY = "emergency", "Emergency"
        INPATIENT_ACUTE = "inpatient-acute", "Inpatient (acute)"
        INPATIENT_PSYCHIATRIC = "inpatient-psychiatric", "Inpatient (psychiatric)"
        OBSERVATION = "observation", "Observation"
        TELEHEALTH = "telehealth", "Telehealth"
        HOME = "home", "Home visit"

    class Setting(models.TextChoices):
        PRIMARY_CARE = "pc", "Primary care"
        BEHAVIORAL_HEALTH = "bh", "Behavioral health"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        ARRIVED = "arrived", "Arrived"
        IN_PROGRESS = "in-progress", "In progress"
        FINISHED = "finished", "Finished"
        CANCELLED = "cancelled", "Cancelled"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    encounter_class = models.CharField(max_length=30, choices=Class.choices)
    type_system = models.CharField(max_length=200, blank=True, default="")
    type_code = models.CharField(max_length=40, blank=True, default="")
    type_display = models.CharField(max_length=200, blank=True, default="")
    setting = models.CharField(max_length=5, choices=Setting.choices, default=Setting.OTHER)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.FINISHED)
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    practitioner = models.ForeignKey(
        Practitioner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    discharge_disposition = models.CharField(
        max_length=40,
        blank=True,
        default="",
        help_text="HL7 discharge-disposition code (home, hosp, psy, snf, hospice, aadvice, exp…).",
    )

    class Meta:
        indexes = [
            models.Index(fields=["patient", "start"]),
            models.Index(fields=["encounter_class", "start"]),
        ]
        constraints = [sensitivity_check("encounter")]


class Condition(ClinicalRecord):
    class Category(models.TextChoices):
        PROBLEM_LIST = "problem-list-item", "Problem list"
        ENCOUNTER_DIAGNOSIS = "encounter-diagnosis", "Encounter diagnosis"
        HEALTH_CONCERN = "health-concern", "Health concern"

    code_system = models.CharField(max_length=200)
    code = models.CharField(max_length=40)
    display = models.CharField(max_length=300, blank=True, default="")
    clinical_status = models.CharField(max_length=20, default="active")
    verification_status = models.CharField(max_length=20, default="confirmed")
    category = models.CharField(max_length=30, choices=Category.choices)
    onset = models.DateTimeField(null=True, blank=True)
    abatement = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(null=True, blank=True)
    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.CASCADE, related_name="diagnoses"
    )
    rank = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Diagnosis rank within the encounter; 1 = principal."
    )
    recorder = models.ForeignKey(
        Practitioner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["patient", "code"]), models.Index(fields=["code"])]
        constraints = [sensitivity_check("condition")]


class Observation(ClinicalRecord):
    """A lab result, vital sign, smoking status or instrument score."""

    code_system = models.CharField(max_length=200)
    code = models.CharField(max_length=40)
    display = models.CharField(max_length=300, blank=True, default="")
    category = models.CharField(max_length=30, default="laboratory")
    status = models.CharField(max_length=20, default="final")
    value_num = models.FloatField(null=True, blank=True)
    value_unit = models.CharField(max_length=30, blank=True, default="")
    value_code_system = models.CharField(max_length=200, blank=True, default="")
    value_code = models.CharField(max_length=40, blank=True, default="")
    value_text = models.CharField(max_length=300, blank=True, default="")
    effective_at = models.DateTimeField()
    issued = models.DateTimeField(null=True, blank=True)
    panel_code = models.CharField(
        max_length=40,
        blank=True,
        default="",
        help_text="LOINC of the panel this component belongs to (85354-9 for blood pressure).",
    )
    panel_id = models.CharField(max_length=64, blank=True, default="")
    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason_system = models.CharField(max_length=200, blank=True, default="")
    reason_code = models.CharField(
        max_length=40, blank=True, default="", help_text="Reason not done, when cancelled."
    )

    class Meta:
        indexes = [
            models.Index(fields=["patient", "code", "effective_at"]),
            # a panel's rows by panel id: the measure extract looks for each panel's header
            # row (``tandem.measures.queries``), without it a scan per panel row
            models.Index(fields=["panel_id", "code"], name="clinical_obs_panel_code"),
        ]
        constraints = [sensitivity_check("observation")]


class Procedure(ClinicalRecord):
    code_system = models.CharField(max_length=200)
    code = models.CharField(max_length=40)
    display = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(max_length=20, default="completed")
    performed_start = models.DateTimeField()
    performed_end = models.DateTimeField(null=True, blank=True)
    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    performer = models.ForeignKey(
        Practitioner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason_system = models.CharField(max_length=200, blank=True, default="")
    reason_code = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["patient", "performed_start"])]
        constraints = [sensitivity_check("procedure")]


class ServiceRequest(ClinicalRecord):
    """An order: a lab, a referral, a follow-up intervention."""

    code_system = models.CharField(max_length=200)
    code = models.CharField(max_length=40)
    display = models.CharField(max_length=300, blank=True, default="")
    category = models.CharField(max_length=30, default="referral")
    status = models.CharField(max_length=20, default="active")
    intent = models.CharField(max_length=20, default="order")
    do_not_perform = models.BooleanField(default=False)
    authored_at = models.DateTimeField()
    requester = models.ForeignKey(
        Practitioner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason_system = models.CharField(max_length=200, blank=True, default="")
    reason_code = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["patient", "authored_at"])]
        constraints = [sensitivity_check("servicerequest")]


class ReferralReport(ClinicalRecord):
    """The consultant's report on a referral, received by the referring clinician.

    Receiving it closes the referral loop (CMS50). Measures and FHIR see it as a QI-Core Task:
    ``code`` the kind of report (LOINC 11488-4 Consult note), ``status`` completed, basedOn
    the referral, executionPeriod from ``received_at`` to ``filed_at``.
    """

    referral = models.ForeignKey(ServiceRequest, on_delete=models.CASCADE, related_name="+")
    code_system = models.CharField(max_length=200)
    code = models.CharField(max_length=40)
    display = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(max_length=20, default="completed")
    received_at = models.DateTimeField()
    filed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["patient", "received_at"], name="clinical_refreport_patient")
        ]
        constraints = [sensitivity_check("referralreport")]


class ClinicalNote(ClinicalRecord):
    class NoteType(models.TextChoices):
        PROGRESS = "progress", "Progress note"
        PSYCHOTHERAPY = "psychotherapy", "Psychotherapy note"
        CONSULT = "consult", "Consult note"
        CARE_MANAGEMENT = "care-management", "Care management note"
        DISCHARGE_SUMMARY = "discharge-summary", "Discharge summary"
        TELEPHONE = "telephone", "Telephone encounter"

    note_type = models.CharField(max_length=20, choices=NoteType.choices)
    title = models.CharField(max_length=200)
    text = models.TextField()
    author = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="+")
    authored_at = models.DateTimeField()
    status = models.CharField(max_length=20, default="final")
    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["patient", "authored_at"])]
        constraints = [
            sensitivity_check("clinicalnote"),
            models.CheckConstraint(
                condition=~models.Q(note_type="psychotherapy")
                | models.Q(sensitivity="psychotherapy-note"),
                name="clinicalnote_psychotherapy_labelled",
            ),
        ]
