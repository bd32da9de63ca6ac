"""Shared models: who delivers care, where, and the treatment relationships the gate checks.

``Labelled`` is the abstract base of every row the consent gate filters by a sensitivity label
assigned by ``tandem.consent.rules`` when the row is written: the clinical rows, and the rows
that tie a patient to a program (care-team memberships here; identifiers, coverage and consent
directives in their apps). ``ClinicalRecord`` is the abstract base of every clinical row
(encounters, conditions, medications, observations, notes, appointments, assessments…): each
row belongs to one patient and carries the program that recorded it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models

from tandem.core.lib.npi import validate_npi


class Sensitivity(models.TextChoices):
    """Sensitivity labels. Assigned by ``tandem.consent.rules`` when a row is written."""

    NORMAL = "normal", "Normal"
    MENTAL_HEALTH = "mental-health", "Mental health"
    SUBSTANCE_USE = "substance-use", "Substance use (42 CFR Part 2)"
    PSYCHOTHERAPY_NOTE = "psychotherapy-note", "Psychotherapy note"
    HIV = "hiv", "HIV"
    REPRODUCTIVE_HEALTH = "reproductive-health", "Reproductive health"


def sensitivity_check(model_name: str) -> models.CheckConstraint:
    """A database check that every row of a labelled table carries a known label."""
    return models.CheckConstraint(
        condition=models.Q(sensitivity__in=Sensitivity.values),
        name=f"{model_name}_sensitivity_known",
    )


class Labelled(models.Model):
    """Abstract base of every row the gate filters by label (see ``tandem.consent.rules``).

    The label is assigned when the row is first saved, by the labeller ``tandem.consent``
    registers at start-up (:meth:`label_with`, from its ``AppConfig.ready``): the rules live
    above ``core``, which imports no domain app. Saving a row with no label and no labeller
    registered is refused, never written as ``normal``. Paths that skip ``save`` (bulk
    inserts) label their rows through the same rules first. The column has no default, so a
    bulk path that forgets fails on the database's NOT NULL instead of writing ``normal``.
    """

    sensitivity = models.CharField(max_length=20, choices=Sensitivity.choices)

    _labeller: ClassVar[Callable[[Labelled], str] | None] = None

    class Meta:
        abstract = True

    @classmethod
    def label_with(cls, labeller: Callable[[Labelled], str]) -> None:
        """Register the function that gives a row its label (``tandem.consent.rules``)."""
        Labelled._labeller = labeller

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if not self.sensitivity:
            if Labelled._labeller is None:
                raise ImproperlyConfigured(
                    "no sensitivity labeller registered: is tandem.consent in INSTALLED_APPS?"
                )
            self.sensitivity = Labelled._labeller(self)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.sensitivity and self.sensitivity not in Sensitivity.values:
            raise ValidationError({"sensitivity": "unknown sensitivity label"})


class Organization(models.Model):
    """A legal entity: a health system, a CMHC agency, a health plan."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(
        max_length=20,
        choices=[
            ("provider", "Care provider"),
            ("payer", "Payer / health plan"),
            ("state", "State agency"),
        ],
        default="provider",
    )

    def __str__(self) -> str:
        return self.name


class Site(models.Model):
    """A place where care is delivered; integration go-live anchors pre/post comparisons."""

    class Kind(models.TextChoices):
        PRIMARY_CARE = "primary-care", "Primary care clinic"
        CMHC = "cmhc", "Community mental health center"
        CO_LOCATED_BH = "co-located-bh", "Co-located behavioral health"
        SUD_PROGRAM = "sud-program", "Substance use disorder program"
        HOSPITAL = "hospital", "Hospital / emergency department"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="sites")
    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    integration_go_live = models.DateField(
        null=True, blank=True, help_text="Date PC–BH integration started at this site."
    )

    def __str__(self) -> str:
        return self.name


