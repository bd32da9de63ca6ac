"""The patient: identity, contacts and insurance coverage.

Identifiers and coverage carry a sensitivity label (``tandem.core.models.Labelled``): the site
or payer they name can reveal a Part 2 or mental-health program. So can a patient's home site
(``Patient.home_site_sensitivity``). Contacts name no program and carry none.

Reads go through ``tandem.registry.queries`` and so through ``tandem.consent.gate``.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from tandem.core.models import Labelled, Organization, Sensitivity, Site, sensitivity_check


class Patient(models.Model):
    """A person cared for by one or more sites of the integrated team."""

    class Sex(models.TextChoices):  # FHIR administrative gender
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        UNKNOWN = "unknown", "Unknown"

    given_name = models.CharField(max_length=100)
    middle_name = models.CharField(max_length=100, blank=True, default="")
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices)
    gender_identity = models.CharField(
        max_length=40,
        blank=True,
        default="",
        help_text="As the patient states it (e.g. woman, man, non-binary, transgender woman).",
    )
    race = models.CharField(
        max_length=10, blank=True, default="", help_text="OMB race category code (CDC 1000-9)."
    )
    ethnicity = models.CharField(
        max_length=10, blank=True, default="", help_text="OMB ethnicity code (2135-2 / 2186-5)."
    )
    language = models.CharField(
        max_length=20, blank=True, default="en", help_text="Preferred language, BCP 47."
    )
    address_line = models.CharField(max_length=200, blank=True, default="")
    city = models.CharField(max_length=100, blank=True, default="")
    state = models.CharField(max_length=2, blank=True, default="")
    postal_code = models.CharField(max_length=10, blank=True, default="")
    phone = models.CharField(max_length=30, blank=True, default="")
    deceased_date = models.DateField(null=True, blank=True)
    home_site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    home_site_sensitivity = models.CharField(
        max_length=20,
        choices=Sensitivity.choices,
        help_text="What naming the home site reveals (``tandem.consent.rules``): a Part 2 or "
        "mental-health center is withheld from readers who may not know of it.",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="patient",
        help_text="The patient's own login (portal access to their record).",
    )
    source = models.CharField(max_length=40, default="tandem")
    source_id = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["family_name", "given_name"]),
            models.Index(fields=["birth_date"]),
            models.Index(fields=["source", "source_id"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(home_site_sensitivity__in=Sensitivity.values),
                name="patient_home_site_sensitivity_known",
            )
        ]

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        """Label the home site on every write of it; refuse a copy whose home site was
        withheld from a reader (``consent.gate``): saving it would erase the home site."""
        if getattr(self, "home_site_withheld", False):
            raise ValueError("this patient was read with its home site withheld: not saveable")
        fields = kwargs.get("update_fields")
        if fields is None or "home_site" in fields or "home_site_id" in fields:
            from tandem.consent import rules

            self.home_site_sensitivity = rules.label_home_site(self)
            if fields is not None:
                kwargs["update_fields"] = {*fields, "home_site_sensitivity"}
        super().save(*args, **kwargs)

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def age_on(self, day: dt.date) -> int:
        """Age in completed years on ``day`` (a 29 February birthday turns over on 1 March)."""
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def __str__(self) -> str:
        return f"Patient {self.pk}"  # never a name: str() ends up in logs


class PatientIdentifier(Labelled):
    """An identifier: an MRN at a site, a Medicaid id, a health-plan member id.

    Labelled by the site that issued it: an MRN of a Part 2 site says the person is its
    patient (``substance-use``), one of a mental-health center ``mental-health``.
    """

    class Kind(models.TextChoices):
        MRN = "mrn", "Medical record number"
        MEDICAID = "medicaid", "Medicaid id"
        MEMBER = "member", "Health plan member id"
        OTHER = "other", "Other"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    system = models.CharField(max_length=200, help_text="URI of the assigning authority.")
    value = models.CharField(max_length=64)
    site = models.ForeignKey(
        Site,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For MRNs: the site that assigned it (the patient is registered there).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["system", "value"], name="identifier_unique"),
            models.CheckConstraint(
                condition=~models.Q(kind="mrn") | models.Q(site__isnull=False),
                name="identifier_mrn_has_site",
            ),
            sensitivity_check("patientidentifier"),
        ]
        indexes = [models.Index(fields=["value"]), models.Index(fields=["site", "kind"])]


class PatientContact(models.Model):
    """Next of kin, emergency contact or guardian — also an outreach channel (F3)."""

    class Kind(models.TextChoices):
        NEXT_OF_KIN = "next-of-kin", "Next of kin"
        EMERGENCY = "emergency", "Emergency contact"
        GUARDIAN = "guardian", "Guardian"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="contacts")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=200)
    relationship = models.CharField(max_length=50, blank=True, default="")
    phone = models.CharField(max_length=30, blank=True, default="")
    address = models.CharField(max_length=300, blank=True, default="")


class Coverage(Labelled):
    """An enrollment span with a payer; measures need continuous enrollment.

    Labelled by its payer: a plan run by an organization whose every site is a Part 2 site
    would reveal the program; a health plan or Medicaid reveals nothing (``normal``).
    """

    class Kind(models.TextChoices):
        MEDICAID = "medicaid", "Medicaid"
        MEDICARE = "medicare", "Medicare"
        DUAL = "dual", "Medicare–Medicaid (dual)"
        COMMERCIAL = "commercial", "Commercial"
        SELF_PAY = "self-pay", "Self-pay / uninsured"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="coverages")
    payer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    plan = models.CharField(max_length=100, blank=True, default="")
    member_id = models.CharField(max_length=64, blank=True, default="")
    start = models.DateField()
    end = models.DateField(null=True, blank=True, help_text="Empty: still enrolled.")
    source = models.CharField(max_length=40, default="tandem")
    source_id = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["patient", "start"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__isnull=True) | models.Q(end__gte=models.F("start")),
                name="coverage_end_after_start",
            ),
            sensitivity_check("coverage"),
        ]


class CohortMembership(Labelled):
    """A patient's place in a registry cohort (F1), as of the last rebuild.

    The cohorts are defined as data in the measure language
    (``tandem.measures.definitions.cohorts``) and rebuilt by the daily refresh
    (``registry.services.rebuild_cohorts``). Being on a behavioral-health cohort says something
    about the patient, so a membership carries its cohort's label
    (``registry.rules.COHORT_LABELS``): SUD ``substance-use``, SMI, depression and anxiety
    ``mental-health``, the others ``normal``.
    """

    cohort = models.CharField(max_length=40, help_text="Cohort key, e.g. smi or diabetes.")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    since = models.DateField(help_text="The rebuild that first found the patient on the cohort.")
    as_of = models.DateField(help_text="The day the cohort was last evaluated.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cohort", "patient"], name="cohort_member_unique"),
            sensitivity_check("cohortmembership"),
        ]
        indexes = [models.Index(fields=["patient", "cohort"])]


class RiskScore(Labelled):
    """A patient's risk score (F5): points per component, a tier, computed by the refresh.

    ``components`` is a list of ``{"key", "label", "value", "points"}`` in the order of
    ``registry.rules.RISK_COMPONENTS``; ``score`` is the sum of the points. The score counts
    no 42 CFR Part 2 record (a number moved by one would disclose it); it is labelled
    ``mental-health`` when a behavioral-health record moved it (a psychiatric admission, a
    behavioral-health no-show), else ``normal`` (``registry.services.rebuild_risk``).
    """

    class Tier(models.TextChoices):
        LOW = "low", "Low"
        MODERATE = "moderate", "Moderate"
        HIGH = "high", "High"
        VERY_HIGH = "very-high", "Very high"

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="+")
    score = models.PositiveIntegerField()
    tier = models.CharField(max_length=10, choices=Tier.choices)
    components = models.JSONField(default=list)
    as_of = models.DateField(help_text="The day the score describes.")
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["tier", "score"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tier__in=["low", "moderate", "high", "very-high"]),
                name="riskscore_tier_known",
            ),
            sensitivity_check("riskscore"),
        ]


class SavedFilter(models.Model):
    """A user's named filter on a cohort list: the query string, applied by a link."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters"
    )
    cohort = models.CharField(max_length=40)
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=1000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "cohort", "name"], name="savedfilter_unique_name"
            )
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"SavedFilter {self.pk}"
