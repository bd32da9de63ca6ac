"""Medication orders and pharmacy dispenses (RxNorm and/or NDC)."""

from __future__ import annotations

from django.db import models

from tandem.core.models import ClinicalRecord, Practitioner, sensitivity_check


class MedicationOrder(ClinicalRecord):
    """A prescription (FHIR MedicationRequest)."""

    code_system = models.CharField(max_length=200)
    code = models.CharField(max_length=40)
    display = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(max_length=20, default="active")
    intent = models.CharField(max_length=20, default="order")
    do_not_perform = models.BooleanField(default=False)
    dose_quantity = models.FloatField(null=True, blank=True)
    dose_unit = models.CharField(max_length=30, blank=True, default="")
    frequency_per_day = models.FloatField(null=True, blank=True)
    route = models.CharField(max_length=30, blank=True, default="")
    quantity = models.FloatField(null=True, blank=True)
    days_supply = models.PositiveIntegerField(null=True, blank=True)
    refills = models.PositiveSmallIntegerField(default=0)
    authored_at = models.DateTimeField()
    start = models.DateField(null=True, blank=True)
    end = models.DateField(null=True, blank=True)
    prescriber = models.ForeignKey(
        Practitioner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    encounter = models.ForeignKey(
        "clinical.Encounter", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason_system = models.CharField(max_length=200, blank=True, default="")
    reason_code = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["patient", "authored_at"])]
        constraints = [sensitivity_check("medicationorder")]


class MedicationDispense(ClinicalRecord):
    """A pharmacy fill: what adherence (PDC) and HEDIS-style measures count."""

    order = models.ForeignKey(
        MedicationOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="dispenses"
    )
    code_system = models.CharField(max_length=200)
    code = models.CharField(max_length=40)
    display = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(max_length=20, default="completed")
    quantity = models.FloatField(null=True, blank=True)
    days_supply = models.PositiveIntegerField()
    dispensed_at = models.DateTimeField()
    prescriber = models.ForeignKey(
        Practitioner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["patient", "dispensed_at"])]
        constraints = [sensitivity_check("medicationdispense")]
