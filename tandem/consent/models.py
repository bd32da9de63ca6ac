"""Consent directives (F26): a patient's permission to share categories of sensitive data with
recipients, for purposes, over a period — with its signature and its full version history.

One ``ConsentDirective`` row per directive (categories and purposes as lists), one
``DirectiveRecipient`` row per recipient (a person, an organization, a site or a care-team
role; each can be revoked alone), one ``DirectiveVersion`` row per change (a snapshot), and the
signed form, when the signature is a scanned PDF, in ``SignedForm``. Writes go through
``tandem.consent.services``; the gate reads these tables on every chart read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models

from tandem.core.models import (
    Labelled,
    Organization,
    Practitioner,
    Sensitivity,
    Site,
    sensitivity_check,
)


class Purpose(models.TextChoices):
    TREATMENT = "treatment", "Treatment"
    PAYMENT = "payment", "Payment"
    OPERATIONS = "operations", "Health care operations / quality"
    RESEARCH = "research", "Research"
    PATIENT_ACCESS = "patient-access", "Patient's own access"
    EMERGENCY = "emergency", "Emergency"


# The purposes a directive can name (the others are never consented to: the patient's own
# access needs none, an emergency is break-the-glass).
DIRECTIVE_PURPOSES: tuple[str, ...] = (
    Purpose.TREATMENT,
    Purpose.PAYMENT,
    Purpose.OPERATIONS,
    Purpose.RESEARCH,
)
# The 2024 Part 2 rule (42 CFR 2.33(b)): one consent for treatment, payment and operations.
TPO_PURPOSES: tuple[str, ...] = (Purpose.TREATMENT, Purpose.PAYMENT, Purpose.OPERATIONS)


SHAREABLE_CATEGORIES: frozenset[str] = frozenset(
    {
        Sensitivity.SUBSTANCE_USE,
        Sensitivity.MENTAL_HEALTH,
        Sensitivity.HIV,
        Sensitivity.REPRODUCTIVE_HEALTH,
    }
)


def covered_categories(categories: Any) -> frozenset[str]:
    """The labels a directive with these categories shares: ``all`` is the four;
    psychotherapy notes never (nor anything unknown)."""
    cats = set(categories)
    if "all" in cats:
        return SHAREABLE_CATEGORIES
    return frozenset(str(c) for c in cats if c in SHAREABLE_CATEGORIES)


class DirectiveQuerySet(models.QuerySet):
    def for_purpose(self, purpose: str) -> DirectiveQuerySet:
        """Directives whose purposes include ``purpose`` (portable: SQLite and PostgreSQL)."""
        # JSON ``contains`` is not supported on SQLite; the JSON text holds the quoted code,
        # and no purpose code is a substring of another.
        return self.filter(purposes__icontains=purpose)


class ConsentDirective(Labelled):
    """A patient's permission to share categories of sensitive data with recipients.

    Labelled with the most protective of its categories: a directive to share substance-use
    records says there are some, so it is shown to those who may see that category (the
    recipients it names among them), like the records themselves.
    """

    class Category(models.TextChoices):
        SUBSTANCE_USE = Sensitivity.SUBSTANCE_USE.value, Sensitivity.SUBSTANCE_USE.label
        MENTAL_HEALTH = Sensitivity.MENTAL_HEALTH.value, Sensitivity.MENTAL_HEALTH.label
        HIV = Sensitivity.HIV.value, Sensitivity.HIV.label
        REPRODUCTIVE_HEALTH = (
            Sensitivity.REPRODUCTIVE_HEALTH.value,
            Sensitivity.REPRODUCTIVE_HEALTH.label,
        )
        ALL = "all", "All sensitive categories (never psychotherapy notes)"

    # Kept as an alias of DirectiveRecipient.Kind for callers of the old single-recipient shape.
    class RecipientKind(models.TextChoices):
        PERSON = "person", "A named practitioner"
        ORGANIZATION = "organization", "An organization"
        SITE = "site", "A site"
        ROLE = "role", "Anyone in a care-team role"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft (not signed)"
        ACTIVE = "active", "Active"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    class Relationship(models.TextChoices):
        SELF = "self", "The patient"
        PARENT = "parent", "Parent"
        GUARDIAN = "guardian", "Legal guardian"
        REPRESENTATIVE = "representative", "Personal representative / health care agent"
        OTHER = "other", "Other authorized person"

    class SignatureKind(models.TextChoices):
        NONE = "", "Not signed"
        TYPED = "typed", "Typed name and date"
        PDF = "pdf", "Scanned signed form (PDF)"

    patient = models.ForeignKey(
        "registry.Patient", on_delete=models.CASCADE, related_name="consents"
    )
    categories = models.JSONField(
        default=list, help_text="Category codes; 'all' means every one of the four."
    )
    purposes = models.JSONField(default=list, help_text="Purpose codes (DIRECTIVE_PURPOSES).")
    part2_tpo = models.BooleanField(
        default=False,
        help_text="A single 42 CFR Part 2 consent for treatment, payment and operations (2024).",
    )
    start = models.DateField()
    end = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    version = models.PositiveIntegerField(default=1)
    signature_kind = models.CharField(
        max_length=10, choices=SignatureKind.choices, blank=True, default=""
    )
    signer_name = models.CharField(max_length=200, blank=True, default="")
    signed_on = models.DateField(null=True, blank=True)
    signer_relationship = models.CharField(
        max_length=20, choices=Relationship.choices, blank=True, default=""
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revocation_reason = models.TextField(blank=True, default="")

    objects = DirectiveQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["patient", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__isnull=True) | models.Q(end__gte=models.F("start")),
                name="consent_end_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(signature_kind="")
                | (~models.Q(signer_name="") & models.Q(signed_on__isnull=False)),
                name="consent_signature_complete",
            ),
            sensitivity_check("consentdirective"),
        ]

    def covered_categories(self) -> frozenset[str]:
        """The labels this directive shares: 'all' is the four (psychotherapy notes never)."""
        return covered_categories(self.categories or ())

    def in_force_on(self, day: dt.date) -> bool:
        return (
            self.status == self.Status.ACTIVE
            and self.start <= day
            and (self.end is None or self.end >= day)
        )

    @property
    def is_signed(self) -> bool:
        return bool(self.signature_kind)

    def __str__(self) -> str:
        return f"Directive {self.pk} ({', '.join(self.categories or ())}; {self.status})"


class DirectiveRecipient(models.Model):
    """One recipient a directive names. Revoking one leaves the others in force."""

    class Kind(models.TextChoices):
        PERSON = "person", "A named practitioner"
        ORGANIZATION = "organization", "An organization"
        SITE = "site", "A site"
        ROLE = "role", "Anyone in a care-team role"

    directive = models.ForeignKey(
        ConsentDirective, on_delete=models.CASCADE, related_name="recipients"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    practitioner = models.ForeignKey(
        Practitioner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    role = models.CharField(
        max_length=20, blank=True, default="", help_text="A care-team role, e.g. pcp."
    )
    revoked_on = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revocation_reason = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["practitioner"]), models.Index(fields=["organization"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="person", practitioner__isnull=False)
                    | models.Q(kind="organization", organization__isnull=False)
                    | models.Q(kind="site", site__isnull=False)
                    | (models.Q(kind="role") & ~models.Q(role=""))
                ),
                name="directive_recipient_given",
            ),
        ]

    @property
    def is_revoked(self) -> bool:
        return self.revoked_on is not None

    def describe(self) -> str:
        """The recipient in words (a name, or "anyone who is the patient's pcp")."""
        if self.kind == self.Kind.PERSON and self.practitioner is not None:
            return self.practitioner.name
        if self.kind == self.Kind.ORGANIZATION and self.organization is not None:
            return self.organization.name
        if self.kind == self.Kind.SITE and self.site is not None:
            return self.site.name
        roles: dict[str, Any] = {
            "pcp": "primary care provider",
            "bh-clinician": "behavioral health clinician",
            "psychiatrist": "psychiatrist",
            "care-manager": "care manager",
            "nurse": "nurse",
            "peer-specialist": "peer specialist",
        }
        return f"the patient's {roles.get(self.role, self.role)}"

    def __str__(self) -> str:
        return self.describe()


class DirectiveVersion(models.Model):
    """A directive as it stood after one change: the full history, never edited."""

    directive = models.ForeignKey(
        ConsentDirective, on_delete=models.CASCADE, related_name="versions"
    )
    version = models.PositiveIntegerField()
    change = models.CharField(max_length=30)
    snapshot = models.JSONField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["directive", "version"]
        constraints = [
            models.UniqueConstraint(fields=["directive", "version"], name="directive_version_once")
        ]


class SignedForm(models.Model):
    """The scanned signed consent form (a PDF of at most 5 MB), stored in the database."""

    MAX_BYTES = 5 * 1024 * 1024

    directive = models.OneToOneField(
        ConsentDirective, on_delete=models.CASCADE, related_name="signed_form"
    )
    content = models.BinaryField()
    filename = models.CharField(max_length=200, blank=True, default="")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(auto_now_add=True)
