"""Parsing the patient-search query string into :class:`tandem.registry.queries.Search`."""

from __future__ import annotations

from django import forms

from tandem.core.forms import PageForm
from tandem.registry.queries import Search


class SearchForm(PageForm):
    """Name, MRN and birth date (any combination) plus the page number, all from GET."""

    name = forms.CharField(label="Name", max_length=100, required=False, strip=True)
    mrn = forms.CharField(label="MRN", max_length=64, required=False, strip=True)
    birth_date = forms.DateField(
        label="Birth date",
        required=False,
        input_formats=["%Y-%m-%d", "%m/%d/%Y"],
        error_messages={"invalid": "Enter a real date as YYYY-MM-DD (or MM/DD/YYYY)."},
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    field_order = ["name", "mrn", "birth_date", "page"]

    def is_empty(self) -> bool:
        """True when no search criterion was given (the page then only shows the form)."""
        data = self.cleaned_data
        return not (data.get("name") or data.get("mrn") or data.get("birth_date"))

    def criteria(self) -> Search:
        data = self.cleaned_data
        return Search(
            name=data.get("name") or "",
            mrn=data.get("mrn") or "",
            birth_date=data.get("birth_date"),
            page=data.get("page") or 1,
        )
