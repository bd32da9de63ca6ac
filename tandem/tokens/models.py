"""Personal access tokens for integrations (the JSON API's ``Authorization: Bearer tnd_…``).

The token itself is shown once, when it is created, and never stored: a row keeps the lookup
prefix (to find it) and the SHA-256 digest (to check it). See ``tandem.tokens.rules``.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models


class AccessToken(models.Model):
    """One personal access token: acts as ``user``, limited to ``scopes``, until it expires."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens"
    )
    name = models.CharField(
        max_length=100, help_text="What the token is for, in its owner's words."
    )
    prefix = models.CharField(
        max_length=8, unique=True, help_text="Lookup prefix: the 8 characters after 'tnd_'."
    )
    digest = models.CharField(max_length=64, help_text="SHA-256 (hex) of the whole token.")
    scopes = models.CharField(max_length=400, help_text="Space-separated scopes.")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")),
                name="accesstoken_expires_after_creation",
            ),
        ]

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    @property
    def display_prefix(self) -> str:
        return f"tnd_{self.prefix}…"

    def status_on(self, moment: dt.datetime) -> str:
        """``revoked``, ``expired`` or ``active`` at ``moment``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= moment:
            return "expired"
        return "active"

    def __str__(self) -> str:
        return f"Token {self.pk} ({self.display_prefix})"
