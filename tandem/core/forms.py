"""Small query-string forms shared by list pages."""

from __future__ import annotations

from django import forms

MAX_PAGE = 10_000
MAX_ID = 2**63 - 1  # the largest id a BigAutoField holds: a larger one in a URL is refused


class PageForm(forms.Form):
    """The ``page`` parameter of a paginated list: a whole number from 1 to MAX_PAGE."""

    page = forms.IntegerField(
        label="Page",
        min_value=1,
        max_value=MAX_PAGE,
        required=False,
        error_messages={"invalid": "Enter a whole page number."},
    )

    def problems(self) -> list[tuple[str, str]]:
        """(field label, message) for each error, for the 400 page."""
        return [
            (str(self.fields[name].label) if name in self.fields else name, str(message))
            for name, messages in self.errors.items()
            for message in messages
        ]


class CodeForm(forms.Form):
    """A code at sign-in: six digits from the authenticator app, or a recovery code."""

    code = forms.CharField(
        label="Code",
        max_length=20,
        strip=True,
        error_messages={"required": "Enter the code from your authenticator app."},
    )

    def clean_code(self) -> str:
        code = "".join(str(self.cleaned_data["code"]).split())
        if not code.replace("-", "").isalnum():
            raise forms.ValidationError("Enter the six digits from the app, or a recovery code.")
        return code
