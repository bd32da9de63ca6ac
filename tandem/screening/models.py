"""Assessment responses (PHQ-9, GAD-7, AUDIT-C…). Instrument logic comes with screening."""

from __future__ import annotations

from django.db import models

from tandem.core.models import ClinicalRecord, Practitioner, sensitivity_check


class AssessmentResponse(ClinicalRecord):
    class Instrument(models.TextChoices):
        PHQ2 = "phq2", "PHQ-2"
        PHQ9 = "phq9", "PHQ-9"
        PHQA = "phqa", "PHQ-A (PHQ-9 modified for teens)"
        GAD7 = "gad7", "GAD-7"
        AUDITC = "auditc", "AUDIT-C"
        DAST10 = "dast10", "DAST-10"
        PCPTSD5 = "pcptsd5", "PC-PTSD-5"
        CSSRS = "cssrs", "C-SSRS screener"

    instrument = models.CharField(max_length=10, choices=Instrument.choices)
    answers = models.JSONField(default=dict, help_text="Item code (LOINC) -> answer value.")
    total_score = models.IntegerField(null=True, blank=True)
    effective_at = models.DateTimeField()
    status = models.CharField(max_length=20, default="completed")
    completed_by = models.CharField(
        max_length=20,
        choices=[("patient", "Patient"), ("clinician", "Clinician"), ("proxy", "Proxy")],
        default="patient",
    )
    administered_by = models.ForeignKey(
        Practitioner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    encounter = models.ForeignKey(
        "clinical.Encounter", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["patient", "instrument", "effective_at"])]
        constraints = [sensitivity_check("assessmentresponse")]
