"""Query-string forms of the audit pages. Anything malformed is refused (400 naming the field)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django import forms
from django.conf import settings
from django.core.validators import RegexValidator

from tandem.audit import queries
from tandem.audit.models import AuditEvent
from tandem.core.forms import PageForm

OUTCOME_CHOICES = [("", "Any outcome"), *AuditEvent.Outcome.choices]
PURPOSE_CHOICES = [("", "Any purpose")] + [
    (p, p.replace("-", " ").capitalize()) for p in queries.PURPOSES
]


class FilterForm(PageForm):
    """Filters of the audit viewer (all in the query string, so a view can be shared)."""

    patient = forms.CharField(
        label="Patient (id or MRN)",
        max_length=64,
        required=False,
        strip=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9._-]*$", "Enter a patient id or an MRN (letters, digits, . _ -)."
            )
        ],
    )
    user = forms.CharField(
        label="User (username or id)",
        max_length=150,
        required=False,
        strip=True,
        validators=[RegexValidator(r"^[\w.@+-]*$", "Enter a username or a user id.")],
    )
    outcome = forms.ChoiceField(label="Outcome", choices=OUTCOME_CHOICES, required=False)
    purpose = forms.ChoiceField(label="Purpose", choices=PURPOSE_CHOICES, required=False)
    action = forms.CharField(
        label="Action (* ends a prefix)",
        max_length=40,
        required=False,
        strip=True,
        validators=[RegexValidator(r"^[a-z0-9:_-]*\*?$", "Enter an action (e.g. read, write:*).")],
    )
    since = forms.DateField(
        label="From (date)",
        required=False,
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )
    until = forms.DateField(
        label="To (date, inclusive)",
        required=False,
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date is before the start date.")
        return data

    def filters(self, patient_ids: tuple[int, ...] | None) -> queries.Filters:
        data = self.cleaned_data
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        since = data.get("since")
        until = data.get("until")
        return queries.Filters(
            patient_ids=patient_ids,
            user=data.get("user") or "",
            outcome=data.get("outcome") or "",
            purpose=data.get("purpose") or "",
            action=data.get("action") or "",
            since=dt.datetime.combine(since, dt.time(), tzinfo=zone) if since else None,
            until=(
                dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=zone)
                if until
                else None
            ),
        )

    @property
    def filtered(self) -> bool:
        return any(
            self.cleaned_data.get(name)
            for name in ("patient", "user", "outcome", "purpose", "action", "since", "until")
        )


class PatientForm(forms.Form):
    """The disclosures report's patient picker."""

    patient = forms.CharField(
        label="Patient (id or MRN)",
        max_length=64,
        required=False,
        strip=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9._-]*$", "Enter a patient id or an MRN (letters, digits, . _ -)."
            )
        ],
    )

    def problems(self) -> list[tuple[str, str]]:
        return [
            (str(self.fields[name].label) if name in self.fields else name, str(message))
            for name, messages in self.errors.items()
            for message in messages
        ]
