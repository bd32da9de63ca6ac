"""Appointments: booked, arrived, no-show, cancelled (with reason)."""

from __future__ import annotations

from django.db import models

from tandem.core.models import ClinicalRecord, Practitioner, Site, sensitivity_check


class Appointment(ClinicalRecord):
    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        ARRIVED = "arrived", "Arrived"
        FULFILLED = "fulfilled", "Fulfilled"
        NO_SHOW = "noshow", "No-show"
        CANCELLED = "cancelled", "Cancelled"

    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BOOKED)
    cancel_reason = models.CharField(max_length=200, blank=True, default="")
    service_type = models.CharField(max_length=100, blank=True, default="")
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    practitioner = models.ForeignKey(
        Practitioner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    encounter = models.ForeignKey(
        "clinical.Encounter", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["patient", "start"]), models.Index(fields=["start"])]
        constraints = [
            sensitivity_check("appointment"),
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="appointment_end_after_start"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="cancelled") | ~models.Q(cancel_reason=""),
                name="appointment_cancel_has_reason",
            ),
        ]
