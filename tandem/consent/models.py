"""Consent directives: patient × data category × recipient × purpose × period.

The screens to manage directives come later (F26); the gate reads them now.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from tandem.core.models import Labelled, Organization, Practitioner, Sensitivity, sensitivity_check


class Purpose(models.TextChoices):
    TREATMENT = "treatment", "Treatment"
    OPERATIONS = "operations", "Health care operations / quality"
    PATIENT_ACCESS = "patient-access", "Patient's own access"
    EMERGENCY = "emergency", "Emergency"


class ConsentDirective(Labelled):
    """A patient's permission to share one category of sensitive data with a recipient.

    Labelled with its category: a directive to share substance-use records says there are
    some, so it is shown to those who may see that category (the recipients it names among
    them), like the records themselves.
    """

    class Category(models.TextChoices):
        SUBSTANCE_USE = Sensitivity.SUBSTANCE_USE.value, Sensitivity.SUBSTANCE_USE.label
        MENTAL_HEALTH = Sensitivity.MENTAL_HEALTH.value, Sensitivity.MENTAL_HEALTH.label
        HIV = Sensitivity.HIV.value, Sensitivity.HIV.label
        REPRODUCTIVE_HEALTH = (
            Sensitivity.REPRODUCTIVE_HEALTH.value,
            Sensitivity.REPRODUCTIVE_HEALTH.label,
        )

    class RecipientKind(models.TextChoices):
        PERSON = "person", "A named practitioner"
        ORGANIZATION = "organization", "An organization"
        ROLE = "role", "Anyone in a care-team role"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REVOKED = "revoked", "Revoked"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    patient = models.ForeignKey(
        "registry.Patient", on_delete=models.CASCADE, related_name="consents"
    )
    category = models.CharField(max_length=20, choices=Category.choices)
    recipient_kind = models.CharField(max_length=20, choices=RecipientKind.choices)
    recipient_practitioner = models.ForeignKey(
        Practitioner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recipient_organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recipient_role = models.CharField(
        max_length=20, blank=True, default="", help_text="A care-team role, e.g. pcp."
    )
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.TREATMENT)
    start = models.DateField()
    end = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "category", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(recipient_kind="person", recipient_practitioner__isnull=False)
                    | models.Q(recipient_kind="organization", recipient_organization__isnull=False)
                    | (models.Q(recipient_kind="role") & ~models.Q(recipient_role=""))
                ),
                name="consent_recipient_given",
            ),
            models.CheckConstraint(
                condition=models.Q(end__isnull=True) | models.Q(end__gte=models.F("start")),
                name="consent_end_after_start",
            ),
            sensitivity_check("consentdirective"),
        ]

    def in_force_on(self, day: dt.date) -> bool:
        return (
            self.status == self.Status.ACTIVE
            and self.start <= day
            and (self.end is None or self.end >= day)
        )
