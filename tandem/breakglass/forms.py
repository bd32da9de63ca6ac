"""Forms of the break-the-glass pages. The reason is checked by ``services.check_reason`` (so
that a declaration without one is audited as denied), not here."""

from __future__ import annotations

from typing import Any

from django import forms

from tandem.breakglass import queries, rules
from tandem.core.forms import PageForm

NO_NUL = "Remove the control characters."


class DeclareForm(forms.Form):
    mrn = forms.CharField(
        label="MRN",
        max_length=40,
        required=False,
        help_text="The exact medical record number. Or give the name and date of birth below.",
    )
    family_name = forms.CharField(label="Family name", max_length=100, required=False)
    given_name = forms.CharField(label="Given name", max_length=100, required=False)
    birth_date = forms.DateField(
        label="Date of birth",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the date of birth as YYYY-MM-DD."},
    )
    reason = forms.CharField(
        label="Reason for emergency access",
        required=False,
        max_length=rules.MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"Required, at least {rules.MIN_REASON_LENGTH} characters. The privacy "
        "officer reviews it; do not write more clinical detail than you need to.",
    )
    acknowledge = forms.BooleanField(
        label="I understand that this access is recorded, that the patient's care team and the "
        "privacy office are told, and that it will be reviewed.",
        required=True,
        error_messages={"required": "Confirm that you understand what emergency access means."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name == "acknowledge":
                field.widget.attrs["class"] = "form-check-input"
                continue
            field.widget.attrs["class"] = "form-control"
            if field.help_text:
                field.widget.attrs["aria-describedby"] = f"id_{name}-hint"

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        for name in ("mrn", "family_name", "given_name", "reason"):
            if "\x00" in str(data.get(name) or ""):
                self.add_error(name, NO_NUL)
        mrn = (data.get("mrn") or "").strip()
        by_name = all(data.get(n) for n in ("family_name", "given_name", "birth_date"))
        if not mrn and not by_name and not self.has_error("birth_date"):
            self.add_error(
                "mrn",
                "Give the exact MRN, or the family name, given name and date of birth.",
            )
        return data

    def lookup(self) -> queries.Lookup:
        data = self.cleaned_data
        if (data.get("mrn") or "").strip():
            return queries.Lookup(mrn=data["mrn"].strip())
        return queries.Lookup(
            family_name=data["family_name"].strip(),
            given_name=data["given_name"].strip(),
            birth_date=data["birth_date"],
        )


STATUS_CHOICES = [
    ("all", "All, awaiting review first"),
    ("unreviewed", "Awaiting review"),
    ("justified", "Justified"),
    ("not-justified", "Not justified"),
]


class ReviewListForm(PageForm):
    status = forms.ChoiceField(label="Status", choices=STATUS_CHOICES, required=False)

    def status_value(self) -> str:
        return self.cleaned_data.get("status") or "all"


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label="Decision",
        choices=[("justified", "Justified"), ("not-justified", "Not justified")],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose justified or not justified."},
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=rules.MAX_NOTE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
        help_text="Required when not justified: what was wrong, and what follows.",
    )
