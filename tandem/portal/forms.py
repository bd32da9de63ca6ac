"""The portal's forms, in plain words: a sharing choice, a revocation, a questionnaire.

A tampered value (a recipient outside the patient's own care team, an unknown category or
purpose, an answer off the scale) is refused with the field's error, never ignored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from tandem.portal import rules
from tandem.portal.queries import Choices

CATEGORY_CHOICES = [
    *rules.CATEGORY_WORDS.items(),
    (rules.ALL_CATEGORIES, "All of these"),
]
PURPOSE_CHOICES = list(rules.PURPOSE_WORDS.items())
TPO = ("treatment", "payment", "operations")


def _normal(name: str) -> str:
    return " ".join(name.lower().split())


class SharingForm(forms.Form):
    """What to share, with whom, for what, until when; signed with the typed name."""

    categories = forms.MultipleChoiceField(
        label="What to share",
        choices=CATEGORY_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose what you want to share."},
    )
    recipients = forms.MultipleChoiceField(
        label="Who can see it",
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "Choose who can see it.",
            "invalid_choice": "Choose people and places from your own care team.",
        },
    )
    purposes = forms.MultipleChoiceField(
        label="What they can use it for",
        choices=PURPOSE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose what they can use it for."},
    )
    end = forms.DateField(
        label="Share until (optional)",
        required=False,
        help_text="Leave empty to share until you stop it.",
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control form-control-lg"}),
        error_messages={"invalid": "Enter a real date."},
    )
    signature = forms.CharField(
        label="Type your full name to sign",
        required=False,
        max_length=200,
        help_text="Typing your name is your signature. It means you agree to share.",
        widget=forms.TextInput(
            attrs={"class": "form-control form-control-lg", "autocomplete": "name"}
        ),
    )

    def __init__(self, data: Any = None, *, choices: Choices, patient: Any) -> None:
        super().__init__(data)
        self.choices = choices
        self.patient = patient
        field = self.fields["recipients"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(c.value, c.label) for c in choices.all()]
        for name in ("end", "signature"):
            self.fields[name].widget.attrs["aria-describedby"] = f"id_{name}-hint"

    def clean_end(self) -> dt.date | None:
        end = self.cleaned_data.get("end")
        if end is not None and end < timezone.localdate():
            raise forms.ValidationError("The end date must be today or later.")
        return end

    @property
    def full_name(self) -> str:
        return f"{self.patient.given_name} {self.patient.family_name}"

    def check_signature(self) -> bool:
        """For "Sign and share": the typed name must be the patient's own name."""
        typed = self.cleaned_data.get("signature", "")
        if not typed:
            self.add_error("signature", "Type your full name to sign.")
            return False
        if _normal(typed) != _normal(self.full_name):
            self.add_error(
                "signature", f"Type your name as it is on your record: {self.full_name}."
            )
            return False
        return True

    def specs(self) -> list[dict[str, Any]]:
        """The chosen recipients as ``RecipientSpec`` keyword arguments."""
        out = []
        for value in self.cleaned_data["recipients"]:
            kind, _, key = value.partition(":")
            if kind == "role":
                out.append({"kind": "role", "role": key})
            else:
                out.append(
                    {"kind": kind, f"{'practitioner' if kind == 'person' else kind}_id": int(key)}
                )
        return out

    @property
    def chosen_categories(self) -> list[str]:
        chosen = list(self.cleaned_data["categories"])
        return [rules.ALL_CATEGORIES] if rules.ALL_CATEGORIES in chosen else chosen

    @property
    def part2_tpo(self) -> bool:
        """One Part 2 consent for treatment, payment and operations (42 CFR 2.33, 2024): when
        substance-use records are shared for all three."""
        cats = set(self.chosen_categories)
        return bool(cats & {"substance-use", rules.ALL_CATEGORIES}) and set(TPO) <= set(
            self.cleaned_data["purposes"]
        )


class SignForm(forms.Form):
    """Sign a draft sharing choice (recorded with staff) with the typed name."""

    signature = forms.CharField(
        label="Type your full name to sign",
        max_length=200,
        help_text="Typing your name is your signature. Sharing starts today.",
        widget=forms.TextInput(
            attrs={
                "class": "form-control form-control-lg",
                "autocomplete": "name",
                "aria-describedby": "id_signature-hint",
            }
        ),
        error_messages={"required": "Type your full name to sign."},
    )

    def __init__(self, data: Any = None, *, patient: Any) -> None:
        super().__init__(data)
        self.patient = patient

    def clean_signature(self) -> str:
        typed = self.cleaned_data["signature"]
        full = f"{self.patient.given_name} {self.patient.family_name}"
        if _normal(typed) != _normal(full):
            raise forms.ValidationError(f"Type your name as it is on your record: {full}.")
        return str(typed)


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label="Why are you stopping? (optional)",
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"class": "form-control form-control-lg"}),
    )

    @property
    def why(self) -> str:
        return self.cleaned_data.get("reason") or "Stopped by the patient in the portal."


class QuestionnaireForm(forms.Form):
    """One radio group per question, 0–3."""

    def __init__(self, data: Any = None, *, questionnaire: rules.Questionnaire) -> None:
        super().__init__(data)
        self.questionnaire = questionnaire
        for i, q in enumerate(questionnaire.questions, start=1):
            self.fields[f"q{i}"] = forms.TypedChoiceField(
                label=f"{i}. {q.text}",
                choices=[(str(v), words) for v, words in rules.ANSWERS],
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={
                    "required": "Choose one answer.",
                    "invalid_choice": "Choose one of the answers shown.",
                },
            )

    def answers(self) -> dict[str, int]:
        return {
            q.code: self.cleaned_data[f"q{i}"]
            for i, q in enumerate(self.questionnaire.questions, start=1)
        }

    def problems(self) -> list[tuple[str, str]]:
        return [
            (str(self.fields[n].label) if n in self.fields else "Form", str(m))
            for n, ms in self.errors.items()
            for m in ms
        ]
