"""The form on the API tokens page."""

from __future__ import annotations

from django import forms

from tandem.tokens import rules


class CreateTokenForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        strip=True,
        help_text="What the token is for, e.g. “Nightly worklist export”.",
    )
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        choices=[(scope, f"{scope} — {text}") for scope, text in rules.SCOPES.items()],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one scope."},
    )
    expires_in_days = forms.TypedChoiceField(
        label="Expires in",
        coerce=int,
        choices=[(days, f"{days} days") for days in rules.LIFETIME_CHOICES],
        initial=rules.DEFAULT_LIFETIME_DAYS,
    )
