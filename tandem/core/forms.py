"""Small query-string forms shared by list pages."""

from __future__ import annotations

from django import forms

MAX_PAGE = 10_000


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
