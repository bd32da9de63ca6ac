"""An emergency access grant (break-the-glass): one reader, one patient, until it expires.

The consent gate reads active grants (``tandem.consent.gate``): a grant gives its user the
emergency basis to its patient only, from ``declared_at`` until ``expires_at`` (declared +
``TANDEM_BREAK_GLASS_MINUTES``). Expiry is by time: no job changes the row. Grants are never
deleted; a privacy officer's review is written on the row (``review_status``, ``reviewer``,
``review_note``, ``reviewed_at``) and the grant stays in the history. Written only through
``tandem.breakglass.services``, read through ``tandem.breakglass.queries``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class EmergencyAccess(models.Model):
    class Review(models.TextChoices):
        UNREVIEWED = "unreviewed", "Awaiting review"
        JUSTIFIED = "justified", "Justified"
        NOT_JUSTIFIED = "not-justified", "Not justified"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="emergency_accesses"
    )
    patient = models.ForeignKey(
        "registry.Patient", on_delete=models.PROTECT, related_name="emergency_accesses"
    )
    reason = models.TextField()
    declared_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    review_status = models.CharField(
        max_length=20, choices=Review.choices, default=Review.UNREVIEWED
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="emergency_access_reviews",
    )
    review_note = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-declared_at", "-pk"]
        indexes = [
            models.Index(fields=["user", "patient", "expires_at"], name="breakglass_active"),
            models.Index(fields=["review_status", "declared_at"], name="breakglass_review"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("declared_at")),
                name="breakglass_expires_after_declared",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="breakglass_reason_required"),
            models.CheckConstraint(
                condition=(
                    Q(review_status="unreviewed", reviewer__isnull=True, reviewed_at__isnull=True)
                    | (
                        Q(review_status__in=["justified", "not-justified"])
                        & Q(reviewer__isnull=False, reviewed_at__isnull=False)
                    )
                ),
                name="breakglass_review_complete",
            ),
            models.CheckConstraint(
                condition=~Q(review_status="not-justified") | ~Q(review_note=""),
                name="breakglass_not_justified_has_note",
            ),
        ]

    def __str__(self) -> str:
        return f"Emergency access {self.pk}"

    @property
    def reviewed(self) -> bool:
        return self.review_status != self.Review.UNREVIEWED
