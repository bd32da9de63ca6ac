"""Forms of the worklist pages: the list's filters (query string) and the item's actions.

Every form says which field is wrong in plain words (the 400 page or the form's error summary);
a tampered choice (an unknown state, sort key or channel) is refused, never ignored.
"""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.utils import timezone

from tandem.core.forms import MAX_PAGE
from tandem.core.models import Site
from tandem.outreach import queries, rules

STATE_CHOICES = (
    [("open", "Open (new, claimed, in outreach)")] + list(rules.STATES) + [("all", "All")]
)
OWNER_CHOICES = [("any", "Anyone"), ("me", "Me"), ("none", "Nobody (unclaimed)")]
SORT_CHOICES = [
    ("rank", "Rank (risk, then deadline)"),
    ("due", "Next attempt due"),
    ("opened", "Newest"),
]


def new_nonce() -> str:
    """The hidden token that makes one submission of a form write once."""
    return secrets.token_urlsafe(24)


class Problems:
    """Error list for the 400 page, and Bootstrap classes on every widget."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[misc]
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(widget, forms.HiddenInput | forms.CheckboxInput):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs.setdefault("class", css)
            if field.help_text:
                widget.attrs.setdefault("aria-describedby", f"id_{name}-hint")

    def problems(self: Any) -> list[tuple[str, str]]:
        return [
            (str(self.fields[name].label) if name in self.fields else "Form", str(message))
            for name, messages in self.errors.items()
            for message in messages
        ]


class FilterForm(Problems, forms.Form):
    state = forms.ChoiceField(label="State", choices=STATE_CHOICES, required=False)
    owner = forms.ChoiceField(label="Owner", choices=OWNER_CHOICES, required=False)
    site = forms.TypedChoiceField(label="Site", coerce=int, required=False, empty_value=None)
    sort = forms.ChoiceField(label="Sort by", choices=SORT_CHOICES, required=False)
    page = forms.IntegerField(label="Page", min_value=1, max_value=MAX_PAGE, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        site = self.fields["site"]
        assert isinstance(site, forms.ChoiceField)
        site.choices = [("", "All sites")] + [(s.pk, s.name) for s in queries.sites()]

    def filters(self) -> queries.Filters:
        data = self.cleaned_data
        return queries.Filters(
            state=data["state"] or "open",
            owner=data["owner"] or "any",
            site=data["site"],
            sort=data["sort"] or "rank",
            page=data["page"] or 1,
        )


class AttemptForm(Problems, forms.Form):
    channel = forms.ChoiceField(label="Channel", choices=[("", "Choose…"), *rules.CHANNELS])
    outcome = forms.ChoiceField(label="Outcome", choices=[("", "Choose…"), *rules.OUTCOMES])
    attempted_at = forms.DateTimeField(
        label="When",
        help_text="Date and time of the attempt; not in the future.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=rules.NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    nonce = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean_attempted_at(self) -> Any:
        value = self.cleaned_data["attempted_at"]
        if value > timezone.now():
            raise forms.ValidationError("The attempt cannot be in the future.")
        return value


class BookForm(Problems, forms.Form):
    start = forms.DateTimeField(
        label="Appointment date and time",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    site = forms.ModelChoiceField(
        label="Primary-care site",
        queryset=Site.objects.filter(kind="primary-care").order_by("name"),
    )
    channel = forms.ChoiceField(
        label="How the patient was reached", choices=rules.CHANNELS, initial="phone"
    )
    nonce = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean_start(self) -> Any:
        value = self.cleaned_data["start"]
        if value <= timezone.now():
            raise forms.ValidationError("Book the appointment for a time in the future.")
        return value


class ResolveForm(Problems, forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=400,
        help_text="What closed the gap, e.g. 'Seen by a PCP elsewhere'.",
    )


class UnableForm(Problems, forms.Form):
    note = forms.CharField(label="Note for the supervisor", required=False, max_length=300)


class LettersForm(Problems, forms.Form):
    items = forms.TypedMultipleChoiceField(label="Items", coerce=int)
    mark_sent = forms.BooleanField(
        label="The letters will be mailed today: log a letter attempt on each item",
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        raw = self.data.getlist("items") if hasattr(self.data, "getlist") else []
        items = self.fields["items"]
        assert isinstance(items, forms.ChoiceField)
        items.choices = [(v, v) for v in raw if str(v).isdigit()][:200]

    def clean_items(self) -> list[int]:
        items = self.cleaned_data["items"]
        if len(items) > 100:
            raise forms.ValidationError("Print at most 100 letters at once.")
        return items
