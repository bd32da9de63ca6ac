"""Value sets in the operational database: VSAC expansions and Tandem's own code lists.

Expansions are kept by version (an OID loaded in two versions is two rows), optionally tagged
with the performance year they are for; ``tandem.terminology.queries.stored_expansions`` picks
one per OID for a year, and those take precedence over the expansions shipped with Tandem.
"""

from __future__ import annotations

from django.db import models


class ValueSet(models.Model):
    class Source(models.TextChoices):
        VSAC = "vsac", "FHIR ValueSet expansion (e.g. VSAC)"
        TANDEM = "tandem", "Tandem code list"

    identifier = models.CharField(max_length=200, help_text="OID or list key.")
    url = models.CharField(max_length=300, blank=True, default="")
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=60, blank=True, default="")
    performance_year = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="The performance year these expansions are for (tandem valuesets load --year); "
        "empty: any year.",
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One row per expansion version: loading a newer VSAC release keeps the older one.
            models.UniqueConstraint(
                fields=["identifier", "version"], name="valueset_identifier_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.identifier})"


class ValueSetCode(models.Model):
    valueset = models.ForeignKey(ValueSet, on_delete=models.CASCADE, related_name="codes")
    system = models.CharField(max_length=200)
    code = models.CharField(max_length=60)
    display = models.CharField(max_length=400, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["valueset", "system", "code"], name="vs_code_unique")
        ]
        indexes = [models.Index(fields=["system", "code"])]
