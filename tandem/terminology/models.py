"""Value sets in the operational database: VSAC expansions and Tandem's own code lists."""

from __future__ import annotations

from django.db import models


class ValueSet(models.Model):
    class Source(models.TextChoices):
        VSAC = "vsac", "FHIR ValueSet expansion (e.g. VSAC)"
        TANDEM = "tandem", "Tandem code list"

    identifier = models.CharField(max_length=200, unique=True, help_text="OID or list key.")
    url = models.CharField(max_length=300, blank=True, default="")
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=60, blank=True, default="")
    source = models.CharField(max_length=10, choices=Source.choices)
    loaded_at = models.DateTimeField(auto_now=True)

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
