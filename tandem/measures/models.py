"""Stored measure results: one run per measure and period, one row per patient and group.

A run records the measure key and the version evaluated (``CMS122v13``: the logic for the 2025
performance period; ``tandem.measures.definitions``).

Worklists and dashboards read these rows (through ``consent.gate``: a patient's result and its
evidence are patient data, labelled with the measure's sensitivity).
"""

from __future__ import annotations

from django.db import models

from tandem.core.models import Sensitivity, sensitivity_check


class MeasureRun(models.Model):
    measure = models.CharField(max_length=40, help_text="Measure key, e.g. CMS2 or SSD.")
    version = models.CharField(
        max_length=40, help_text="Measure version evaluated, e.g. CMS2v14 or SSDv1."
    )
    period_start = models.DateField()
    period_end = models.DateField()
    engine = models.CharField(max_length=20)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    patients = models.PositiveIntegerField(help_text="Patients evaluated.")
    summary = models.JSONField(help_text="Counts and rates per group and stratum.")

    class Meta:
        indexes = [models.Index(fields=["measure", "period_start", "finished_at"])]


class MeasurePatientResult(models.Model):
    """A patient's place in each population of one group, and the evidence that decided it."""

    run = models.ForeignKey(MeasureRun, on_delete=models.CASCADE, related_name="results")
    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    group = models.CharField(max_length=40)
    populations = models.JSONField(
        help_text="FHIR population code -> count (0/1 in a patient-based group, episodes in an "
        "episode-based one)."
    )
    evidence = models.JSONField(default=dict)
    reasons = models.JSONField(default=dict, help_text="Population -> named branches that held.")
    strata = models.JSONField(default=dict)
    in_initial_population = models.BooleanField()
    in_numerator = models.BooleanField()
    sensitivity = models.CharField(
        max_length=20, choices=Sensitivity.choices, default=Sensitivity.NORMAL
    )

    class Meta:
        indexes = [
            models.Index(fields=["run", "in_initial_population", "in_numerator"]),
            models.Index(fields=["patient", "run"]),
        ]
        constraints = [sensitivity_check("measurepatientresult")]
