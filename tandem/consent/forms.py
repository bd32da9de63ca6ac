"""Forms of the consent-directive pages (F26): record a directive, sign a draft, revoke.

Every form names the field that is wrong (an error summary at the top links to it, the message
sits under the field) and keeps what was typed. A tampered choice (an unknown category,
purpose, recipient or relationship) is refused with the field's error, never ignored.

Recipients are chosen from one grouped select per row ("People", "Organizations", "Sites",
"Care-team roles"): the value says the kind and the id (``person:12``, ``organization:3``,
``site:5``, ``role:pcp``). Only practitioners, organizations and sites are listed — never a
patient.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils import timezone

from tandem.consent.models import DIRECTIVE_PURPOSES, TPO_PURPOSES, ConsentDirective
from tandem.core.models import CareTeamMember, Organization, Practitioner, Site

ALL = ConsentDirective.Category.ALL.value
CATEGORY_CHOICES = [
    (ALL, "All of the categories below"),
    ("substance-use", "Substance use treatment records (42 CFR Part 2)"),
    ("mental-health", "Mental health records"),
    ("hiv", "HIV records"),
    ("reproductive-health", "Reproductive health records"),
]
CATEGORIES = [value for value, _ in CATEGORY_CHOICES if value != ALL]
PURPOSE_CHOICES = [
    ("treatment", "Treatment"),
    ("payment", "Payment"),
    ("operations", "Health care operations"),
    ("research", "Research"),
]
assert [p for p, _ in PURPOSE_CHOICES] == list(DIRECTIVE_PURPOSES)
TPO = TPO_PURPOSES
RELATIONSHIP_CHOICES = ConsentDirective.Relationship.choices
RECIPIENT_ROWS = 4
MAX_PDF_BYTES = 5 * 1024 * 1024  # a scanned signed form; larger is refused with the field's error
PDF_MAGIC = b"%PDF-"


class Problems:
    """Error list for the 400 page, and Bootstrap classes on every widget."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[misc]
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(
                widget, forms.HiddenInput | forms.CheckboxInput | forms.CheckboxSelectMultiple
            ):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs.setdefault("class", css)
            if field.help_text:
                hint = f"{self.auto_id % self.add_prefix(name)}-hint"  # type: ignore[attr-defined]
                widget.attrs.setdefault("aria-describedby", hint)

    def problems(self: Any) -> list[tuple[str, str]]:
        return [
            (str(self.fields[name].label) if name in self.fields else "Form", str(message))
            for name, messages in self.errors.items()
            for message in messages
        ]


@dataclass(frozen=True)
class Recipient:
    """One chosen recipient row: ``kind`` person|organization|site|role and its key."""

    kind: str
    key: str

    @property
    def value(self) -> str:
        return f"{self.kind}:{self.key}"