class Program(models.Model):
    """A service line inside a site. Behavioral-health and Part 2 flags drive sensitivity."""

    class Kind(models.TextChoices):
        PRIMARY_CARE = "primary-care", "Primary care"
        BEHAVIORAL_HEALTH = "behavioral-health", "Behavioral health (mental health)"
        SUD = "sud", "Substance use disorder treatment"
        PSYCHIATRY = "psychiatry", "Psychiatry"
        COLLABORATIVE_CARE = "collaborative-care", "Collaborative care"
        EMERGENCY = "emergency", "Emergency department"
        INPATIENT = "inpatient", "Inpatient"

    BEHAVIORAL_KINDS = frozenset({Kind.BEHAVIORAL_HEALTH, Kind.SUD, Kind.PSYCHIATRY})

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="programs")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    is_part2 = models.BooleanField(
        default=False,
        help_text="A federally assisted SUD program under 42 CFR Part 2: its records need "
        "the patient's consent to be shared.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="program_unique_name_per_site"),
            models.CheckConstraint(
                condition=models.Q(is_part2=False) | models.Q(kind="sud"),
                name="program_part2_is_sud",
            ),
        ]

    @property
    def is_behavioral_health(self) -> bool:
        return self.kind in self.BEHAVIORAL_KINDS

    def __str__(self) -> str:
        return f"{self.site} – {self.name}"


class Practitioner(models.Model):
    """A clinician or staff member who cares for patients; linked to a login user."""

    class Discipline(models.TextChoices):
        PCP = "pcp", "Primary care physician"
        NP_PA = "np-pa", "Nurse practitioner / physician assistant"
        NURSE = "nurse", "Nurse"
        CARE_MANAGER = "care-manager", "Care manager"
        PSYCHOLOGIST = "psychologist", "Psychologist"
        SOCIAL_WORKER = "social-worker", "Social worker"
        PSYCHIATRIST = "psychiatrist", "Psychiatrist"
        PEER_SPECIALIST = "peer-specialist", "Peer specialist"

    BEHAVIORAL_DISCIPLINES = frozenset(
        {Discipline.PSYCHOLOGIST, Discipline.SOCIAL_WORKER, Discipline.PSYCHIATRIST}
    )

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="practitioner",
    )
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    discipline = models.CharField(max_length=20, choices=Discipline.choices)
    npi = models.CharField(
        max_length=10, unique=True, null=True, blank=True, validators=[validate_npi]
    )
    sites = models.ManyToManyField(Site, related_name="practitioners", blank=True)
    programs = models.ManyToManyField(Program, related_name="practitioners", blank=True)
    active = models.BooleanField(default=True)

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def __str__(self) -> str:
        return f"{self.name} ({self.get_discipline_display()})"


class SiteRole(models.Model):
    """A role a user holds at a site. Some roles grant access to the site's patients."""

    class Role(models.TextChoices):
        CLINICIAN = "clinician", "Covering clinician (treatment access to the site's patients)"
        CARE_MANAGER = "care-manager", "Care manager (treatment access to the site's patients)"
        LEADER = "leader", "Clinic or program leader (operations/quality access)"
        QUALITY = "quality", "Quality analyst (operations/quality access)"
        FRONT_DESK = "front-desk", "Front desk (no clinical access)"
        PRIVACY_OFFICER = "privacy-officer", "Privacy officer (audit data, no clinical access)"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_roles"
    )
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "site", "role"], name="siterole_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.role} at {self.site}"


class CareTeamMember(Labelled):
    """A treatment relationship: this practitioner cares for this patient in this role.

    Labelled like a clinical row: a membership in a Part 2 program is itself Part 2
    information, one in a behavioral-health program is ``mental-health``. The gate still reads
    every membership to decide a reader's basis; the label decides only what is displayed.
    """

    class Role(models.TextChoices):
        PCP = "pcp", "Primary care provider"
        BH_CLINICIAN = "bh-clinician", "Behavioral health clinician"
        PSYCHIATRIST = "psychiatrist", "Psychiatrist"
        CARE_MANAGER = "care-manager", "Care manager"
        NURSE = "nurse", "Nurse"
        PEER_SPECIALIST = "peer-specialist", "Peer specialist"

    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    program = models.ForeignKey(
        Program, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    start = models.DateField()
    end = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["practitioner", "patient"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__isnull=True) | models.Q(end__gte=models.F("start")),
                name="careteam_end_after_start",
            ),
            sensitivity_check("careteammember"),
        ]

    def is_active_on(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or self.end >= day)

    def __str__(self) -> str:
        return f"{self.practitioner} as {self.role}"


class ClinicalRecord(Labelled):
    """Abstract base of every clinical row: patient, recording program, label, provenance."""

    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(
        Program,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The program that recorded this row (drives mental-health and Part 2 labels).",
    )
    sensitivity = models.CharField(max_length=20, choices=Sensitivity.choices)
    source = models.CharField(
        max_length=40, default="tandem", help_text="Where the row came from: tandem, synth, fhir…"
    )
    source_id = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