def recipient_choices() -> list[tuple[str, Any]]:
    """The grouped choices of a recipient row: practitioners, organizations, sites, roles."""
    people = [
        (f"person:{p.pk}", f"{p.family_name}, {p.given_name} — {p.get_discipline_display()}")
        for p in Practitioner.objects.filter(active=True).order_by("family_name", "given_name")
    ]
    organizations = [
        (f"organization:{o.pk}", o.name) for o in Organization.objects.order_by("name")
    ]
    sites = [
        (f"site:{s.pk}", f"{s.name} ({s.organization.name})")
        for s in Site.objects.select_related("organization").order_by("name")
    ]
    roles = [
        (f"role:{value}", f"Anyone in the role {label.lower()} on the patient's care team")
        for value, label in CareTeamMember.Role.choices
    ]
    return [
        ("", "Choose a recipient…"),
        ("People", people),
        ("Organizations", organizations),
        ("Sites", sites),
        ("Care-team roles", roles),
    ]


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class DirectiveForm(Problems, forms.Form):
    """Record a directive with the patient: what, for what, to whom, when; signed or a draft.

    ``signing`` says which button was pressed: "Sign now" needs a signature (the signer's typed
    name, the date and their relationship to the patient; the scanned signed form as a PDF
    besides, when the patient signed on paper); "Save as draft" ignores it. A form sent twice
    writes once (``services.record_directive`` returns the first).
    """

    categories = forms.MultipleChoiceField(
        label="Records to share",
        choices=CATEGORY_CHOICES,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        error_messages={"required": "Choose at least one category of records."},
    )
    part2_tpo = forms.BooleanField(
        label="Part 2 consent for treatment, payment and health care operations",
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
        help_text="One consent for all future uses and disclosures of substance use treatment "
        "records for treatment, payment and health care operations (42 CFR 2.31, 2024 rule).",
    )
    purposes = forms.MultipleChoiceField(
        label="Purposes",
        choices=PURPOSE_CHOICES,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        required=False,
    )
    start = forms.DateField(label="Effective from", widget=_date_widget())
    end = forms.DateField(
        label="Expires on",
        required=False,
        widget=_date_widget(),
        help_text="Empty: no expiry date (it can be revoked at any time).",
    )
    signer_name = forms.CharField(label="Signer's name (typed signature)", required=False,
                                  max_length=200)  # fmt: skip
    signed_on = forms.DateField(label="Date signed", required=False, widget=_date_widget())
    relationship = forms.ChoiceField(
        label="Signer's relationship to the patient",
        choices=[("", "Choose…"), *RELATIONSHIP_CHOICES],
        required=False,
    )
    signed_pdf = forms.FileField(
        label="Signed form, scanned (PDF, optional)",
        required=False,
        help_text="A PDF of the form the patient signed on paper, at most 5 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )

    def __init__(self, *args: Any, signing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.signing = signing
        choices = recipient_choices()
        for i in range(1, RECIPIENT_ROWS + 1):
            field = forms.ChoiceField(label=f"Recipient {i}", choices=choices, required=False)
            field.widget.attrs["class"] = "form-select"
            self.fields[f"recipient_{i}"] = field
        if not self.is_bound:
            self.initial.setdefault("start", timezone.localdate())
            self.initial.setdefault("signed_on", timezone.localdate())

    @property
    def recipient_fields(self) -> list[Any]:
        return [self[f"recipient_{i}"] for i in range(1, RECIPIENT_ROWS + 1)]

    def clean_categories(self) -> list[str]:
        chosen = self.cleaned_data["categories"]
        return [ALL] if ALL in chosen else [c for c in CATEGORIES if c in chosen]

    def clean_signed_pdf(self) -> Any:
        upload = self.cleaned_data.get("signed_pdf")
        if not upload:
            return None
        if upload.size > MAX_PDF_BYTES:
            raise forms.ValidationError("The PDF is larger than 5 MB.")
        head = upload.read(len(PDF_MAGIC))
        upload.seek(0)
        if head != PDF_MAGIC:
            raise forms.ValidationError("The file is not a PDF.")
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        categories = data.get("categories") or []
        purposes = list(data.get("purposes") or [])
        if data.get("part2_tpo"):
            if categories and not {ALL, "substance-use"} & set(categories):
                self.add_error(
                    "part2_tpo",
                    "A Part 2 consent covers substance use treatment records: choose them too.",
                )
            purposes = [p for p, _ in PURPOSE_CHOICES if p in {*purposes, *TPO}]
        elif "purposes" not in self.errors and not purposes:
            self.add_error("purposes", "Choose at least one purpose.")
        data["purposes"] = purposes
        self._clean_recipients(data)
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The expiry date is before the effective date.")
        if self.signing:
            self._clean_signature(data)
        return data

    def _clean_recipients(self, data: dict[str, Any]) -> None:
        chosen: list[Recipient] = []
        for i in range(1, RECIPIENT_ROWS + 1):
            value = data.get(f"recipient_{i}") or ""
            if not value:
                continue
            kind, _, key = value.partition(":")
            recipient = Recipient(kind, key)
            if recipient in chosen:
                self.add_error(f"recipient_{i}", "This recipient is named twice.")
                continue
            chosen.append(recipient)
        if not chosen and not any(
            f"recipient_{i}" in self.errors for i in range(1, RECIPIENT_ROWS + 1)
        ):
            self.add_error("recipient_1", "Name at least one recipient.")
        data["recipients"] = chosen

    def _clean_signature(self, data: dict[str, Any]) -> None:
        if not (data.get("signer_name") or "").strip() and "signer_name" not in self.errors:
            self.add_error("signer_name", "Type the signer's name.")
        _check_signed_on(self, data)
        if not data.get("relationship"):
            self.add_error("relationship", "Choose the signer's relationship to the patient.")


def _check_signed_on(form: forms.Form, data: dict[str, Any]) -> None:
    signed_on: dt.date | None = data.get("signed_on")
    if "signed_on" in form.errors:
        return
    if signed_on is None:
        form.add_error("signed_on", "Enter the date the directive was signed.")
    elif signed_on > timezone.localdate():
        form.add_error("signed_on", "The signature date cannot be in the future.")


class SignForm(Problems, forms.Form):
    """Sign a draft: the typed name, the date and the signer's relationship (and the scanned
    signed form, optional)."""

    signer_name = forms.CharField(label="Signer's name (typed signature)", required=False,
                                  max_length=200)  # fmt: skip
    signed_on = forms.DateField(label="Date signed", widget=_date_widget(), required=False)
    relationship = forms.ChoiceField(
        label="Signer's relationship to the patient",
        choices=[("", "Choose…"), *RELATIONSHIP_CHOICES],
        required=False,
    )
    signed_pdf = forms.FileField(
        label="Signed form, scanned (PDF, optional)",
        required=False,
        help_text="A PDF of the form the patient signed on paper, at most 5 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("signed_on", timezone.localdate())

    clean_signed_pdf = DirectiveForm.clean_signed_pdf

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        DirectiveForm._clean_signature(self, data)  # type: ignore[arg-type]
        return data


class RevokeForm(Problems, forms.Form):
    """Revoke a whole directive, or one recipient of it: the reason is required."""

    reason = forms.CharField(
        label="Reason for revoking",
        max_length=400,
        help_text="For example: 'Patient asked to stop sharing with this clinic'.",
        error_messages={"required": "Give the reason for revoking."},
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give the reason for revoking.")
        return reason
